// The published llama.cpp tokenizer test vectors (tests/data/vocab/README.md): every string of
// every byte-level BPE vocabulary must encode to exactly the expected ids (no BOS, parse_special
// off). SentencePiece vocabularies are out of scope and skipped with a message.
#include <gtest/gtest.h>

#include <sstream>

#include "core/file_io.h"
#include "core/strings.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {
namespace {

std::string vocab_dir() { return std::string(CARTLM_SOURCE_DIR) + "/tests/data/vocab/"; }

std::string escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20) out += strformat("\\x%02x", c);
    else out += (char)c;
  }
  return out;
}

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

class VocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabVectors, ReproducesEveryExpectedEncoding) {
  const std::string base = vocab_dir() + "ggml-vocab-" + GetParam() + ".gguf";
  auto f = open_gguf(base);
  ASSERT_TRUE(f.ok()) << f.message();
  auto model = f->get_string("tokenizer.ggml.model");
  ASSERT_TRUE(model.ok());
  if (*model != "gpt2") GTEST_SKIP() << GetParam() << ": SentencePiece vocab (" << *model << "), out of scope";
  auto tok = tokenizer_from_gguf(*f);
  ASSERT_TRUE(tok.ok()) << tok.message();

  auto inp = read_file(base + ".inp");
  auto out = read_file(base + ".out");
  ASSERT_TRUE(inp.ok() && out.ok());
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> strings;
  size_t pos = 0;
  for (size_t next; (next = inp->find(sep, pos)) != std::string::npos; pos = next + sep.size())
    strings.push_back(inp->substr(pos, next - pos));
  ASSERT_EQ(pos, inp->size()) << "the file ends with a separator";
  std::vector<std::vector<int32_t>> expected;
  std::istringstream lines(*out);
  for (std::string line; std::getline(lines, line);) {
    std::vector<int32_t> ids;
    std::istringstream ls(line);
    for (int32_t id; ls >> id;) ids.push_back(id);
    expected.push_back(std::move(ids));
  }
  ASSERT_EQ(strings.size(), 46u);
  ASSERT_EQ(expected.size(), strings.size());
  size_t matched = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    std::vector<int32_t> got = encode(*tok, strings[i], /*add_bos=*/false, /*parse_special=*/false);
    if (got == expected[i]) {
      ++matched;
    } else {
      ADD_FAILURE() << GetParam() << " string " << i << " \"" << escaped(strings[i]) << "\"\n"
                    << "  expected:" << ids_str(expected[i]) << "\n"
                    << "  got:     " << ids_str(got);
    }
    // Decoding the expected ids gives the input back (byte-level BPE loses nothing).
    EXPECT_EQ(decode(*tok, expected[i]), strings[i]) << GetParam() << " string " << i;
  }
  std::printf("[ vocab    ] %-15s %zu/%zu strings match\n", GetParam().c_str(), matched, strings.size());
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, VocabVectors,
                         ::testing::Values("llama-bpe", "gpt-2", "deepseek-coder", "deepseek-llm",
                                           "falcon", "mpt", "refact", "starcoder", "llama-spm",
                                           "phi-3"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace cartlm
