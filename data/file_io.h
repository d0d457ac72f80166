// Whole-file reads (transparently gunzipped) and atomic whole-file writes for the data readers and
// the PNG writer.
//
// read_file_bytes() returns the file's content; when the file starts with the gzip magic bytes
// 1f 8b it returns the decompressed content instead, so every reader accepts `x` and `x.gz` alike
// (the content decides, not the name: a renamed file still reads). Data sets here are at most a few
// hundred MB decompressed, so reading whole files keeps the format checks simple (exact sizes are
// known before parsing). Without zlib in the build a gzip file is an IoError that says so.
//
// write_file_atomically() writes to "<path>.tmp-<pid>-<n>" in the same folder and renames it over
// `path`, so a reader (or a crash) never sees a half-written file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mrbm::data {

// True when this build can read .gz files (zlib was found at configure time).
bool gzip_supported();

// The file's bytes, decompressed when it is gzip data. IoError naming the file when it cannot be
// opened or read, or when its gzip stream is corrupt or truncated.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Replaces `path` with `bytes` through a temporary file and a rename. IoError naming the file.
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace mrbm::data
