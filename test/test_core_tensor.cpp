// Tests of core/tensor.h and core/allocator.h: factories, views sharing storage, shape errors that
// name both shapes, float64, host and device memory statistics returning to their baseline, the
// size classes, and (on a GPU) CPU<->CUDA round trips into poisoned destinations, device fill and
// block reuse by the caching allocator. Error model: every check here is exact. Copies move bytes;
// fill stores static_cast<T>(value), which is what the expected values compute too; no arithmetic
// is involved.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "test_support.h"

namespace {

using Catch::Matchers::Contains;
using mrbm::Device;
using mrbm::DType;
using mrbm::Shape;
using mrbm::Tensor;

using mrbm::test::message_of;

// Bitwise equality, so that NaN poison left in a destination is never "equal" to anything and
// -0.0 differs from +0.0.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

}  // namespace

TEST_CASE("shape printing and element counts", "[core]") {
  CHECK(mrbm::shape_to_string({128, 3, 32, 32}) == "[128, 3, 32, 32]");
  CHECK(mrbm::shape_to_string({}) == "[]");
  CHECK(mrbm::shape_numel({}) == 1);
  CHECK(mrbm::shape_numel({2, 0, 5}) == 0);
  CHECK(mrbm::shape_numel({128, 3, 32, 32}) == 393216);
  CHECK_THROWS_AS(mrbm::shape_numel({2, -1}), mrbm::ShapeError);
  CHECK_THROWS_AS(mrbm::shape_numel({int64_t{1} << 40, int64_t{1} << 40}), mrbm::ShapeError);
}

TEST_CASE("Tensor factories on the CPU", "[core]") {
  const Tensor e = Tensor::empty({2, 3});
  CHECK(e.defined());
  CHECK(e.shape() == Shape{2, 3});
  CHECK(e.dim() == 2);
  CHECK(e.size(-1) == 3);
  CHECK(e.numel() == 6);
  CHECK(e.bytes() == 24);
  CHECK(e.dtype() == DType::kFloat32);
  CHECK(e.device() == Device::cpu());
  CHECK_THROWS_AS(e.size(2), mrbm::InvalidArgument);

  CHECK(Tensor::zeros({4, 5}).to_vector<float>() == std::vector<float>(20, 0.0f));
  CHECK(Tensor::full({3}, 0.1).to_vector<float>() == std::vector<float>(3, 0.1f));
  CHECK(Tensor::full({3}, 0.1, DType::kFloat64).to_vector<double>() == std::vector<double>(3, 0.1));

  const std::vector<float> v = mrbm::test::random_floats(12, -2.0f, 2.0f, 7);
  const Tensor t = Tensor::from_vector(v, {3, 4});
  CHECK(t.shape() == Shape{3, 4});
  CHECK(t.to_vector<float>() == v);
  CHECK(Tensor::from_vector(v).shape() == Shape{12});

  const std::string msg = message_of<mrbm::ShapeError>([&] { Tensor::from_vector(v, {5, 3}); });
  CHECK_THAT(msg, Contains("12 values"));
  CHECK_THAT(msg, Contains("[5, 3]"));

  const Tensor empty = Tensor::zeros({0, 7});
  CHECK(empty.numel() == 0);
  CHECK(empty.to_vector<float>().empty());

  const Tensor undefined;
  CHECK_FALSE(undefined.defined());
  CHECK(undefined.numel() == 0);
  CHECK_THROWS_AS(undefined.data<float>(), mrbm::InvalidArgument);
}

TEST_CASE("float64 tensors and the dtype check of data<T>", "[core]") {
  const std::vector<double> v = {1.0 / 3.0, -2.5e-300, 1e300, 0.0};
  const Tensor t = Tensor::from_vector(v, {2, 2});
  CHECK(t.dtype() == DType::kFloat64);
  CHECK(t.bytes() == 32);
  CHECK(t.to_vector<double>() == v);
  CHECK(t.data<double>()[1] == -2.5e-300);  // would be 0 if anything went through float
  const std::string msg = message_of<mrbm::InvalidArgument>([&] { t.data<float>(); });
  CHECK_THAT(msg, Contains("float32"));
  CHECK_THAT(msg, Contains("float64"));
  CHECK_THROWS_AS(t.to_vector<float>(), mrbm::InvalidArgument);
  CHECK_THROWS_AS(Tensor::zeros({2}).data<double>(), mrbm::InvalidArgument);
}

TEST_CASE("reshape and rows are views sharing storage", "[core]") {
  Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor r = t.reshape({2, -1, 3});
  CHECK(r.shape() == Shape{2, 2, 3});
  CHECK(r.shares_storage_with(t));
  r.data<float>()[5] = 50.0f;
  CHECK(t.data<float>()[5] == 50.0f);

  CHECK(t.reshape({-1}).shape() == Shape{12});
  const std::string msg = message_of<mrbm::ShapeError>([&] { t.reshape({5, 2}); });
  CHECK_THAT(msg, Contains("[3, 4]"));
  CHECK_THAT(msg, Contains("[5, 2]"));
  CHECK_THROWS_AS(t.reshape({-1, -1}), mrbm::ShapeError);
  CHECK_THROWS_AS(t.reshape({5, -1}), mrbm::ShapeError);

  Tensor middle = t.rows(1, 3);
  CHECK(middle.shape() == Shape{2, 4});
  CHECK(middle.shares_storage_with(t));
  CHECK(middle.to_vector<float>() == std::vector<float>{4, 50, 6, 7, 8, 9, 10, 11});
  middle.fill(-1.0);
  CHECK(t.to_vector<float>() == std::vector<float>{0, 1, 2, 3, -1, -1, -1, -1, -1, -1, -1, -1});
  CHECK(t.rows(3, 3).numel() == 0);
  CHECK_THROWS_AS(t.rows(2, 4), mrbm::InvalidArgument);
  CHECK_THROWS_AS(t.rows(2, 1), mrbm::InvalidArgument);

  // to() on the same device is a view too; clone() is not.
  CHECK(t.to(Device::cpu()).shares_storage_with(t));
  Tensor c = t.clone();
  CHECK_FALSE(c.shares_storage_with(t));
  c.fill(3.0);
  CHECK(t.data<float>()[0] == 0.0f);
}

TEST_CASE("copy_from and check_same_shape report both shapes", "[core]") {
  Tensor a = Tensor::zeros({2, 3});
  const Tensor b = Tensor::full({3, 2}, 4.0);
  a.copy_from(b);  // same numel: the elements are copied in row-major order
  CHECK(a.to_vector<float>() == std::vector<float>(6, 4.0f));

  const std::string copy_msg = message_of<mrbm::ShapeError>([&] {
    a.copy_from(Tensor::zeros({128, 3, 32}));
  });
  CHECK_THAT(copy_msg, Contains("[2, 3]"));
  CHECK_THAT(copy_msg, Contains("[128, 3, 32]"));
  CHECK_THROWS_AS(a.copy_from(Tensor::zeros({2, 3}, DType::kFloat64)), mrbm::InvalidArgument);

  const std::string msg = message_of<mrbm::ShapeError>([&] {
    mrbm::check_same_shape(Tensor::zeros({128, 3, 32, 32}), a, "conv input");
  });
  CHECK_THAT(msg, Contains("conv input"));
  CHECK_THAT(msg, Contains("[128, 3, 32, 32]"));
  CHECK_THAT(msg, Contains("[2, 3]"));
  CHECK_NOTHROW(mrbm::check_same_shape(a, Tensor::zeros({2, 3}), "same"));
}

TEST_CASE("host storage is 64-byte aligned and counted back to baseline", "[core]") {
  const mrbm::HostAllocatorStats before = mrbm::host_allocator_stats();
  {
    std::vector<Tensor> keep;
    int64_t allocated = 0;
    for (int i = 1; i <= 50; ++i) {
      Tensor t = Tensor::full({i, 3}, 1.0, i % 2 ? DType::kFloat32 : DType::kFloat64);
      CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % mrbm::kHostAlignment == 0);
      allocated += t.bytes();
      keep.push_back(t.reshape({-1}));  // views must not be counted twice
      keep.push_back(t.clone());
      allocated += t.bytes();
    }
    const mrbm::HostAllocatorStats during = mrbm::host_allocator_stats();
    CHECK(during.bytes_in_use - before.bytes_in_use == allocated);
    CHECK(during.blocks_in_use - before.blocks_in_use == 100);
    CHECK(during.peak_bytes_in_use >= during.bytes_in_use);
  }
  const mrbm::HostAllocatorStats after = mrbm::host_allocator_stats();
  CHECK(after.bytes_in_use == before.bytes_in_use);
  CHECK(after.blocks_in_use == before.blocks_in_use);
}

TEST_CASE("large host blocks are cached and reused by size class, up to the limit", "[core]") {
  mrbm::host_empty_cache();
  const mrbm::HostAllocatorStats before = mrbm::host_allocator_stats();
  CHECK(before.bytes_cached == 0);
  const int64_t bytes = 3 * mrbm::kHostCacheMin + 4;  // class: 3.5 MiB
  void* first = mrbm::host_allocate(bytes);
  mrbm::host_deallocate(first, bytes);
  CHECK(mrbm::host_allocator_stats().bytes_cached == mrbm::device_size_class(bytes));
  // Another request of the same class gets the same block back; in-use counts the request.
  void* again = mrbm::host_allocate(bytes + 1000);
  CHECK(again == first);
  CHECK(reinterpret_cast<uintptr_t>(again) % mrbm::kHostAlignment == 0);
  mrbm::HostAllocatorStats during = mrbm::host_allocator_stats();
  CHECK(during.num_cache_hits == before.num_cache_hits + 1);
  CHECK(during.bytes_cached == 0);
  CHECK(during.bytes_in_use - before.bytes_in_use == bytes + 1000);
  mrbm::host_deallocate(again, bytes + 1000);
  // Small blocks are never cached.
  void* small = mrbm::host_allocate(mrbm::kHostCacheMin - 64);
  mrbm::host_deallocate(small, mrbm::kHostCacheMin - 64);
  CHECK(mrbm::host_allocator_stats().bytes_cached == mrbm::device_size_class(bytes));
  // The cache keeps at most kHostCacheLimit bytes (blocks are not touched: no memory is used).
  const int64_t big = mrbm::kHostCacheLimit / 5 * 2;  // 2/5 of the limit: two fit, three do not
  std::vector<void*> blocks;
  for (int i = 0; i < 3; ++i) blocks.push_back(mrbm::host_allocate(big));
  for (void* p : blocks) mrbm::host_deallocate(p, big);
  during = mrbm::host_allocator_stats();
  CHECK(during.bytes_cached <= mrbm::kHostCacheLimit);
  CHECK(during.bytes_cached == mrbm::device_size_class(bytes) + 2 * mrbm::device_size_class(big));
  CHECK(during.bytes_in_use == before.bytes_in_use);
  mrbm::host_empty_cache();
  CHECK(mrbm::host_allocator_stats().bytes_cached == 0);
}

TEST_CASE("device size classes bound the waste", "[core]") {
  CHECK(mrbm::device_size_class(0) == 0);
  CHECK(mrbm::device_size_class(1) == 512);
  CHECK(mrbm::device_size_class(512) == 512);
  CHECK(mrbm::device_size_class(513) == 1024);
  CHECK(mrbm::device_size_class(int64_t{1} << 20) == (int64_t{1} << 20));
  CHECK(mrbm::device_size_class((int64_t{1} << 20) + 1) == (int64_t{1} << 20) + (int64_t{1} << 17));
  int64_t previous = 0;
  for (int64_t bytes = 1; bytes < (int64_t{1} << 34); bytes = bytes * 5 / 4 + 3) {
    const int64_t c = mrbm::device_size_class(bytes);
    INFO("bytes " << bytes << " class " << c);
    CHECK(c >= bytes);
    CHECK(c >= previous);  // monotone
    CHECK(c % 512 == 0);
    if (bytes > (int64_t{1} << 20)) CHECK(c - bytes <= bytes / 8);
    CHECK(mrbm::device_size_class(c) == c);  // a class is its own class
    previous = c;
  }
}

TEST_CASE("CUDA tensors need a CUDA build and device", "[core]") {
  if (mrbm::test::cuda_device_count() > 0) return;  // covered by the [cuda] tests
  CHECK_THROWS_AS(Tensor::empty({4}, DType::kFloat32, Device::cuda(0)), mrbm::CudaError);
  CHECK_THROWS_AS(Tensor::zeros({4}).to(Device::cuda(0)), mrbm::CudaError);
  CHECK_THROWS_AS(Tensor::empty({4}, DType::kFloat32, Device::cuda(-1)), mrbm::InvalidArgument);
}

// ---- [cuda] ----

TEST_CASE("CPU -> CUDA -> CPU round trip into poisoned destinations", "[core][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  mrbm::CudaContext ctx(0);
  for (const int64_t n :
       {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{1000}, (int64_t{1} << 20) + 3}) {
    for (const mrbm::Stream stream : {static_cast<mrbm::Stream>(nullptr), ctx.stream()}) {
      INFO("n " << n << (stream ? " on the context stream" : " on the default stream"));
      const std::vector<float> v = mrbm::test::random_floats(n, -1e3f, 1e3f, 1000 + n);
      const Tensor host = Tensor::from_vector(v, {n});
      Tensor device = Tensor::full({n}, std::nan(""), DType::kFloat32, Device::cuda(0), stream);
      device.copy_from(host, stream);
      Tensor back = Tensor::from_vector(mrbm::test::poisoned(n), {n});
      back.copy_from(device, stream);
      CHECK(same_bits(back.to_vector<float>(), v));
      CHECK(same_bits(device.to_vector<float>(stream), v));
      // to() allocates on the device and copies; a device-to-device clone keeps the bits.
      const Tensor moved = host.to(Device::cuda(0), stream);
      CHECK(moved.is_cuda());
      CHECK(same_bits(moved.clone(stream).to(Device::cpu(), stream).to_vector<float>(), v));
    }
  }
  // float64 and views: rows of a device tensor copy out exactly.
  std::vector<double> d(40);
  for (size_t i = 0; i < d.size(); ++i) d[i] = 1.0 / (static_cast<double>(i) + 3.0);
  const Tensor dev = Tensor::from_vector(d, {10, 4}).to(Device::cuda(0));
  const std::vector<double> tail(d.begin() + 12, d.begin() + 28);
  CHECK(dev.rows(3, 7).to_vector<double>() == tail);
}

TEST_CASE("fill on the device", "[core][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  for (const int64_t n : {int64_t{1}, int64_t{255}, int64_t{257}, int64_t{3} << 20}) {
    INFO("n " << n);
    Tensor f = Tensor::empty({n}, DType::kFloat32, Device::cuda(0));
    f.fill(std::nan(""));
    f.fill(2.5);
    CHECK(f.to_vector<float>() == std::vector<float>(static_cast<size_t>(n), 2.5f));
    f.fill(0.1);  // rounds to the nearest float, like the host fill
    CHECK(f.to_vector<float>() == std::vector<float>(static_cast<size_t>(n), 0.1f));
    f.zero();
    CHECK(same_bits(f.to_vector<float>(), std::vector<float>(static_cast<size_t>(n), 0.0f)));
    f.fill(-0.0);
    CHECK(same_bits(f.to_vector<float>(), std::vector<float>(static_cast<size_t>(n), -0.0f)));

    Tensor g = Tensor::full({n}, 1.0 / 3.0, DType::kFloat64, Device::cuda(0));
    CHECK(g.to_vector<double>() == std::vector<double>(static_cast<size_t>(n), 1.0 / 3.0));
  }
  // A fill of a row view leaves the rest untouched.
  Tensor t = Tensor::full({4, 3}, 1.0, DType::kFloat32, Device::cuda(0));
  t.rows(1, 2).fill(9.0);
  CHECK(t.to_vector<float>() == std::vector<float>{1, 1, 1, 9, 9, 9, 1, 1, 1, 1, 1, 1});
}

TEST_CASE("the caching allocator reuses freed blocks and returns to baseline", "[core][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  const mrbm::DeviceAllocatorStats before = mrbm::device_allocator_stats(0);
  // An odd size no other test uses, so its class is not in the cache yet.
  const Shape shape{1234, 567};
  {
    const Tensor first = Tensor::empty(shape, DType::kFloat32, Device::cuda(0));
    const mrbm::DeviceAllocatorStats s = mrbm::device_allocator_stats(0);
    CHECK(s.bytes_requested - before.bytes_requested == first.bytes());
    CHECK(s.bytes_in_use - before.bytes_in_use == mrbm::device_size_class(first.bytes()));
  }
  const mrbm::DeviceAllocatorStats freed = mrbm::device_allocator_stats(0);
  CHECK(freed.bytes_in_use == before.bytes_in_use);
  CHECK(freed.bytes_cached >= mrbm::device_size_class(int64_t{1234} * 567 * 4));

  // A training-step-like loop: the same shapes every step need no new cudaMalloc after step one.
  int64_t mallocs_after_first_step = 0;
  for (int step = 0; step < 50; ++step) {
    Tensor x = Tensor::full(shape, step, DType::kFloat32, Device::cuda(0));
    Tensor y = x.clone();
    Tensor h = Tensor::zeros({1234, 64}, DType::kFloat32, Device::cuda(0));
    const Tensor v = y.rows(0, 2).to(Device::cpu());
    CHECK(v.data<float>()[0] == static_cast<float>(step));
    if (step == 0) mallocs_after_first_step = mrbm::device_allocator_stats(0).num_device_mallocs;
  }
  const mrbm::DeviceAllocatorStats after = mrbm::device_allocator_stats(0);
  CHECK(after.num_device_mallocs == mallocs_after_first_step);
  CHECK(after.num_cache_hits - freed.num_cache_hits >= 49 * 3);
  CHECK(after.bytes_in_use == before.bytes_in_use);
  CHECK(after.blocks_in_use == before.blocks_in_use);
  CHECK(after.peak_bytes_in_use >= after.bytes_in_use);

  mrbm::device_empty_cache();
  const mrbm::DeviceAllocatorStats emptied = mrbm::device_allocator_stats(0);
  CHECK(emptied.bytes_cached == 0);
  CHECK(emptied.num_device_frees > after.num_device_frees);
  CHECK(emptied.bytes_in_use == before.bytes_in_use);
}
