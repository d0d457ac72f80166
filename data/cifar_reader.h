// Reader of the CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html,
// cifar-10-binary.tar.gz).
//
// Each file (data_batch_1.bin .. data_batch_5.bin for train, test_batch.bin for test) is a
// sequence of 3073-byte records: 1 label byte (0..9), then 3072 pixel bytes, a 3 x 32 x 32 image
// stored planar (1024 red, 1024 green, 1024 blue values, each plane row-major) -- already mrbm's
// C x H x W layout, so records are copied as they are. A file whose size is not a positive
// multiple of 3073, or a label above 9, is an IoError naming the file (and the record).
// Files may also be gzip-compressed (data/file_io.h).
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

namespace mrbm::data {

constexpr int64_t kCifarImageBytes = 3 * 32 * 32;
constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;
constexpr int32_t kCifarClasses = 10;

// The records of the files, in order, as one labelled Dataset of N x 3 x 32 x 32.
Dataset read_cifar10_files(const std::vector<std::string>& paths);

// The split from a folder holding the .bin files, or its parent (the tarball's
// cifar-10-batches-bin/ inside it is looked into). Train needs all five data_batch_k.bin.
Dataset read_cifar10(const std::string& dir, Split split);

}  // namespace mrbm::data
