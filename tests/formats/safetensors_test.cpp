#include "formats/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/rng.h"

using namespace cartlm;
using json = nlohmann::json;

namespace {

std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("cartlm_st_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// Owns the bytes behind a TensorView built in a test.
struct Owned {
  std::vector<uint8_t> bytes;
  TensorView view;
};

Owned make_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                  uint64_t elem_size, uint64_t seed) {
  Owned o;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  o.bytes.resize((size_t)n * elem_size);
  Rng rng(seed);
  for (auto& b : o.bytes) b = (uint8_t)rng.uniform(256);
  o.view = {name, dtype, shape, o.bytes.data(), (uint64_t)o.bytes.size()};
  return o;
}

// A file image: 8-byte length, header text, data bytes.
std::string image(const std::string& header, const std::string& data, uint64_t n_override = 0) {
  uint64_t n = n_override ? n_override : header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

Result<SafetensorsFile> parse(const std::string& img) {
  return parse_safetensors(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "t.st");
}

// Expects failure with `needle` in the message.
void expect_error(const std::string& img, const std::string& needle) {
  auto r = parse(img);
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << needle;
  EXPECT_NE(r.message().find(needle), std::string::npos) << r.message();
  EXPECT_EQ(r.message().find('\n'), std::string::npos) << "one line: " << r.message();
}

}  // namespace

TEST(Safetensors, RoundTripEveryWritableDtype) {
  std::string dir = temp_dir("rt");
  std::vector<Owned> owned;
  owned.push_back(make_tensor("w.f32", DType::F32, {3, 5}, 4, 1));
  owned.push_back(make_tensor("w.f16", DType::F16, {7}, 2, 2));
  owned.push_back(make_tensor("w.bf16", DType::BF16, {2, 3, 4}, 2, 3));
  owned.push_back(make_tensor("w.f64", DType::F64, {2}, 8, 4));
  owned.push_back(make_tensor("a.i8", DType::I8, {9}, 1, 5));  // name sorts first, written 5th
  owned.push_back(make_tensor("w.i16", DType::I16, {3}, 2, 6));
  owned.push_back(make_tensor("w.i32", DType::I32, {4, 2}, 4, 7));
  owned.push_back(make_tensor("w.i64", DType::I64, {1}, 8, 8));
  owned.push_back(make_tensor("scalar", DType::F32, {}, 4, 9));
  owned.push_back(make_tensor("empty", DType::F32, {0, 4}, 4, 10));
  std::vector<TensorView> views;
  for (auto& o : owned) views.push_back(o.view);
  std::string path = join_path(dir, "m.safetensors");
  ASSERT_TRUE(write_safetensors(path, views, {{"format", "pt"}, {"note", "žćč"}}).ok());

  auto f = open_safetensors(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ((8 + f->header_bytes) % 8, 0u) << "header padded to 8 bytes";
  EXPECT_EQ(f->metadata.at("format"), "pt");
  EXPECT_EQ(f->metadata.at("note"), "žćč");
  ASSERT_EQ(f->tensors.size(), owned.size());
  uint64_t expect_begin = 0, total = 0;
  // Tensors come back in data order, which is the order they were given.
  for (size_t i = 0; i < owned.size(); ++i) {
    const SafetensorsTensor& t = f->tensors[i];
    const Owned& o = owned[i];
    EXPECT_EQ(t.view.name, o.view.name);
    EXPECT_EQ(t.view.dtype, o.view.dtype) << t.view.name;
    EXPECT_EQ(t.view.shape, o.view.shape) << t.view.name;
    EXPECT_EQ(t.view.nbytes, o.bytes.size()) << t.view.name;
    EXPECT_EQ(t.data_begin, expect_begin) << t.view.name << ": contiguous, no gaps";
    if (!o.bytes.empty()) {
      EXPECT_EQ(std::memcmp(t.view.data, o.bytes.data(), o.bytes.size()), 0) << t.view.name;
    }
    expect_begin += o.bytes.size();
    total += o.bytes.size();
  }
  EXPECT_EQ(f->file.size(), 8 + f->header_bytes + total);
  EXPECT_EQ(f->find("w.i32")->st_dtype, StDType::I32);
  EXPECT_EQ(f->find("nope"), nullptr);
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, ReadsUnsignedAndBoolAsSameWidthIntegers) {
  json h = {{"u8", {{"dtype", "U8"}, {"shape", {4}}, {"data_offsets", {0, 4}}}},
            {"b", {{"dtype", "BOOL"}, {"shape", {2}}, {"data_offsets", {4, 6}}}},
            {"u16", {{"dtype", "U16"}, {"shape", {1}}, {"data_offsets", {6, 8}}}},
            {"u32", {{"dtype", "U32"}, {"shape", {1}}, {"data_offsets", {8, 12}}}},
            {"u64", {{"dtype", "U64"}, {"shape", {1}}, {"data_offsets", {16, 24}}}}};
  auto f = parse(image(h.dump(), std::string(24, '\x01')));
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->find("u8")->view.dtype, DType::I8);
  EXPECT_EQ(f->find("u8")->st_dtype, StDType::U8);
  EXPECT_EQ(f->find("b")->view.dtype, DType::I8);
  EXPECT_EQ(f->find("b")->st_dtype, StDType::BOOL);
  EXPECT_EQ(f->find("u16")->view.dtype, DType::I16);
  EXPECT_EQ(f->find("u32")->view.dtype, DType::I32);
  EXPECT_EQ(f->find("u64")->view.dtype, DType::I64);
  EXPECT_EQ(f->find("u64")->data_begin, 16u) << "a gap between tensors is allowed";
  EXPECT_STREQ(st_dtype_name(StDType::BF16), "BF16");
  EXPECT_EQ(st_dtype_size(StDType::U64), 8u);
}

TEST(Safetensors, MalformedFilesGiveClearErrors) {
  const std::string data(16, '\0');
  auto one = [](const json& entry) { return json{{"t", entry}}.dump(); };
  json ok_entry = {{"dtype", "F32"}, {"shape", {2, 2}}, {"data_offsets", {0, 16}}};
  ASSERT_TRUE(parse(image(one(ok_entry), data)).ok()) << "the baseline must be valid";

  expect_error(std::string(5, '\0'), "too short");
  expect_error(image(one(ok_entry), data, 200ull << 20), "exceeds the limit");
  expect_error(image(one(ok_entry), data, 1000), "runs past the end of the file");
  expect_error(image("{\"t\": {\"dtype\": ", data), "not valid JSON");
  expect_error(image("[1, 2, 3]", data), "not a JSON object");
  expect_error(image("{\"t\": 5}", data), "entry must be an object");
  auto with = [&](const char* key, const json& v) {
    json e = ok_entry;
    e[key] = v;
    return image(one(e), data);
  };
  expect_error(with("data_offsets", {0, 32}), "run past the end of the data");
  expect_error(with("data_offsets", {8, 4}), "end before begin");
  expect_error(with("data_offsets", {0, 12}), "span 12 bytes but F32 [2,2] needs 16");
  expect_error(with("data_offsets", {0}), "data_offsets must be [begin, end]");
  expect_error(with("data_offsets", {-1, 15}), "data_offsets must be [begin, end]");
  expect_error(with("dtype", "Q4"), "unknown dtype \"Q4\"");
  expect_error(with("dtype", "F8_E4M3"), "dtype F8_E4M3 is not supported");
  expect_error(with("dtype", 3), "missing string key dtype");
  expect_error(with("shape", {2, -2}), "shape entries must be non-negative integers");
  expect_error(with("shape", {2, 1.5}), "shape entries must be non-negative integers");
  expect_error(with("shape", "2x2"), "missing array key shape");
  // 2^40 * 2^40 * 4 bytes overflows 64 bits; must not wrap around to a small number.
  expect_error(with("shape", {1ull << 40, 1ull << 40, 4}), "overflows the byte count");
  expect_error(with("shape", {1ull << 62, 4}), "overflows the byte count");

  json overlap = {{"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
                  {"b", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {4, 12}}}}};
  expect_error(image(overlap.dump(), data), "overlap");
  json inside = {{"a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
                 {"b", {{"dtype", "I8"}, {"shape", {4}}, {"data_offsets", {8, 12}}}}};
  expect_error(image(inside.dump(), data), "overlap");
  json meta = {{"__metadata__", {{"format", 1}}}};
  expect_error(image(meta.dump(), data), "__metadata__ value for 'format' must be a string");
  json meta2 = {{"__metadata__", "pt"}};
  expect_error(image(meta2.dump(), data), "__metadata__ must be an object");
}

TEST(Safetensors, EveryTruncationOfAValidFileIsRejected) {
  std::string dir = temp_dir("trunc");
  Owned a = make_tensor("a", DType::F32, {3}, 4, 1), b = make_tensor("b", DType::BF16, {5}, 2, 2);
  std::string path = join_path(dir, "m.safetensors");
  ASSERT_TRUE(write_safetensors(path, {a.view, b.view}).ok());
  auto full = read_file(path);
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(parse(*full).ok());
  // The last tensor is non-empty, so every proper prefix misses bytes somewhere.
  for (size_t len = 0; len < full->size(); ++len) {
    auto r = parse(full->substr(0, len));
    EXPECT_FALSE(r.ok()) << "prefix of " << len << " bytes was accepted";
  }
  // And through the mmap path with a real truncated file.
  std::string cut = join_path(dir, "cut.safetensors");
  ASSERT_TRUE(write_file_atomic(cut, full->substr(0, full->size() - 3)).ok());
  auto r = open_safetensors(cut);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cut.safetensors: tensor 'b'"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("file truncated?"), std::string::npos) << r.message();
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, RandomHeaderCorruptionNeverCrashes) {
  Owned a = make_tensor("model.a", DType::F32, {4, 3}, 4, 1);
  Owned b = make_tensor("model.b", DType::I32, {2}, 4, 2);
  std::string dir = temp_dir("fuzz");
  std::string path = join_path(dir, "m.safetensors");
  ASSERT_TRUE(write_safetensors(path, {a.view, b.view}).ok());
  std::string good = *read_file(path);
  Rng rng(1234);
  const char alphabet[] = "{}[]\":,0123456789-eE. abFUI";
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string img = good;
    int flips = 1 + (int)rng.uniform(3);
    for (int k = 0; k < flips; ++k) {
      // Mostly inside the header (bytes 0..8+N), sometimes the length itself.
      size_t pos = (size_t)rng.uniform(std::min<size_t>(img.size(), 8 + 120));
      img[pos] = rng.bernoulli(0.5) ? alphabet[rng.uniform(sizeof(alphabet) - 1)]
                                    : (char)rng.uniform(256);
    }
    auto r = parse(img);
    if (!r.ok()) {
      EXPECT_FALSE(r.message().empty());
      continue;
    }
    ++accepted;
    // Whatever was accepted must describe bytes inside the image.
    const uint8_t* lo = reinterpret_cast<const uint8_t*>(img.data());
    for (const auto& t : r->tensors) {
      const uint8_t* p = static_cast<const uint8_t*>(t.view.data);
      ASSERT_GE(p, lo + 8 + r->header_bytes);
      ASSERT_LE(p + t.view.nbytes, lo + img.size());
      ASSERT_EQ(t.view.nbytes, (uint64_t)t.view.numel() * st_dtype_size(t.st_dtype));
    }
  }
  EXPECT_LT(accepted, 3000) << "corruption was never detected";
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, WriterRejectsBadInputWithoutLeavingAFile) {
  std::string dir = temp_dir("wbad");
  std::string path = join_path(dir, "m.safetensors");
  Owned a = make_tensor("a", DType::F32, {2}, 4, 1);
  TensorView dup = a.view;
  auto r1 = write_safetensors(path, {a.view, dup});
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.message().find("duplicate name"), std::string::npos) << r1.message();
  TensorView wrong = a.view;
  wrong.name = "w";
  wrong.shape = {3};
  auto r2 = write_safetensors(path, {wrong});
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.message().find("8 bytes given for F32 [3]"), std::string::npos) << r2.message();
  TensorView quant = a.view;
  quant.dtype = DType::Q4_0;
  auto r3 = write_safetensors(path, {quant});
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.message().find("cannot be stored in safetensors"), std::string::npos);
  TensorView meta = a.view;
  meta.name = "__metadata__";
  EXPECT_FALSE(write_safetensors(path, {meta}).ok());
  EXPECT_FALSE(file_exists(path));
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, ShardedRoundTrip) {
  std::string dir = temp_dir("shard");
  std::vector<Owned> owned;
  for (int i = 0; i < 7; ++i)
    owned.push_back(make_tensor("model.t" + std::to_string(i),
                                i % 2 ? DType::BF16 : DType::F32, {i + 1, 3}, i % 2 ? 2 : 4,
                                (uint64_t)i));
  std::vector<std::vector<TensorView>> shards(3);
  for (size_t i = 0; i < owned.size(); ++i) shards[i % 3].push_back(owned[i].view);
  ASSERT_TRUE(write_sharded_checkpoint(dir, shards).ok());
  EXPECT_TRUE(file_exists(join_path(dir, "model-00002-of-00003.safetensors")));
  auto index = read_file(join_path(dir, "model.safetensors.index.json"));
  ASSERT_TRUE(index.ok());
  json ij = json::parse(*index, nullptr, false);
  EXPECT_EQ(ij["weight_map"]["model.t4"], "model-00002-of-00003.safetensors");
  uint64_t total = 0;
  for (auto& o : owned) total += o.bytes.size();
  EXPECT_EQ(ij["metadata"]["total_size"].get<uint64_t>(), total);

  for (const std::string& p : {dir, join_path(dir, "model.safetensors.index.json")}) {
    auto ck = load_checkpoint_tensors(p);
    ASSERT_TRUE(ck.ok()) << ck.message();
    EXPECT_EQ(ck->shards.size(), 3u);
    ASSERT_EQ(ck->tensors.size(), owned.size());
    for (const Owned& o : owned) {
      const TensorView* t = ck->find(o.view.name);
      ASSERT_NE(t, nullptr) << o.view.name;
      EXPECT_EQ(t->shape, o.view.shape);
      EXPECT_EQ(t->dtype, o.view.dtype);
      EXPECT_EQ(std::memcmp(t->data, o.bytes.data(), o.bytes.size()), 0) << o.view.name;
    }
    EXPECT_EQ(ck->metadata.at("format"), "pt");
  }
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, SingleFileDirectoryAndPath) {
  std::string dir = temp_dir("single");
  Owned a = make_tensor("x", DType::F16, {4}, 2, 1);
  ASSERT_TRUE(write_sharded_checkpoint(dir, {{a.view}}).ok());
  EXPECT_FALSE(file_exists(join_path(dir, "model.safetensors.index.json")));
  for (const std::string& p : {dir, join_path(dir, "model.safetensors")}) {
    auto ck = load_checkpoint_tensors(p);
    ASSERT_TRUE(ck.ok()) << ck.message();
    ASSERT_NE(ck->find("x"), nullptr);
    EXPECT_EQ(std::memcmp(ck->find("x")->data, a.bytes.data(), 8), 0);
  }
  std::string empty = temp_dir("nothing");
  auto none = load_checkpoint_tensors(empty);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.message().find("has no model.safetensors"), std::string::npos);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(empty);
}

TEST(Checkpoint, ShardProblemsNameTheShardOrTensor) {
  std::string dir = temp_dir("shardbad");
  Owned a = make_tensor("a", DType::F32, {2}, 4, 1), b = make_tensor("b", DType::F32, {2}, 4, 2);
  ASSERT_TRUE(write_sharded_checkpoint(dir, {{a.view}, {b.view}}).ok());
  const std::string index_path = join_path(dir, "model.safetensors.index.json");
  json index = json::parse(*read_file(index_path), nullptr, false);
  auto rewrite = [&](const json& j) { ASSERT_TRUE(write_file_atomic(index_path, j.dump()).ok()); };
  auto expect = [&](const std::string& needle) {
    auto ck = load_checkpoint_tensors(dir);
    ASSERT_FALSE(ck.ok()) << needle;
    EXPECT_NE(ck.message().find(needle), std::string::npos) << ck.message();
  };

  json j = index;
  j["weight_map"]["c"] = "model-00002-of-00002.safetensors";
  rewrite(j);
  expect("tensor 'c' is missing from shard model-00002-of-00002.safetensors");

  j = index;
  j["weight_map"]["a"] = "model-00002-of-00002.safetensors";
  rewrite(j);
  expect("tensor 'a' is missing from shard model-00002-of-00002.safetensors");

  j = index;
  j["weight_map"]["a"] = "model-00003-of-00003.safetensors";
  rewrite(j);
  expect("shard model-00003-of-00003.safetensors listed in");

  j = index;
  j["weight_map"]["a"] = "../etc/passwd";
  rewrite(j);
  expect("names a bad shard");

  j = index;
  j.erase("weight_map");
  rewrite(j);
  expect("missing object key weight_map");

  // The same tensor stored in two shards is ambiguous.
  ASSERT_TRUE(write_safetensors(join_path(dir, "model-00002-of-00002.safetensors"),
                                {b.view, a.view}).ok());
  rewrite(index);
  expect("tensor 'a' appears in both model-00001-of-00002.safetensors and "
         "model-00002-of-00002.safetensors");

  ASSERT_TRUE(write_file_atomic(index_path, "{not json").ok());
  expect("not valid JSON");
  std::filesystem::remove_all(dir);
}
