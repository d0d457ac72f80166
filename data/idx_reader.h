// Readers of the IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.
//
// IDX (http://yann.lecun.com/exdb/mnist/): a big-endian header, then the data.
//   bytes 0-1  zero
//   byte  2    element type, 0x08 = unsigned byte (the only type these data sets use)
//   byte  3    number of dimensions D
//   then D big-endian uint32 sizes, then prod(sizes) bytes, row-major.
// Images: magic 0x00000803, sizes (N, rows, cols). Labels: magic 0x00000801, size (N).
// The file must hold exactly the header and the data: a short file is truncated, a longer one has
// trailing bytes, and both are errors (a wrong file silently read as images would train garbage).
// Every error is an IoError "<file>: <problem>".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mrbm::data {

// The images of an IDX image file as a Dataset of N x 1 x rows x cols without labels.
Dataset read_idx_images(const std::string& path);

// The labels of an IDX label file (values 0..255 as stored).
std::vector<int32_t> read_idx_labels(const std::string& path);

// Images and labels from a pair of files; IoError naming both when the counts differ.
Dataset read_idx(const std::string& images_path, const std::string& labels_path);

// MNIST-like folder: for split train, train-images-idx3-ubyte and train-labels-idx1-ubyte; for
// test, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte; each also accepted with ".gz" appended
// and with "." instead of "-" before "idx" (another common spelling). Plain files win over .gz.
// `name` prefixes the data set's name ("fashion-mnist" -> "fashion-mnist/train").
Dataset read_mnist_like(const std::string& dir, Split split, const std::string& name = "mnist");

}  // namespace mrbm::data
