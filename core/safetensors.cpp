// Safetensors reading and writing (core/safetensors.h holds the format, the exact bytes we write
// and the list of refused files). Files are accessed with POSIX calls
// (open/pread/write/fsync/rename) because the atomic save needs fsync and O_EXCL, and because pread
// lets the loader check the header against the file size before reading any tensor data. The header
// is parsed with nlohmann/json; duplicate keys are caught with its parse callback, which sees every
// key before the parser overwrites an earlier one.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/log.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "core/safetensors.cpp writes host bytes as little-endian; a big-endian host needs byte swaps"
#endif

namespace mrbm {
namespace {

using nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";

// Error messages are one line: control characters that a JSON parser message or a name may carry
// are replaced by spaces.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

// A name quoted for a message, JSON-escaped so that odd bytes stay visible and on one line.
std::string quote_name(const std::string& name) {
  try {
    return json(name).dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception&) {
    return "\"?\"";
  }
}

std::string where(const std::string& path) { return "safetensors file '" + path + "'"; }

[[noreturn]] void fail_malformed(const std::string& path, const std::string& problem) {
  MRBM_THROW(IoError, where(path) << ": " << one_line(problem));
}

std::string errno_text(int code) { return std::strerror(code); }

// A JSON value for a message, cut short: a hostile header could put megabytes where a number
// belongs.
std::string brief(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// ---- writing ----

// A JSON string literal, escaped like serde_json (the reference writer); InvalidArgument naming
// `what` when `text` is not valid UTF-8 (safetensors headers are UTF-8).
std::string json_string(const std::string& text, const std::string& what, const std::string& path) {
  try {
    return json(text).dump(-1, ' ', false, json::error_handler_t::strict);
  } catch (const json::type_error&) {
    MRBM_THROW(InvalidArgument,
               where(path) << ": " << what << " " << quote_name(text) << " is not valid UTF-8");
  }
}

std::string json_integers(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "]";
}

// Closes a descriptor and removes the temporary file unless release() was called (after rename).
class TemporaryFile {
 public:
  TemporaryFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // close(2) with its error (NFS and some file systems report write errors only here).
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
  int fd_;
};

void write_all(const TemporaryFile& tmp, const void* data, int64_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  int64_t left = bytes;
  while (left > 0) {
    // Linux writes at most 0x7ffff000 bytes per call; smaller chunks keep each call bounded.
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(left, int64_t{1} << 30));
    const ssize_t n = ::write(tmp.fd(), p, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int code = errno;
      MRBM_THROW(IoError, where(path) << ": cannot write temporary file '" << tmp.path()
                                      << "': " << errno_text(code));
    }
    p += n;
    left -= n;
  }
}

// Makes the rename durable. The new file is already in place, so a failure is only logged.
void sync_directory(const std::string& dir, const std::string& path) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int code = errno;
    MRBM_LOG_WARN(where(path) << ": saved, but cannot fsync its folder '" << dir
                              << "': " << errno_text(code));
  }
  if (fd >= 0) ::close(fd);
}

// ---- reading ----

class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      const int code = errno;
      MRBM_THROW(IoError, where(path) << ": cannot open: " << errno_text(code));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int code = errno;
      ::close(fd_);
      MRBM_THROW(IoError, where(path) << ": cannot stat: " << errno_text(code));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      MRBM_THROW(IoError, where(path) << ": not a regular file");
    }
    size_ = static_cast<int64_t>(st.st_size);
  }
  ~ReadOnlyFile() { ::close(fd_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  int64_t size() const { return size_; }

  // Reads exactly `bytes` at `offset`; IoError when the file ends early (it shrank after fstat).
  void read_at(void* dst, int64_t bytes, int64_t offset) const {
    char* p = static_cast<char*>(dst);
    while (bytes > 0) {
      const size_t chunk = static_cast<size_t>(std::min<int64_t>(bytes, int64_t{1} << 30));
      const ssize_t n = ::pread(fd_, p, chunk, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int code = errno;
        MRBM_THROW(IoError, where(path_)
                                << ": cannot read at byte " << offset << ": " << errno_text(code));
      }
      if (n == 0) {
        MRBM_THROW(IoError, where(path_) << ": unexpected end of file at byte " << offset
                                         << " (the file changed while it was read)");
      }
      p += n;
      offset += n;
      bytes -= n;
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

// True and *out set when `value` is a non-negative integer that fits int64.
bool as_count(const json& value, int64_t* out) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  if (value.is_number_integer()) {
    const auto v = value.get<int64_t>();
    if (v < 0) return false;
    *out = v;
    return true;
  }
  return false;
}

json parse_header_json(const std::string& text, const std::string& path) {
  // One set of seen keys per open object; a repeated key is recorded and reported after parsing
  // (throwing out of nlohmann's callback would work too, but a plain flag keeps the parser's own
  // state out of the picture).
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  const json::parser_callback_t track_keys = [&](int /*depth*/, json::parse_event_t event,
                                                 json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, track_keys, /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    fail_malformed(path, std::string("the header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) {
    fail_malformed(path, "the header has the key " + quote_name(duplicate) +
                             " more than once (duplicate keys are forbidden)");
  }
  return header;
}

SafetensorsEntry parse_entry(const std::string& name, const json& value, int64_t buffer_size,
                             const std::string& path) {
  const std::string tensor = "tensor " + quote_name(name);
  if (!value.is_object()) fail_malformed(path, tensor + ": the entry is not a JSON object");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) {
      fail_malformed(path, tensor + ": the entry has no \"" + field + "\" field");
    }
  }
  SafetensorsEntry entry;
  const json& dtype = value.at("dtype");
  if (!dtype.is_string()) fail_malformed(path, tensor + ": \"dtype\" is not a string");
  const std::string dtype_text = dtype.get<std::string>();
  if (dtype_text == "F32") {
    entry.dtype = DType::kFloat32;
  } else if (dtype_text == "F64") {
    entry.dtype = DType::kFloat64;
  } else {
    fail_malformed(path, tensor + ": unsupported dtype " + quote_name(dtype_text) +
                             " (mrbm reads F32 and F64)");
  }

  const json& shape = value.at("shape");
  if (!shape.is_array()) fail_malformed(path, tensor + ": \"shape\" is not an array");
  for (const json& d : shape) {
    int64_t size = 0;
    if (!as_count(d, &size)) {
      fail_malformed(path,
                     tensor + ": \"shape\" holds " + brief(d) + ", not a non-negative integer");
    }
    entry.shape.push_back(size);
  }
  // numel * itemsize with an overflow check. The product is compared with end - begin, which the
  // file size bounds, so a product beyond int64 can only be a malformed entry.
  int64_t bytes = dtype_size(entry.dtype);
  if (std::find(entry.shape.begin(), entry.shape.end(), 0) != entry.shape.end()) {
    bytes = 0;
  } else {
    for (const int64_t size : entry.shape) {
      if (bytes > std::numeric_limits<int64_t>::max() / size) {
        fail_malformed(path, tensor + ": shape " + shape_to_string(entry.shape) +
                                 " has more elements than any file can hold");
      }
      bytes *= size;
    }
  }

  const json& offsets = value.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !as_count(offsets[0], &entry.begin) ||
      !as_count(offsets[1], &entry.end)) {
    fail_malformed(path, tensor + ": \"data_offsets\" is " + brief(offsets) +
                             ", not [begin, end] with non-negative integers");
  }
  if (entry.begin > entry.end) {
    fail_malformed(path, tensor + ": data_offsets [" + std::to_string(entry.begin) + ", " +
                             std::to_string(entry.end) + "] end before they begin");
  }
  if (entry.end - entry.begin != bytes) {
    fail_malformed(path, tensor + ": shape " + shape_to_string(entry.shape) + " of " + dtype_text +
                             " needs " + std::to_string(bytes) + " bytes but data_offsets [" +
                             std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                             "] span " + std::to_string(entry.end - entry.begin));
  }
  if (entry.end > buffer_size) {
    fail_malformed(path, tensor + ": data_offsets [" + std::to_string(entry.begin) + ", " +
                             std::to_string(entry.end) + "] are out of range: the buffer after " +
                             "the header has " + std::to_string(buffer_size) + " bytes");
  }
  return entry;
}

// The tensors sorted by offsets must tile [0, buffer_size) exactly.
void check_tiling(const std::map<std::string, SafetensorsEntry>& tensors, int64_t buffer_size,
                  const std::string& path) {
  std::vector<std::pair<const std::string*, const SafetensorsEntry*>> order;
  order.reserve(tensors.size());
  for (const auto& [name, entry] : tensors) order.emplace_back(&name, &entry);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second->begin, a.second->end) <
           std::make_pair(b.second->begin, b.second->end);
  });
  int64_t expected = 0;
  const std::string* previous = nullptr;
  for (const auto& [name, entry] : order) {
    if (entry->begin < expected) {
      fail_malformed(path, "tensor " + quote_name(*name) + " (bytes [" +
                               std::to_string(entry->begin) + ", " + std::to_string(entry->end) +
                               ")) overlaps tensor " + quote_name(*previous) + " (which ends at " +
                               std::to_string(expected) + ")");
    }
    if (entry->begin > expected) {
      fail_malformed(path, "a gap of " + std::to_string(entry->begin - expected) +
                               " unused bytes in the buffer before tensor " + quote_name(*name) +
                               " (at buffer bytes [" + std::to_string(expected) + ", " +
                               std::to_string(entry->begin) + "))");
    }
    expected = entry->end;
    previous = name;
  }
  if (expected != buffer_size) {
    fail_malformed(path, std::to_string(buffer_size - expected) +
                             " trailing bytes after the last tensor's data (the tensors end at "
                             "buffer byte " +
                             std::to_string(expected) + ", the file at " +
                             std::to_string(buffer_size) + ")");
  }
}

SafetensorsHeader read_header(const ReadOnlyFile& file, const std::string& path) {
  if (file.size() < 8) {
    fail_malformed(path, "the file has " + std::to_string(file.size()) +
                             " bytes, fewer than the 8-byte header size");
  }
  unsigned char size_bytes[8];
  file.read_at(size_bytes, 8, 0);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | size_bytes[i];
  if (n > static_cast<uint64_t>(kSafetensorsMaxHeaderSize)) {
    fail_malformed(path, "the header size " + std::to_string(n) + " exceeds the limit of " +
                             std::to_string(kSafetensorsMaxHeaderSize) + " bytes");
  }
  if (static_cast<int64_t>(n) > file.size() - 8) {
    fail_malformed(path, "the header size " + std::to_string(n) + " exceeds the " +
                             std::to_string(file.size() - 8) +
                             " bytes that follow the size field (truncated file?)");
  }
  SafetensorsHeader header;
  header.header_size = static_cast<int64_t>(n);
  header.buffer_size = file.size() - 8 - header.header_size;

  std::string text(static_cast<size_t>(n), '\0');
  file.read_at(text.data(), header.header_size, 8);
  if (text.empty() || text[0] != '{') {
    fail_malformed(path, "the header does not start with '{'");
  }
  const json root = parse_header_json(text, path);
  if (!root.is_object()) fail_malformed(path, "the header is not a JSON object");

  for (const auto& [key, value] : root.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) fail_malformed(path, "\"__metadata__\" is not a JSON object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) {
          fail_malformed(path, "metadata " + quote_name(meta_key) + " is " + brief(meta_value) +
                                   ", not a string (metadata values must be strings)");
        }
        header.metadata.emplace(meta_key, meta_value.get<std::string>());
      }
      continue;
    }
    header.tensors.emplace(key, parse_entry(key, value, header.buffer_size, path));
  }
  check_tiling(header.tensors, header.buffer_size, path);
  return header;
}

}  // namespace

const char* safetensors_dtype_name(DType dtype) { return dtype == DType::kFloat64 ? "F64" : "F32"; }

std::string safetensors_header_json(const TensorFile& file, const std::string& path) {
  std::string out = "{";
  bool first = true;
  if (!file.metadata.empty()) {
    out += "\"__metadata__\":{";
    bool first_meta = true;
    for (const auto& [key, value] : file.metadata) {
      if (!first_meta) out += ',';
      first_meta = false;
      out += json_string(key, "metadata key", path);
      out += ':';
      out += json_string(value, "the value of metadata " + quote_name(key), path);
    }
    out += '}';
    first = false;
  }
  int64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    if (name == kMetadataKey) {
      MRBM_THROW(InvalidArgument,
                 where(path) << ": a tensor cannot be named \"__metadata__\" (reserved key)");
    }
    if (!tensor.defined()) {
      MRBM_THROW(InvalidArgument, where(path)
                                      << ": tensor " << quote_name(name) << " is undefined");
    }
    if (!first) out += ',';
    first = false;
    out += json_string(name, "tensor name", path);
    out += ":{\"dtype\":\"";
    out += safetensors_dtype_name(tensor.dtype());
    out += "\",\"shape\":";
    out += json_integers(tensor.shape());
    out += ",\"data_offsets\":";
    out += json_integers({offset, offset + tensor.bytes()});
    out += '}';
    offset += tensor.bytes();
  }
  out += '}';
  // Pad with spaces so that 8 + N, the buffer's start, is a multiple of 8 (as the reference does):
  // a reader that maps the file can then view every F32/F64 tensor in place.
  out.append((8 - out.size() % 8) % 8, ' ');
  if (static_cast<int64_t>(out.size()) > kSafetensorsMaxHeaderSize) {
    MRBM_THROW(InvalidArgument, where(path)
                                    << ": the header would have " << out.size()
                                    << " bytes, over the limit of " << kSafetensorsMaxHeaderSize);
  }
  return out;
}

void save_safetensors(const std::string& path, const TensorFile& file) {
  // Everything that can be checked without touching the disk is checked first.
  const std::string header = safetensors_header_json(file, path);

  const std::filesystem::path target(path);
  const std::filesystem::path dir_path =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  const std::string dir = dir_path.string();
  const std::string base = target.filename().string();
  if (base.empty() || base == "." || base == "..") {
    MRBM_THROW(InvalidArgument, where(path) << ": the path names a folder, not a file");
  }

  // A unique name per process and call: O_EXCL makes a clash (a stale file from a crash with the
  // same pid) fail instead of writing into someone else's file, and we then try the next number.
  static std::atomic<uint64_t> counter{0};
  int fd = -1;
  std::string tmp_path;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp_path = (dir_path / ("." + base + ".tmp-" + std::to_string(::getpid()) + "-" +
                            std::to_string(counter.fetch_add(1))))
                   .string();
    fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    const int code = errno;
    MRBM_THROW(IoError, where(path) << ": cannot create a temporary file in folder '" << dir
                                    << "': " << errno_text(code));
  }
  TemporaryFile tmp(tmp_path, fd);

  unsigned char size_bytes[8];
  const auto n = static_cast<uint64_t>(header.size());
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<unsigned char>(n >> (8 * i));
  write_all(tmp, size_bytes, 8, path);
  write_all(tmp, header.data(), static_cast<int64_t>(header.size()), path);
  for (const auto& [name, tensor] : file.tensors) {
    if (tensor.numel() == 0) continue;
    if (tensor.is_cpu()) {
      write_all(tmp, tensor.raw_data(), tensor.bytes(), path);
    } else if (tensor.dtype() == DType::kFloat64) {
      // to_vector waits for the device-to-host copy; one tensor at a time bounds host memory.
      const std::vector<double> host = tensor.to_vector<double>();
      write_all(tmp, host.data(), tensor.bytes(), path);
    } else {
      const std::vector<float> host = tensor.to_vector<float>();
      write_all(tmp, host.data(), tensor.bytes(), path);
    }
  }
  if (::fsync(tmp.fd()) != 0) {
    const int code = errno;
    MRBM_THROW(IoError, where(path) << ": cannot fsync temporary file '" << tmp_path
                                    << "': " << errno_text(code));
  }
  if (tmp.close_now() != 0) {
    const int code = errno;
    MRBM_THROW(IoError, where(path) << ": cannot close temporary file '" << tmp_path
                                    << "': " << errno_text(code));
  }
  if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int code = errno;
    MRBM_THROW(IoError, where(path) << ": cannot rename temporary file '" << tmp_path
                                    << "' over it: " << errno_text(code));
  }
  tmp.release();
  sync_directory(dir, path);
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  const ReadOnlyFile file(path);
  return read_header(file, path);
}

TensorFile load_safetensors(const std::string& path) {
  const ReadOnlyFile file(path);
  const SafetensorsHeader header = read_header(file, path);
  TensorFile out;
  out.metadata = header.metadata;
  for (const auto& [name, entry] : header.tensors) {
    Tensor t = Tensor::empty(entry.shape, entry.dtype, Device::cpu());
    if (t.bytes() > 0) file.read_at(t.raw_data(), t.bytes(), header.buffer_start() + entry.begin);
    out.tensors.emplace(name, std::move(t));
  }
  return out;
}

}  // namespace mrbm
