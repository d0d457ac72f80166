// The counter-based random number generator of mrbm: Philox4x32-10 and the per-element stream.
//
// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011;
// the reference implementation is Random123's philox.h). A bijection of a 128-bit counter, keyed by
// 64 bits: ten rounds of
//     (hi0, lo0) = M0 * c0,  (hi1, lo1) = M1 * c2          (32 x 32 -> 64-bit products)
//     c = { hi1 ^ c1 ^ k0,  lo1,  hi0 ^ c3 ^ k1,  lo0 }
// with the key bumped by the Weyl constants (k0 += W0, k1 += W1) before rounds 2..10.
// Checked against Random123's known-answer vectors (kat_vectors, "philox4x32 10" lines) in
// test/test_philox.cpp.
//
// Counter layout of PhiloxStream, the one stream every sampler of mrbm draws from:
//     key     = { seed & 0xffffffff, seed >> 32 }
//     counter = { element & 0xffffffff, element >> 32, block, offset }
// element is the index of the output element (e.g. row * cols + col), block counts the 4-word
// blocks this element has already consumed (0, 1, 2, ...), offset is the caller's stream offset (e.g.
// the training step or Gibbs step number, so every step draws fresh numbers). A draw therefore
// depends on (seed, offset, element, draw number) only, never on the thread layout: the CPU reference
// loop and a CUDA kernel produce the same bits. An element has 2^32 blocks (2^34 words) per offset.
//
// Conversions (exact in binary floating point, identical on host and device):
//     uniform()         = ((u >> 8) + 1) * 2^-24                     in [2^-24, 1]: never 0, log() is safe
//     uniform_double()  = ((a >> 5) * 2^26 + (b >> 6) + 1) * 2^-53   in [2^-53, 1] (words a, b)
//     normal()          = sqrt(-2 log u1) * cos(2 pi u2), u1, u2 = uniform_double() (Box-Muller in
//                         double, four words, the sine of the pair is not cached: a draw's cost and
//                         result never depend on earlier calls). Tails reach sqrt(106 ln 2) = 8.6.
//                         log and cos: the branch-free polynomials of kernels/elementary.h on the
//                         host (so that sampling loops vectorize), CUDA's log and cos on the device.
// The float result of normal() matches across CPU and GPU unless the double value lies within an
// ulp or two of a float rounding boundary (the two log/cos agree to 1-2 ulp): a probability of
// about 1e-8 per draw.
//
// Everything here is MRBM_HD (kernels/hd.h): one code path for host and device, no CUDA types.
// The stream keeps its current block in four named registers and shifts them, so no runtime-indexed
// array (which nvcc would place in local memory) is used.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/elementary.h"
#include "kernels/hd.h"

namespace mrbm::kernels {

// Four 32-bit words: a Philox counter or output block.
struct Philox4x32 {
  uint32_t x, y, z, w;
};

// Two 32-bit words: a Philox key.
struct Philox2x32Key {
  uint32_t x, y;
};

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;  // round multipliers (Random123 PHILOX_M4x32_0/1)
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // key bumps: golden ratio, sqrt(3) - 1 (PHILOX_W32_0/1)
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

namespace detail {

// One Philox round. The 64-bit product compiles to one mul.wide.u32 on the device.
MRBM_HD Philox4x32 philox_round(Philox4x32 c, Philox2x32Key k) {
  const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c.x;
  const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c.z;
  const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  return Philox4x32{hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0};
}

}  // namespace detail

// Philox4x32 with 10 rounds: the output block for one (counter, key).
MRBM_HD Philox4x32 philox4x32_10(Philox4x32 counter, Philox2x32Key key) {
  Philox4x32 c = detail::philox_round(counter, key);
#if defined(__CUDA_ARCH__)  // the device pass only: a host compiler would warn on the pragma
#pragma unroll
#endif
  for (int r = 1; r < 10; ++r) {
    key.x += kPhiloxW0;
    key.y += kPhiloxW1;
    c = detail::philox_round(c, key);
  }
  return c;
}

// One random word -> float uniform in (0, 1]: the top 24 bits (a float's significand), plus one,
// times 2^-24. 0 maps to 2^-24, 0xffffffff to exactly 1.
MRBM_HD float uniform_float_from_u32(uint32_t u) {
  return static_cast<float>((u >> 8) + 1u) * 5.9604644775390625e-08f;  // 2^-24
}

// Two random words -> double uniform in (0, 1]: 27 bits of a and 26 of b make 53 bits, plus one,
// times 2^-53. (0, 0) maps to 2^-53, all ones to exactly 1.
// Assembled from two int32 -> double conversions (exact: (a >> 5) 2^26 + (b >> 6) + 1 < 2^53), not
// one uint64 -> double, which x86 vectorizes only with AVX-512.
MRBM_HD double uniform_double_from_u32(uint32_t a, uint32_t b) {
  const double hi = static_cast<double>(static_cast<int32_t>(a >> 5)) * 67108864.0;  // 2^26
  const double lo = static_cast<double>(static_cast<int32_t>((b >> 6) + 1u));
  return (hi + lo) * 1.1102230246251565404e-16;  // 2^-53
}

// The per-element random stream (counter layout in the header comment). Construction is free: the
// first block is computed on the first draw.
struct PhiloxStream {
  MRBM_HD PhiloxStream(uint64_t seed, uint64_t element, uint32_t offset)
      : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
        element_lo_(static_cast<uint32_t>(element)),
        element_hi_(static_cast<uint32_t>(element >> 32)),
        offset_(offset) {}

  // The next 32 random bits of this element's stream.
  MRBM_HD uint32_t next_u32() {
    if (left_ == 0) {
      const Philox4x32 b = philox4x32_10(Philox4x32{element_lo_, element_hi_, block_, offset_}, key_);
      ++block_;
      r0_ = b.x;
      r1_ = b.y;
      r2_ = b.z;
      r3_ = b.w;
      left_ = 4;
    }
    const uint32_t out = r0_;
    r0_ = r1_;
    r1_ = r2_;
    r2_ = r3_;
    --left_;
    return out;
  }

  // Uniform in (0, 1], 24 random bits, never 0 (safe for log). One word.
  MRBM_HD float uniform() { return uniform_float_from_u32(next_u32()); }

  // Uniform in (0, 1], 53 random bits, never 0. Two words.
  MRBM_HD double uniform_double() {
    const uint32_t a = next_u32();
    const uint32_t b = next_u32();
    return uniform_double_from_u32(a, b);
  }

  // Standard normal by Box-Muller in double, rounded to float once at the end. Four words.
  MRBM_HD float normal() {
    const double u1 = uniform_double();
    const double u2 = uniform_double();
    const double r = ::sqrt(-2.0 * log_unit_interval(u1));
    return static_cast<float>(r * cos_two_pi(u2));
  }

 private:
  Philox2x32Key key_;
  uint32_t element_lo_;
  uint32_t element_hi_;
  uint32_t offset_;
  uint32_t block_ = 0;  // counter word 2: blocks already drawn by this element
  uint32_t left_ = 0;   // words of the current block not yet returned
  uint32_t r0_ = 0, r1_ = 0, r2_ = 0, r3_ = 0;  // unread words, next one in r0_
};

}  // namespace mrbm::kernels
