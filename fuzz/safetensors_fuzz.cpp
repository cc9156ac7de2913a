// libFuzzer target for the safetensors reader: any input must give a value or a one-line error,
// never a crash, a sanitizer report or a huge allocation. Built only with -DCARTLM_FUZZ=ON and
// clang; run with scripts/fuzz.
#include <cstddef>
#include <cstdint>

#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = cartlm::parse_safetensors(data, size, "fuzz");
  if (f.ok()) {
    uint64_t sum = 0;
    for (const cartlm::SafetensorsTensor& t : f->tensors)
      if (t.view.nbytes > 0) sum += ((const uint8_t*)t.view.data)[t.view.nbytes - 1];
    (void)sum;
  }
  return 0;
}
