// The row-by-row CPU im2col/col2im (the CPU path of core/conv.cpp) equal the element-wise
// reference functions bit for bit, on shapes with every kind of border (stride 1-3, padding 0-2,
// padding >= kernel, odd sizes, several channels and samples).
#include "kernels/im2col.h"
#include "test/test_support.h"

using namespace mrbm::kernels;

TEST_CASE("im2col/col2im by rows equal the element-wise reference", "[conv-kernels]") {
  struct S { int64_t b, c, h, w, k, st, p; };
  for (const S& t : {S{2, 3, 9, 7, 4, 2, 1}, S{1, 1, 28, 28, 4, 2, 1}, S{3, 2, 5, 6, 3, 1, 0},
                     S{2, 2, 8, 8, 2, 3, 2}, S{1, 4, 4, 5, 3, 1, 3}, S{0, 2, 4, 4, 2, 2, 0}}) {
    INFO("b=" << t.b << " c=" << t.c << " h=" << t.h << " w=" << t.w << " k=" << t.k << " s=" << t.st << " p=" << t.p);
    const ConvShape s = make_conv_shape(t.b, t.c, t.h, t.w, 5, t.k, t.k, t.st, t.st, t.p, t.p);
    REQUIRE(validate_conv_shape(s) == Status::kOk);
    const auto x = mrbm::test::random_floats(conv_input_count(s), -1, 1, 1);
    auto col_ref = mrbm::test::poisoned(conv_col_count(s)), col = mrbm::test::poisoned(conv_col_count(s));
    REQUIRE(im2col_cpu(col_ref.data(), x.data(), s) == Status::kOk);
    REQUIRE(im2col_cpu_by_rows(col.data(), x.data(), s) == Status::kOk);
    REQUIRE(std::equal(col.begin(), col.end(), col_ref.begin()));  // NaN would fail the equality
    const auto c = mrbm::test::random_floats(conv_col_count(s), -1, 1, 2);
    auto x_ref = mrbm::test::poisoned(conv_input_count(s)), x_rows = mrbm::test::poisoned(conv_input_count(s));
    REQUIRE(col2im_cpu(x_ref.data(), c.data(), s) == Status::kOk);
    REQUIRE(col2im_cpu_by_rows(x_rows.data(), c.data(), s) == Status::kOk);
    REQUIRE(std::equal(x_rows.begin(), x_rows.end(), x_ref.begin()));
  }
}

// The *_batches versions on disjoint image ranges (as core/conv.cpp runs them on several threads)
// build exactly the whole-batch result; out-of-range image ranges are refused.
TEST_CASE("im2col/col2im by rows over image ranges equal the whole-batch call", "[conv-kernels]") {
  const ConvShape s = make_conv_shape(5, 3, 9, 7, 4, 4, 4, 2, 2, 1, 1);
  REQUIRE(validate_conv_shape(s) == Status::kOk);
  const auto x = mrbm::test::random_floats(conv_input_count(s), -1, 1, 3);
  const auto c = mrbm::test::random_floats(conv_col_count(s), -1, 1, 4);
  auto col_all = mrbm::test::poisoned(conv_col_count(s)), x_all = mrbm::test::poisoned(conv_input_count(s));
  REQUIRE(im2col_cpu_by_rows(col_all.data(), x.data(), s) == Status::kOk);
  REQUIRE(col2im_cpu_by_rows(x_all.data(), c.data(), s) == Status::kOk);
  auto col_parts = mrbm::test::poisoned(conv_col_count(s)), x_parts = mrbm::test::poisoned(conv_input_count(s));
  for (const auto& [b0, b1] : {std::pair<int64_t, int64_t>{3, 5}, {0, 1}, {1, 3}, {3, 3}}) {
    REQUIRE(im2col_cpu_by_rows_batches(col_parts.data(), x.data(), s, b0, b1) == Status::kOk);
    REQUIRE(col2im_cpu_by_rows_batches(x_parts.data(), c.data(), s, b0, b1) == Status::kOk);
  }
  REQUIRE(std::equal(col_parts.begin(), col_parts.end(), col_all.begin()));  // NaN fails equality
  REQUIRE(std::equal(x_parts.begin(), x_parts.end(), x_all.begin()));
  for (const auto& [b0, b1] : {std::pair<int64_t, int64_t>{-1, 2}, {2, 6}, {3, 2}}) {
    CHECK(im2col_cpu_by_rows_batches(col_parts.data(), x.data(), s, b0, b1) == Status::kInvalidArgument);
    CHECK(col2im_cpu_by_rows_batches(x_parts.data(), c.data(), s, b0, b1) == Status::kInvalidArgument);
  }
}
