// What `mrbm features`, `mrbm classify` and `mrbm free-energy` share: the hidden means of one DBN
// layer for a whole data set computed batch by batch (progress: tools/mrbm/progress.h), raw
// pixels as features, the --data/--device syntax checks, an early check of output paths, and the
// .npy writer.
//
// Features: row i is image i of the data set, the hidden means of layer L flattened in the
// layer's C-order ([C, H, W] of a conv layer -> C*H*W values, channel-major; [units] of a dense
// layer), float32, in the layer's unit range 0..N (not rescaled). Batches keep device memory at
// batch x (largest activation); the rows are either kept (FeatureMatrix) or streamed to a sink.
//
// .npy (NumPy format version 1.0, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//   "\x93NUMPY" 0x01 0x00, uint16 little-endian header length, then an ASCII dict
//   {'descr': '<f4', 'fortran_order': False, 'shape': (count, dim), } padded with spaces and a
//   final '\n' so that the data starts at a multiple of 64 bytes (what NumPy writes), then the
//   values in C order, little-endian. np.load reads it; so does any reader that skips the header.
// NpyFileWriter streams the rows into "<path>.tmp-<pid>-<n>" and renames it over `path` only when
// every promised byte was written (commit()), so a failure, Ctrl-C or SIGTERM never leaves a partial
// file (tools/mrbm/partial_outputs.h; a kill -9 can leave the temporary file).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/data_spec.h"
#include "data/dataset.h"
#include "layers/dbn.h"
#include "tools/mrbm/partial_outputs.h"
#include "tools/mrbm/progress.h"

namespace CLI {
class App;
}

namespace mrbm::tools {

// --layer: -1 means the top layer. CLI::ValidationError (a usage error, exit 2) naming the
// layer count when the model has no such layer.
size_t resolve_feature_layer(const layers::Dbn& dbn, int64_t requested);

// CLI11 checks (return "" when valid, else the problem) of the --data and --device syntax, so a
// malformed value is a usage error (exit 2) reported before anything is loaded. Whether the data
// exists or the device is usable is checked later (exit 1).
std::string check_data_spec_syntax(const std::string& text);
std::string check_device_syntax(const std::string& text);

// The required --checkpoint (an existing file) and --data (checked syntax) of the commands that
// read a trained model and a data set (features, free-energy, evaluate).
void add_checkpoint_and_data_options(CLI::App* cmd, std::string& checkpoint, std::string& data);

// resolve_device (tools/mrbm/model_loading.h) without its log line for "auto" falling back to the
// CPU: that line goes to `*note` instead, for the caller to log once the inputs have been read,
// so that a bad input is reported as a single error line.
Device resolve_device_quietly(const std::string& text, std::string* note);

// The split `split` of `spec`, its first `limit` images (< 0: all); folders of photographs are
// cropped and resized to the model's input (`model` may be null: 28 x 28 grey is not assumed,
// the reader's defaults apply).
data::Dataset load_split(const data::DataSpec& spec, data::Split split, int64_t limit,
                         const layers::ModelSpec* model);

// InvalidArgument naming the data argument and both shapes unless the images fit the model.
void check_data_fits_model(const data::Dataset& dataset, const std::string& data_text,
                           const layers::ModelSpec& model);

// Fails early, before minutes of work, when `path` cannot be an output file: an IoError naming
// `option` and the path when its folder does not exist (mrbm creates no folder for an output
// file), the path is a folder, or the folder or an existing file there is not writable.
void check_output_path(const std::string& path, const std::string& option);

// Rows [begin, begin + count) of the features, each `dim` floats, row-major, on the host.
using FeatureSink = std::function<void(int64_t begin, int64_t count, int64_t dim,
                                       const float* values)>;

// Runs every image of `dataset` (in order, `batch` at a time) up to layer `layer` and hands each
// batch's hidden means to `sink`. `progress` may be null.
void compute_features(const layers::Dbn& dbn, const data::Dataset& dataset, size_t layer,
                      int64_t batch, const FeatureSink& sink, Progress* progress);

struct FeatureMatrix {
  int64_t count = 0;
  int64_t dim = 0;
  std::vector<float> values;    // [count, dim]
  std::vector<int32_t> labels;  // the data set's labels (empty when it has none)
};

// compute_features collected into memory.
FeatureMatrix model_features(const layers::Dbn& dbn, const data::Dataset& dataset, size_t layer,
                             int64_t batch, Progress* progress);
// The raw pixels (0..255) as features, [count, C*H*W] in the data set's planar order.
FeatureMatrix pixel_features(const data::Dataset& dataset);

// The .npy header (magic to the final '\n') for `descr` ("<f4", "<i4", ...) and `shape`.
std::string npy_header(const std::string& descr, const Shape& shape);

// Where `mrbm features --out FILE` puts the labels: FILE without a trailing ".npy", plus
// ".labels.npy" ("feat.npy" -> "feat.labels.npy", "feat" -> "feat.labels.npy").
std::string labels_path_for(const std::string& features_path);

class NpyFileWriter {
 public:
  // Creates the temporary file and writes the header. IoError naming `path` when it cannot.
  NpyFileWriter(std::string path, const std::string& descr, const Shape& shape,
                int64_t item_bytes);
  ~NpyFileWriter();  // removes the temporary file unless committed
  NpyFileWriter(const NpyFileWriter&) = delete;
  NpyFileWriter& operator=(const NpyFileWriter&) = delete;

  // Appends raw little-endian items; IoError naming the file on a write error or when more bytes
  // than the shape holds are written.
  void append(const void* data, int64_t bytes);
  // Checks that exactly the shape's bytes were written, flushes, and renames over `path`.
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  int64_t expected_ = 0, written_ = 0;
  bool committed_ = false;
  std::optional<PartialOutput> partial_;  // the temporary file, removed on Ctrl-C as well
};

}  // namespace mrbm::tools
