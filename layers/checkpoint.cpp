// Checkpoints (layers/checkpoint.h).
#include "layers/checkpoint.h"

#include "core/safetensors.h"

namespace mrbm::layers {
namespace {

constexpr const char* kFormat = "mrbm-checkpoint-1";
constexpr const char* kAdamPrefix = "adam.";
constexpr const char* kChainsPrefix = "chains.layers.";  // persistent chains, one per layer

int64_t parse_count(const std::map<std::string, std::string>& meta, const std::string& key,
                    const std::string& path) {
  const auto it = meta.find(key);
  if (it == meta.end()) MRBM_THROW(IoError, path << ": checkpoint metadata lacks '" << key << "'");
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used == it->second.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  MRBM_THROW(IoError, path << ": checkpoint metadata '" << key << "' is not a count: '" << it->second << "'");
}

CheckpointInfo info_from_metadata(const std::map<std::string, std::string>& meta,
                                  const std::string& path) {
  const auto format = meta.find("format");
  if (format == meta.end() || format->second != kFormat) {
    MRBM_THROW(IoError, path << ": not an mrbm checkpoint (metadata 'format' is "
                             << (format == meta.end() ? "missing" : "'" + format->second + "'")
                             << ", expected '" << kFormat << "')");
  }
  const auto spec = meta.find("model_spec");
  if (spec == meta.end()) MRBM_THROW(IoError, path << ": checkpoint metadata lacks 'model_spec'");
  CheckpointInfo info;
  try {
    info.spec = model_spec_from_json(nlohmann::json::parse(spec->second), path + ": model_spec");
  } catch (const nlohmann::json::exception& e) {
    MRBM_THROW(IoError, path << ": model_spec is not valid JSON: " << e.what());
  } catch (const InvalidArgument& e) {
    MRBM_THROW(IoError, e.what());
  }
  info.epoch = parse_count(meta, "epoch", path);
  info.step = parse_count(meta, "step", path);
  info.seed = static_cast<uint64_t>(parse_count(meta, "seed", path));
  for (const auto& [k, v] : meta) {
    if (k != "format" && k != "model_spec" && k != "epoch" && k != "step" && k != "seed" &&
        k != "mrbm_version") {
      info.extra[k] = v;
    }
  }
  return info;
}

}  // namespace

void save_checkpoint(const std::string& path, const Dbn& dbn, const autodiff::Adam* adam,
                     const CheckpointInfo& info) {
  TensorFile file;
  for (const autodiff::Variable& p : dbn.parameters()) file.tensors[p.name()] = p.value();
  for (size_t l = 0; l < dbn.chains().size(); ++l) {
    file.tensors[kChainsPrefix + std::to_string(l)] = dbn.chains()[l];
  }
  if (adam) {
    for (const auto& [name, tensor] : adam->state()) file.tensors[kAdamPrefix + name] = tensor;
  }
  file.metadata = info.extra;
  file.metadata["format"] = kFormat;
  file.metadata["model_spec"] = model_spec_to_json(dbn.spec()).dump();
  file.metadata["epoch"] = std::to_string(info.epoch);
  file.metadata["step"] = std::to_string(info.step);
  file.metadata["seed"] = std::to_string(info.seed);
  file.metadata["mrbm_version"] = MRBM_VERSION;
  save_safetensors(path, file);
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return info_from_metadata(read_safetensors_header(path).metadata, path);
}

CheckpointInfo load_checkpoint(const std::string& path, Dbn& dbn, autodiff::Adam* adam) {
  TensorFile file = load_safetensors(path);
  CheckpointInfo info = info_from_metadata(file.metadata, path);
  if (model_spec_to_json(info.spec) != model_spec_to_json(dbn.spec())) {
    MRBM_THROW(IoError, path << ": the checkpoint belongs to another model (its spec: "
                             << model_spec_to_json(info.spec).dump() << ")");
  }
  auto find = [&](const std::string& name) -> Tensor& {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end()) MRBM_THROW(IoError, path << ": checkpoint lacks tensor '" << name << "'");
    return it->second;
  };
  // Check everything before changing anything.
  for (const autodiff::Variable& p : dbn.parameters()) {
    const Tensor& t = find(p.name());
    if (t.shape() != p.value().shape() || t.dtype() != p.value().dtype()) {
      MRBM_THROW(IoError, path << ": tensor '" << p.name() << "' is " << t.describe()
                               << ", the model needs " << p.value().describe());
    }
  }
  std::map<std::string, Tensor> adam_state;
  if (adam) {
    for (const auto& [name, tensor] : file.tensors) {
      if (name.rfind(kAdamPrefix, 0) == 0) adam_state[name.substr(5)] = tensor;
    }
    if (adam_state.empty()) MRBM_THROW(IoError, path << ": checkpoint holds no optimizer state");
    try {
      adam->load_state(adam_state);
    } catch (const Error& e) {
      MRBM_THROW(IoError, path << ": optimizer state does not fit: " << e.what());
    }
  }
  std::vector<Tensor> chains;
  for (size_t l = 0; file.tensors.count(kChainsPrefix + std::to_string(l)); ++l) {
    chains.push_back(file.tensors.at(kChainsPrefix + std::to_string(l)));
  }
  try {
    dbn.set_chains(std::move(chains));  // checks every shape before it changes anything
  } catch (const Error& e) {
    MRBM_THROW(IoError, path << ": " << e.what());
  }
  for (const autodiff::Variable& p : dbn.parameters()) {
    Tensor target = p.value();  // shares the parameter's storage
    target.copy_from(find(p.name()), dbn.stream());
  }
  return info;
}

}  // namespace mrbm::layers
