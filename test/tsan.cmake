# The ThreadSanitizer build of the simulated tests (MRBM_SIM_SANITIZER=thread, `make tsan-test`,
# docs/building.md "The CUDA simulator"): every [cuda] test, and the simulator's own tests, with
# each simulated CUDA thread a TSan thread, so that a missing __syncthreads between a shared-memory
# write and another thread's read is reported. Only the test files that hold a [cuda] test are
# compiled (the CPU suite runs under AddressSanitizer in build-sim): about a third of the test code,
# which keeps this build within the budget of `make test` (docs/building.md has the times).
set(MRBM_TSAN_OPTIONS "halt_on_error=1:second_deadlock_stack=1")
set(_tsan_test_sources ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp)
foreach(_source ${_test_sources})
  file(STRINGS ${_source} _cuda_tags REGEX "\\[cuda\\]")
  if(_cuda_tags)
    list(APPEND _tsan_test_sources ${_source})
  endif()
endforeach()
add_executable(mrbm_tsan_tests ${_tsan_test_sources} ${CMAKE_CURRENT_SOURCE_DIR}/device/device_functions.cu)
mrbm_sim_device_sources(${CMAKE_CURRENT_SOURCE_DIR}/device/device_functions.cu)
# As in build-sim: the test code needs no optimization, the kernels and references it calls are
# built -O2/-O3 in the libraries. And no TSan instrumentation: the races this build is for are
# the kernels' (the .cu files, the libraries and the simulator are instrumented), while the test
# files' own CPU work (the float64 conv references, instantiated there at -O0) took most of the
# run under TSan: "CUDA conv algorithms equal the CPU reference" 168 s instrumented, 34 s not
# (alone; 51 s in a -j2 run).
# What the test code reads from a device goes through cudaMemcpy, whose memcpy TSan still checks.
set_source_files_properties(${_tsan_test_sources} PROPERTIES COMPILE_OPTIONS "-O0;-fno-sanitize=thread")
target_link_libraries(mrbm_tsan_tests PRIVATE mrbm_layers mrbm_autodiff mrbm_data mrbm_header_deps)
target_compile_definitions(mrbm_tsan_tests PRIVATE MRBM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# A race report fails the test twice over: halt_on_error exits with TSan's code 66, and the
# report's text fails it even if a report came from a process that did not stop.
catch_discover_tests(mrbm_tsan_tests TEST_SPEC "[cuda]"
  PROPERTIES LABELS cuda-sim-tsan FAIL_REGULAR_EXPRESSION "MRBM_SKIP:;ThreadSanitizer"
             ENVIRONMENT "CUDA_SIM_DEVICES=sm_90,sm_61;TSAN_OPTIONS=${MRBM_TSAN_OPTIONS}")
add_subdirectory(cuda_sim/tests)
