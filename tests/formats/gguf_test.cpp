// GGUF reader/writer: round trips of every value type and several tensor types, byte-exact
// rewriting of a file written by another tool, typed getters, and malformed files (each must give
// an error that names the problem, never a crash).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/dtype.h"
#include "core/file_io.h"
#include "core/rng.h"
#include "formats/gguf.h"
#include "temp_dir.h"

namespace cartlm {
namespace {

// One directory for the whole test binary, removed at exit.
std::string temp_path(const std::string& name) {
  static ScopedTempDir dir("cartlm_gguf_test");
  return dir.file(name);
}

// Tensor bytes owned by the test, described by a view.
struct OwnedTensor {
  std::vector<uint8_t> bytes;
  TensorView view;
};

OwnedTensor make_tensor(const std::string& name, DType dt, std::vector<int64_t> shape, uint64_t seed) {
  OwnedTensor t;
  t.view.name = name;
  t.view.dtype = dt;
  t.view.shape = std::move(shape);
  const DTypeInfo* info = dtype_info(dt);
  int64_t ne0 = t.view.shape.empty() ? 1 : t.view.shape.back();
  uint64_t rows = ne0 ? (uint64_t)(t.view.numel() / ne0) : 0;
  t.view.nbytes = (uint64_t)ne0 / info->block_size * info->block_bytes * rows;
  Rng rng(seed);
  t.bytes.resize(t.view.nbytes);
  for (auto& b : t.bytes) b = (uint8_t)rng.uniform(256);
  return t;
}

std::vector<GgufKV> all_types_kvs() {
  std::vector<GgufKV> kvs;
  kvs.push_back({"general.architecture", GgufValue::string("llama")});
  kvs.push_back({"test.u8", GgufValue::u8(250)});
  kvs.push_back({"test.i8", GgufValue::i8(-100)});
  kvs.push_back({"test.u16", GgufValue::u16(65000)});
  kvs.push_back({"test.i16", GgufValue::i16(-32000)});
  kvs.push_back({"test.u32", GgufValue::u32(4000000000u)});
  kvs.push_back({"test.i32", GgufValue::i32(-2000000000)});
  kvs.push_back({"test.f32", GgufValue::f32(3.25f)});
  kvs.push_back({"test.bool", GgufValue::boolean(true)});
  kvs.push_back({"test.string", GgufValue::string("h\xc3\xa9llo \"q\"\n")});
  kvs.push_back({"test.u64", GgufValue::u64(18000000000000000000ull)});
  kvs.push_back({"test.i64", GgufValue::i64(-9000000000000000000ll)});
  kvs.push_back({"test.f64", GgufValue::f64(-1.0e300)});
  kvs.push_back({"test.empty_string", GgufValue::string("")});
  kvs.push_back({"test.arr_str", GgufValue::array_strings({"a", "", "\xc4\xa0t", std::string(300, 'x')})});
  std::vector<int32_t> i32s = {1, -2, 3, 2147483647};
  kvs.push_back({"test.arr_i32", GgufValue::array_i32(i32s)});
  std::vector<float> f32s = {0.5f, -1.5f, 1e-20f};
  kvs.push_back({"test.arr_f32", GgufValue::array_f32(f32s)});
  std::vector<double> f64s = {0.1, 2.0};
  kvs.push_back({"test.arr_f64", GgufValue::array_f64(f64s)});
  std::vector<uint8_t> u8s = {0, 255, 7};
  kvs.push_back({"test.arr_u8", GgufValue::array_u8(u8s)});
  std::vector<int64_t> i64s = {-1, 1ll << 40};
  kvs.push_back({"test.arr_i64", GgufValue::array_i64(i64s)});
  std::vector<uint32_t> u32s = {};
  kvs.push_back({"test.arr_empty", GgufValue::array_u32(u32s)});
  bool bools[] = {true, false, true};
  kvs.push_back({"test.arr_bool", GgufValue::array_bool(bools)});
  return kvs;
}

void expect_same_value(const GgufValue& a, const GgufValue& b, const std::string& key) {
  ASSERT_EQ(a.type, b.type) << key;
  if (a.type == GgufType::String) {
    EXPECT_EQ(a.str, b.str) << key;
  }
  if (a.type == GgufType::Array) {
    ASSERT_EQ(a.elem_type, b.elem_type) << key;
    EXPECT_EQ(a.strs, b.strs) << key;
    EXPECT_EQ(a.data, b.data) << key;
  } else if (a.type != GgufType::String) {  // numeric scalar: compare the stored bytes
    size_t s = gguf_type_size(a.type);
    EXPECT_EQ(std::memcmp(&a.bits, &b.bits, s), 0) << key;
  }
}

TEST(Gguf, RoundTripEveryValueTypeAndTensorTypes) {
  for (uint32_t alignment : {0u, 64u, 1u}) {  // 0 = no general.alignment key (default 32)
    std::vector<GgufKV> kvs = all_types_kvs();
    if (alignment) kvs.push_back({"general.alignment", GgufValue::u32(alignment)});
    std::vector<OwnedTensor> owned;
    owned.push_back(make_tensor("token_embd.weight", DType::F16, {7, 64}, 1));
    owned.push_back(make_tensor("blk.0.attn_norm.weight", DType::F32, {13}, 2));
    owned.push_back(make_tensor("blk.0.attn_q.weight", DType::Q4_0, {3, 96}, 3));
    owned.push_back(make_tensor("blk.0.ffn_up.weight", DType::Q8_0, {2, 32}, 4));
    owned.push_back(make_tensor("blk.0.ffn_down.weight", DType::Q4_K, {2, 256}, 5));
    owned.push_back(make_tensor("blk.0.x.weight", DType::BF16, {2, 3, 5, 1}, 6));
    owned.push_back(make_tensor("empty.weight", DType::F32, {0, 4}, 7));
    owned.push_back(make_tensor("blk.0.ffn_gate.weight", DType::Q6_K, {1, 512}, 8));
    std::vector<TensorView> views;
    for (auto& t : owned) {
      t.view.data = t.bytes.data();
      views.push_back(t.view);
    }
    std::string path = temp_path("roundtrip_" + std::to_string(alignment) + ".gguf");
    ASSERT_TRUE(write_gguf(path, kvs, views).ok());
    auto f = open_gguf(path);
    ASSERT_TRUE(f.ok()) << f.message();
    uint32_t A = alignment ? alignment : 32;
    EXPECT_EQ(f->alignment, A);
    EXPECT_EQ(f->version, 3u);
    EXPECT_EQ(f->data_offset % A, 0u);
    ASSERT_EQ(f->kvs.size(), kvs.size());
    for (size_t i = 0; i < kvs.size(); ++i) {
      EXPECT_EQ(f->kvs[i].key, kvs[i].key);
      expect_same_value(f->kvs[i].value, kvs[i].value, kvs[i].key);
    }
    ASSERT_EQ(f->tensors.size(), owned.size());
    uint64_t expect_offset = 0;
    for (size_t i = 0; i < owned.size(); ++i) {
      const GgufTensor& t = f->tensors[i];
      EXPECT_EQ(t.view.name, owned[i].view.name);
      EXPECT_EQ(t.view.dtype, owned[i].view.dtype);
      EXPECT_EQ(t.view.shape, owned[i].view.shape);
      EXPECT_EQ(t.view.nbytes, owned[i].bytes.size());
      ASSERT_EQ(t.offset, expect_offset) << t.view.name;
      EXPECT_EQ(t.offset % A, 0u);
      std::vector<int64_t> ne(owned[i].view.shape.rbegin(), owned[i].view.shape.rend());
      EXPECT_EQ(t.ne, ne);
      EXPECT_EQ(std::memcmp(t.view.data, owned[i].bytes.data(), t.view.nbytes), 0) << t.view.name;
      expect_offset += (t.view.nbytes + A - 1) / A * A;
    }
    EXPECT_EQ(std::filesystem::file_size(path), f->data_offset + expect_offset);
    // serialize_gguf produces exactly the same bytes as the streaming writer.
    auto mem = serialize_gguf(kvs, views);
    ASSERT_TRUE(mem.ok());
    EXPECT_EQ(*mem, *read_file(path));
  }
}

TEST(Gguf, StreamingWriterAcceptsChunksAndRejectsWrongSizes) {
  OwnedTensor a = make_tensor("a", DType::F32, {10}, 1);
  OwnedTensor b = make_tensor("b", DType::Q8_0, {1, 64}, 2);
  std::vector<TensorView> infos = {a.view, b.view};  // data pointers unused by open()
  std::string path = temp_path("stream.gguf");
  {
    GgufWriter w;
    ASSERT_TRUE(w.open(path, {{"k", GgufValue::u32(1)}}, infos).ok());
    std::string_view ab(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
    std::string_view bb(reinterpret_cast<const char*>(b.bytes.data()), b.bytes.size());
    // Chunks that straddle the tensor boundary.
    std::string all = std::string(ab) + std::string(bb);
    ASSERT_TRUE(w.write_data(std::string_view(all).substr(0, 7)).ok());
    ASSERT_TRUE(w.write_data(std::string_view(all).substr(7, 50)).ok());
    ASSERT_TRUE(w.write_data(std::string_view(all).substr(57)).ok());
    EXPECT_FALSE(w.write_data("x").ok());  // more than declared
    ASSERT_TRUE(w.finish().ok());
  }
  auto f = open_gguf(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(std::memcmp(f->tensors[1].view.data, b.bytes.data(), b.bytes.size()), 0);
  {
    std::string path2 = temp_path("stream_short.gguf");
    GgufWriter w;
    ASSERT_TRUE(w.open(path2, {}, infos).ok());
    ASSERT_TRUE(w.write_data("abcd").ok());
    Status st = w.finish();
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("missing"), std::string::npos) << st.message();
    EXPECT_FALSE(file_exists(path2));  // nothing left behind
  }
}

TEST(Gguf, WriterRejectsBadInput) {
  OwnedTensor q = make_tensor("q", DType::Q4_0, {1, 32}, 1);
  TensorView bad_rows = q.view;
  bad_rows.shape = {1, 33};
  TensorView long_name = q.view;
  long_name.name = std::string(64, 'n');
  TensorView wrong_bytes = q.view;
  wrong_bytes.nbytes += 1;
  TensorView nf4 = q.view;
  nf4.dtype = DType::NF4;
  for (const TensorView& t : {bad_rows, long_name, wrong_bytes, nf4})
    EXPECT_FALSE(serialize_gguf({}, {t}).ok()) << t.name;
  EXPECT_FALSE(serialize_gguf({}, {q.view, q.view}).ok());  // duplicate names
  EXPECT_FALSE(serialize_gguf({{"a", GgufValue::u8(1)}, {"a", GgufValue::u8(2)}}, {}).ok());
  EXPECT_FALSE(serialize_gguf({{"general.alignment", GgufValue::u32(48)}}, {}).ok());
  EXPECT_FALSE(serialize_gguf({{"general.alignment", GgufValue::u64(64)}}, {}).ok());
}

TEST(Gguf, RewritesAForeignFileByteForByte) {
  // The Llama 3 vocab file was written by another tool with ggml's layout (padding included).
  std::string path = std::string(CARTLM_SOURCE_DIR) + "/tests/data/vocab/ggml-vocab-llama-bpe.gguf";
  auto f = open_gguf(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->tensors.size(), 0u);
  auto toks = f->get_array_strings("tokenizer.ggml.tokens");
  ASSERT_TRUE(toks.ok()) << toks.message();
  EXPECT_EQ(toks->size(), 128256u);
  EXPECT_EQ((*toks)[128000], "<|begin_of_text|>");
  auto bytes = serialize_gguf(f->kvs, {});
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(*bytes == f->file.bytes()) << "rewritten size " << bytes->size() << " vs "
                                          << f->file.size();
}

TEST(Gguf, TypedGettersConvertOnlyWhenTheValueFits) {
  std::vector<GgufKV> kvs = {
      {"u32", GgufValue::u32(7)},        {"i32_pos", GgufValue::i32(9)},
      {"i32_neg", GgufValue::i32(-1)},   {"u64_big", GgufValue::u64(1ull << 33)},
      {"u64_small", GgufValue::u64(5)},  {"f32", GgufValue::f32(0.25f)},
      {"f64", GgufValue::f64(1e-5)},     {"s", GgufValue::string("x")},
      {"b", GgufValue::boolean(false)},
      {"arr", GgufValue::array_strings({"p", "q"})},
  };
  std::vector<int32_t> ints = {-3, 4};
  kvs.push_back({"ints", GgufValue::array_i32(ints)});
  auto mem = serialize_gguf(kvs, {});
  ASSERT_TRUE(mem.ok());
  auto f = parse_gguf(reinterpret_cast<const uint8_t*>(mem->data()), mem->size(), "mem");
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(*f->get_u32("u32"), 7u);
  EXPECT_EQ(*f->get_u32("i32_pos"), 9u);
  EXPECT_EQ(*f->get_u32("u64_small"), 5u);
  EXPECT_EQ(*f->get_i32("i32_neg"), -1);
  EXPECT_EQ(*f->get_u64("u64_big"), 1ull << 33);
  auto neg = f->get_u32("i32_neg");
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.message().find("i32_neg"), std::string::npos) << neg.message();
  EXPECT_FALSE(f->get_u32("u64_big").ok());
  EXPECT_FALSE(f->get_i32("u64_big").ok());
  EXPECT_FLOAT_EQ(*f->get_f32("f32"), 0.25f);
  EXPECT_FLOAT_EQ(*f->get_f32("f64"), 1e-5f);
  EXPECT_DOUBLE_EQ(*f->get_f64("u32"), 7.0);
  EXPECT_FALSE(f->get_u32("f32").ok());
  EXPECT_FALSE(f->get_u32("s").ok());
  EXPECT_EQ(*f->get_string("s"), "x");
  EXPECT_FALSE(f->get_string("u32").ok());
  EXPECT_EQ(*f->get_bool("b"), false);
  auto missing = f->get_u32("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("missing metadata key 'nope'"), std::string::npos);
  EXPECT_EQ(*f->get_u32_or("nope", 11), 11u);
  EXPECT_FALSE(f->get_u32_or("s", 11).ok());  // present with a bad type is an error
  EXPECT_EQ(*f->get_string_or("nope", "d"), "d");
  auto arr = f->get_array_strings("arr");
  ASSERT_TRUE(arr.ok());
  EXPECT_EQ(arr->size(), 2u);
  EXPECT_EQ((*arr)[1], "q");
  EXPECT_FALSE(f->get_array_strings("ints").ok());
  EXPECT_EQ(*f->get_array_ints("ints"), (std::vector<int64_t>{-3, 4}));
  EXPECT_FALSE(f->get_array_ints("arr").ok());
  EXPECT_EQ(f->find("arr")->describe(), "[string x 2: \"p\", \"q\"]");
  EXPECT_EQ(f->find("i32_neg")->describe(), "-1");
}

// ---- malformed files -------------------------------------------------------------------------

// Builds raw GGUF bytes field by field so each test can break exactly one thing.
struct Bytes {
  std::string s;
  template <class T>
  Bytes& put(T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Bytes& str(std::string_view x) {
    put<uint64_t>(x.size());
    s.append(x);
    return *this;
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    put<uint32_t>(kGgufMagic).put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
    return *this;
  }
  Bytes& pad(size_t a = 32) {
    while (s.size() % a) s.push_back('\0');
    return *this;
  }
};

std::string parse_error(const std::string& bytes) {
  auto f = parse_gguf(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "bad.gguf");
  return f.ok() ? std::string("(parsed fine)") : f.message();
}

void expect_error(const std::string& bytes, const std::string& needle) {
  std::string msg = parse_error(bytes);
  EXPECT_NE(msg.find(needle), std::string::npos) << "got: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  EXPECT_EQ(msg.rfind("bad.gguf", 0), 0u) << "names the file: " << msg;
}

// A valid one-tensor file: F32 [4] at offset 0.
Bytes one_tensor(uint32_t n_dims = 1, int64_t ne0 = 4, uint32_t type = 0, uint64_t offset = 0) {
  Bytes b;
  b.header(1, 1).str("general.name").put<uint32_t>(8).str("t");
  b.str("w").put<uint32_t>(n_dims);
  for (uint32_t d = 0; d < n_dims; ++d) b.put<int64_t>(d == 0 ? ne0 : 1);
  b.put<uint32_t>(type).put<uint64_t>(offset).pad();
  b.s.append(64, '\1');
  return b;
}

TEST(GgufMalformed, ValidBaselineParses) {
  EXPECT_EQ(parse_error(one_tensor().s), "(parsed fine)");
  Bytes v2 = one_tensor();
  v2.s[4] = 2;  // version 2 has the same layout
  EXPECT_EQ(parse_error(v2.s), "(parsed fine)");
}

TEST(GgufMalformed, HeaderProblems) {
  expect_error("GGU", "not a GGUF file");
  Bytes magic = one_tensor();
  magic.s[0] = 'X';
  expect_error(magic.s, "bad magic");
  Bytes v1;
  v1.header(0, 0, 1);
  expect_error(v1.s, "unsupported GGUF version 1");
  Bytes v4;
  v4.header(0, 0, 4);
  expect_error(v4.s, "unsupported GGUF version 4");
  Bytes kv;
  kv.header(0, 1ull << 40);
  expect_error(kv.s, "absurd metadata count");
  Bytes nt;
  nt.header(1ull << 40, 0);
  expect_error(nt.s, "absurd tensor count");
  Bytes trunc;
  trunc.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint32_t>(0);
  expect_error(trunc.s, "truncated");
}

TEST(GgufMalformed, MetadataProblems) {
  Bytes longstr;
  longstr.header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(1000).s.append("abc");
  expect_error(longstr.s, "runs past the end");
  Bytes longkey;
  longkey.header(0, 1).put<uint64_t>(~0ull).s.append(64, '\0');
  expect_error(longkey.s, "runs past the end");
  Bytes type;
  type.header(0, 1).str("k").put<uint32_t>(13).put<uint32_t>(0);
  expect_error(type.s, "unknown value type 13");
  Bytes arr_huge;  // 2^62 u64 elements: count * 8 would overflow; the element limit stops it
  arr_huge.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(10).put<uint64_t>(1ull << 62);
  arr_huge.s.append(64, '\0');
  expect_error(arr_huge.s, "more than the limit");
  Bytes arr_past;  // under the element limit, but far more bytes than the file has
  arr_past.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(10).put<uint64_t>(1ull << 31);
  arr_past.s.append(64, '\0');
  expect_error(arr_past.s, "runs past the end");
  GgufLimits no_limit;
  no_limit.max_array_elems = ~0ull;  // then the remaining-bytes check must catch the overflow
  auto f = parse_gguf(reinterpret_cast<const uint8_t*>(arr_huge.s.data()), arr_huge.s.size(), "bad.gguf", no_limit);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.message().find("runs past the end"), std::string::npos) << f.message();
  Bytes arr_strs;
  arr_strs.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1ull << 31);
  arr_strs.s.append(64, '\0');
  expect_error(arr_strs.s, "claims");
  Bytes nested;
  nested.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1);
  expect_error(nested.s, "nested arrays");
  Bytes arr_type;
  arr_type.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(1);
  expect_error(arr_type.s, "unknown element type 77");
  Bytes dup;
  dup.header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2);
  expect_error(dup.s, "duplicate metadata key 'k'");
  Bytes boolv;
  boolv.header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2);
  expect_error(boolv.s, "not 0 or 1");
  Bytes align;
  align.header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(24);
  expect_error(align.s, "not a power of two");
  Bytes align_type;
  align_type.header(0, 1).str("general.alignment").put<uint32_t>(10).put<uint64_t>(32);
  expect_error(align_type.s, "expected u32");
  Bytes empty_key;
  empty_key.header(0, 1).str("").put<uint32_t>(4).put<uint32_t>(1);
  expect_error(empty_key.s, "empty key");
}

TEST(GgufMalformed, TensorInfoProblems) {
  expect_error(one_tensor(5).s, "5 dimensions");
  expect_error(one_tensor(1, 4, 23).s, "tensor type 23");    // IQ types are not supported
  expect_error(one_tensor(1, 4, 1000).s, "tensor type 1000");  // NF4 is cartlm-internal
  expect_error(one_tensor(1, 33, 2).s, "not a multiple of the Q4_0 block size 32");
  expect_error(one_tensor(1, 4, 0, 32).s, "expected 0");
  expect_error(one_tensor(1, -4).s, "negative ne[0]");
  expect_error(one_tensor(1, 1ll << 40).s, "runs past the end of the file");
  Bytes overflow;
  overflow.header(1, 0).str("w").put<uint32_t>(2).put<int64_t>(1ll << 40).put<int64_t>(1ll << 40);
  overflow.put<uint32_t>(0).put<uint64_t>(0).pad();
  expect_error(overflow.s, "overflows");
  Bytes dup;
  dup.header(2, 0);
  for (int i = 0; i < 2; ++i) dup.str("w").put<uint32_t>(1).put<int64_t>(8).put<uint32_t>(0).put<uint64_t>(i * 32);
  dup.pad().s.append(64, '\0');
  expect_error(dup.s, "duplicate tensor name 'w'");
  Bytes name;
  name.header(1, 0).str(std::string(64, 'n')).put<uint32_t>(1).put<int64_t>(8).put<uint32_t>(0).put<uint64_t>(0);
  expect_error(name.s, "longer than 63 bytes");
  Bytes cut = one_tensor();
  cut.s.resize(cut.s.size() - 60);  // data section too short
  expect_error(cut.s, "truncated");
}

TEST(GgufMalformed, EveryPrefixAndRandomCorruptionIsHandled) {
  // A realistic file: metadata of every type plus tensors.
  std::vector<OwnedTensor> owned;
  owned.push_back(make_tensor("a", DType::F16, {3, 8}, 1));
  owned.push_back(make_tensor("b", DType::Q8_0, {2, 32}, 2));
  std::vector<TensorView> views;
  for (auto& t : owned) {
    t.view.data = t.bytes.data();
    views.push_back(t.view);
  }
  auto good = serialize_gguf(all_types_kvs(), views);
  ASSERT_TRUE(good.ok());
  const std::string& g = *good;
  auto parse = [](const std::string& s) {
    return parse_gguf(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "fuzz");
  };
  // Every strict prefix that cuts into the header or tensor data must be rejected; only cutting
  // the trailing padding after the last tensor is allowed.
  uint64_t last_end = 0;
  {
    auto f = parse(g);
    ASSERT_TRUE(f.ok()) << f.message();
    last_end = f->data_offset + f->tensors.back().offset + f->tensors.back().view.nbytes;
  }
  for (size_t n = 0; n < g.size(); ++n) {
    auto f = parse(g.substr(0, n));
    EXPECT_EQ(f.ok(), n >= last_end) << "prefix " << n;
  }
  // Random byte corruption: never crashes, and whatever parses keeps every view inside the buffer.
  Rng rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = g;
    int flips = 1 + (int)rng.uniform(4);
    for (int k = 0; k < flips; ++k) s[rng.uniform(s.size())] = (char)rng.uniform(256);
    auto f = parse_gguf(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "fuzz");
    if (!f.ok()) continue;
    for (const GgufTensor& t : f->tensors) {
      const uint8_t* begin = reinterpret_cast<const uint8_t*>(s.data());
      const uint8_t* p = static_cast<const uint8_t*>(t.view.data);
      ASSERT_GE(p, begin);
      ASSERT_LE(p + t.view.nbytes, begin + s.size());
    }
  }
}

TEST(Gguf, OpenReportsMissingFiles) {
  auto f = open_gguf("/nonexistent/x.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.message().find("/nonexistent/x.gguf"), std::string::npos);
}

}  // namespace
}  // namespace cartlm
