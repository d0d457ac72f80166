# The CUDA simulator build (docs/building.md "The CUDA simulator"): MRBM_CUDA_SIMULATOR=ON builds
# mrbm's CUDA path with the host compiler against test/cuda_sim (replacement cuda_runtime.h and
# cublas_v2.h and a runtime library that executes kernels on the CPU), so that every [cuda] test
# runs without a GPU. A test build only: never install or ship it. cuDNN is not simulated (the
# im2col + cuBLAS convolution path runs). nvcc is not used.
if(NOT MRBM_CUDA_SIMULATOR)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  message(FATAL_ERROR "MRBM_CUDA_SIMULATOR needs g++ (its ABI tags, sanitizers and ucontext)")
endif()
set(MRBM_HAVE_CUDA ON)
set(MRBM_HAVE_CUDNN OFF)
add_compile_definitions(MRBM_CUDA_SIMULATOR=1)

# address: AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer at exit), the build of
# `make sim-test`. thread: ThreadSanitizer, the build of `make tsan-test`: every simulated CUDA
# thread is a TSan thread (src/block_runner.cpp), so a missing __syncthreads between a
# shared-memory write and another thread's read is a data race report. none: no sanitizer.
set(MRBM_SIM_SANITIZER address CACHE STRING
    "Simulated build's sanitizers: address (ASan + UBSan), thread (TSan), none")
set_property(CACHE MRBM_SIM_SANITIZER PROPERTY STRINGS address thread none)
if(MRBM_SIM_SANITIZER STREQUAL "address")
  # Halt on the first report: a sanitizer finding fails the test that made it.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
elseif(MRBM_SIM_SANITIZER STREQUAL "thread")
  # -g1: line tables only, so that a race report names the kernel's source lines (file:line) for
  # a fraction of the cost of full debug information. TSan halts at the first report through
  # TSAN_OPTIONS=halt_on_error=1 (the tests' environment, test/tsan.cmake).
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g1)
  add_link_options(-fsanitize=thread)
elseif(NOT MRBM_SIM_SANITIZER STREQUAL "none")
  message(FATAL_ERROR "MRBM_SIM_SANITIZER is address, thread or none, not '${MRBM_SIM_SANITIZER}'")
endif()

# nvcc contracts a * b + c into an FMA by default (--fmad=true); the device translation units do
# the same here. Without FMA instructions (-mfma) GCC would have nothing to contract into.
include(CheckCXXSourceRuns)
set(CMAKE_REQUIRED_FLAGS "-mfma")
check_cxx_source_runs("#include <immintrin.h>
int main() { volatile double a = 1.5; __m128d x = _mm_set1_pd(a);
             return _mm_cvtsd_f64(_mm_fmadd_pd(x, x, x)) == 3.75 ? 0 : 1; }" MRBM_SIM_HOST_HAS_FMA)
unset(CMAKE_REQUIRED_FLAGS)
# -O3 last: nvcc optimizes device code whatever the host flags (ptxas -O3), and GCC contracts
# only when it optimizes, so a device translation unit of a -O0 target (the tests') would
# otherwise run uncontracted.
set(MRBM_SIM_DEVICE_OPTIONS -xc++ -ffp-contract=fast -Wno-unknown-pragmas -O3)
if(MRBM_SIM_HOST_HAS_FMA)
  list(APPEND MRBM_SIM_DEVICE_OPTIONS -mfma)
else()
  message(WARNING "mrbm: this CPU has no FMA: simulated kernels run without contraction")
endif()

add_subdirectory(${PROJECT_SOURCE_DIR}/test/cuda_sim ${PROJECT_BINARY_DIR}/cuda_sim)

# Marks .cu files of the calling folder as simulated device translation units: C++ with the
# device branches (__CUDA_ARCH__, MRBM_DEVICE_CODE) on, as nvcc's device pass sees them.
function(mrbm_sim_device_sources)
  set_source_files_properties(${ARGN} PROPERTIES LANGUAGE CXX
    COMPILE_OPTIONS "${MRBM_SIM_DEVICE_OPTIONS}"
    COMPILE_DEFINITIONS "__CUDACC__;__CUDA_ARCH__=900")
endfunction()
