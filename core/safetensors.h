// Checkpoint files in Hugging Face's safetensors format, so that a Python user can open what mrbm
// writes with `safetensors` (safe_open / load_file) and mrbm can read float32/float64 tensors that
// Python wrote.
//
// Layout of a file (all integers little-endian):
//   bytes [0, 8)          N, an unsigned 64-bit header size
//   bytes [8, 8 + N)      the header: UTF-8 JSON, one object that starts with '{'
//                           {"__metadata__": {"key": "value", ...},    (optional; strings only)
//                            "<name>": {"dtype": "F32"|"F64", "shape": [d0, d1, ...],
//                                       "data_offsets": [begin, end]}, ...}
//                         followed by spaces (0x20) up to N
//   bytes [8 + N, EOF)    the byte buffer; each tensor's row-major little-endian elements occupy
//                         [begin, end) relative to the buffer's start
// The tensors, taken in the order of their offsets, must tile the buffer exactly: the first
// starts at 0, each starts where the previous ended, the last ends at EOF (no gaps, no overlaps, no
// trailing bytes), and end - begin = numel(shape) * itemsize. Shape [] is a scalar (one element);
// a shape with a 0 has no bytes ([k, k]). N is at most 100,000,000 (the reference's limit).
//
// What save_safetensors writes (the bytes are a function of the content only, so equal content
// gives identical files): "__metadata__" first when the metadata is non-empty (omitted otherwise,
// like the reference writer), then the tensors sorted by name (byte-wise, std::map order) with
// offsets in that same order; compact JSON (no spaces), fields in the order dtype, shape,
// data_offsets, strings escaped as serde_json does (\" \\ \b \f \n \r \t, other control
// characters as \u00xx, non-ASCII UTF-8 written as is); the header padded with spaces so that
// N is a multiple of 8 and the buffer starts 8-byte aligned. The reference (Rust/Python) writer
// orders tensors by dtype first (F64 before F32) and then by name, so its files can differ from
// ours in the order; both orders are valid and both readers accept either.
//
// What load_safetensors refuses (IoError, one line naming the path and the problem): a missing or
// unreadable file, fewer than 8 bytes, N > 100 MB or N larger than the rest of the file, a header
// that does not start with '{', invalid JSON or UTF-8, duplicate keys at any depth (nlohmann's
// parser would silently keep the last one, so keys are tracked with its parse callback), a
// non-object or non-string-valued "__metadata__", a tensor entry that is not an object or lacks
// dtype/shape/data_offsets, a dtype other than F32/F64 (the message names it), a shape that is not
// an array of non-negative integers, offsets that are not two non-negative integers with
// begin <= end, numel * itemsize != end - begin, offsets beyond the buffer, overlaps, gaps, and
// trailing bytes after the last tensor. Unknown extra fields inside a tensor entry are ignored (the
// reference reader ignores them too).
//
// Saving is atomic: the bytes go to a new temporary file in the destination's folder
// (".<name>.tmp-<pid>-<n>", created with O_EXCL and mode 0666 & ~umask), which is fsync'ed,
// closed and rename(2)d over the destination; then the folder is fsync'ed (best effort: a failure
// there is logged, since the new file is already in place). Any failure before the rename removes
// the temporary file and leaves an existing destination untouched. rename(2) replaces a symlink at
// the destination, not its target. This host code assumes a little-endian CPU (checked at compile
// time), so element bytes are written and read without swapping.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/tensor.h"

namespace mrbm {

// The content of a safetensors file: named tensors and free-form string metadata.
struct TensorFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// One tensor's header entry; begin/end are byte offsets relative to the start of the buffer.
struct SafetensorsEntry {
  DType dtype = DType::kFloat32;
  Shape shape;
  int64_t begin = 0;
  int64_t end = 0;
};

// A validated header, read without the tensor data (for `mrbm info` and for loading selectively).
struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;
  int64_t header_size = 0;  // N: the JSON's length in bytes, padding included
  int64_t buffer_size = 0;  // the bytes after the header (= the sum of the tensors' sizes)

  int64_t buffer_start() const { return 8 + header_size; }  // file offset of the buffer
};

// The largest header accepted and written, in bytes (the reference implementation's limit).
constexpr int64_t kSafetensorsMaxHeaderSize = 100000000;

// Writes `file` to `path` atomically (see above). Tensors may live on CUDA (copied to the host one
// at a time). InvalidArgument for content that cannot be written (an undefined tensor, a tensor
// named "__metadata__", a name or metadata string that is not valid UTF-8, a header over the size
// limit); IoError for a failing file system operation. Both name the path.
void save_safetensors(const std::string& path, const TensorFile& file);

// Reads every tensor of `path` into CPU tensors of its dtype; IoError for any malformed file.
TensorFile load_safetensors(const std::string& path);

// Reads and validates only the header of `path` (the whole header is checked, including that the
// tensors tile the buffer and that the buffer ends at EOF); IoError as load_safetensors.
SafetensorsHeader read_safetensors_header(const std::string& path);

// The header JSON save_safetensors would write for `file`, padding included (N bytes); the tensor
// data is not touched, so CUDA tensors are not copied. InvalidArgument as save_safetensors, with
// `path` used only in messages.
std::string safetensors_header_json(const TensorFile& file, const std::string& path = "<memory>");

// "F32" / "F64": the dtype's name in safetensors headers.
const char* safetensors_dtype_name(DType dtype);

}  // namespace mrbm
