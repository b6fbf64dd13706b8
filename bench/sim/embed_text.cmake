# Script mode: cmake -DIN=file -DOUT=file.cc -DNAME=symbol -P embed_text.cmake
# Writes a .cc defining `const char* const hai::sim::NAME` holding IN's text, so hai-sim
# carries its plot script and needs no source tree at run time.
file(READ ${IN} text)
file(WRITE ${OUT}.tmp "// Generated from ${IN} by bench/sim/embed_text.cmake. Do not edit.\n#include \"bench/sim/report.h\"\nnamespace hai::sim {\nconst char* const ${NAME} = R\"hai_embed(${text})hai_embed\";\n}  // namespace hai::sim\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
