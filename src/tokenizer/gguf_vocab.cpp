// Tokenizer <-> GGUF tokenizer.ggml.* metadata (REFERENCE.md §1.6).
#include <algorithm>

#include "tokenizer/tokenizer_internal.h"

namespace cartlm {

namespace {

// Splits a GGUF merge "left right" at the first space after the first byte (llama.cpp does the
// same, so a left part that is itself a space would still work).
bool split_merge(const std::string& m, std::pair<std::string, std::string>& out) {
  size_t pos = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
  if (pos == std::string::npos) return false;
  out.first = m.substr(0, pos);
  out.second = m.substr(pos + 1);
  return !out.second.empty();
}

}  // namespace

Result<Tokenizer> tokenizer_from_gguf(const GgufFile& f) {
  const std::string& src = f.label;
  CARTLM_ASSIGN_OR_RETURN(std::string model, f.get_string("tokenizer.ggml.model"));
  if (model == "llama")
    return error(src + ": SentencePiece vocabularies (tokenizer.ggml.model = \"llama\") are not "
                       "supported; cartlm handles byte-level BPE (\"gpt2\") only");
  if (model != "gpt2")
    return error(src + ": unsupported tokenizer.ggml.model \"" + model +
                 "\" (cartlm handles byte-level BPE, \"gpt2\")");
  Tokenizer t;
  CARTLM_ASSIGN_OR_RETURN(auto tokens, f.get_array_strings("tokenizer.ggml.tokens"));
  if (tokens.empty()) return error(src + ": tokenizer.ggml.tokens is empty");
  if (tokens.size() > (size_t)INT32_MAX) return error(src + ": too many tokens");
  t.tokens.assign(tokens.begin(), tokens.end());
  t.types.assign(t.tokens.size(), TokenType::Normal);
  if (f.has("tokenizer.ggml.token_type")) {
    CARTLM_ASSIGN_OR_RETURN(auto types, f.get_array_ints("tokenizer.ggml.token_type"));
    if (types.size() != t.tokens.size())
      return error(src + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                   " entries for " + std::to_string(t.tokens.size()) + " tokens");
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] < 0 || types[i] > 6)
        return error(src + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] = " +
                     std::to_string(types[i]) + " is not a token type (0..6)");
      t.types[i] = (TokenType)types[i];
    }
  }
  for (size_t i = 0; i < t.tokens.size(); ++i)
    if (t.tokens[i].empty()) t.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp

  CARTLM_ASSIGN_OR_RETURN(auto merges, f.get_array_strings("tokenizer.ggml.merges"));
  t.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    std::pair<std::string, std::string> m;
    if (!split_merge(merges[i], m))
      return error(src + ": tokenizer.ggml.merges[" + std::to_string(i) + "] = \"" +
                   merges[i].substr(0, 40) + "\" is not \"left right\"");
    t.merges.push_back(std::move(m));
  }

  CARTLM_ASSIGN_OR_RETURN(t.pre, f.get_string_or("tokenizer.ggml.pre", "default"));
  auto regexes = pre_tokenizer_regexes(t.pre);
  if (!regexes.ok()) return regexes.status().with_context(src + ": tokenizer.ggml.pre");
  t.pre_regexes = std::move(regexes.value());
  t.ignore_merges = pre_tokenizer_is_llama3(t.pre);
  t.add_bos = pre_tokenizer_is_llama3(t.pre);

  struct IdKey {
    const char* key;
    int32_t* id;
  };
  for (IdKey k : {IdKey{"tokenizer.ggml.bos_token_id", &t.bos_id},
                  IdKey{"tokenizer.ggml.eos_token_id", &t.eos_id},
                  IdKey{"tokenizer.ggml.eot_token_id", &t.eot_id},
                  IdKey{"tokenizer.ggml.eom_token_id", &t.eom_id},
                  IdKey{"tokenizer.ggml.padding_token_id", &t.pad_id},
                  IdKey{"tokenizer.ggml.unknown_token_id", &t.unk_id}}) {
    if (!f.has(k.key)) continue;
    CARTLM_ASSIGN_OR_RETURN(uint32_t id, f.get_u32(k.key));
    if (id >= t.tokens.size())
      return error(src + ": " + k.key + " = " + std::to_string(id) + " is out of range (" +
                   std::to_string(t.tokens.size()) + " tokens)");
    *k.id = (int32_t)id;
  }
  CARTLM_ASSIGN_OR_RETURN(t.add_bos, f.get_bool_or("tokenizer.ggml.add_bos_token", t.add_bos));
  CARTLM_ASSIGN_OR_RETURN(t.add_eos, f.get_bool_or("tokenizer.ggml.add_eos_token", false));
  CARTLM_ASSIGN_OR_RETURN(t.chat_template, f.get_string_or("tokenizer.chat_template", ""));

  // Added tokens as HF would list them: every Control / UserDefined / Unknown token.
  t.added.reserve((size_t)std::count_if(t.types.begin(), t.types.end(), is_added_type));  // no slack
  for (int32_t id = 0; id < (int32_t)t.tokens.size(); ++id) {
    TokenType ty = t.types[id];
    if (is_added_type(ty)) {
      AddedToken a;
      a.id = id;
      a.content = t.tokens[id];
      a.special = ty != TokenType::UserDefined;
      a.normalized = !a.special;
      t.added.push_back(std::move(a));
    }
  }
  CARTLM_RETURN_IF_ERROR(finalize_tokenizer(t, src));
  return t;
}

std::vector<GgufKV> tokenizer_gguf_kvs(const Tokenizer& t) {
  std::vector<GgufKV> kvs;
  kvs.push_back({"tokenizer.ggml.model", GgufValue::string("gpt2")});
  kvs.push_back({"tokenizer.ggml.pre", GgufValue::string(t.pre)});
  kvs.push_back({"tokenizer.ggml.tokens", GgufValue::array_strings(t.tokens)});
  std::vector<int32_t> types(t.types.size());
  for (size_t i = 0; i < types.size(); ++i) types[i] = (int32_t)t.types[i];
  kvs.push_back({"tokenizer.ggml.token_type", GgufValue::array_i32(types)});
  std::vector<std::string> merges;
  merges.reserve(t.merges.size());
  for (const auto& [a, b] : t.merges) merges.push_back(a + " " + b);
  kvs.push_back({"tokenizer.ggml.merges", GgufValue::array_strings(std::move(merges))});
  auto put_id = [&](const char* key, int32_t id) {
    if (id >= 0) kvs.push_back({key, GgufValue::u32((uint32_t)id)});
  };
  put_id("tokenizer.ggml.bos_token_id", t.bos_id);
  put_id("tokenizer.ggml.eos_token_id", t.eos_id);
  put_id("tokenizer.ggml.eot_token_id", t.eot_id);
  put_id("tokenizer.ggml.eom_token_id", t.eom_id);
  put_id("tokenizer.ggml.unknown_token_id", t.unk_id);
  put_id("tokenizer.ggml.padding_token_id", t.pad_id);
  kvs.push_back({"tokenizer.ggml.add_bos_token", GgufValue::boolean(t.add_bos)});
  kvs.push_back({"tokenizer.ggml.add_eos_token", GgufValue::boolean(t.add_eos)});
  if (!t.chat_template.empty())
    kvs.push_back({"tokenizer.chat_template", GgufValue::string(t.chat_template)});
  return kvs;
}

}  // namespace cartlm
