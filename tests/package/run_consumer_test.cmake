# Package consumer test, run with `cmake -D... -P run_consumer_test.cmake`.
#   MODE               find_package | find_package_mpi | add_subdirectory | plain_include |
#                      pkg_config | unknown_component
#   PARKIT_SOURCE_DIR  the parkit source tree
#   PARKIT_BINARY_DIR  the configured parkit build tree (installed for find_package)
#   WORK_DIR           scratch directory (wiped first)
#   CXX_COMPILER       compiler forwarded to the inner builds
#   GENERATOR, MAKE_PROGRAM, CONFIG  optional, forwarded to the inner builds
cmake_minimum_required(VERSION 3.20)

foreach(_var MODE PARKIT_SOURCE_DIR PARKIT_BINARY_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer_test.cmake: -D${_var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

set(_pkg_dir "${PARKIT_SOURCE_DIR}/tests/package")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${MODE}: ${what} failed (${rc})")
  endif()
endfunction()

# Configure + build a consumer project with the forwarded toolchain settings.
function(build_project source_dir build_dir)
  set(_args -S "${source_dir}" -B "${build_dir}"
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE=${CONFIG}"
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ${ARGN})
  if(GENERATOR)
    list(APPEND _args -G "${GENERATOR}")
  endif()
  if(MAKE_PROGRAM)
    list(APPEND _args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  run_step("configure" "${CMAKE_COMMAND}" ${_args})
  run_step("build" "${CMAKE_COMMAND}" --build "${build_dir}" --config "${CONFIG}")
endfunction()

if(MODE MATCHES "^find_package(_mpi)?$")
  set(_consumer consumer)
  if(MODE STREQUAL "find_package_mpi")
    set(_consumer mpi_consumer)  # find_package(parkit COMPONENTS mpi), parkit::mpi
  endif()
  set(_prefix "${WORK_DIR}/prefix")
  run_step("install" "${CMAKE_COMMAND}" --install "${PARKIT_BINARY_DIR}"
           --prefix "${_prefix}" --config "${CONFIG}")
  build_project("${_pkg_dir}/${_consumer}" "${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${_prefix}")
  # Make sure the installed package was used, not some other parkit.
  file(STRINGS "${WORK_DIR}/build/CMakeCache.txt" _dir REGEX "^parkit_DIR:")
  string(REGEX REPLACE "^parkit_DIR:[A-Z]+=" "" _dir "${_dir}")
  cmake_path(IS_PREFIX _prefix "${_dir}" NORMALIZE _inside)
  if(NOT _inside)
    message(FATAL_ERROR "find_package: parkit_DIR is '${_dir}', not inside '${_prefix}'")
  endif()
elseif(MODE STREQUAL "add_subdirectory")
  build_project("${_pkg_dir}/subdir_consumer" "${WORK_DIR}/build"
                "-DPARKIT_SOURCE_DIR=${PARKIT_SOURCE_DIR}")
  # A parent's install tree gets none of parkit's files unless it sets PARKIT_INSTALL=ON.
  set(_prefix "${WORK_DIR}/parent-prefix")
  run_step("install of the parent" "${CMAKE_COMMAND}" --install "${WORK_DIR}/build"
           --prefix "${_prefix}" --config "${CONFIG}")
  file(GLOB_RECURSE _installed RELATIVE "${_prefix}" "${_prefix}/*")
  if(_installed)
    message(FATAL_ERROR "add_subdirectory: the parent's install tree received parkit files: ${_installed}")
  endif()
elseif(MODE STREQUAL "pkg_config")
  # A plain Makefile that takes parkit's flags from the installed parkit.pc only.
  find_program(_pkg_config NAMES pkg-config pkgconf REQUIRED)
  find_program(_make NAMES make gmake REQUIRED)
  set(_prefix "${WORK_DIR}/prefix")
  run_step("install" "${CMAKE_COMMAND}" --install "${PARKIT_BINARY_DIR}"
           --prefix "${_prefix}" --config "${CONFIG}")
  set(_pc_path "${_prefix}/share/pkgconfig")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${_pc_path}"
                          "${_pkg_config}" --variable=includedir parkit
                  OUTPUT_VARIABLE _pc_include OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT EXISTS "${_pc_include}/parkit/parkit.hpp")
    message(FATAL_ERROR "pkg_config: parkit.pc's includedir '${_pc_include}' holds no parkit/parkit.hpp")
  endif()
  file(MAKE_DIRECTORY "${WORK_DIR}/build")
  run_step("make" "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${_pc_path}"
           "${_make}" -C "${_pkg_dir}/makefile_consumer" "CXX=${CXX_COMPILER}"
           "PKG_CONFIG=${_pkg_config}" "BUILD_DIR=${WORK_DIR}/build")
elseif(MODE STREQUAL "unknown_component")
  # find_package(parkit COMPONENTS bogus REQUIRED) must fail, naming the component.
  set(_prefix "${WORK_DIR}/prefix")
  run_step("install" "${CMAKE_COMMAND}" --install "${PARKIT_BINARY_DIR}"
           --prefix "${_prefix}" --config "${CONFIG}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${_pkg_dir}/unknown_component_consumer"
                          -B "${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${_prefix}"
                          "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  if(rc EQUAL 0 OR NOT "${_out}${_err}" MATCHES "unknown component\\(s\\) required: bogus")
    message(FATAL_ERROR "unknown_component: configure should fail naming 'bogus' (rc ${rc}):\n${_out}${_err}")
  endif()
  message(STATUS "unknown_component: find_package failed as it should, naming the component")
  return()
elseif(MODE STREQUAL "plain_include")
  file(MAKE_DIRECTORY "${WORK_DIR}/build")
  run_step("compile" "${CXX_COMPILER}" -std=c++20 -O2 "-I${PARKIT_SOURCE_DIR}/include"
           "${_pkg_dir}/consumer/main.cpp" -o "${WORK_DIR}/build/consumer" -pthread)
else()
  message(FATAL_ERROR "run_consumer_test.cmake: unknown MODE '${MODE}'")
endif()

# Run the consumer (multi-config generators put it in a per-config folder).
find_program(_exe NAMES consumer
  PATHS "${WORK_DIR}/build" "${WORK_DIR}/build/${CONFIG}" NO_DEFAULT_PATH REQUIRED)
run_step("running ${_exe}" "${_exe}")
message(STATUS "${MODE}: consumer built and ran OK")
