# Small target helpers in the spirit of abseil's AbseilHelpers.cmake: one small library per
# folder, explicit deps, so layering (e.g. the pure policy core) is enforced by the build.
include_guard(GLOBAL)

# hai_cc_library(NAME n SRCS ... DEPS ...)
function(hai_cc_library)
  cmake_parse_arguments(H "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${H_NAME} STATIC ${H_SRCS})
  target_include_directories(${H_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${H_NAME} PUBLIC ${H_DEPS})
endfunction()

# hai_cc_binary(NAME n SRCS ... DEPS ...)
function(hai_cc_binary)
  cmake_parse_arguments(H "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${H_NAME} ${H_SRCS})
  target_include_directories(${H_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${H_NAME} PRIVATE ${H_DEPS})
endfunction()

# hai_cc_test(NAME n SRCS ... DEPS ... [LABELS ...]) -- a GoogleTest binary registered with CTest.
function(hai_cc_test)
  cmake_parse_arguments(H "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${H_NAME} ${H_SRCS})
  target_include_directories(${H_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${H_NAME} PRIVATE ${H_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${H_NAME} COMMAND ${H_NAME})
  if(H_LABELS)
    set_tests_properties(${H_NAME} PROPERTIES LABELS "${H_LABELS}")
  endif()
endfunction()
