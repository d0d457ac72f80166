// Batched feature extraction, the --data/--device syntax checks, output checks and the .npy writer
// (tools/mrbm/feature_extraction.h).
#include "tools/mrbm/feature_extraction.h"

#include <CLI/CLI.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <unistd.h>

#include "core/error.h"
#include "core/device.h"
#include "core/log.h"
#include "tools/mrbm/model_loading.h"

namespace mrbm::tools {
namespace {

// .npy stores little-endian items; mrbm writes the host's bytes as they are.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .npy writer assumes a little-endian host");

}  // namespace

size_t resolve_feature_layer(const layers::Dbn& dbn, int64_t requested) {
  const int64_t layers = static_cast<int64_t>(dbn.num_layers());
  if (requested == -1) return static_cast<size_t>(layers - 1);
  if (requested < 0 || requested >= layers) {
    throw CLI::ValidationError("--layer", std::to_string(requested) + " is not a layer of model '" +
                                              dbn.spec().name + "', which has " +
                                              std::to_string(layers) + " layers (0.." +
                                              std::to_string(layers - 1) + "; -1: the top)");
  }
  return static_cast<size_t>(requested);
}

std::string check_data_spec_syntax(const std::string& text) {
  try {
    (void)data::parse_data_spec(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void add_checkpoint_and_data_options(CLI::App* cmd, std::string& checkpoint, std::string& data) {
  cmd->add_option("--checkpoint", checkpoint, "Trained model (checkpoint.safetensors)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", data,
                  "Data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, celeba:DIR, images:DIR")
      ->required()
      ->check(CLI::Validator(check_data_spec_syntax, "SPEC"));
}

std::string check_device_syntax(const std::string& text) {
  if (text == "auto") return "";  // parse_device would probe CUDA and log its choice
  try {
    (void)parse_device(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Device resolve_device_quietly(const std::string& text, std::string* note) {
  if (text != "auto") return resolve_device(text);
  const CudaProbe probe = probe_cuda();
  const int first = probe.first_usable();
  if (first >= 0) return Device::cuda(first);
  *note = "device auto: using the CPU (" + probe.reason + ")";
  return Device::cpu();
}

data::Dataset load_split(const data::DataSpec& spec, data::Split split, int64_t limit,
                         const layers::ModelSpec* model) {
  data::LoadOptions load;
  load.split = split;
  load.limit = limit;
  if (model != nullptr) {
    load.images.size = model->height;  // square crops, as `mrbm train` reads them
    load.images.channels = model->channels;
  }
  return data::load_dataset(spec, load);
}

void check_data_fits_model(const data::Dataset& d, const std::string& data_text,
                           const layers::ModelSpec& model) {
  if (d.channels != model.channels || d.height != model.height || d.width != model.width) {
    MRBM_THROW(InvalidArgument, "the data " << data_text << " has images " << d.channels << "x"
                                            << d.height << "x" << d.width << ", the model '"
                                            << model.name << "' takes " << model.channels << "x"
                                            << model.height << "x" << model.width);
  }
}

void check_output_path(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) MRBM_THROW(IoError, option << ": empty output path");
  if (fs::is_directory(path, ec)) {
    MRBM_THROW(IoError, path << ": is a folder (" << option << " names the output file)");
  }
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) {
    MRBM_THROW(IoError, path << ": the folder " << parent.string() << " does not exist (" << option
                             << ")");
  }
  // Writing the file means creating a temporary one in the folder and renaming it over the path,
  // so the folder must be writable (an existing file there need not be).
  if (::access(parent.c_str(), W_OK | X_OK) != 0) {
    MRBM_THROW(IoError, path << ": the folder " << parent.string() << " is not writable (" << option
                             << ")");
  }
}

void compute_features(const layers::Dbn& dbn, const data::Dataset& dataset, size_t layer,
                      int64_t batch, const FeatureSink& sink, Progress* progress) {
  MRBM_CHECK(batch > 0, "features: batch size " << batch << " must be positive");
  MRBM_CHECK(layer < dbn.num_layers(), "features: layer " << layer << " of "
                                                          << dbn.num_layers());
  const int64_t dim = shape_numel(dbn.layer(layer).hidden_shape());
  std::vector<int64_t> indices;
  for (int64_t begin = 0; begin < dataset.count; begin += batch) {
    const int64_t n = std::min(batch, dataset.count - begin);
    indices.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = begin + i;
    const Tensor input = dbn.prepare_input(data::make_batch(dataset, indices));
    const Tensor h = dbn.features(input, layer);
    MRBM_CHECK(h.numel() == n * dim, "features: layer " << layer << " gave "
                                                        << shape_to_string(h.shape()) << " for "
                                                        << n << " images of " << dim
                                                        << " features");
    const std::vector<float> values = h.to_vector<float>(dbn.stream());
    sink(begin, n, dim, values.data());
    if (progress) progress->update(begin + n);
  }
  if (progress) progress->finish();
}

FeatureMatrix model_features(const layers::Dbn& dbn, const data::Dataset& dataset, size_t layer,
                             int64_t batch, Progress* progress) {
  FeatureMatrix m;
  m.count = dataset.count;
  m.dim = shape_numel(dbn.layer(layer).hidden_shape());
  m.values.resize(static_cast<size_t>(m.count * m.dim));
  m.labels = dataset.labels;
  compute_features(
      dbn, dataset, layer, batch,
      [&](int64_t begin, int64_t n, int64_t dim, const float* values) {
        std::copy(values, values + n * dim, m.values.begin() + begin * dim);
      },
      progress);
  return m;
}

FeatureMatrix pixel_features(const data::Dataset& dataset) {
  FeatureMatrix m;
  m.count = dataset.count;
  m.dim = dataset.image_numel();
  m.values.assign(dataset.pixels.begin(), dataset.pixels.end());
  m.labels = dataset.labels;
  return m;
}

std::string npy_header(const std::string& descr, const Shape& shape) {
  std::ostringstream dict;
  dict << "{'descr': '" << descr << "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) dict << ",";  // a Python 1-tuple
  dict << "), }";
  std::string text = dict.str();
  // magic (6) + version (2) + length (2) + text, padded with spaces to a multiple of 64 with a
  // final newline.
  const size_t unpadded = 10 + text.size() + 1;
  text.append((64 - unpadded % 64) % 64, ' ');
  text.push_back('\n');
  MRBM_CHECK(text.size() <= 65535, "npy header of " << text.size() << " bytes");
  std::string header("\x93NUMPY\x01\x00", 8);
  header.push_back(static_cast<char>(text.size() & 0xff));
  header.push_back(static_cast<char>(text.size() >> 8));
  return header + text;
}

std::string labels_path_for(const std::string& features_path) {
  const std::string ext = ".npy";
  std::string stem = features_path;
  if (stem.size() > ext.size() && stem.compare(stem.size() - ext.size(), ext.size(), ext) == 0) {
    stem.resize(stem.size() - ext.size());
  }
  return stem + ".labels.npy";
}

NpyFileWriter::NpyFileWriter(std::string path, const std::string& descr, const Shape& shape,
                             int64_t item_bytes)
    : path_(std::move(path)) {
  static std::atomic<uint64_t> counter{0};
  tmp_ = path_ + ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" +
         std::to_string(counter.fetch_add(1));
  expected_ = shape_numel(shape) * item_bytes;
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (file_ == nullptr) {
    MRBM_THROW(IoError, path_ << ": cannot create " << tmp_ << ": " << std::strerror(errno));
  }
  partial_.emplace(PartialOutput::file(tmp_));
  const std::string header = npy_header(descr, shape);
  if (std::fwrite(header.data(), 1, header.size(), file_) != header.size()) {
    const int err = errno;
    std::fclose(file_);
    file_ = nullptr;
    std::remove(tmp_.c_str());
    MRBM_THROW(IoError, path_ << ": write failed: " << std::strerror(err));
  }
}

NpyFileWriter::~NpyFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) std::remove(tmp_.c_str());
}

void NpyFileWriter::append(const void* data, int64_t bytes) {
  MRBM_CHECK(file_ != nullptr && !committed_, path_ << ": append after commit");
  if (written_ + bytes > expected_) {
    MRBM_THROW(IoError, path_ << ": " << written_ + bytes << " data bytes for a shape of "
                              << expected_);
  }
  if (std::fwrite(data, 1, static_cast<size_t>(bytes), file_) != static_cast<size_t>(bytes)) {
    MRBM_THROW(IoError, path_ << ": write failed: " << std::strerror(errno));
  }
  written_ += bytes;
}

void NpyFileWriter::commit() {
  MRBM_CHECK(file_ != nullptr && !committed_, path_ << ": commit twice");
  if (written_ != expected_) {
    MRBM_THROW(IoError, path_ << ": " << written_ << " data bytes written, the shape needs "
                              << expected_);
  }
  const bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int err = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) {
    MRBM_THROW(IoError, path_ << ": write failed: " << std::strerror(flushed ? errno : err));
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    MRBM_THROW(IoError, path_ << ": cannot rename " << tmp_ << " to it: " << std::strerror(errno));
  }
  committed_ = true;
  partial_->commit();
}

}  // namespace mrbm::tools
