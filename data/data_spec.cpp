// Data spec parsing and loading (data/data_spec.h).
#include "data/data_spec.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "data/cifar_reader.h"
#include "data/idx_reader.h"

namespace mrbm::data {
namespace {

constexpr const char* kDebianFashionMnistDir = "/usr/share/datasets/fashion-mnist";
constexpr const char* kSyntax =
    "fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, celeba:DIR or images:DIR";

}  // namespace

std::string default_fashion_mnist_dir() {
  // The GPU machine has no Debian packages: the files are staged elsewhere and named by the
  // environment (docs/data.md).
  const char* env = std::getenv("MRBM_FASHION_MNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return kDebianFashionMnistDir;
}

DataSpec parse_data_spec(const std::string& text) {
  const size_t colon = text.find(':');
  DataSpec spec;
  spec.kind = text.substr(0, colon);
  const bool has_dir = colon != std::string::npos;
  spec.dir = has_dir ? text.substr(colon + 1) : "";
  if (spec.kind != "fashion-mnist" && spec.kind != "mnist" && spec.kind != "cifar10" &&
      spec.kind != "celeba" && spec.kind != "images") {
    MRBM_THROW(InvalidArgument, "unknown data set '" << spec.kind << "' in '" << text
                                                     << "' (expected " << kSyntax << ")");
  }
  if (spec.dir.empty()) {
    if (spec.kind != "fashion-mnist") {
      MRBM_THROW(InvalidArgument,
                 "data set '" << text << "' needs a folder: " << spec.kind << ":DIR");
    }
    if (has_dir) {
      MRBM_THROW(InvalidArgument, "data set '" << text
                                               << "': empty folder after ':' (write "
                                                  "fashion-mnist for the default folder)");
    }
    spec.dir = default_fashion_mnist_dir();
  }
  return spec;
}

Dataset load_dataset(const DataSpec& spec, const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(spec.dir, ec)) {
    MRBM_THROW(IoError, spec.dir << ": does not exist (the folder of data set " << spec.kind << ")"
                                 << (spec.kind == "fashion-mnist"
                                         ? "; install Debian's dataset-fashion-mnist or "
                                           "set MRBM_FASHION_MNIST_DIR"
                                         : ""));
  }
  ImageFolderOptions image_options = options.images;
  image_options.limit = options.limit;
  Dataset d;
  if (spec.kind == "fashion-mnist" || spec.kind == "mnist") {
    d = take_first(read_mnist_like(spec.dir, options.split, spec.kind), options.limit);
  } else if (spec.kind == "cifar10") {
    d = take_first(read_cifar10(spec.dir, options.split), options.limit);
  } else if (spec.kind == "celeba") {
    d = read_celeba(spec.dir, options.split, image_options);
  } else if (spec.kind == "images") {
    const fs::path split_dir = fs::path(spec.dir) / split_name(options.split);
    if (fs::is_directory(split_dir, ec)) {
      d = read_image_folder(split_dir.string(), image_options);
    } else {
      if (options.split != Split::kTrain) {
        MRBM_LOG_WARN(spec.dir << ": no " << split_name(options.split) << "/ subfolder; the "
                               << split_name(options.split)
                               << " split uses the same images as train");
      }
      d = read_image_folder(spec.dir, image_options);
    }
    d.name = std::string("images/") + split_name(options.split);
  } else {
    MRBM_THROW(InvalidArgument,
               "unknown data set '" << spec.kind << "' (expected " << kSyntax << ")");
  }
  check_dataset(d);
  if (d.count == 0) MRBM_THROW(IoError, d.description << ": the data set holds no image");
  return d;
}

std::string describe_dataset(const Dataset& d) {
  std::ostringstream os;
  os << d.name << ": " << d.count << " x " << shape_to_string(d.image_shape());
  if (d.has_labels()) os << ", " << num_classes(d) << " classes";
  os << " (" << d.description << ")";
  return os.str();
}

}  // namespace mrbm::data
