#include "model/load.h"

namespace cartlm {

// Owned by the GPTQ work (issue 5); replaced by the real loader.
Result<std::unique_ptr<LoadedModel>> load_model_gptq(const std::string& dir) {
  return error(dir + ": loading GPTQ models is not implemented yet");
}

}  // namespace cartlm
