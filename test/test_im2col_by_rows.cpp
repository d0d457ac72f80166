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
