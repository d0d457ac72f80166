// Writes the generated seed files of test/fuzz/corpus/ (small valid inputs of every reader):
//   build-fuzz/fuzz/make_corpus test/fuzz/corpus
// The regression inputs found by fuzzing (corpus/<target>/crash-*) are committed as they are and
// not written here. Run again when a format changes; the files are a function of this code only.
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "autodiff/adam.h"
#include "core/safetensors.h"
#include "layers/checkpoint.h"
#include "layers/model_spec.h"
#include "test/fuzz/fuzz_checkpoint.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

void write(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
      std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

void write_text(const fs::path& path, const std::string& text) {
  write(path, Bytes(text.begin(), text.end()));
}

Bytes gzip(const Bytes& in) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&z, in.size()) + 32);
  z.next_in = const_cast<uint8_t*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

Bytes idx(uint32_t magic, const std::vector<uint32_t>& sizes) {
  Bytes b;
  be32(b, magic);
  uint64_t n = 1;
  for (uint32_t s : sizes) {
    be32(b, s);
    n *= s;
  }
  for (uint64_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i * 37 % 256));
  return b;
}

void append(void* context, void* data, int size) {
  auto* out = static_cast<Bytes*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

Bytes pixels(int w, int h, int c) {
  Bytes p(static_cast<size_t>(w * h * c));
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 53 % 256);
  return p;
}

void images(const fs::path& dir) {
  const Bytes rgb = pixels(5, 3, 3), grey = pixels(3, 4, 1), rgba = pixels(4, 4, 4);
  // Each file encoded by one stb_image_write call into a fresh buffer, then written.
  const auto encode = [&dir](const char* name, const auto& write_to) {
    Bytes out;
    write_to(&out);
    write(dir / name, out);
  };
  encode("rgb-5x3.png", [&](Bytes* o) { stbi_write_png_to_func(append, o, 5, 3, 3, rgb.data(), 5 * 3); });
  encode("grey-3x4.png", [&](Bytes* o) { stbi_write_png_to_func(append, o, 3, 4, 1, grey.data(), 3); });
  encode("rgba-4x4.png", [&](Bytes* o) { stbi_write_png_to_func(append, o, 4, 4, 4, rgba.data(), 4 * 4); });
  encode("rgb-5x3.jpg", [&](Bytes* o) { stbi_write_jpg_to_func(append, o, 5, 3, 3, rgb.data(), 80); });
  encode("grey-3x4.jpg", [&](Bytes* o) { stbi_write_jpg_to_func(append, o, 3, 4, 1, grey.data(), 80); });
  encode("rgb-5x3.bmp", [&](Bytes* o) { stbi_write_bmp_to_func(append, o, 5, 3, 3, rgb.data()); });
  encode("rgba-4x4.tga", [&](Bytes* o) { stbi_write_tga_to_func(append, o, 4, 4, 4, rgba.data()); });
  // PGM (binary, 3 x 2) and a 1 x 1 GIF, written by hand.
  write_text(dir / "grey-3x2.pgm", std::string("P5\n3 2\n255\n") + "\x10\x20\x30\x40\x50\x60");
  const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0xff,
                               0xff, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 'D', 1, 0, ';'};
  write(dir / "white-1x1.gif", Bytes(std::begin(gif), std::end(gif)));
}

void safetensors(const fs::path& dir) {
  using namespace mrbm;
  fs::create_directories(dir);
  TensorFile f;
  f.tensors["w"] = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  f.tensors["b"] = Tensor::from_vector(std::vector<double>{0.5, -1}, {2});
  f.metadata["format"] = "pt";
  save_safetensors((dir / "two-tensors.safetensors").string(), f);
  TensorFile g;
  g.tensors["scalar"] = Tensor::from_vector(std::vector<float>{7}, {});
  g.tensors["empty"] = Tensor::zeros({0, 3});
  save_safetensors((dir / "scalar-and-empty.safetensors").string(), g);
}

void checkpoints(const fs::path& dir) {
  using namespace mrbm;
  fs::create_directories(dir);
  layers::Dbn dbn(fuzz::checkpoint_spec(), Device::cpu(), nullptr, 1);
  layers::CheckpointInfo info;
  info.spec = dbn.spec();
  info.epoch = 1;
  info.step = 3;
  info.seed = 42;
  info.extra["data"] = "fashion-mnist";
  save_checkpoint((dir / "no-optimizer.safetensors").string(), dbn, nullptr, info);
  autodiff::Adam adam(dbn.parameters());
  std::vector<Tensor> chains = {Tensor::zeros({2, 1, 4, 4}), Tensor::zeros({2, 8})};
  dbn.set_chains(chains);
  save_checkpoint((dir / "adam-and-chains.safetensors").string(), dbn, &adam, info);
}

void model_specs(const fs::path& dir) {
  using namespace mrbm::layers;
  write_text(dir / "fuzz.json", model_spec_to_json(mrbm::fuzz::checkpoint_spec()).dump(2));
  for (const char* name : {"demo", "paper-celeba64", "generate-fashion"}) {
    write_text(dir / (std::string(name) + ".json"), model_spec_to_json(preset(name)).dump(2));
  }
  // The smallest spec, every optional field left out, and an equal-copies unit.
  write_text(dir / "minimal.json", R"({"input": {"channels": 1, "height": 2, "width": 2,
  "unit": {"kind": "equal-copies", "n": 4, "spacing": 0.5}},
  "layers": [{"type": "dense", "units": 2, "hidden": {"kind": "logit-copies", "n": 3, "scale": 1.5}}],
  "sampler": "exact"}
)");
}

void data_specs(const fs::path& dir) {
  int i = 0;
  for (const char* text : {"fashion-mnist", "fashion-mnist:/data/fm", "mnist:/usr/share/mnist",
                           "cifar10:cifar-10-batches-bin", "celeba:/data/celeba",
                           "images:dir:with:colons"}) {
    write_text(dir / ("spec-" + std::to_string(i++)), text);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus CORPUS_DIR (test/fuzz/corpus)\n");
    return 2;
  }
  const fs::path root = argv[1];
  const Bytes images_idx = idx(0x00000803, {2, 3, 2});
  const Bytes labels_idx = idx(0x00000801, {2});
  write(root / "idx" / "images.idx", images_idx);
  write(root / "idx" / "labels.idx", labels_idx);
  write(root / "idx" / "images.idx.gz", gzip(images_idx));
  write(root / "idx" / "labels.idx.gz", gzip(labels_idx));
  write(root / "idx" / "no-images.idx", idx(0x00000803, {0, 28, 28}));

  Bytes cifar;
  for (int r = 0; r < 2; ++r) {
    cifar.push_back(static_cast<uint8_t>(3 + 4 * r));
    const Bytes image = pixels(32, 32, 3);
    cifar.insert(cifar.end(), image.begin(), image.end());
  }
  write(root / "cifar" / "two-records.bin", cifar);
  write(root / "cifar" / "two-records.bin.gz", gzip(cifar));

  images(root / "image");
  safetensors(root / "safetensors");
  checkpoints(root / "checkpoint");
  model_specs(root / "model_spec");
  data_specs(root / "data_spec");
  return 0;
}
