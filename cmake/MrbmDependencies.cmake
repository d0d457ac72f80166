# Optional and header-only dependencies. Each is optional so that the GPU machine, which has no
# Debian -dev packages, can build with headers staged by tools/gpu-check.sh.
set(MRBM_HAVE_OPENBLAS OFF)
set(MRBM_HAVE_ZLIB OFF)

find_package(Threads REQUIRED)

find_path(MRBM_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
find_library(MRBM_OPENBLAS_LIBRARY NAMES openblas)
if(MRBM_CBLAS_INCLUDE_DIR AND MRBM_OPENBLAS_LIBRARY)
  set(MRBM_HAVE_OPENBLAS ON)
  add_library(mrbm_openblas INTERFACE)
  target_include_directories(mrbm_openblas INTERFACE ${MRBM_CBLAS_INCLUDE_DIR})
  target_link_libraries(mrbm_openblas INTERFACE ${MRBM_OPENBLAS_LIBRARY})
  target_compile_definitions(mrbm_openblas INTERFACE MRBM_HAVE_OPENBLAS=1)
endif()

# oneDNN (Debian libdnnl-dev): the CPU's float32 GEMMs (core/gemm.cpp; measured against OpenBLAS and
# BLIS in docs/benchmarks.md). It picks its kernels from the CPU's feature bits (cpuid), so it runs
# AVX-512/AVX2 code on CPUs whose model OpenBLAS does not know. Optional: without it OpenBLAS, else
# the plain loops. Debian builds it on OpenMP; core/gemm.cpp keeps each call on one OpenMP thread
# (omp_set_num_threads on the calling thread), so mrbm links libgomp itself (no -fopenmp needed:
# GCC's omp.h is on its default include path).
set(MRBM_HAVE_DNNL OFF)
find_path(MRBM_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
find_library(MRBM_DNNL_LIBRARY NAMES dnnl)
if(MRBM_DNNL_INCLUDE_DIR AND MRBM_DNNL_LIBRARY)
  find_package(OpenMP QUIET COMPONENTS CXX)
  if(OpenMP_CXX_FOUND)
    set(MRBM_HAVE_DNNL ON)
    add_library(mrbm_dnnl INTERFACE)
    target_include_directories(mrbm_dnnl INTERFACE ${MRBM_DNNL_INCLUDE_DIR})
    target_link_libraries(mrbm_dnnl INTERFACE ${MRBM_DNNL_LIBRARY} ${OpenMP_CXX_LIBRARIES})
    target_compile_definitions(mrbm_dnnl INTERFACE MRBM_HAVE_DNNL=1)
  endif()
endif()

find_package(ZLIB QUIET)
if(ZLIB_FOUND)
  set(MRBM_HAVE_ZLIB ON)
endif()

# Header-only: CLI11, nlohmann/json, Catch2 v2, stb. Debian installs them under /usr/include;
# MRBM_EXTRA_INCLUDE_DIRS points at a staged copy elsewhere.
add_library(mrbm_header_deps INTERFACE)
if(MRBM_EXTRA_INCLUDE_DIRS)
  target_include_directories(mrbm_header_deps SYSTEM INTERFACE ${MRBM_EXTRA_INCLUDE_DIRS})
endif()
find_path(MRBM_CLI11_INCLUDE_DIR CLI/CLI.hpp HINTS ${MRBM_EXTRA_INCLUDE_DIRS})
find_path(MRBM_JSON_INCLUDE_DIR nlohmann/json.hpp HINTS ${MRBM_EXTRA_INCLUDE_DIRS})
find_path(MRBM_CATCH2_INCLUDE_DIR catch2/catch.hpp HINTS ${MRBM_EXTRA_INCLUDE_DIRS})
foreach(_dep CLI11 JSON CATCH2)
  if(NOT MRBM_${_dep}_INCLUDE_DIR)
    message(FATAL_ERROR "mrbm: header-only dependency ${_dep} not found; run tools/install-deps.sh "
                        "(Debian) or pass -DMRBM_EXTRA_INCLUDE_DIRS=<folder with the headers>")
  endif()
endforeach()

# liblinear (Debian liblinear-dev): the linear SVM of `mrbm classify` (tools/mrbm/linear_svm.h).
# Optional: without it the build works and `classify` says it needs liblinear.
set(MRBM_HAVE_LIBLINEAR OFF)
find_path(MRBM_LIBLINEAR_INCLUDE_DIR linear.h PATH_SUFFIXES liblinear)
find_library(MRBM_LIBLINEAR_LIBRARY NAMES linear)
if(MRBM_LIBLINEAR_INCLUDE_DIR AND MRBM_LIBLINEAR_LIBRARY)
  set(MRBM_HAVE_LIBLINEAR ON)
  add_library(mrbm_liblinear INTERFACE)
  target_include_directories(mrbm_liblinear INTERFACE ${MRBM_LIBLINEAR_INCLUDE_DIR})
  target_link_libraries(mrbm_liblinear INTERFACE ${MRBM_LIBLINEAR_LIBRARY})
  target_compile_definitions(mrbm_liblinear INTERFACE MRBM_HAVE_LIBLINEAR=1)
endif()
