// CUDA simulator: what the executable's own symbol table tells about device code: kernel names
// (for messages) and the __shared__ variables (static locals of ABI-tagged device functions,
// cuda_sim/device.h), which the block runner poisons before every block.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace cuda_sim::detail {

std::string kernel_name(const void* kernel);  // demangled; "kernel at 0x..." when unknown
const std::vector<std::pair<void*, size_t>>& shared_variables();
size_t static_shared_bytes();  // all of them together: an upper bound for any one kernel

}  // namespace cuda_sim::detail
