// CUDA simulator: what the simulator's own tests (and a curious user) can ask it. Not part of CUDA.
//
// Environment (read once, at the first CUDA call):
//   CUDA_SIM_DEVICES  comma-separated device kinds, each sm_90 (H100-like) or sm_61 (P40-like);
//                     default "sm_90" (one device). "sm_90,sm_61" gives two devices.
//   CUDA_SIM_MEMORY_MIB  global memory per device, default 1024 (small, so out-of-memory runs).
//   CUDA_SIM_SEED     seed of the block and thread orders, default 1.
//   CUDA_SIM_QUIET    1: do not print diagnostics to stderr (the simulator's own tests).
#pragma once

#include <string>

namespace cuda_sim {

// The last diagnostic the simulator reported (a failed kernel, a bad argument), "" when none.
std::string last_diagnostic();
void clear_diagnostic();

// Whether p lies in the simulated device memory of any device (an allocation or not).
bool is_device_pointer(const void* p);

// The device kinds for the next start; only before the first CUDA call (tests of two devices).
void set_device_kinds_for_testing(const std::string& kinds);

}  // namespace cuda_sim
