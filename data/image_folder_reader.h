// Readers of folders of photographs (JPEG, PNG and the other formats of stb_image): a plain folder
// ("images:DIR") and CelebA ("celeba:DIR").
//
// Each image is decoded by stb_image to `channels` (stb expands grey to RGB by replication, drops
// the alpha of RGBA, and turns RGB into grey with its luma weights when 1 channel is asked for),
// center-cropped to a square, and resized to size x size (data/image_resize.h: area filter when
// shrinking, bilinear when enlarging), then stored planar in a Dataset of N x channels x size x
// size without labels. Files are taken in sorted (byte-wise) name order, so a data set, and
// therefore a seeded run, is the same on every machine.
//
// Selection: files with an image extension (jpg, jpeg, png, bmp, gif, tga, psd, pic, pnm, ppm,
// pgm; any case) are read, other files are ignored by their extension (logged at info level with a
// count), subfolders are not entered. A file that has an image extension but does not decode is
// an IoError naming it: nothing is skipped silently. A folder with no image is an IoError too.
//
// CelebA (img_align_celeba/ 178x218 JPEGs): the split comes from list_eval_partition.txt
// ("000001.jpg 0" lines: 0 train, 1 valid, 2 test), looked for in DIR and DIR/Eval. Without it,
// train is every image (a warning says so) and valid/test are errors.
//
// Decoding 200k JPEGs takes minutes, so files are decoded by `threads` std::threads taking files
// from a shared counter, each writing its own slot (the result does not depend on the thread
// count); `progress(done, total)` is called from the calling thread only, about every 0.2 s and
// once at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mrbm::data {

struct ImageFolderOptions {
  int64_t size = 64;     // output height and width
  int64_t channels = 3;  // 1 (grey) or 3 (RGB)
  int64_t limit = -1;    // read only the first `limit` files of the split (after sorting); <0: all
  int threads = 0;       // decoding threads; 0: available_cpus() (core/cpu_threads.h)
  // The largest width x height a file's header may claim; a larger one is an IoError before stb
  // allocates it. 2^25 (e.g. 8192 x 4096) is beyond any photograph this reader is meant for.
  int64_t max_pixels = int64_t{1} << 25;
  std::function<void(int64_t done, int64_t total)> progress;  // optional
};

// True when `path`'s extension is one stb_image decodes (list above).
bool has_image_extension(const std::string& path);

// The image files directly inside `dir`, sorted. IoError when dir is not a folder or has none.
std::vector<std::string> list_image_files(const std::string& dir);

// Decodes, crops and resizes `paths` (in that order) into one Dataset named `name`.
Dataset read_image_files(const std::vector<std::string>& paths, const ImageFolderOptions& options,
                         const std::string& name = "images");

// Every image file of `dir` (list_image_files), limited by options.limit.
Dataset read_image_folder(const std::string& dir, const ImageFolderOptions& options);

// CelebA from its root (holding img_align_celeba/ and list_eval_partition.txt) or from the image
// folder itself (the partition file is then looked for in its parent too).
Dataset read_celeba(const std::string& dir, Split split, const ImageFolderOptions& options);

}  // namespace mrbm::data
