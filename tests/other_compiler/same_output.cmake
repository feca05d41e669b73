# Builds SOURCE twice, with COMPILER_A (flags FLAGS_A) and COMPILER_B (flags FLAGS_B), both
# C++20 with the include dirs in INCLUDES, runs both programs and fails unless they print
# exactly the same (e.g. g++ with libstdc++ against clang++ -stdlib=libc++).
#   cmake -DCOMPILER_A=... "-DFLAGS_A=..." -DCOMPILER_B=... "-DFLAGS_B=..." -DSOURCE=...
#         -DWORK_DIR=... "-DINCLUDES=a;b" -P this
file(MAKE_DIRECTORY "${WORK_DIR}")
set(outputs)
foreach(side A B)
  set(flags -std=c++20 -O2 ${FLAGS_${side}})
  foreach(dir IN LISTS INCLUDES)
    list(APPEND flags -I "${dir}")
  endforeach()
  set(exe "${WORK_DIR}/program_${side}")
  execute_process(COMMAND "${COMPILER_${side}}" ${flags} "${SOURCE}" -o "${exe}"
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${COMPILER_${side}} ${FLAGS_${side}} could not build ${SOURCE}:\n${out}")
  endif()
  execute_process(COMMAND "${exe}" RESULT_VARIABLE result OUTPUT_VARIABLE out_${side} ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${SOURCE} built by ${COMPILER_${side}} exited with ${result}:\n${err}")
  endif()
endforeach()
if(NOT out_A STREQUAL out_B)
  file(WRITE "${WORK_DIR}/output_A.txt" "${out_A}")
  file(WRITE "${WORK_DIR}/output_B.txt" "${out_B}")
  message(FATAL_ERROR "${SOURCE}: the two builds print different output (see ${WORK_DIR}/output_A.txt and output_B.txt)")
endif()
string(LENGTH "${out_A}" length)
message(STATUS "${SOURCE}: both builds print the same ${length} bytes")
