// IDX reading (data/idx_reader.h): whole-file read (gunzipped by data/file_io), header check, exact
// size check, copy.
#include "data/idx_reader.h"

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "data/file_io.h"

namespace mrbm::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// The IDX content: the sizes from the header, and the offset of the data in `bytes`.
struct IdxHeader {
  std::vector<int64_t> sizes;
  int64_t data_offset = 0;
};

// Checks the magic (expected type 0x08 and `dims` dimensions) and that the file holds exactly the
// data the header announces.
IdxHeader parse_header(const std::string& path, const std::vector<uint8_t>& bytes,
                       uint32_t expected_magic, const char* what) {
  const int64_t dims = expected_magic & 0xff;
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size < 4) {
    MRBM_THROW(IoError, path << ": truncated IDX " << what << " file: " << size
                             << " bytes, shorter than the 4-byte magic number");
  }
  const uint32_t magic = read_be32(bytes.data());
  if (magic != expected_magic) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "0x%08x", magic);
    char want[16];
    std::snprintf(want, sizeof(want), "0x%08x", expected_magic);
    MRBM_THROW(IoError, path << ": not an IDX " << what << " file: magic number " << buf
                             << ", expected " << want);
  }
  IdxHeader h;
  h.data_offset = 4 + 4 * dims;
  if (size < h.data_offset) {
    MRBM_THROW(IoError, path << ": truncated IDX " << what << " file: " << size
                             << " bytes, shorter than its " << h.data_offset << "-byte header");
  }
  for (int64_t d = 0; d < dims; ++d) h.sizes.push_back(read_be32(bytes.data() + 4 + 4 * d));
  // Three uint32 sizes can overflow int64; a product above 2^40 bytes cannot be a real file here.
  // The zero sizes are left out of the check, so that a count of 0 cannot hide an image size
  // (rows x cols) that overflows where the data set multiplies it (found by fuzz_idx).
  constexpr int64_t kMaxData = int64_t{1} << 40;
  int64_t nonzero_product = 1;
  bool any_zero = false;
  for (int64_t s : h.sizes) {
    if (s == 0) {
      any_zero = true;
      continue;
    }
    if (nonzero_product > kMaxData / s) {
      MRBM_THROW(IoError, path << ": IDX sizes " << shape_to_string(h.sizes)
                               << " describe more than 2^40 bytes; the header is corrupt");
    }
    nonzero_product *= s;
  }
  const int64_t expected_data = any_zero ? 0 : nonzero_product;
  const int64_t data = size - h.data_offset;
  if (data < expected_data) {
    MRBM_THROW(IoError, path << ": truncated IDX " << what << " file: sizes "
                             << shape_to_string(h.sizes) << " need " << expected_data
                             << " data bytes, the file has " << data);
  }
  if (data > expected_data) {
    MRBM_THROW(IoError, path << ": " << (data - expected_data) << " trailing bytes after the "
                             << expected_data << " data bytes of sizes " << shape_to_string(h.sizes)
                             << " (wrong or damaged IDX file)");
  }
  return h;
}

// The first name in `candidates` (inside dir) that exists, or an IoError listing them all.
std::string find_file(const std::string& dir, const std::vector<std::string>& candidates,
                      const char* what) {
  std::string tried;
  for (const std::string& c : candidates) {
    const std::filesystem::path p = std::filesystem::path(dir) / c;
    if (std::filesystem::is_regular_file(p)) return p.string();
    tried += (tried.empty() ? "" : ", ") + c;
  }
  MRBM_THROW(IoError, dir << ": no " << what << " file (looked for " << tried << ")");
}

std::vector<std::string> spellings(const std::string& prefix, const std::string& kind) {
  // prefix "train", kind "images-idx3-ubyte" -> train-images-idx3-ubyte, train-images.idx3-ubyte
  const std::string dashed = prefix + "-" + kind;
  std::string dotted = dashed;
  const size_t pos = dotted.rfind("-idx");
  dotted[pos] = '.';
  return {dashed, dotted, dashed + ".gz", dotted + ".gz"};
}

}  // namespace

Dataset read_idx_images(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const IdxHeader h = parse_header(path, bytes, kImagesMagic, "image");
  Dataset d;
  d.name = std::filesystem::path(path).filename().string();
  d.description = path;
  d.count = h.sizes[0];
  d.channels = 1;
  d.height = h.sizes[1];
  d.width = h.sizes[2];
  d.pixels.assign(bytes.begin() + h.data_offset, bytes.end());
  return d;
}

std::vector<int32_t> read_idx_labels(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const IdxHeader h = parse_header(path, bytes, kLabelsMagic, "label");
  return std::vector<int32_t>(bytes.begin() + h.data_offset, bytes.end());
}

Dataset read_idx(const std::string& images_path, const std::string& labels_path) {
  Dataset d = read_idx_images(images_path);
  d.labels = read_idx_labels(labels_path);
  if (static_cast<int64_t>(d.labels.size()) != d.count) {
    MRBM_THROW(IoError, labels_path << ": " << d.labels.size() << " labels, but " << images_path
                                    << " holds " << d.count << " images");
  }
  d.description = images_path + " + " + labels_path;
  return d;
}

Dataset read_mnist_like(const std::string& dir, Split split, const std::string& name) {
  if (split == Split::kValid) {
    MRBM_THROW(InvalidArgument, name << " (" << dir << ") has no valid split; use train or test");
  }
  if (!std::filesystem::is_directory(dir)) {
    MRBM_THROW(IoError, dir << ": not a folder (expected the " << name << " IDX files in it)");
  }
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  const std::string images = find_file(dir, spellings(prefix, "images-idx3-ubyte"), "image");
  const std::string labels = find_file(dir, spellings(prefix, "labels-idx1-ubyte"), "label");
  Dataset d = read_idx(images, labels);
  d.name = name + "/" + split_name(split);
  return d;
}

}  // namespace mrbm::data
