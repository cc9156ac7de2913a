#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/file_io.h"
#include "core/rng.h"
#include "core/strings.h"
#include "core/utf8.h"

using namespace cartlm;

TEST(Rng, SameSeedSameSequence) {
  Rng a(7), b(7), c(8);
  bool any_diff = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    any_diff |= x != c.next_u64();
  }
  EXPECT_TRUE(any_diff);
}

TEST(Rng, KnownFirstValueIsStableAcrossPlatforms) {
  // Pinned so that a change to the generator (which would silently change every dataset and
  // training run made with a given --seed) fails loudly.
  Rng r(42);
  uint64_t first = r.next_u64();
  Rng r2(42);
  EXPECT_EQ(first, r2.next_u64());
  EXPECT_EQ(first, 1546998764402558742ull);
}

TEST(Rng, UniformCoversRangeAndStaysInside) {
  Rng r(1);
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = r.uniform(7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
}

TEST(Rng, WeightedFollowsWeights) {
  Rng r(3);
  double w[] = {1, 0, 3};
  int counts[3] = {};
  for (int i = 0; i < 40000; ++i) counts[r.weighted(w)]++;
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR((double)counts[2] / counts[0], 3.0, 0.25);
}

TEST(Rng, ForkIsIndependentOfParentState) {
  Rng a(5), b(5);
  a.next_u64();
  EXPECT_EQ(a.fork(1).next_u64(), b.fork(1).next_u64());
  EXPECT_NE(a.fork(1).next_u64(), a.fork(2).next_u64());
}

TEST(Utf8, ValidatesAndFindsFirstInvalidByte) {
  EXPECT_TRUE(is_valid_utf8("čćžšđ ñ 🙂"));
  EXPECT_FALSE(is_valid_utf8("ab\xff"));
  EXPECT_EQ(first_invalid_utf8("ab\xff"), 2u);
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  EXPECT_TRUE(is_valid_utf8("\xef\xbf\xbd"));       // a real U+FFFD is valid
  EXPECT_EQ(sanitize_utf8("a\xffz"), "a\xef\xbf\xbdz");
}

TEST(Utf8, RoundTripsEveryCodePointClass) {
  for (uint32_t cp : {0x24u, 0xA2u, 0x20ACu, 0x10348u, 0x10FFFFu}) {
    std::string s;
    append_utf8(s, cp);
    size_t i = 0;
    EXPECT_EQ(decode_utf8(s, i), cp);
    EXPECT_EQ(i, s.size());
  }
}

TEST(Utf8, CaseAndDiacritics) {
  EXPECT_EQ(to_lower("ČAŠA Ñandú"), "čaša ñandú");
  EXPECT_EQ(to_upper("žlica"), "ŽLICA");
  EXPECT_EQ(strip_diacritics("Četkica za zube, šampon, jabuke, Đak, añade"),
            "Cetkica za zube, sampon, jabuke, Dak, anade");
  EXPECT_EQ(to_lower("x\xffY"), "x\xffy");  // invalid bytes kept, not crashed on
}

TEST(Strings, SplitTrimJoin) {
  EXPECT_EQ(split("a|b||c", '|'), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(trim("  x y \n"), "x y");
  EXPECT_EQ(join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(replace_all("aaa", "a", "bb"), "bbbbbb");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_duration(125), "2m 05s");
}

TEST(FileIo, AtomicWriteReplacesAndLeavesNoTempFile) {
  auto dir = std::filesystem::temp_directory_path() / "cartlm_core_test";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(ensure_dir(dir.string()).ok());
  std::string path = (dir / "out.txt").string();
  ASSERT_TRUE(write_file_atomic(path, "first").ok());
  ASSERT_TRUE(write_file_atomic(path, "second").ok());
  EXPECT_EQ(*read_file(path), "second");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++files;
  EXPECT_EQ(files, 1);
  {
    AtomicFile f;  // abandoned: the old content must survive
    ASSERT_TRUE(f.open(path).ok());
    ASSERT_TRUE(f.write("partial").ok());
  }
  EXPECT_EQ(*read_file(path), "second");
  std::filesystem::remove_all(dir);
}

TEST(FileIo, ClearErrors) {
  auto r = read_file("/nonexistent/x.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("/nonexistent/x.txt"), std::string::npos);
  EXPECT_FALSE(ensure_dir("/proc/cartlm_cannot").ok());
}

#include <cmath>

#include "core/dtype.h"

TEST(DType, Fp16ExhaustiveRoundTrip) {
  // Every one of the 65536 fp16 patterns converts to fp32 and back unchanged (NaNs stay NaN).
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = fp16_to_fp32((uint16_t)h);
    uint16_t back = fp32_to_fp16(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(back))) << h;
    } else {
      ASSERT_EQ(back, h) << "pattern " << h << " value " << f;
    }
  }
}

TEST(DType, Fp16RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // ties away to inf
  EXPECT_EQ(fp32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even (down)
  EXPECT_EQ(fp32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(fp32_to_fp16(5.9604645e-08f), 0x0001);      // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(2.9802322e-08f), 0x0000);      // exactly half of it: tie to even 0
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
}

TEST(DType, Bf16ExhaustiveRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = bf16_to_fp32((uint16_t)h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_bf16(f), h) << h;
  }
  EXPECT_EQ(fp32_to_bf16(1.00390625f), 0x3f80);  // tie -> even
}

TEST(DType, TableAndNames) {
  EXPECT_EQ(dtype_row_bytes(DType::Q4_K, 2048), 8u * 144);
  EXPECT_EQ(dtype_row_bytes(DType::F16, 10), 20u);
  EXPECT_EQ(dtype_from_name("q8_0"), DType::Q8_0);
  EXPECT_FALSE(dtype_from_name("Q9_9").has_value());
}
