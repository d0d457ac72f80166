#include "tools/mrbm/sampling_plan.h"

#include "core/error.h"

namespace mrbm::tools {

SampleStart parse_sample_start(const std::string& name) {
  if (name == "noise") return SampleStart::kNoise;
  if (name == "data") return SampleStart::kData;
  if (name == "persistent") return SampleStart::kPersistent;
  MRBM_THROW(InvalidArgument, "unknown chain start '" << name << "' (noise, data or persistent)");
}

const char* sample_start_name(SampleStart start) {
  switch (start) {
    case SampleStart::kNoise: return "noise";
    case SampleStart::kData: return "data";
    case SampleStart::kPersistent: return "persistent";
  }
  return "?";
}

SamplingPlan default_sampling(const layers::ModelSpec& spec, bool has_chains) {
  SamplingPlan plan;
  const int64_t k = spec.negative.steps;
  const std::string trained = "the model was trained with " +
                              std::string(layers::chain_start_name(spec.negative.start)) +
                              "-started chains of " + std::to_string(k) + " Gibbs steps";
  switch (spec.negative.start) {
    case layers::ChainStart::kPersistent:
      if (has_chains) {
        plan.start = SampleStart::kPersistent;
        plan.gibbs.steps = k;
        plan.reason = trained + ": its persistent chains continue";
      } else {
        plan.gibbs.steps = 1000;
        plan.reason = trained + ", but the checkpoint holds no chains: from noise";
      }
      break;
    case layers::ChainStart::kNoise:
      plan.gibbs.steps = k;
      plan.reason = trained + ": the same chains";
      break;
    case layers::ChainStart::kData:
      plan.gibbs.steps = 1000;
      plan.reason = trained + " (CD): long chains from noise";
      break;
  }
  return plan;
}

Tensor run_sampling(const layers::Dbn& dbn, const SamplingPlan& plan, int64_t count, uint64_t seed,
                    const Tensor* images) {
  switch (plan.start) {
    case SampleStart::kNoise:
      return dbn.generate(count, plan.gibbs, seed, nullptr);
    case SampleStart::kData:
      MRBM_CHECK(images != nullptr, "sampling from data needs images");
      return dbn.generate(count, plan.gibbs, seed, images);
    case SampleStart::kPersistent: {
      MRBM_CHECK(!dbn.chains().empty(), "sampling from persistent chains needs a model that has them");
      const Tensor& top = dbn.chains().back();
      // The callers check the count first (sample: a user error; train: at most the chains).
      MRBM_CHECK(count <= top.size(0), count << " samples from " << top.size(0) << " persistent chains");
      return dbn.generate_from_top(top.rows(0, count), plan.gibbs, seed);
    }
  }
  return {};
}

}  // namespace mrbm::tools
