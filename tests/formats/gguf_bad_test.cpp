// Hand-made malformed GGUF and safetensors files: each must give one clear error (no crash, no
// huge allocation). The GGUF images are built byte by byte so every field can be made wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "formats/gguf.h"
#include "formats/safetensors.h"

namespace cartlm {
namespace {

// Little-endian GGUF image builder.
struct Img {
  std::string b;
  void u32(uint32_t v) { b.append((const char*)&v, 4); }
  void u64(uint64_t v) { b.append((const char*)&v, 8); }
  void i64(int64_t v) { b.append((const char*)&v, 8); }
  void str(const std::string& s) {
    u64(s.size());
    b += s;
  }
  void header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b += "GGUF";
    u32(version);
    u64(n_tensors);
    u64(n_kv);
  }
  void pad(size_t a = 32) {
    while (b.size() % a) b.push_back('\0');
  }
};

Result<GgufFile> parse(const Img& img) {
  return parse_gguf((const uint8_t*)img.b.data(), img.b.size(), "bad.gguf");
}

void expect_error(const Img& img, const std::string& part) {
  auto r = parse(img);
  ASSERT_FALSE(r.ok()) << "accepted a bad file; expected: " << part;
  EXPECT_NE(r.message().find("bad.gguf"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find(part), std::string::npos) << r.message();
  EXPECT_EQ(r.message().find('\n'), std::string::npos) << "one line: " << r.message();
}

// A valid file: one u32 KV and one F32 tensor of 8 elements.
Img valid(uint64_t ne0 = 8, uint32_t type = 0, uint64_t offset = 0) {
  Img i;
  i.header(1, 1);
  i.str("general.alignment");
  i.u32(4);  // GgufType::U32
  i.u32(32);
  i.str("w");
  i.u32(1);
  i.u64(ne0);
  i.u32(type);
  i.u64(offset);
  i.pad();
  for (int k = 0; k < 8; ++k) i.u32(0x3f800000);  // 1.0f
  return i;
}

TEST(GgufBad, ValidBaseline) {
  auto r = parse(valid());
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->tensors.size(), 1u);
  EXPECT_EQ(r->tensors[0].view.nbytes, 32u);
}

TEST(GgufBad, BadMagicAndVersion) {
  Img i = valid();
  i.b[0] = 'X';
  expect_error(i, "bad magic");
  Img v;
  v.header(0, 0, 7);
  expect_error(v, "unsupported GGUF version 7");
  Img tiny;
  tiny.b = "GG";
  expect_error(tiny, "not a GGUF file");
}

TEST(GgufBad, AbsurdCounts) {
  Img i;
  i.header(0, 1ull << 60);
  expect_error(i, "absurd metadata count");
  Img t;
  t.header(1ull << 62, 0);
  expect_error(t, "absurd tensor count");
}

TEST(GgufBad, StringsAndArraysPastTheEnd) {
  Img i;
  i.header(0, 1);
  i.u64(1ull << 40);  // key length
  i.b += std::string(16, 'a');
  expect_error(i, "runs past the end");
  Img a;
  a.header(0, 1);
  a.str("arr");
  a.u32(9);  // array
  a.u32(4);  // of u32
  a.u64(1ull << 30);
  a.u32(1);
  expect_error(a, "runs past the end");
  Img s;
  s.header(0, 1);
  s.str("strs");
  s.u32(9);
  s.u32(8);  // of strings
  s.u64(1ull << 30);
  s.u64(1);
  expect_error(s, "claims");
  Img n;
  n.header(0, 1);
  n.str("nested");
  n.u32(9);
  n.u32(9);
  n.u64(1);
  expect_error(n, "nested");
}

TEST(GgufBad, WrongTypes) {
  Img i;
  i.header(0, 1);
  i.str("k");
  i.u32(99);
  expect_error(i, "unknown value type 99");
  Img b;
  b.header(0, 1);
  b.str("flag");
  b.u32(7);
  b.b.push_back(5);
  expect_error(b, "not 0 or 1");
  Img al;
  al.header(0, 1);
  al.str("general.alignment");
  al.u32(4);
  al.u32(24);
  expect_error(al, "power of two");
  expect_error(valid(8, 1000), "does not support");
  expect_error(valid(8, 77), "tensor type 77");
  expect_error(valid(48, 8), "block size");  // Q8_0 needs ne[0] % 32 == 0
}

TEST(GgufBad, TensorShapesAndOffsets) {
  // Data past the end of the file.
  expect_error(valid(1 << 20), "runs past the end of the file");
  // Offset not where ggml's layout puts it.
  expect_error(valid(8, 0, 64), "expected 0");
  // Element count overflow.
  Img o;
  o.header(1, 0);
  o.str("w");
  o.u32(3);
  o.i64(1ll << 40);
  o.i64(1ll << 40);
  o.i64(1ll << 40);
  o.u32(0);
  o.u64(0);
  expect_error(o, "overflows");
  // Byte size overflow that the element count alone does not catch (Q8_0: 34 bytes / 32).
  Img q;
  q.header(1, 0);
  q.str("w");
  q.u32(2);
  q.i64(1ll << 38);
  q.i64(1ll << 24);
  q.u32(8);
  q.u64(0);
  auto r = parse(q);
  EXPECT_FALSE(r.ok());
  // Negative ne, too many dims, long name, duplicate name.
  Img neg;
  neg.header(1, 0);
  neg.str("w");
  neg.u32(1);
  neg.i64(-4);
  neg.b.append(32, '\0');
  expect_error(neg, "negative");
  Img dims;
  dims.header(1, 0);
  dims.str("w");
  dims.u32(9);
  dims.b.append(32, '\0');
  expect_error(dims, "dimensions");
  Img name;
  name.header(1, 0);
  name.str(std::string(100, 'n'));
  expect_error(name, "longer than 63");
  Img dup;
  dup.header(2, 0);
  for (int k = 0; k < 2; ++k) {
    dup.str("w");
    dup.u32(1);
    dup.u64(8);
    dup.u32(0);
    dup.u64(k * 32);
  }
  dup.pad();
  dup.b.append(64, '\0');
  expect_error(dup, "duplicate tensor name");
}

TEST(GgufBad, EveryTruncationIsAnError) {
  const Img full = valid();
  for (size_t n = 0; n < full.b.size(); ++n) {
    Img t;
    t.b = full.b.substr(0, n);
    auto r = parse(t);
    EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes was accepted";
  }
}

TEST(SafetensorsBad, MalformedHeaders) {
  auto parse_st = [](const std::string& img) {
    return parse_safetensors((const uint8_t*)img.data(), img.size(), "bad.safetensors");
  };
  auto with_header = [](const std::string& json, size_t data_bytes) {
    std::string img;
    uint64_t n = json.size();
    img.append((const char*)&n, 8);
    img += json;
    img.append(data_bytes, '\0');
    return img;
  };
  EXPECT_FALSE(parse_st("").ok());
  std::string huge;
  uint64_t n = 1ull << 62;
  huge.append((const char*)&n, 8);
  huge += "{}";
  auto r = parse_st(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("bad.safetensors"), std::string::npos) << r.message();
  EXPECT_FALSE(parse_st(with_header("{not json", 0)).ok());
  EXPECT_FALSE(parse_st(with_header("[]", 0)).ok());
  // Offsets past the end, shape/offset mismatch, unknown dtype, overflowing shape.
  EXPECT_FALSE(
      parse_st(with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,64]}})", 16))
          .ok());
  EXPECT_FALSE(
      parse_st(with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}})", 16)).ok());
  EXPECT_FALSE(
      parse_st(with_header(R"({"w":{"dtype":"Q9","shape":[4],"data_offsets":[0,16]}})", 16)).ok());
  EXPECT_FALSE(parse_st(with_header(
                            R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],)"
                            R"("data_offsets":[0,16]}})",
                            16))
                   .ok());
  EXPECT_FALSE(
      parse_st(with_header(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16))
          .ok());
  EXPECT_FALSE(
      parse_st(with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[8,0]}})", 16)).ok());
  auto ok = parse_st(with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16));
  EXPECT_TRUE(ok.ok()) << ok.message();
}

}  // namespace
}  // namespace cartlm
