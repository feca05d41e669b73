# Runs the compiler on SOURCE. Passes when compilation FAILS with output matching every
# regular expression in EXPECT (a ;-list), or, with EXPECT_OK set (which defines
# PARKIT_EXPECT_OK: the source's corrected form), when it compiles cleanly.
# EXTRA_INCLUDES (a ;-list, optional) adds include directories (Eigen for the kernels).
#   cmake -DCOMPILER=... -DSOURCE=... -DINCLUDE=... "-DEXPECT=re1;re2" [-DEXPECT_OK=1] -P this
set(flags -std=c++20 -fsyntax-only -I "${INCLUDE}")
foreach(dir IN LISTS EXTRA_INCLUDES)
  list(APPEND flags -I "${dir}")
endforeach()
if(EXPECT_OK)
  list(APPEND flags -DPARKIT_EXPECT_OK)
endif()
execute_process(COMMAND "${COMPILER}" ${flags} "${SOURCE}"
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(EXPECT_OK)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "expected ${SOURCE} to compile in its corrected form, but:\n${out}")
  endif()
  return()
endif()
if(result EQUAL 0)
  message(FATAL_ERROR "expected ${SOURCE} NOT to compile, but it did")
endif()
foreach(re IN LISTS EXPECT)
  if(NOT out MATCHES "${re}")
    message(FATAL_ERROR "the compiler's message for ${SOURCE} lacks '${re}':\n${out}")
  endif()
endforeach()
message(STATUS "refused as expected: ${SOURCE}")
