// read_file_bytes / write_file_atomically (data/file_io.h): stdio for plain files, zlib's gz*
// interface for gzip files, POSIX rename for atomic replacement.
#include "data/file_io.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <unistd.h>

#include "core/error.h"

#if defined(MRBM_HAVE_ZLIB)
#include <zlib.h>
#endif

namespace mrbm::data {
namespace {

// RAII for FILE*: every error path below throws, and the file must still be closed.
struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::vector<uint8_t> read_plain(const std::string& path, std::FILE* f) {
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    const size_t got = std::fread(chunk, 1, sizeof(chunk), f);
    bytes.insert(bytes.end(), chunk, chunk + got);
    if (got < sizeof(chunk)) break;
  }
  if (std::ferror(f)) MRBM_THROW(IoError, path << ": read error: " << std::strerror(errno));
  return bytes;
}

#if defined(MRBM_HAVE_ZLIB)
std::vector<uint8_t> read_gzip(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (gz == nullptr) MRBM_THROW(IoError, path << ": cannot open: " << std::strerror(errno));
  gzbuffer(gz, 1 << 17);
  std::vector<uint8_t> bytes;
  // Chunks from 64 KiB, doubling up to 1 MiB: a small file does not pay for a 1 MiB buffer.
  unsigned chunk = 1u << 16;
  for (;;) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + chunk);
    const int got = gzread(gz, bytes.data() + old_size, chunk);
    chunk = std::min(chunk * 2, 1u << 20);
    if (got < 0) {
      int code = 0;
      const std::string why = gzerror(gz, &code);
      gzclose(gz);
      MRBM_THROW(IoError, path << ": corrupt gzip data: " << why);
    }
    bytes.resize(old_size + static_cast<size_t>(got));
    if (got == 0) break;
  }
  // gzread returns the data it could decode before a truncation and reports the missing end
  // only through gzerror (Z_BUF_ERROR, "unexpected end of file"); a short file must not pass.
  int code = 0;
  const std::string why = gzerror(gz, &code);
  gzclose(gz);
  if (code != Z_OK) MRBM_THROW(IoError, path << ": corrupt or truncated gzip data: " << why);
  return bytes;
}
#endif

}  // namespace

bool gzip_supported() {
#if defined(MRBM_HAVE_ZLIB)
  return true;
#else
  return false;
#endif
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) MRBM_THROW(IoError, path << ": cannot open: " << std::strerror(errno));
  unsigned char magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, f.get());
  const bool gzip = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (!gzip) {
    std::rewind(f.get());
    return read_plain(path, f.get());
  }
  f.reset();
#if defined(MRBM_HAVE_ZLIB)
  return read_gzip(path);
#else
  MRBM_THROW(IoError,
             path << ": gzip-compressed, but this build has no zlib; decompress it (gunzip " << path
                  << ") or rebuild with zlib");
#endif
}

void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" +
                          std::to_string(counter.fetch_add(1));
  {
    FilePtr f(std::fopen(tmp.c_str(), "wb"));
    if (!f) MRBM_THROW(IoError, path << ": cannot create " << tmp << ": " << std::strerror(errno));
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size() &&
                         std::fflush(f.get()) == 0 && ::fsync(::fileno(f.get())) == 0;
    const int err = errno;
    if (!written || std::fclose(f.release()) != 0) {
      std::remove(tmp.c_str());
      MRBM_THROW(IoError, path << ": write failed: " << std::strerror(written ? errno : err));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    MRBM_THROW(IoError, path << ": cannot rename " << tmp << " to it: " << std::strerror(err));
  }
}

}  // namespace mrbm::data
