#include "model/load.h"

namespace cartlm {

// Owned by the GGUF export/import work (issue 5); replaced by the real loader.
Result<std::unique_ptr<LoadedModel>> load_model_gguf(const std::string& path) {
  return error(path + ": loading GGUF models is not implemented yet");
}

}  // namespace cartlm
