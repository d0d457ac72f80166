// CUDA simulator: the launch that kernels/launch.cuh hands over in a simulated build. The
// arguments are converted to the kernel's parameter types and copied now, as a launch copies them
// into the parameter buffer; the grid runs later, when something waits for the stream.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_runtime_api.h"

namespace cuda_sim {
namespace detail {

// One kernel parameter as bytes, for the check that no host pointer reaches a kernel: a pointer
// parameter is checked exactly; the 8-byte words of a struct parameter are checked as candidates.
struct ParamBytes {
  const void* data;
  size_t size;
  bool is_pointer;
};

void enqueue_kernel(const void* kernel, dim3 grid, dim3 block, size_t shared_bytes,
                    cudaStream_t stream, std::vector<ParamBytes> params,
                    std::function<void()> thread_body, std::shared_ptr<void> keep_alive);

template <class Tuple, size_t... I>
std::vector<ParamBytes> param_bytes(const Tuple& t, std::index_sequence<I...>) {
  return {ParamBytes{&std::get<I>(t), sizeof(std::get<I>(t)),
                     std::is_pointer<std::tuple_element_t<I, Tuple>>::value}...};
}

}  // namespace detail

template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                   cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: one argument per kernel parameter");
  using Tuple = std::tuple<std::decay_t<Params>...>;
  auto params = std::make_shared<Tuple>(std::forward<Args>(args)...);
  std::vector<detail::ParamBytes> bytes =
      detail::param_bytes(*params, std::index_sequence_for<Params...>{});
  Tuple* p = params.get();
  detail::enqueue_kernel(reinterpret_cast<const void*>(kernel), grid, block, shared_bytes, stream,
                         std::move(bytes), [kernel, p] { std::apply(kernel, *p); }, params);
}

}  // namespace cuda_sim
