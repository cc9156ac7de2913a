// LoadOptions::mmap = false (--no-mmap): an HF checkpoint and a GGUF loaded into the process's own
// memory give exactly the logits of the memory-mapped load, and their weights really live in
// anonymous memory rather than in the file mapping.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/proc_maps.h"
#include "model/gguf_export.h"
#include "model/init.h"
#include "model/load.h"

namespace cartlm {
namespace {

std::vector<float> last_logits(const LoadedModel& m, const std::vector<int32_t>& toks) {
  auto s = llama_session(m.model, LlamaSessionOptions{64});
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(llama_forward(m.model, *s, toks).ok());
  const float* l = llama_logits(*s);
  return std::vector<float>(l, l + s->vocab);
}

void expect_same_logits_and_backing(const std::string& path, const std::string& file_name) {
  auto mapped = load_model(path);
  ASSERT_TRUE(mapped.ok()) << mapped.message();
  LoadOptions opt;
  opt.mmap = false;
  auto read = load_model(path, opt);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ((*read)->weight_type, (*mapped)->weight_type);
  EXPECT_EQ((*read)->weight_bytes, (*mapped)->weight_bytes);

  // A layer matrix (the embedding may be converted at load for some types, a matrix never is).
  const void* w_mapped = (*mapped)->model.weights.layers[0].w_up.data;
  const void* w_read = (*read)->model.weights.layers[0].w_up.data;
  EXPECT_NE(mapping_name(w_mapped).find(file_name), std::string::npos) << mapping_name(w_mapped);
  EXPECT_EQ(mapping_name(w_read), "") << "weights of the --no-mmap load are not anonymous memory";

  const std::vector<int32_t> toks = {1, 17, 200, 33, 5, 99, 250};
  EXPECT_EQ(last_logits(**read, toks), last_logits(**mapped, toks)) << path;
}

TEST(LoadOptions, NoMmapGivesTheSameLogitsForHfAndGguf) {
  std::string root = "/tmp/cartlm_load_options_XXXXXX";
  ASSERT_NE(mkdtemp(root.data()), nullptr);
  InitOptions io;
  io.out_dir = root + "/hf";
  io.dtype = "f32";
  io.seed = 11;
  io.hidden = 64;
  io.layers = 2;
  io.heads = 4;
  io.kv_heads = 2;
  io.ffn = 128;
  io.vocab = 384;
  io.progress = false;
  auto rep = init_checkpoint(io);
  ASSERT_TRUE(rep.ok()) << rep.message();
  expect_same_logits_and_backing(io.out_dir, "model.safetensors");

  auto hf = load_model(io.out_dir);
  ASSERT_TRUE(hf.ok()) << hf.message();
  const std::string gguf = root + "/m-q8.gguf";
  GgufExportOptions eo;
  eo.type = "Q8_0";
  eo.threads = 1;
  auto st = export_gguf(**hf, gguf, eo);
  ASSERT_TRUE(st.ok()) << st.message();
  expect_same_logits_and_backing(gguf, "m-q8.gguf");

  LoadOptions opt;
  opt.mmap = false;
  auto missing = load_model(root + "/nope.gguf", opt);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope.gguf"), std::string::npos) << missing.message();
  hf->reset();
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace cartlm
