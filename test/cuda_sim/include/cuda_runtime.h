// CUDA simulator: cuda_runtime.h = the host API (cuda_runtime_api.h) plus what device code sees:
// the execution-space qualifiers, threadIdx & co, __syncthreads, warp shuffles, atomics and the
// explicitly rounded arithmetic intrinsics (cuda_sim/device.h).
#pragma once

#include <cmath>

#include "cuda_runtime_api.h"
#include "cuda_sim/device.h"
