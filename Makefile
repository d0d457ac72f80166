# The two commands a user types: `make test` and `make demo` (README.md).
# Both install what is missing (Debian), configure, build and run.
BUILD_DIR ?= build
# The CUDA simulator build (docs/building.md "The CUDA simulator"): the [cuda] tests on the CPU.
SIM_BUILD_DIR ?= build-sim
SIM_TARGETS := mrbm_tests cuda_sim_tests mrbm_embed_foreign_cuda mrbm_embed_host_only_test mrbm
# The same simulator under ThreadSanitizer (docs/building.md "The CUDA simulator"): the [cuda]
# tests and the simulator's own, a missing __syncthreads reported as a data race.
TSAN_BUILD_DIR ?= build-tsan
TSAN_TARGETS := mrbm_tsan_tests cuda_sim_tests
# The fuzz build (docs/building.md "Fuzzing"): clang, libFuzzer, ASan + UBSan, CPU only.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= $(JOBS)
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

# CUDA 13 lives in /usr/local/cuda without being on every PATH: use it when nvcc is not on PATH.
NVCC := $(shell command -v nvcc 2>/dev/null || ( [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc ))
ifneq ($(NVCC),)
export PATH := $(dir $(NVCC)):$(PATH)
endif

.PHONY: all deps configure build test sim-configure sim-test tsan-configure tsan-test fuzz-configure fuzz-test fuzz demo reproduce-fashion reproduce-generation reproduce-loglik bench check-p40 gpu-check clean

all: build

deps:
	@tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null || \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	@grep -h "mrbm:" $(BUILD_DIR)/CMakeFiles/CMakeOutput.log >/dev/null 2>&1 || true

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test: the normal build's suite, then the whole suite again in the sanitized build that also
# runs the [cuda] tests under the CUDA simulator (sim-test), so that the CUDA path runs on every
# machine, GPU or not, then the [cuda] tests under ThreadSanitizer (tsan-test), then the smoke run
# of every fuzz target (fuzz-test).
# SIM=0 skips the sanitized and simulated suite, TSAN=0 the ThreadSanitizer run, FUZZ=0 the fuzzing.
SIM ?= 1
TSAN ?= 1
FUZZ ?= 1
test: build
	@cd $(BUILD_DIR) && ctest --no-tests=error --output-on-failure -j $(JOBS)
ifneq ($(SIM),0)
	@$(MAKE) --no-print-directory sim-test
endif
ifneq ($(TSAN),0)
	@$(MAKE) --no-print-directory tsan-test
endif
ifneq ($(FUZZ),0)
	@$(MAKE) --no-print-directory fuzz-test
endif

# Builds mrbm against test/cuda_sim (g++, AddressSanitizer + UndefinedBehaviorSanitizer, the leak
# checker on) and runs every test there: the CPU suite and the shell CLI tests (label cpu) under the
# sanitizers, and the [cuda] tests, the embedding example and the simulator's own (label cuda-sim).
sim-configure: deps
	@cmake -S . -B $(SIM_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMRBM_CUDA_SIMULATOR=ON \
	  -DCMAKE_CXX_COMPILER=g++ >/dev/null || \
	  cmake -S . -B $(SIM_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMRBM_CUDA_SIMULATOR=ON \
	  -DCMAKE_CXX_COMPILER=g++

sim-test: sim-configure
	@cmake --build $(SIM_BUILD_DIR) -j $(JOBS) --target $(SIM_TARGETS)
	@cd $(SIM_BUILD_DIR) && ASAN_OPTIONS=detect_leaks=1:$(ASAN_OPTIONS) \
	  UBSAN_OPTIONS=print_stacktrace=1:$(UBSAN_OPTIONS) \
	  ctest --no-tests=error --output-on-failure -j $(JOBS)

# Builds mrbm against test/cuda_sim under ThreadSanitizer (MRBM_SIM_SANITIZER=thread) and runs the
# [cuda] tests and the simulator's own there (label cuda-sim-tsan; every simulated CUDA thread is a
# TSan thread, TSAN_OPTIONS=halt_on_error=1 in each test's environment: a race report fails it).
tsan-configure: deps
	@cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMRBM_CUDA_SIMULATOR=ON \
	  -DMRBM_SIM_SANITIZER=thread -DCMAKE_CXX_COMPILER=g++ >/dev/null || \
	  cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMRBM_CUDA_SIMULATOR=ON \
	  -DMRBM_SIM_SANITIZER=thread -DCMAKE_CXX_COMPILER=g++

tsan-test: tsan-configure
	@cmake --build $(TSAN_BUILD_DIR) -j $(JOBS) --target $(TSAN_TARGETS)
	@cd $(TSAN_BUILD_DIR) && ctest --no-tests=error --output-on-failure -j $(JOBS)

# Builds the libFuzzer targets of test/fuzz (clang++, -fsanitize=fuzzer-no-link,address,undefined,
# no CUDA). fuzz-test: the smoke run (the committed corpus, then a fixed number of mutations from a
# fixed seed; tools/fuzz.sh smoke). fuzz: FUZZ_SECONDS of random exploration per
# target, where new findings come from (tools/fuzz.sh SECONDS).
fuzz-configure: deps
	@cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
	  -DCMAKE_CXX_COMPILER=clang++ -DMRBM_WITH_CUDA=OFF -DMRBM_WITH_CUDNN=OFF \
	  -DMRBM_BUILD_TESTS=OFF -DMRBM_FUZZ=ON >/dev/null || \
	  cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
	  -DCMAKE_CXX_COMPILER=clang++ -DMRBM_WITH_CUDA=OFF -DMRBM_WITH_CUDNN=OFF \
	  -DMRBM_BUILD_TESTS=OFF -DMRBM_FUZZ=ON

fuzz-test: fuzz-configure
	@cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target mrbm_fuzz_targets
	@BUILD_DIR="$(FUZZ_BUILD_DIR)" FUZZ_JOBS="$(FUZZ_JOBS)" tools/fuzz.sh smoke

fuzz: fuzz-configure
	@cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target mrbm_fuzz_targets
	@BUILD_DIR="$(FUZZ_BUILD_DIR)" FUZZ_JOBS="$(FUZZ_JOBS)" tools/fuzz.sh $(FUZZ_SECONDS)

demo: build
	@tools/demo.sh

# The paper's Fashion-MNIST experiment on a CPU-sized budget; writes docs/results.md.
reproduce-fashion: build
	@BUILD_DIR="$(BUILD_DIR)" tools/reproduce_fashion.sh

# Generation from noise, four negative phases side by side; writes docs/results.md's "Generation".
reproduce-generation: build
	@BUILD_DIR="$(BUILD_DIR)" tools/reproduce_generation.sh

# Test log-likelihood by AIS, binary vs multinary hidden units, CD-1 vs PCD-1; writes docs/results.md.
reproduce-loglik: build
	@BUILD_DIR="$(BUILD_DIR)" tools/loglik_results.sh

bench: build
	@$(BUILD_DIR)/mrbm bench multinary

check-p40:
	@tools/check-p40.sh

gpu-check:
	@tools/gpu-check.sh stage

clean:
	@rm -rf $(BUILD_DIR) $(SIM_BUILD_DIR) $(TSAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
