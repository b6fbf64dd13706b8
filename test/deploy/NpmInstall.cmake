# Script mode: cmake -DNPM=npm -DSRC=dir-with-package.json -DDEST=dir -P NpmInstall.cmake
# Installs the locked npm packages of SRC into DEST (npm ci) unless DEST already holds the
# same package-lock.json, so the validation tests install once per build tree and reruns
# are instant. Runs as a CTest fixture: a fresh CI machine installs inside `ctest`.
file(READ ${SRC}/package-lock.json want)
if(EXISTS ${DEST}/package-lock.json AND EXISTS ${DEST}/node_modules)
  file(READ ${DEST}/package-lock.json have)
  if(have STREQUAL want)
    message(STATUS "npm packages in ${DEST} are up to date")
    return()
  endif()
endif()
file(MAKE_DIRECTORY ${DEST})
file(COPY ${SRC}/package.json ${SRC}/package-lock.json DESTINATION ${DEST})
execute_process(COMMAND ${NPM} ci --no-audit --no-fund --loglevel=error
  WORKING_DIRECTORY ${DEST} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${DEST}/package-lock.json)  # a failed install is retried next time
  message(FATAL_ERROR "npm ci in ${DEST} failed (${rc})")
endif()
