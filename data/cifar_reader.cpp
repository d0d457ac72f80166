// CIFAR-10 binary reading (data/cifar_reader.h): whole-file read, size and label checks, copy.
#include "data/cifar_reader.h"

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "data/file_io.h"

namespace mrbm::data {

Dataset read_cifar10_files(const std::vector<std::string>& paths) {
  Dataset d;
  d.channels = 3;
  d.height = 32;
  d.width = 32;
  for (const std::string& path : paths) {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    const int64_t size = static_cast<int64_t>(bytes.size());
    if (size == 0 || size % kCifarRecordBytes != 0) {
      MRBM_THROW(IoError, path << ": " << size << " bytes is not a positive multiple of "
                               << kCifarRecordBytes
                               << " (CIFAR-10 records: 1 label byte + 3072 pixel bytes)");
    }
    const int64_t records = size / kCifarRecordBytes;
    d.pixels.resize(static_cast<size_t>((d.count + records) * kCifarImageBytes));
    for (int64_t r = 0; r < records; ++r) {
      const uint8_t* rec = bytes.data() + r * kCifarRecordBytes;
      if (rec[0] >= kCifarClasses) {
        MRBM_THROW(IoError, path << ": record " << r << " has label " << int{rec[0]}
                                 << ", expected 0.." << (kCifarClasses - 1));
      }
      d.labels.push_back(rec[0]);
      std::memcpy(d.pixels.data() + (d.count + r) * kCifarImageBytes, rec + 1, kCifarImageBytes);
    }
    d.count += records;
    d.description += (d.description.empty() ? "" : " + ") + path;
  }
  d.name = "cifar10";
  return d;
}

Dataset read_cifar10(const std::string& dir, Split split) {
  if (split == Split::kValid) {
    MRBM_THROW(InvalidArgument, "cifar10 (" << dir << ") has no valid split; use train or test");
  }
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) {
    MRBM_THROW(IoError, dir << ": not a folder (expected the CIFAR-10 .bin files in it)");
  }
  fs::path root(dir);
  if (!fs::exists(root / "test_batch.bin") && fs::is_directory(root / "cifar-10-batches-bin")) {
    root /= "cifar-10-batches-bin";
  }
  std::vector<std::string> names;
  if (split == Split::kTrain) {
    for (int k = 1; k <= 5; ++k) names.push_back("data_batch_" + std::to_string(k) + ".bin");
  } else {
    names.push_back("test_batch.bin");
  }
  std::vector<std::string> paths;
  for (const std::string& n : names) {
    const fs::path p = root / n;
    if (!fs::is_regular_file(p)) {
      MRBM_THROW(IoError, p.string() << ": missing (CIFAR-10 " << split_name(split)
                                     << " needs the files " << names.front()
                                     << (names.size() > 1 ? " .. " + names.back() : "") << ")");
    }
    paths.push_back(p.string());
  }
  Dataset d = read_cifar10_files(paths);
  d.name = std::string("cifar10/") + split_name(split);
  return d;
}

}  // namespace mrbm::data
