// Tests of core/safetensors.h: bit-exact round trips (float32/float64, scalars, empty tensors,
// views, metadata), the exact bytes of hand-written files and of files written by the reference
// Python/Rust writer (safetensors 0.8.0, bytes embedded below, so the suite needs no Python), every
// malformed file refused with an IoError naming the path, and the atomic save (failures leave an
// existing file intact and no temporary file behind).
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using mrbm::DType;
using mrbm::Tensor;
using mrbm::TensorFile;

// A fresh folder under the system temp folder, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mrbm-safetensors-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }
  // The names of the folder's entries (temporary files start with '.', so they are listed too).
  std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.insert(e.path().filename().string());
    return names;
  }

 private:
  fs::path path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// A file from a header (no padding added) and buffer bytes.
std::string file_bytes(const std::string& header, const std::string& buffer) {
  return le64(header.size()) + header + buffer;
}

std::string zeros(size_t n) { return std::string(n, '\0'); }

std::string hex_bytes(const char* hex) {
  std::string out;
  for (size_t i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
  }
  return out;
}

template <class T>
std::vector<T> values_of(const Tensor& t) {
  return t.to_vector<T>();
}

// A scalar (shape []): from_vector's empty shape argument means 1-D, so reshape the 1-element
// vector.
template <class T>
Tensor scalar(T value) {
  return Tensor::from_vector(std::vector<T>{value}, {1}).reshape({});
}

// Bit patterns, so NaN payloads and -0 compare exactly.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

void require_same_content(const TensorFile& got, const TensorFile& want) {
  REQUIRE(got.metadata == want.metadata);
  REQUIRE(got.tensors.size() == want.tensors.size());
  for (const auto& [name, t] : want.tensors) {
    INFO("tensor " << name);
    REQUIRE(got.tensors.count(name) == 1);
    const Tensor& g = got.tensors.at(name);
    CHECK(g.is_cpu());
    CHECK(g.dtype() == t.dtype());
    CHECK(g.shape() == t.shape());
    if (t.dtype() == DType::kFloat64) {
      CHECK(same_bits(values_of<double>(g), values_of<double>(t)));
    } else {
      CHECK(same_bits(values_of<float>(g), values_of<float>(t)));
    }
  }
}

// Values that a float format must carry bit-exactly: signed zeros, infinities, a NaN with a
// payload, the smallest subnormal, the extremes, and ordinary numbers.
template <class T>
std::vector<T> special_values() {
  using L = std::numeric_limits<T>;
  std::vector<T> v = {T(0),     -T(0),    L::infinity(), -L::infinity(), L::denorm_min(),
                      L::min(), L::max(), L::lowest(),   T(1) / T(3),    T(-2.5)};
  T nan_with_payload = L::quiet_NaN();
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, &nan_with_payload, sizeof(T));
  bytes[0] ^= 0x5a;  // low mantissa bits: a payload that a conversion through another type loses
  std::memcpy(&nan_with_payload, bytes, sizeof(T));
  v.push_back(nan_with_payload);
  return v;
}

// Loading `path` throws IoError whose one-line message names the path and contains `problem`;
// the header-only reader refuses it the same way.
void require_refused(const std::string& path, const std::string& problem) {
  INFO("file " << path << ", expected problem: " << problem);
  for (int reader = 0; reader < 2; ++reader) {
    try {
      if (reader == 0) {
        (void)mrbm::load_safetensors(path);
      } else {
        (void)mrbm::read_safetensors_header(path);
      }
      FAIL("no exception for a malformed file");
    } catch (const mrbm::IoError& e) {
      const std::string msg = e.what();
      CHECK_THAT(msg, Contains(path));
      CHECK_THAT(msg, Contains(problem));
      CHECK(msg.find('\n') == std::string::npos);
    }
  }
}

void require_refused_bytes(const TempDir& dir, const std::string& name, const std::string& bytes,
                           const std::string& problem) {
  const std::string path = dir.file(name);
  write_bytes(path, bytes);
  require_refused(path, problem);
}

// The message of the IoError that save_safetensors throws; fails the test if none.
std::string save_error(const std::string& path, const TensorFile& file) {
  try {
    mrbm::save_safetensors(path, file);
  } catch (const mrbm::IoError& e) {
    return e.what();
  }
  FAIL("save_safetensors did not throw IoError");
  return {};
}

TensorFile small_file() {
  TensorFile f;
  f.tensors["a"] = Tensor::from_vector(std::vector<float>{1.0f, -2.5f}, {2});
  f.tensors["b"] = scalar(0.1);
  f.metadata["format"] = "pt";
  return f;
}

// The known file of small_file(), written by hand from the spec: N = 144 (138 bytes of JSON and
// 6 spaces of padding, so the buffer starts at byte 152 = 8 * 19), then 1.0f, -2.5f, 0.1.
std::string small_file_bytes() {
  const std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[8,16]}}"
      "      ";
  const std::string size_field("\x90\0\0\0\0\0\0\0", 8);
  return size_field + header + hex_bytes("0000803f000020c0") + hex_bytes("9a9999999999b93f");
}

}  // namespace

TEST_CASE("safetensors round trip is bit-exact for float32, float64, scalars and empty tensors",
          "[safetensors]") {
  TempDir dir;
  TensorFile f;
  f.tensors["f32.special"] = Tensor::from_vector(special_values<float>());
  f.tensors["f64.special"] = Tensor::from_vector(special_values<double>());
  f.tensors["f32.matrix"] = Tensor::from_vector(mrbm::test::random_floats(3 * 5, -4, 4, 7), {3, 5});
  f.tensors["f32.scalar"] = scalar(42.5f);
  f.tensors["f64.scalar"] = scalar(-1e-300);
  f.tensors["f32.empty"] = Tensor::zeros({0});
  f.tensors["f64.empty_inner"] = Tensor::zeros({2, 0, 3}, DType::kFloat64);
  std::vector<double> wide(2 * 3 * 4);
  for (size_t i = 0; i < wide.size(); ++i) wide[i] = 1.0 / (static_cast<double>(i) + 3.0);
  f.tensors["z/f64.4d"] = Tensor::from_vector(wide, {2, 3, 1, 4});
  // A view whose data starts inside its storage: the file must hold the view's rows only.
  const Tensor base = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}, {4, 2});
  f.tensors["view"] = base.rows(1, 3);
  f.metadata["format"] = "pt";
  f.metadata["mrbm.spec"] = "{\"units\": [\"binary\", \"multinary:4\"]}\n\ttab";
  f.metadata["unicode \xc3\xa9\xe2\x82\xac"] = "";

  const std::string path = dir.file("model.safetensors");
  mrbm::save_safetensors(path, f);
  const TensorFile got = mrbm::load_safetensors(path);
  require_same_content(got, f);
  CHECK(values_of<float>(got.tensors.at("view")) == std::vector<float>{2, 3, 4, 5});
  CHECK(got.tensors.at("f32.scalar").shape().empty());
  CHECK(got.tensors.at("f64.scalar").shape().empty());

  // The header reader agrees, and the file is exactly 8 + N + the tensors' bytes.
  const mrbm::SafetensorsHeader h = mrbm::read_safetensors_header(path);
  CHECK(h.header_size % 8 == 0);
  int64_t total = 0;
  for (const auto& [name, t] : f.tensors) total += t.bytes();
  CHECK(h.buffer_size == total);
  CHECK(static_cast<int64_t>(fs::file_size(path)) == h.buffer_start() + total);
  CHECK(h.tensors.at("f64.empty_inner").shape == mrbm::Shape{2, 0, 3});
  CHECK(h.tensors.at("f64.empty_inner").begin == h.tensors.at("f64.empty_inner").end);
  CHECK(h.tensors.at("f32.scalar").shape.empty());
  CHECK(h.tensors.at("f32.scalar").end - h.tensors.at("f32.scalar").begin == 4);
  CHECK(h.metadata == f.metadata);
  // Saved in name order, so the offsets increase with the names.
  int64_t previous_end = 0;
  for (const auto& [name, entry] : h.tensors) {
    INFO(name);
    CHECK(entry.begin == previous_end);
    previous_end = entry.end;
  }

  // Saving what was loaded gives the same bytes (the writer's bytes depend on the content only).
  const std::string again = dir.file("again.safetensors");
  mrbm::save_safetensors(again, got);
  CHECK(read_bytes(again) == read_bytes(path));
}

TEST_CASE("safetensors with no tensors and no metadata is the 8-byte aligned header {}",
          "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("empty.safetensors");
  mrbm::save_safetensors(path, TensorFile{});
  CHECK(read_bytes(path) == le64(8) + "{}      ");
  const TensorFile got = mrbm::load_safetensors(path);
  CHECK(got.tensors.empty());
  CHECK(got.metadata.empty());
}

TEST_CASE("safetensors reads a hand-written file and writes the same bytes", "[safetensors]") {
  TempDir dir;
  const std::string expected = small_file_bytes();
  REQUIRE(expected.size() == 8 + 144 + 16);

  const std::string hand = dir.file("hand.safetensors");
  write_bytes(hand, expected);
  const TensorFile got = mrbm::load_safetensors(hand);
  require_same_content(got, small_file());
  CHECK(values_of<float>(got.tensors.at("a")) == std::vector<float>{1.0f, -2.5f});
  CHECK(values_of<double>(got.tensors.at("b")) == std::vector<double>{0.1});

  const std::string ours = dir.file("ours.safetensors");
  mrbm::save_safetensors(ours, small_file());
  CHECK(read_bytes(ours) == expected);
  CHECK(mrbm::safetensors_header_json(small_file()) == expected.substr(8, 144));
}

TEST_CASE("safetensors reads a file written by the reference writer (Python safetensors 0.8.0)",
          "[safetensors]") {
  // safetensors.numpy.save({"w": float32 [[1, 2], [3, -4]], "s": float64 0.25,
  //                         "e": float32 zeros((0, 3))}, metadata={"format": "np"}):
  // the reference orders F64 before F32 and then by name, unlike our name order.
  TempDir dir;
  const std::string header =
      "{\"__metadata__\":{\"format\":\"np\"},"
      "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
      "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
      "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}     ";
  const std::string bytes = hex_bytes("c800000000000000") + header +
                            hex_bytes("000000000000d03f0000803f0000004000004040000080c0");
  REQUIRE(bytes.size() == 232);
  const std::string path = dir.file("reference.safetensors");
  write_bytes(path, bytes);
  const TensorFile got = mrbm::load_safetensors(path);
  CHECK(got.metadata == std::map<std::string, std::string>{{"format", "np"}});
  REQUIRE(got.tensors.size() == 3);
  CHECK(got.tensors.at("w").shape() == mrbm::Shape{2, 2});
  CHECK(values_of<float>(got.tensors.at("w")) == std::vector<float>{1, 2, 3, -4});
  CHECK(got.tensors.at("s").dtype() == DType::kFloat64);
  CHECK(got.tensors.at("s").shape().empty());
  CHECK(values_of<double>(got.tensors.at("s")) == std::vector<double>{0.25});
  CHECK(got.tensors.at("e").shape() == mrbm::Shape{0, 3});
  CHECK(got.tensors.at("e").numel() == 0);
}

TEST_CASE("safetensors escapes names exactly as the reference writer does", "[safetensors]") {
  // Bytes from Python safetensors 0.8.0 (serde_json) for one float32 [1] tensor named
  // a"b\c<newline><U+0001>é<DEL>/ : quote, backslash and control characters escaped (\u00xx in
  // lower case), non-ASCII and DEL written raw, '/' not escaped; 72 bytes, so no padding.
  const std::string name = std::string("a\"b\\c\n\x01\xc3\xa9\x7f/");
  const std::string reference =
      "{\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\x7f/\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]}}";
  TensorFile f;
  f.tensors[name] = Tensor::zeros({1});
  CHECK(mrbm::safetensors_header_json(f) == reference);

  TempDir dir;
  const std::string path = dir.file("escaped.safetensors");
  mrbm::save_safetensors(path, f);
  CHECK(read_bytes(path) == le64(72) + reference + zeros(4));
  CHECK(mrbm::load_safetensors(path).tensors.count(name) == 1);
}

TEST_CASE("safetensors accepts valid variations: any key order, no padding, extra fields",
          "[safetensors]") {
  TempDir dir;
  // Offsets out of name order, unpadded header, an unknown field in an entry (the reference
  // reader ignores unknown fields), F64 data at an unaligned buffer position.
  const std::string header =
      "{\"b\":{\"data_offsets\":[4,12],\"shape\":[1],\"dtype\":\"F64\",\"note\":[1,2]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  const std::string path = dir.file("variations.safetensors");
  write_bytes(path, file_bytes(header, hex_bytes("0000c03f") + hex_bytes("000000000000f0bf")));
  const TensorFile got = mrbm::load_safetensors(path);
  CHECK(values_of<float>(got.tensors.at("a")) == std::vector<float>{1.5f});
  CHECK(values_of<double>(got.tensors.at("b")) == std::vector<double>{-1.0});
  CHECK(got.metadata.empty());
}

TEST_CASE("safetensors refuses every malformed file with an IoError naming the path",
          "[safetensors]") {
  TempDir dir;
  const std::string f32_2 = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":";

  SECTION("missing, unreadable or not a file") {
    require_refused(dir.file("does-not-exist.safetensors"), "cannot open");
    require_refused(dir.path().string(), "not a regular file");
  }
  SECTION("shorter than the 8-byte size field") {
    require_refused_bytes(dir, "empty.safetensors", "", "0 bytes, fewer than the 8-byte");
    require_refused_bytes(dir, "seven.safetensors", std::string(7, '\x02'), "7 bytes");
  }
  SECTION("header size beyond the limit or the file") {
    require_refused_bytes(dir, "huge.safetensors", le64(100000001) + "{}",
                          "header size 100000001 exceeds the limit of 100000000");
    require_refused_bytes(dir, "max.safetensors", le64(~uint64_t{0}) + "{}", "exceeds the limit");
    require_refused_bytes(dir, "truncated.safetensors",
                          le64(40) + "{\"a\":", "header size 40 exceeds the 5 bytes");
    // A good file cut short inside its data: the tensors then run past the buffer.
    const std::string good = small_file_bytes();
    require_refused_bytes(dir, "cut.safetensors", good.substr(0, good.size() - 3), "out of range");
  }
  SECTION("header not JSON, not an object, or not UTF-8") {
    require_refused_bytes(dir, "json.safetensors", file_bytes("{\"a\":", ""), "not valid JSON");
    require_refused_bytes(dir, "trail.safetensors", file_bytes("{} x", ""), "not valid JSON");
    require_refused_bytes(dir, "array.safetensors", file_bytes("[]", ""),
                          "does not start with '{'");
    require_refused_bytes(dir, "space.safetensors", file_bytes(" {}", ""), "does not start with");
    require_refused_bytes(dir, "zero.safetensors", le64(0), "does not start with");
    require_refused_bytes(dir, "utf8.safetensors",
                          file_bytes("{\"\xff\":" + f32_2 + "[0,8]}}", zeros(8)), "not valid JSON");
  }
  SECTION("tensor entries with missing or mistyped fields") {
    require_refused_bytes(dir, "nodtype.safetensors",
                          file_bytes("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", zeros(8)),
                          "tensor \"a\": the entry has no \"dtype\" field");
    require_refused_bytes(
        dir, "noshape.safetensors",
        file_bytes("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", zeros(8)),
        "no \"shape\" field");
    require_refused_bytes(dir, "nooffsets.safetensors",
                          file_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", zeros(8)),
                          "no \"data_offsets\" field");
    require_refused_bytes(dir, "notobject.safetensors", file_bytes("{\"a\":5}", ""),
                          "tensor \"a\": the entry is not a JSON object");
    require_refused_bytes(
        dir, "dtypetype.safetensors",
        file_bytes("{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", zeros(8)),
        "\"dtype\" is not a string");
    require_refused_bytes(
        dir, "negshape.safetensors",
        file_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", zeros(8)),
        "\"shape\" holds -2, not a non-negative integer");
    require_refused_bytes(
        dir, "floatshape.safetensors",
        file_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", zeros(8)),
        "not a non-negative integer");
    require_refused_bytes(
        dir, "shapetype.safetensors",
        file_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", zeros(8)),
        "\"shape\" is not an array");
    require_refused_bytes(dir, "threeoffsets.safetensors",
                          file_bytes("{\"a\":" + f32_2 + "[0,8,8]}}", zeros(8)),
                          "\"data_offsets\" is [0,8,8], not [begin, end]");
    require_refused_bytes(dir, "negoffset.safetensors",
                          file_bytes("{\"a\":" + f32_2 + "[-8,0]}}", zeros(8)),
                          "not [begin, end] with non-negative integers");
  }
  SECTION("unknown dtype, named in the message") {
    require_refused_bytes(
        dir, "f16.safetensors",
        file_bytes("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", zeros(4)),
        "unsupported dtype \"F16\" (mrbm reads F32 and F64)");
    require_refused_bytes(
        dir, "i64.safetensors",
        file_bytes("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", zeros(8)),
        "unsupported dtype \"I64\"");
  }
  SECTION("shape and offsets disagree") {
    require_refused_bytes(
        dir, "mismatch.safetensors",
        file_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", zeros(8)),
        "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8");
    require_refused_bytes(
        dir, "f64size.safetensors",
        file_bytes("{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", zeros(8)),
        "needs 16 bytes");
    require_refused_bytes(dir, "overflow.safetensors",
                          file_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
                                     "\"data_offsets\":[0,8]}}",
                                     zeros(8)),
                          "more elements than any file can hold");
    require_refused_bytes(dir, "reversed.safetensors",
                          file_bytes("{\"a\":" + f32_2 + "[8,0]}}", zeros(8)),
                          "end before they begin");
  }
  SECTION("offsets out of range, overlapping, with gaps, or trailing bytes") {
    require_refused_bytes(dir, "range.safetensors",
                          file_bytes("{\"a\":" + f32_2 + "[8,16]}}", zeros(8)),
                          "data_offsets [8, 16] are out of range: the buffer after the header "
                          "has 8 bytes");
    require_refused_bytes(
        dir, "overlap.safetensors",
        file_bytes("{\"a\":" + f32_2 + "[0,8]},\"b\":" + f32_2 + "[4,12]}}", zeros(12)),
        "tensor \"b\" (bytes [4, 12)) overlaps tensor \"a\"");
    require_refused_bytes(
        dir, "same.safetensors",
        file_bytes("{\"a\":" + f32_2 + "[0,8]},\"b\":" + f32_2 + "[0,8]}}", zeros(8)), "overlaps");
    require_refused_bytes(
        dir, "gap.safetensors",
        file_bytes("{\"a\":" + f32_2 + "[0,8]},\"b\":" + f32_2 + "[12,20]}}", zeros(20)),
        "a gap of 4 unused bytes in the buffer before tensor \"b\"");
    require_refused_bytes(dir, "startgap.safetensors",
                          file_bytes("{\"a\":" + f32_2 + "[4,12]}}", zeros(12)),
                          "a gap of 4 unused bytes in the buffer before tensor \"a\"");
    require_refused_bytes(dir, "trailing.safetensors",
                          file_bytes("{\"a\":" + f32_2 + "[0,8]}}", zeros(10)),
                          "2 trailing bytes after the last tensor's data");
    require_refused_bytes(dir, "onlytrailing.safetensors", file_bytes("{}", "x"),
                          "1 trailing bytes");
  }
  SECTION("metadata that is not a string-to-string object") {
    require_refused_bytes(dir, "metanum.safetensors",
                          file_bytes("{\"__metadata__\":{\"epoch\":3}}", ""),
                          "metadata \"epoch\" is 3, not a string");
    require_refused_bytes(dir, "metanull.safetensors",
                          file_bytes("{\"__metadata__\":{\"k\":null}}", ""), "not a string");
    require_refused_bytes(dir, "metaobj.safetensors", file_bytes("{\"__metadata__\":\"pt\"}", ""),
                          "\"__metadata__\" is not a JSON object");
  }
  SECTION("duplicate keys at any depth") {
    require_refused_bytes(
        dir, "duptensor.safetensors",
        file_bytes("{\"a\":" + f32_2 + "[0,8]},\"a\":" + f32_2 + "[0,8]}}", zeros(8)),
        "the key \"a\" more than once");
    require_refused_bytes(dir, "dupmeta.safetensors",
                          file_bytes("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", ""),
                          "the key \"k\" more than once");
    require_refused_bytes(dir, "dupmetablock.safetensors",
                          file_bytes("{\"__metadata__\":{},\"__metadata__\":{}}", ""),
                          "the key \"__metadata__\" more than once");
    require_refused_bytes(dir, "dupfield.safetensors",
                          file_bytes("{\"a\":{\"dtype\":\"F64\",\"dtype\":\"F32\",\"shape\":[2],"
                                     "\"data_offsets\":[0,8]}}",
                                     zeros(8)),
                          "the key \"dtype\" more than once");
    // The same key in two different objects is not a duplicate.
    const std::string path = dir.file("sibling.safetensors");
    write_bytes(path,
                file_bytes("{\"__metadata__\":{\"a\":\"x\"},\"a\":" + f32_2 + "[0,8]}}", zeros(8)));
    CHECK(mrbm::load_safetensors(path).tensors.count("a") == 1);
  }
}

TEST_CASE("save_safetensors refuses content it cannot write", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  TensorFile undefined;
  undefined.tensors["w"] = Tensor();
  CHECK_THROWS_WITH(mrbm::save_safetensors(path, undefined),
                    Contains(path) && Contains("tensor \"w\" is undefined"));
  TensorFile reserved;
  reserved.tensors["__metadata__"] = Tensor::zeros({1});
  CHECK_THROWS_AS(mrbm::save_safetensors(path, reserved), mrbm::InvalidArgument);
  TensorFile bad_utf8;
  bad_utf8.metadata["k"] = "\xff";
  CHECK_THROWS_WITH(mrbm::save_safetensors(path, bad_utf8),
                    Contains(path) && Contains("is not valid UTF-8"));
  CHECK(dir.entries().empty());  // nothing was created, not even a temporary file
}

TEST_CASE("save_safetensors replaces a file atomically and leaves no temporary file",
          "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const TensorFile good = small_file();
  mrbm::save_safetensors(path, good);
  const std::string good_bytes = read_bytes(path);

  SECTION("a successful save replaces the file") {
    TensorFile other;
    other.tensors["x"] = Tensor::full({3}, 2.0, DType::kFloat64);
    mrbm::save_safetensors(path, other);
    require_same_content(mrbm::load_safetensors(path), other);
    CHECK(dir.entries() == std::set<std::string>{"model.safetensors"});
  }
  SECTION("a missing folder") {
    const std::string missing = dir.file("no/such/folder/model.safetensors");
    const std::string msg = save_error(missing, good);
    CHECK_THAT(msg, Contains(missing) && Contains("cannot create a temporary file"));
    CHECK(!fs::exists(dir.path() / "no"));
  }
  SECTION("a folder that is a regular file") {
    const std::string through_file = path + "/model.safetensors";
    CHECK_THAT(save_error(through_file, good), Contains(through_file));
    CHECK(read_bytes(path) == good_bytes);
  }
  SECTION("a read-only folder") {
    const fs::path sub = dir.path() / "readonly";
    fs::create_directory(sub);
    const std::string inside = (sub / "model.safetensors").string();
    mrbm::save_safetensors(inside, good);
    fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
    if (::geteuid() == 0) {
      // root writes into read-only folders; the rename and missing-folder cases cover the rest.
      WARN("running as root: the read-only folder case cannot fail and is not checked");
    } else {
      TensorFile other;
      other.tensors["x"] = Tensor::zeros({4});
      CHECK_THAT(save_error(inside, other), Contains(inside) && Contains("Permission denied"));
      CHECK(read_bytes(inside) == good_bytes);
      std::set<std::string> names;
      for (const auto& e : fs::directory_iterator(sub)) names.insert(e.path().filename().string());
      CHECK(names == std::set<std::string>{"model.safetensors"});
    }
    fs::permissions(sub, fs::perms::owner_all);
  }
  SECTION("the rename fails after the data was written: the temporary file is removed") {
    // The destination is a non-empty folder, so rename(2) fails (EISDIR) after the whole file
    // was written and synced to the temporary name.
    const fs::path folder = dir.path() / "taken";
    fs::create_directory(folder);
    write_bytes((folder / "keep").string(), "keep");
    const std::string msg = save_error(folder.string(), good);
    CHECK_THAT(msg, Contains(folder.string()) && Contains("cannot rename temporary file"));
    CHECK(dir.entries() == std::set<std::string>{"model.safetensors", "taken"});
    CHECK(read_bytes((folder / "keep").string()) == "keep");
  }
  SECTION("a write fails midway: the existing file is intact") {
    // RLIMIT_FSIZE makes write(2) fail with EFBIG once the temporary file reaches 4 KiB (with
    // SIGXFSZ ignored, which would otherwise end the process); the new content is 64 KiB.
    TensorFile big;
    big.tensors["w"] = Tensor::full({16384}, 1.0);
    struct rlimit old_limit {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string msg;
    try {
      mrbm::save_safetensors(path, big);
    } catch (const mrbm::IoError& e) {
      msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    CHECK_THAT(msg, Contains(path) && Contains("cannot write temporary file"));
    CHECK(read_bytes(path) == good_bytes);
    require_same_content(mrbm::load_safetensors(path), good);
    CHECK(dir.entries() == std::set<std::string>{"model.safetensors"});
  }
}

TEST_CASE("save_safetensors copies CUDA tensors to the host", "[safetensors][cuda]") {
  MRBM_REQUIRE_CUDA_DEVICE();
  TempDir dir;
  TensorFile host;
  host.tensors["f32"] = Tensor::from_vector(mrbm::test::random_floats(1000, -1, 1, 11), {10, 100});
  host.tensors["f64"] = Tensor::from_vector(special_values<double>());
  host.tensors["empty"] = Tensor::zeros({0, 4});
  TensorFile device = host;
  for (auto& [name, t] : device.tensors) t = t.to(mrbm::Device::cuda());
  const std::string from_device = dir.file("device.safetensors");
  const std::string from_host = dir.file("host.safetensors");
  mrbm::save_safetensors(from_device, device);
  mrbm::save_safetensors(from_host, host);
  CHECK(read_bytes(from_device) == read_bytes(from_host));
  require_same_content(mrbm::load_safetensors(from_device), host);
}
