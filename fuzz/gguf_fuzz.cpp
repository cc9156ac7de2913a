// libFuzzer target for the GGUF reader (and the imatrix reader built on it): any input must give
// a value or a one-line error, never a crash, a sanitizer report or a huge allocation.
// Built only with -DCARTLM_FUZZ=ON and clang; run with scripts/fuzz.
#include <cstddef>
#include <cstdint>

#include "formats/gguf.h"
#include "quant/imatrix_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = cartlm::parse_gguf(data, size, "fuzz");
  if (f.ok()) {
    // Exercise the typed getters and the tensor views the loaders use.
    for (const cartlm::GgufKV& kv : f->kvs) (void)kv.value.describe();
    (void)f->get_u32_or("general.alignment", 32);
    (void)f->get_string_or("general.architecture", "");
    uint64_t sum = 0;
    for (const cartlm::GgufTensor& t : f->tensors)
      if (t.view.nbytes > 0) sum += ((const uint8_t*)t.view.data)[t.view.nbytes - 1];
    (void)sum;
  }
  (void)cartlm::parse_imatrix(data, size, "fuzz");
  return 0;
}
