// What a model needs besides weights and tokenizer to act as an intent recognizer: the prompt
// template it was trained with and the catalog (canonical product names) its outputs may name.
// Saved as `cartlm.json` next to config.json in a model directory, and as the GGUF metadata keys
// `cartlm.prompt_template` (string), `cartlm.products` (array of strings) and
// `cartlm.text_normalization` (string) in exported GGUFs.
//
// Text normalization: the tiny default model sees the shopper's message lower-cased and without
// diacritics ("PONME 3 BUFANDAS" and "ponme 3 bufandas" are one input; "čaj" and "caj" too). With
// a 1k-token vocabulary, ALL CAPS messages otherwise fall apart into single letters the model has
// rarely seen (87% of upper-case validation messages failed before). Real checkpoints keep `none`.
//
// A training example is   render_prompt(meta, text)  followed by the completion
// label_to_json_text(label) and the tokenizer's end-of-sequence token; the loss counts only the
// completion (and the EOS). The recognizer decodes the same way.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cartlm {

// "{text}" marks where the shopper's message goes; it must occur exactly once.
inline constexpr const char* kDefaultPromptTemplate = "Shopper: {text}\nCart: ";
inline constexpr const char* kIntentMetaFile = "cartlm.json";
inline constexpr const char* kGgufKeyPromptTemplate = "cartlm.prompt_template";
inline constexpr const char* kGgufKeyProducts = "cartlm.products";
inline constexpr const char* kGgufKeyTextNormalization = "cartlm.text_normalization";

enum class TextNormalization {
  none,  // the message goes into the prompt as written
  fold,  // lower case, Croatian/Spanish diacritics dropped (core/utf8.h to_lower, strip_diacritics)
};
const char* text_normalization_name(TextNormalization n);
Result<TextNormalization> parse_text_normalization(std::string_view name);  // "none" | "fold"
std::string normalize_text(TextNormalization n, std::string_view text);

struct IntentMeta {
  std::string prompt_template = kDefaultPromptTemplate;
  std::vector<std::string> products;  // canonical names, catalog order; empty = unknown
  TextNormalization text_normalization = TextNormalization::none;
  bool operator==(const IntentMeta&) const = default;
};

// Checks the template (exactly one "{text}") and the products (non-empty strings, no duplicates,
// valid UTF-8, no '"' or '\\' or control characters, so every name is its own JSON string body).
Status validate_intent_meta(const IntentMeta& meta);

// The template with {text} replaced by normalize_text(meta.text_normalization, text).
std::string render_prompt(const IntentMeta& meta, std::string_view text);
// The part of the template before "{text}": the prompt prefix shared by every request.
std::string_view prompt_prefix(const IntentMeta& meta);
// The part after "{text}".
std::string_view prompt_suffix(const IntentMeta& meta);

// JSON text {"prompt_template": "...", "products": [...], "text_normalization": "fold"} and back
// (a missing text_normalization means none); errors name the field.
std::string intent_meta_to_json_text(const IntentMeta& meta);
Result<IntentMeta> intent_meta_from_json_text(std::string_view text, const std::string& label);

// dir/cartlm.json, written atomically / read back. has_intent_meta: whether the file exists.
Status save_intent_meta(const std::string& dir, const IntentMeta& meta);
Result<IntentMeta> load_intent_meta(const std::string& dir);
bool has_intent_meta(const std::string& dir);

}  // namespace cartlm
