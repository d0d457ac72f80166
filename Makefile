# The two commands a user types: `make test` and `make demo` (README.md).
# Both install what is missing (Debian), configure, build and run.
BUILD_DIR ?= build
# The CUDA simulator build (docs/building.md "The CUDA simulator"): the [cuda] tests on the CPU.
SIM_BUILD_DIR ?= build-sim
SIM_TARGETS := mrbm_tests cuda_sim_tests mrbm_embed_foreign_cuda mrbm
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

# CUDA 13 lives in /usr/local/cuda without being on every PATH: use it when nvcc is not on PATH.
NVCC := $(shell command -v nvcc 2>/dev/null || ( [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc ))
ifneq ($(NVCC),)
export PATH := $(dir $(NVCC)):$(PATH)
endif

.PHONY: all deps configure build test sim-configure sim-test demo reproduce-fashion reproduce-generation reproduce-loglik bench check-p40 gpu-check clean

all: build

deps:
	@tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null || \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	@grep -h "mrbm:" $(BUILD_DIR)/CMakeFiles/CMakeOutput.log >/dev/null 2>&1 || true

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test: the normal build's suite, then the [cuda] tests under the CUDA simulator (sim-test),
# so that the CUDA path runs on every machine, GPU or not. SIM=0 skips the simulated suite.
SIM ?= 1
test: build
	@cd $(BUILD_DIR) && ctest --no-tests=error --output-on-failure -j $(JOBS)
ifneq ($(SIM),0)
	@$(MAKE) --no-print-directory sim-test
endif

# Builds mrbm against test/cuda_sim (g++, AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# every test labelled cuda-sim: the [cuda] tests, the embedding example and the simulator's own.
sim-configure: deps
	@cmake -S . -B $(SIM_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMRBM_CUDA_SIMULATOR=ON \
	  -DCMAKE_CXX_COMPILER=g++ >/dev/null || \
	  cmake -S . -B $(SIM_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMRBM_CUDA_SIMULATOR=ON \
	  -DCMAKE_CXX_COMPILER=g++

sim-test: sim-configure
	@cmake --build $(SIM_BUILD_DIR) -j $(JOBS) --target $(SIM_TARGETS)
	@cd $(SIM_BUILD_DIR) && ctest -L cuda-sim --no-tests=error --output-on-failure -j $(JOBS)

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
	@rm -rf $(BUILD_DIR) $(SIM_BUILD_DIR)
