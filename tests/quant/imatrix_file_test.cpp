// imatrix files: GGUF and legacy .dat round trips, the importance llama-quantize derives from
// them, and clear errors on malformed input.
#include "quant/imatrix_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "core/file_io.h"
#include "formats/gguf.h"
#include "temp_dir.h"

namespace cartlm {
namespace {

// One directory per test process, removed at exit.
std::string tmp_path(const std::string& name) {
  static ScopedTempDir dir("cartlm_imatrix_test");
  return dir.file(name);
}

Imatrix sample() {
  Imatrix m;
  m.datasets = {"train.jsonl"};
  m.chunk_count = 3;
  m.chunk_size = 512;
  m.entries["blk.0.attn_q.weight"] = {{4.0f, 8.0f, 0.5f, 2.0f}, {4}};
  // Two "experts": the second has no data.
  m.entries["blk.0.ffn_down_exps.weight"] = {{1.0f, 3.0f, 5.0f, 7.0f}, {2, 0}};
  return m;
}

TEST(ImatrixFile, GgufRoundTripKeepsEverything) {
  const std::string path = tmp_path("rt.gguf");
  ASSERT_TRUE(write_imatrix_gguf(path, sample()).ok());
  auto r = read_imatrix(path);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE(r->is_legacy);
  EXPECT_EQ(r->chunk_count, 3);
  EXPECT_EQ(r->chunk_size, 512);
  ASSERT_EQ(r->datasets.size(), 1u);
  EXPECT_EQ(r->datasets[0], "train.jsonl");
  ASSERT_EQ(r->entries.size(), 2u);
  const ImatrixEntry& q = r->entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(q.sums, (std::vector<float>{4.0f, 8.0f, 0.5f, 2.0f}));
  EXPECT_EQ(q.counts, (std::vector<int64_t>{4}));
  const ImatrixEntry& d = r->entries.at("blk.0.ffn_down_exps.weight");
  EXPECT_EQ(d.counts, (std::vector<int64_t>{2, 0}));
}

TEST(ImatrixFile, GgufLayoutMatchesLlamaImatrix) {
  // Tensor names, dtypes and ne as llama-imatrix writes them (ggml drops trailing ne == 1).
  const std::string path = tmp_path("layout.gguf");
  ASSERT_TRUE(write_imatrix_gguf(path, sample()).ok());
  auto g = open_gguf(path);
  ASSERT_TRUE(g.ok()) << g.message();
  auto type = g->get_string("general.type");
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(*type, "imatrix");
  ASSERT_EQ(g->tensors.size(), 4u);
  EXPECT_EQ(g->tensors[0].view.name, "blk.0.attn_q.weight.in_sum2");
  EXPECT_EQ(g->tensors[0].ne, (std::vector<int64_t>{4}));
  EXPECT_EQ(g->tensors[1].view.name, "blk.0.attn_q.weight.counts");
  EXPECT_EQ(g->tensors[1].ne, (std::vector<int64_t>{1}));
  EXPECT_EQ(g->tensors[2].view.name, "blk.0.ffn_down_exps.weight.in_sum2");
  EXPECT_EQ(g->tensors[2].ne, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(g->tensors[3].ne, (std::vector<int64_t>{1, 2}));
}

TEST(ImatrixFile, ImportanceDividesByCountsLikeLlamaQuantize) {
  Imatrix m = sample();
  EXPECT_EQ(imatrix_importance(m.entries.at("blk.0.attn_q.weight"), false),
            (std::vector<float>{1.0f, 2.0f, 0.125f, 0.5f}));
  // A matrix with count 0 gets weight 1 everywhere.
  EXPECT_EQ(imatrix_importance(m.entries.at("blk.0.ffn_down_exps.weight"), false),
            (std::vector<float>{0.5f, 1.5f, 1.0f, 1.0f}));
  // Legacy: values / ncall.
  EXPECT_EQ(imatrix_importance(ImatrixEntry{{6.0f, 3.0f}, {3}}, true),
            (std::vector<float>{2.0f, 1.0f}));
  EXPECT_EQ(imatrix_importance(ImatrixEntry{{6.0f, 3.0f}, {0}}, true),
            (std::vector<float>{6.0f, 3.0f}));
}

TEST(ImatrixFile, LegacyWriteEncodesMeanTimesNcall) {
  const std::string path = tmp_path("rt.dat");
  ASSERT_TRUE(write_imatrix_dat(path, sample()).ok());
  auto r = read_imatrix(path);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->is_legacy);
  EXPECT_EQ(r->chunk_count, 3);
  ASSERT_EQ(r->datasets.size(), 1u);
  EXPECT_EQ(r->datasets[0], "train.jsonl");
  // ncall = ceil(4 / 512) = 1: values = sum / count.
  const ImatrixEntry& q = r->entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(q.counts, (std::vector<int64_t>{1}));
  EXPECT_EQ(q.sums, (std::vector<float>{1.0f, 2.0f, 0.125f, 0.5f}));
  // Partial data is stored as 1.
  EXPECT_EQ(r->entries.at("blk.0.ffn_down_exps.weight").sums,
            (std::vector<float>{0.5f, 1.5f, 1.0f, 1.0f}));
  // And the importance agrees with the GGUF path.
  EXPECT_EQ(imatrix_importance(q, true), imatrix_importance(sample().entries.at(
                                                               "blk.0.attn_q.weight"),
                                                           false));
  // A legacy imatrix written back stays byte-identical.
  const std::string path2 = tmp_path("rt2.dat");
  ASSERT_TRUE(write_imatrix_dat(path2, *r).ok());
  EXPECT_EQ(*read_file(path), *read_file(path2));
}

TEST(ImatrixFile, RejectsMalformedFiles) {
  // Empty and absurd legacy headers.
  EXPECT_FALSE(parse_imatrix(nullptr, 0, "empty").ok());
  std::string bad;
  auto put = [&](int32_t v) { bad.append((const char*)&v, 4); };
  put(1);
  put(1000000);  // name longer than the file
  auto r = parse_imatrix((const uint8_t*)bad.data(), bad.size(), "bad.dat");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("bad.dat"), std::string::npos);
  bad.clear();
  put(1);
  put(1);
  bad += "x";
  put(1);
  put(1 << 30);  // values past the end
  r = parse_imatrix((const uint8_t*)bad.data(), bad.size(), "bad.dat");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("'x'"), std::string::npos) << r.message();

  // GGUF without the imatrix keys, and with sums but no counts.
  float sums[4] = {1, 2, 3, 4};
  std::vector<TensorView> views = {{"a.in_sum2", DType::F32, {4}, sums, sizeof(sums)}};
  auto img = serialize_gguf({{"general.type", GgufValue::string("imatrix")}}, views);
  ASSERT_TRUE(img.ok());
  r = parse_imatrix((const uint8_t*)img->data(), img->size(), "nokeys.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("imatrix.chunk_count"), std::string::npos) << r.message();
  std::vector<GgufKV> kvs = {{"imatrix.datasets", GgufValue::array_strings({})},
                             {"imatrix.chunk_count", GgufValue::u32(1)},
                             {"imatrix.chunk_size", GgufValue::u32(1)}};
  img = serialize_gguf(kvs, views);
  ASSERT_TRUE(img.ok());
  r = parse_imatrix((const uint8_t*)img->data(), img->size(), "nocounts.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("'a'"), std::string::npos) << r.message();
  // Counts that do not divide the sums.
  float counts[3] = {1, 1, 1};
  views.push_back({"a.counts", DType::F32, {3}, counts, sizeof(counts)});
  img = serialize_gguf(kvs, views);
  ASSERT_TRUE(img.ok());
  r = parse_imatrix((const uint8_t*)img->data(), img->size(), "split.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("do not split"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace cartlm
