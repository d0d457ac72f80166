// CUDA simulator: runs a grid, one block at a time in a seeded shuffled order, each CUDA thread of
// the block in its own context (a ucontext fiber with its own stack) on the calling host thread.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cuda_runtime_api.h"

namespace cuda_sim::detail {

// Returns "" or what went wrong (the first failing block), for a message that names the kernel.
std::string run_grid(dim3 grid, dim3 block, const std::function<void()>& thread_body,
                     const std::vector<std::pair<void*, size_t>>& shared_vars, uint64_t order_seed);

}  // namespace cuda_sim::detail
