// Test helper shared by the recognizer, batched-recognizer and server tests: a random-weight
// model small enough that every test runs in well under a second (2 layers, hidden 64), with the
// built-in catalog in its cartlm.json, written to a fresh temporary directory and loaded.
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/status.h"
#include "data/catalog.h"
#include "formats/intent_meta.h"
#include "model/init.h"
#include "model/load.h"

namespace cartlm {

// The model and its directory; the directory (DIR/model plus whatever a test writes next to it)
// is removed with the object.
struct RandomIntentModel {
  std::string dir;
  std::unique_ptr<LoadedModel> model;
  ~RandomIntentModel() {
    model.reset();
    std::filesystem::remove_all(dir);
  }
};

// `name` goes into the directory name (/tmp/cartlm_<name>_XXXXXX).
inline Result<std::unique_ptr<RandomIntentModel>> make_random_intent_model(const std::string& name,
                                                                           uint64_t seed) {
  std::string tmpl = "/tmp/cartlm_" + name + "_XXXXXX";
  if (!mkdtemp(tmpl.data())) return error("mkdtemp failed for " + tmpl);
  auto out = std::make_unique<RandomIntentModel>();
  out->dir = tmpl;
  InitOptions io;
  io.out_dir = out->dir + "/model";
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
  CARTLM_ASSIGN_OR_RETURN(out->model, load_model(io.out_dir));
  return out;
}

}  // namespace cartlm
