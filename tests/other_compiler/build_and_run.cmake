# Builds SOURCE with COMPILER (C++20, -pthread, the include dirs in INCLUDES, the defines in
# DEFINES) into WORK_DIR and runs it; fails when either step fails.
#   cmake -DCOMPILER=... -DSOURCE=... -DWORK_DIR=... "-DINCLUDES=a;b" "-DDEFINES=X;Y" -P this
set(flags -std=c++20 -O1 -pthread -Wall -Wextra)
foreach(dir IN LISTS INCLUDES)
  list(APPEND flags -I "${dir}")
endforeach()
foreach(def IN LISTS DEFINES)
  list(APPEND flags -D${def})
endforeach()
file(MAKE_DIRECTORY "${WORK_DIR}")
set(exe "${WORK_DIR}/program")
execute_process(COMMAND "${COMPILER}" ${flags} "${SOURCE}" -o "${exe}"
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${COMPILER} could not build ${SOURCE}:\n${out}")
endif()
execute_process(COMMAND "${exe}" RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${SOURCE} built by ${COMPILER} exited with ${result}:\n${out}")
endif()
message(STATUS "${COMPILER} built and ran ${SOURCE}")
