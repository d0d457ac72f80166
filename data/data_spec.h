// The data set argument of the mrbm command ("--data KIND[:DIR]") and loading what it names.
//
// Syntax (the split, train/valid/test, is chosen by the caller: training uses train, evaluation
// test):
//   fashion-mnist[:DIR]  IDX files, .gz or plain; DIR defaults to $MRBM_FASHION_MNIST_DIR when set,
//                        else /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)
//   mnist:DIR            IDX files (same names as Fashion-MNIST)
//   cifar10:DIR          CIFAR-10 binary batches (DIR or DIR/cifar-10-batches-bin)
//   celeba:DIR           CelebA: DIR/img_align_celeba + list_eval_partition.txt
//   images:DIR           every image of DIR, or of DIR/<split> when that folder exists
// Everything after the first ':' is the path (so paths may hold ':'). Unknown kinds and missing
// paths are InvalidArgument (a usage error); a path that does not exist is an IoError naming it.
#pragma once

#include <string>

#include "data/dataset.h"
#include "data/image_folder_reader.h"

namespace mrbm::data {

struct DataSpec {
  std::string kind;  // "fashion-mnist", "mnist", "cifar10", "celeba", "images"
  std::string dir;   // resolved: the default already filled in for fashion-mnist
};

// The Fashion-MNIST folder used when the spec gives none (see above).
std::string default_fashion_mnist_dir();

// Parses the syntax above. InvalidArgument naming the text for an unknown kind or a missing DIR.
DataSpec parse_data_spec(const std::string& text);

struct LoadOptions {
  Split split = Split::kTrain;
  int64_t limit = -1;         // keep the first `limit` images (quick runs); < 0: all
  ImageFolderOptions images;  // size/channels/threads/progress for celeba and images (its limit
                              // is overridden by `limit`, applied before decoding)
};

// Reads the data set of `spec`. IoError when spec.dir does not exist or its files are bad.
Dataset load_dataset(const DataSpec& spec, const LoadOptions& options);

// One-line summary for logs: "fashion-mnist/train: 60000 x [1, 28, 28], 10 classes (DIR)".
std::string describe_dataset(const Dataset& dataset);

}  // namespace mrbm::data
