#include "model/init.h"

#include <gtest/gtest.h>

namespace cartlm {
namespace {

TEST(InitTokenizer, PadsToVocabWithSpecialsWhereAsked) {
  int32_t learned = 0;
  auto t = init_tokenizer(1000, 900, &learned);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->size(), 1000);
  EXPECT_GT(learned, 256);
  EXPECT_LT(learned, 900);
  EXPECT_EQ(t->pad_id, 900);
  EXPECT_EQ(t->bos_id, 901);
  EXPECT_EQ(t->eos_id, 902);
  EXPECT_EQ(t->tokens[901], "<|begin_of_text|>");
  EXPECT_TRUE(t->is_eog(902));
  EXPECT_EQ(t->tokens[(size_t)learned], "<|reserved_0|>");
  // Text still round-trips and uses the learned merges (fewer tokens than bytes).
  std::string text = "Dodaj dvije boce maslinovog ulja u košaricu.";
  std::vector<int32_t> ids = encode(*t, text, false, false);
  EXPECT_LT(ids.size(), text.size());
  EXPECT_EQ(decode(*t, ids), text);
}

TEST(InitTokenizer, SpecialsFirstForTiny) {
  auto t = init_tokenizer(2048, 0);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->size(), 2048);
  EXPECT_EQ(t->pad_id, 0);
  EXPECT_EQ(t->bos_id, 1);
  EXPECT_EQ(t->eos_id, 2);
  std::string text = "Añade 3 paquetes de café";
  EXPECT_EQ(decode(*t, encode(*t, text, false, false)), text);
}

TEST(InitTokenizer, RejectsTooSmallVocab) {
  EXPECT_FALSE(init_tokenizer(100, 0).ok());
}

}  // namespace
}  // namespace cartlm
