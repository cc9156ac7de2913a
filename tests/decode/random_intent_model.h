// Test helper shared by the recognizer, batched-recognizer and server tests: a random-weight
// model small enough that every test runs in well under a second (2 layers, hidden 64), with the
// built-in catalog in its cartlm.json, written to DIR/model and loaded.
#pragma once
#include <memory>
#include <string>

#include "core/status.h"
#include "data/catalog.h"
#include "formats/intent_meta.h"
#include "model/init.h"
#include "model/load.h"

namespace cartlm {

inline Result<std::unique_ptr<LoadedModel>> make_random_intent_model(const std::string& dir,
                                                                     uint64_t seed) {
  InitOptions io;
  io.out_dir = dir + "/model";
  io.hidden = 64;
  io.layers = 2;
  io.heads = 4;
  io.kv_heads = 2;
  io.ffn = 128;
  io.seed = seed;
  io.progress = false;
  auto rep = init_checkpoint(io);
  if (!rep.ok()) return rep.status();
  IntentMeta meta;
  meta.products = default_catalog().names();
  CARTLM_RETURN_IF_ERROR(save_intent_meta(io.out_dir, meta));
  return load_model(io.out_dir);
}

}  // namespace cartlm
