// The dispatch table: every slot of every table filled and named, selection by name, and the
// public wrappers running on the active table.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "kernels/kernels.h"

using namespace cartlm;

TEST(Dispatch, ScalarComesFirstAndTablesAreDistinct) {
  std::vector<const KernelTable*> t = supported_kernel_tables();
  ASSERT_FALSE(t.empty());
  EXPECT_STREQ(t[0]->isa, "scalar");
  EXPECT_EQ(t[0], &scalar_kernels());
  std::set<std::string> names;
  for (const KernelTable* k : t) names.insert(k->isa);
  EXPECT_EQ(names.size(), t.size());
  for (const std::string& n : names) EXPECT_TRUE(n == "scalar" || n == "avx2" || n == "avx512") << n;
}

TEST(Dispatch, NoSlotIsEmptyAndNamesSayWhichIsaRuns) {
  for (const KernelTable* k : supported_kernel_tables()) {
    auto slots = kernel_slots(*k);
    EXPECT_EQ(slots.size(), 34u);  // update together with KernelTable
    for (const auto& [slot, impl] : slots) {
      EXPECT_FALSE(impl.empty()) << k->isa << " slot " << slot << " is empty";
      // Implementation names are "<slot>_<isa>" or "<slot>_ref" (a fallback).
      EXPECT_EQ(impl.rfind(slot + "_", 0), 0u) << k->isa << " slot " << slot << " holds " << impl;
      std::string suffix = impl.substr(slot.size() + 1);
      EXPECT_TRUE(suffix == "ref" || suffix == k->isa || (std::string(k->isa) == "avx512" && suffix == "avx2"))
          << k->isa << ": " << impl;
      if (std::string(k->isa) == "scalar") {
        EXPECT_EQ(suffix, "ref") << impl;
      }
    }
    std::string d = describe_kernels(*k);
    EXPECT_EQ(d.rfind(std::string("isa=") + k->isa, 0), 0u) << d;
    EXPECT_NE(d.find("matmul_f16="), std::string::npos) << d;
  }
}

TEST(Dispatch, SelectByName) {
  const KernelTable* best = supported_kernel_tables().back();
  EXPECT_TRUE(select_kernels("scalar").ok());
  EXPECT_STREQ(kernels().isa, "scalar");
  // The free functions follow the selection.
  float a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
  EXPECT_EQ(dot(a, b, 3), 32.0f);

  Status bad = select_kernels("sse9");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("sse9"), std::string::npos) << bad.message();
  EXPECT_STREQ(kernels().isa, "scalar");  // unchanged by a failed selection

  for (const KernelTable* k : supported_kernel_tables()) {
    EXPECT_TRUE(select_kernels(k->isa).ok()) << k->isa;
    EXPECT_EQ(&kernels(), k);
  }
  EXPECT_TRUE(select_kernels("auto").ok());
  EXPECT_EQ(&kernels(), best);
}

TEST(Dispatch, ConvertToF32HandlesEachDtype) {
  float f[3] = {1.5f, -2.0f, 0.25f};
  uint16_t h[3] = {0x3e00, 0xc000, 0x3400};  // f16 1.5, -2, 0.25
  uint16_t bf[3] = {0x3fc0, 0xc000, 0x3e80};  // bf16 1.5, -2, 0.25
  float out[3];
  convert_to_f32(DType::F32, f, out, 3);
  EXPECT_EQ(std::vector<float>(out, out + 3), std::vector<float>(f, f + 3));
  convert_to_f32(DType::F16, h, out, 3);
  EXPECT_EQ(std::vector<float>(out, out + 3), std::vector<float>(f, f + 3));
  convert_to_f32(DType::BF16, bf, out, 3);
  EXPECT_EQ(std::vector<float>(out, out + 3), std::vector<float>(f, f + 3));
  EXPECT_TRUE(matmul_supports(DType::BF16));
  EXPECT_FALSE(matmul_supports(DType::Q4_0));
}
