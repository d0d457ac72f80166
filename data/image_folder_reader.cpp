// Image folder and CelebA reading (data/image_folder_reader.h): listing, the parallel decode with
// stb_image, crop, resize, and the CelebA partition file.
#include "data/image_folder_reader.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include <stb/stb_image.h>

#include "core/cpu_threads.h"
#include "core/error.h"
#include "core/log.h"
#include "data/file_io.h"
#include "data/image_resize.h"

namespace mrbm::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImageExtensions[] = {"jpg", "jpeg", "png", "bmp", "gif", "tga",
                                            "psd", "pic",  "pnm", "ppm", "pgm"};

// stb_image's luma weights (stbi__compute_y), so that a conversion done here equals stb's own.
uint8_t luma(const uint8_t* rgb) {
  return static_cast<uint8_t>((rgb[0] * 77 + rgb[1] * 150 + rgb[2] * 29) >> 8);
}

// `pixels` (w * h * from channels, 1..4: grey, grey + alpha, RGB, RGBA) as `to` (1 or 3)
// channels, exactly as stbi__convert_format does it: grey replicated, alpha dropped, RGB to grey
// by luma.
std::vector<uint8_t> convert_channels(const uint8_t* pixels, int64_t count, int from, int to) {
  std::vector<uint8_t> out(static_cast<size_t>(count * to));
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* p = pixels + i * from;
    uint8_t* q = out.data() + i * to;
    if (to == 1) {
      q[0] = from >= 3 ? luma(p) : p[0];
    } else {
      for (int c = 0; c < 3; ++c) q[c] = from >= 3 ? p[c] : p[0];
    }
  }
  return out;
}

// stb_image 2.27 (Debian's) does not check that a JPEG Huffman table (a DHT segment) lists at most
// 256 codes, and writes past its code-size table when it lists more. Every DHT segment of the file
// is checked here before stb sees it (all of them: a progressive JPEG may define tables between its
// scans, so the entropy-coded data is scanned for markers too).
void check_jpeg_huffman_tables(const std::vector<uint8_t>& b, const std::string& path) {
  const size_t n = b.size();
  // The start of image as stb finds it (stbi__get_marker): 0xFF, any number of 0xFF fill bytes,
  // then 0xD8. A file that starts FF FF FF D8 is a JPEG to stb, so it is one here too.
  size_t i = 0;
  if (n < 2 || b[0] != 0xFF) return;
  while (i < n && b[i] == 0xFF) ++i;
  if (i >= n || b[i] != 0xD8) return;  // not a JPEG
  ++i;
  while (i + 1 < n) {
    if (b[i] != 0xFF || b[i + 1] == 0xFF) {  // entropy-coded data, or a fill byte
      ++i;
      continue;
    }
    const uint8_t marker = b[i + 1];
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD9)) {
      i += 2;  // a stuffed 0xFF, or a marker without a length
      continue;
    }
    if (i + 3 >= n) return;
    const size_t length = size_t{b[i + 2]} << 8 | b[i + 3];  // includes its own two bytes
    if (marker == 0xC4) {
      // As stb reads it: tables while the segment's length lasts, a byte past the end of the
      // file read as 0.
      size_t p = i + 4;
      const size_t end = i + 2 + length;
      while (p < end && p < n) {
        size_t codes = 0;
        for (size_t k = p + 1; k <= p + 16 && k < n; ++k) codes += b[k];
        if (codes > 256) {
          MRBM_THROW(IoError, path << ": corrupt JPEG: a Huffman table (DHT at byte " << i
                                   << ") lists " << codes << " codes, more than 256");
        }
        p += 17 + codes;
      }
    }
    i += 2 + std::max<size_t>(length, 2);
  }
}

// Two stb_image 2.27 bugs with PNG chunks, handled before stb sees the file (both found by
// fuzz_image):
// - It copies an empty first IDAT chunk into its data buffer before allocating that buffer
//   (memcpy to a null pointer, undefined behaviour). The image data is the concatenation of all
//   IDAT chunks, so an empty one carries nothing: such chunks are dropped, which keeps the file's
//   meaning.
// - It grows its data buffer to what an IDAT chunk's length claims, by doubling, before reading
//   the chunk: a 135-byte file made it allocate 2 GiB. A chunk before IEND whose data runs past
//   the end of the file is refused here (stb would fail on it after the allocation).
void check_png_chunks(std::vector<uint8_t>& b, const std::string& path) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() < 8 || !std::equal(kSignature, kSignature + 8, b.begin())) return;  // not a PNG
  const auto type_is = [&](size_t i, const char* type) {
    return b[i + 4] == type[0] && b[i + 5] == type[1] && b[i + 6] == type[2] && b[i + 7] == type[3];
  };
  std::vector<std::pair<size_t, size_t>> empty_idat;  // [begin, end) of each
  // A chunk is its length (4 bytes, big-endian), type (4), data and CRC (4).
  for (size_t i = 8; i + 8 <= b.size() && !type_is(i, "IEND");) {
    const size_t length = size_t{b[i]} << 24 | size_t{b[i + 1]} << 16 | size_t{b[i + 2]} << 8 |
                          b[i + 3];
    if (length > b.size() - i - 8) {
      MRBM_THROW(IoError, path << ": corrupt PNG: the chunk at byte " << i << " claims " << length
                               << " bytes, the file has " << b.size() - i - 8 << " after it");
    }
    const size_t end = std::min(b.size(), i + 12 + length);
    if (length == 0 && type_is(i, "IDAT")) empty_idat.emplace_back(i, end);
    i = end;
  }
  if (empty_idat.empty()) return;  // the usual case: the file goes to stb as it is
  std::vector<uint8_t> kept;
  kept.reserve(b.size());
  size_t from = 0;
  for (const auto& [begin, end] : empty_idat) {
    kept.insert(kept.end(), b.begin() + static_cast<std::ptrdiff_t>(from),
                b.begin() + static_cast<std::ptrdiff_t>(begin));
    from = end;
  }
  kept.insert(kept.end(), b.begin() + static_cast<std::ptrdiff_t>(from), b.end());
  b = std::move(kept);
}

// stb_image 2.27 reads the width, height and maximum value of a binary PGM/PPM header into an int
// without an overflow check (undefined behaviour for more than 9 digits, and a wrapped value
// after). The header's numbers are checked here first, skipping whitespace and '#' comments as stb
// does. Returns the maximum value (0 when the file is no binary PGM/PPM or stb will refuse it).
int64_t check_pnm_header(const std::vector<uint8_t>& b, const std::string& path) {
  if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) return 0;  // not binary PNM
  size_t i = 2;
  const auto space = [](uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  for (const char* field : {"width", "height", "maximum value"}) {
    for (;;) {
      while (i < b.size() && space(b[i])) ++i;
      if (i >= b.size() || b[i] != '#') break;
      while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
    }
    size_t digits = 0;
    int64_t value = 0;
    while (i < b.size() && b[i] >= '0' && b[i] <= '9') {
      if (digits < 10) value = value * 10 + (b[i] - '0');
      ++digits;
      ++i;
    }
    if (digits > 9) {
      MRBM_THROW(IoError, path << ": corrupt PGM/PPM header: its " << field << " has " << digits
                               << " digits");
    }
    if (digits == 0) return 0;  // stb refuses the header itself
    if (field[0] == 'm') return value;
  }
  return 0;
}

// A 16-bit PGM/PPM as 8-bit samples. stb_image 2.27 reads 16-bit PNM samples little-endian (the
// format is big-endian: Netpbm) and ignores the maximum value; here each sample is read as stb
// gives it, byte-swapped back, and scaled to 0..255 by the header's maximum value, rounded
// (a sample above it, a corrupt file, gives 255).
std::vector<uint8_t> pnm16_to_8bit(const uint16_t* samples, int64_t count, int64_t maxval) {
  std::vector<uint8_t> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t v = (samples[i] >> 8 | samples[i] << 8) & 0xFFFF;
    out[static_cast<size_t>(i)] =
        static_cast<uint8_t>(std::min<int64_t>(255, (v * 255 + maxval / 2) / maxval));
  }
  return out;
}

// Decodes one file into out[channels * size * size] (planar).
void decode_image(uint8_t* out, const std::string& path, const ImageFolderOptions& options) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  check_png_chunks(bytes, path);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    MRBM_THROW(IoError, path << ": " << bytes.size() << " bytes, too large for an image");
  }
  const int size = static_cast<int>(bytes.size());
  check_jpeg_huffman_tables(bytes, path);
  const int64_t maxval = check_pnm_header(bytes, path);
  int w = 0;
  int h = 0;
  int file_channels = 0;
  // stbi_failure_reason is thread-local in this stb version (STBI_THREAD_LOCAL).
  if (!stbi_info_from_memory(bytes.data(), size, &w, &h, &file_channels)) {
    MRBM_THROW(IoError, path << ": cannot decode image: " << stbi_failure_reason());
  }
  // stb_image allocates the pixels a header claims before it reads them, so a file of a few bytes
  // could make it allocate gigabytes: the dimensions (stbi_info reads the header only) are checked
  // against max_pixels first.
  const int64_t max_pixels = options.max_pixels;
  if (w <= 0 || h <= 0 || int64_t{w} * h > max_pixels) {
    MRBM_THROW(IoError, path << ": the image header claims " << w << " x " << h
                             << " pixels; this reader accepts at most " << max_pixels
                             << " pixels (corrupt file?)");
  }
  const int want = static_cast<int>(options.channels);
  const auto check_decoded = [&](const void* decoded) {
    if (decoded == nullptr) {
      MRBM_THROW(IoError, path << ": cannot decode image: " << stbi_failure_reason());
    }
    if (int64_t{w} * h > max_pixels || file_channels < 1 || file_channels > 4) {
      MRBM_THROW(IoError, path << ": the decoded image is " << w << " x " << h << " x "
                               << file_channels << " (corrupt file?)");
    }
  };
  Image image;
  // stb_image 2.27 (Debian's) converts the channels of a 16-bit PGM/PPM with its 8-bit routine and
  // then reads twice the bytes it has (a heap overflow), and reads its samples in the wrong byte
  // order: such a file is decoded at 16 bits with its own channels and converted here.
  if (maxval > 255 && stbi_is_16_bit_from_memory(bytes.data(), size)) {
    std::unique_ptr<stbi_us, void (*)(void*)> decoded(
        stbi_load_16_from_memory(bytes.data(), size, &w, &h, &file_channels, 0), stbi_image_free);
    check_decoded(decoded.get());
    image.pixels = pnm16_to_8bit(decoded.get(), int64_t{w} * h * file_channels, maxval);
    if (file_channels != want) {
      image.pixels = convert_channels(image.pixels.data(), int64_t{w} * h, file_channels, want);
    }
  } else {
    std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
        stbi_load_from_memory(bytes.data(), size, &w, &h, &file_channels, want), stbi_image_free);
    check_decoded(decoded.get());
    image.pixels.assign(decoded.get(), decoded.get() + int64_t{w} * h * want);
  }
  image.width = w;
  image.height = h;
  image.channels = want;
  const Image square = center_crop_square(image);
  interleaved_to_planar(out, resize_image(square, options.size, options.size));
}

// Runs decode_image over all paths on `threads` threads and reports progress from this thread.
// On failure, rethrows the error of the lowest-index failed file among those attempted.
void decode_all(std::vector<uint8_t>& pixels, const std::vector<std::string>& paths,
                const ImageFolderOptions& options) {
  const int64_t n = static_cast<int64_t>(paths.size());
  const int64_t image_bytes = options.channels * options.size * options.size;
  int threads =
      options.threads > 0 ? options.threads : available_cpus();
  threads = static_cast<int>(std::clamp<int64_t>(threads, 1, std::max<int64_t>(n, 1)));

  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::condition_variable changed;
  int64_t done = 0;  // guarded by mutex
  std::exception_ptr error;
  int64_t error_index = n;

  auto work = [&] {
    while (!failed.load()) {
      const int64_t i = next.fetch_add(1);
      if (i >= n) break;
      try {
        decode_image(pixels.data() + i * image_bytes, paths[static_cast<size_t>(i)], options);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (i < error_index) {
          error = std::current_exception();
          error_index = i;
        }
        failed.store(true);
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++done;
      }
      changed.notify_one();
    }
  };

  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);

  // The caller's thread only watches, so that `progress` never runs concurrently with itself.
  std::exception_ptr progress_error;
  int64_t reported = -1;
  for (;;) {
    int64_t now = 0;
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait_for(lock, std::chrono::milliseconds(200),
                       [&] { return done == n || failed.load(); });
      now = done;
    }
    const bool finished = now == n || failed.load();
    if (options.progress && now != reported && !failed.load() && !progress_error) {
      try {
        options.progress(now, n);
      } catch (...) {
        progress_error = std::current_exception();
        failed.store(true);
      }
      reported = now;
    }
    if (finished) break;
  }
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  if (progress_error) std::rethrow_exception(progress_error);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void check_options(const ImageFolderOptions& options) {
  MRBM_CHECK(options.size >= 1 && options.size <= 4096,
             "image size " << options.size << " must be in 1..4096");
  MRBM_CHECK(options.channels == 1 || options.channels == 3,
             "images are read with 1 (grey) or 3 (RGB) channels, not " << options.channels);
  MRBM_CHECK(options.max_pixels >= 1, "max_pixels " << options.max_pixels << " must be at least 1");
}

std::vector<std::string> apply_limit(std::vector<std::string> paths, int64_t limit) {
  if (limit >= 0 && limit < static_cast<int64_t>(paths.size())) {
    paths.resize(static_cast<size_t>(limit));
  }
  return paths;
}

// The names of the images of `split` in a CelebA list_eval_partition.txt, sorted.
std::vector<std::string> read_partition(const std::string& path, Split split) {
  std::ifstream in(path);
  if (!in) MRBM_THROW(IoError, path << ": cannot open");
  const int wanted = split == Split::kTrain ? 0 : split == Split::kValid ? 1 : 2;
  std::vector<std::string> names;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // files from Windows tools
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream fields(line);
    std::string name;
    int part = -1;
    std::string extra;
    if (!(fields >> name >> part) || (fields >> extra) || part < 0 || part > 2) {
      MRBM_THROW(IoError, path << ":" << line_no << ": expected '<image file> <0|1|2>', got '"
                               << line << "'");
    }
    if (part == wanted) names.push_back(name);
  }
  if (in.bad()) MRBM_THROW(IoError, path << ": read error");
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

bool has_image_extension(const std::string& path) {
  std::string ext = lower(fs::path(path).extension().string());
  if (ext.empty()) return false;
  ext.erase(0, 1);  // the dot
  return std::find(std::begin(kImageExtensions), std::end(kImageExtensions), ext) !=
         std::end(kImageExtensions);
}

std::vector<std::string> list_image_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) MRBM_THROW(IoError, dir << ": not a folder");
  std::vector<std::string> paths;
  int64_t ignored = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && has_image_extension(e.path().string())) {
      paths.push_back(e.path().string());
    } else {
      ++ignored;
    }
  }
  if (ec) MRBM_THROW(IoError, dir << ": cannot list: " << ec.message());
  if (paths.empty()) {
    MRBM_THROW(IoError, dir << ": no image files in it (extensions jpg, jpeg, png, bmp, gif, tga, "
                               "psd, pic, pnm, ppm, pgm)");
  }
  if (ignored > 0) {
    MRBM_LOG_INFO(dir << ": ignored " << ignored << " entries that are not image files");
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

Dataset read_image_files(const std::vector<std::string>& paths, const ImageFolderOptions& options,
                         const std::string& name) {
  check_options(options);
  Dataset d;
  d.name = name;
  d.count = static_cast<int64_t>(paths.size());
  d.channels = options.channels;
  d.height = options.size;
  d.width = options.size;
  d.pixels.resize(static_cast<size_t>(d.count * d.image_numel()));
  decode_all(d.pixels, paths, options);
  return d;
}

Dataset read_image_folder(const std::string& dir, const ImageFolderOptions& options) {
  check_options(options);
  Dataset d =
      read_image_files(apply_limit(list_image_files(dir), options.limit), options, "images");
  d.description = dir + " (" + std::to_string(d.count) + " images, center crop, resized to " +
                  std::to_string(options.size) + "x" + std::to_string(options.size) + ")";
  return d;
}

Dataset read_celeba(const std::string& dir, Split split, const ImageFolderOptions& options) {
  check_options(options);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    MRBM_THROW(IoError, dir << ": not a folder (expected CelebA's img_align_celeba/ in it)");
  }
  fs::path root = fs::path(dir).lexically_normal();
  if (root.filename().empty()) root = root.parent_path();  // "x/" -> "x"
  fs::path images = root / "img_align_celeba";
  if (!fs::is_directory(images, ec)) {
    // DIR is the image folder itself; the partition file sits next to it (a relative DIR without
    // a parent has the working folder as parent: parent_path() "" resolves there).
    images = root;
    root = root.parent_path();
  }
  std::string partition;
  for (const fs::path& p :
       {root / "list_eval_partition.txt", root / "Eval" / "list_eval_partition.txt",
        images / "list_eval_partition.txt"}) {
    if (fs::is_regular_file(p, ec)) {
      partition = p.string();
      break;
    }
  }
  std::vector<std::string> paths;
  if (!partition.empty()) {
    for (const std::string& name : read_partition(partition, split)) {
      paths.push_back((images / name).string());
    }
    if (paths.empty()) {
      MRBM_THROW(IoError, partition << ": lists no image for split " << split_name(split));
    }
    paths = apply_limit(std::move(paths), options.limit);
    for (const std::string& p : paths) {
      if (!fs::is_regular_file(p, ec)) {
        MRBM_THROW(IoError, p << ": listed in " << partition << " but missing");
      }
    }
  } else if (split == Split::kTrain) {
    MRBM_LOG_WARN(root.string() << ": no list_eval_partition.txt; CelebA train uses every image of "
                                << images.string());
    paths = apply_limit(list_image_files(images.string()), options.limit);
  } else {
    MRBM_THROW(IoError, root.string()
                            << ": no list_eval_partition.txt (in it or in Eval/); CelebA's "
                            << split_name(split) << " split needs it");
  }
  Dataset d = read_image_files(paths, options, std::string("celeba/") + split_name(split));
  d.description = images.string() + " (" + std::to_string(d.count) + " images" +
                  (partition.empty() ? "" : ", split from " + partition) +
                  ", center crop, resized to " + std::to_string(options.size) + "x" +
                  std::to_string(options.size) + ")";
  return d;
}

}  // namespace mrbm::data
