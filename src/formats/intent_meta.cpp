#include "formats/intent_meta.h"

#include <set>

#include "core/file_io.h"
#include "core/check.h"
#include "core/strings.h"
#include "core/utf8.h"
#include "formats/jsonl.h"

namespace cartlm {

namespace {
constexpr std::string_view kSlot = "{text}";
}

Status validate_intent_meta(const IntentMeta& meta) {
  const size_t at = meta.prompt_template.find(kSlot);
  if (at == std::string::npos) return error("prompt_template has no {text} slot");
  if (meta.prompt_template.find(kSlot, at + 1) != std::string::npos)
    return error("prompt_template has more than one {text} slot");
  if (!is_valid_utf8(meta.prompt_template)) return error("prompt_template is not valid UTF-8");
  std::set<std::string> seen;
  for (size_t i = 0; i < meta.products.size(); ++i) {
    const std::string& p = meta.products[i];
    if (p.empty()) return error(strformat("products[%zu] is empty", i));
    if (!is_valid_utf8(p)) return error(strformat("products[%zu] is not valid UTF-8", i));
    for (unsigned char ch : p)
      if (ch < 0x20 || ch == '"' || ch == '\\')
        return error(strformat("products[%zu] \"%s\" contains a quote, backslash or control "
                               "character",
                               i, p.c_str()));
    if (!seen.insert(p).second)
      return error(strformat("products[%zu] \"%s\" is a duplicate", i, p.c_str()));
  }
  return Status();
}

const char* text_normalization_name(TextNormalization n) {
  return n == TextNormalization::fold ? "fold" : "none";
}

Result<TextNormalization> parse_text_normalization(std::string_view name) {
  if (name == "none") return TextNormalization::none;
  if (name == "fold") return TextNormalization::fold;
  return error("unknown text normalization '" + std::string(name) + "' (expected none or fold)");
}

std::string normalize_text(TextNormalization n, std::string_view text) {
  if (n == TextNormalization::none) return std::string(text);
  return strip_diacritics(to_lower(text));
}

std::string render_prompt(const IntentMeta& meta, std::string_view text) {
  const size_t at = meta.prompt_template.find(kSlot);
  CARTLM_CHECK(at != std::string::npos);
  std::string out = meta.prompt_template.substr(0, at);
  out += normalize_text(meta.text_normalization, text);
  out += meta.prompt_template.substr(at + kSlot.size());
  return out;
}

std::string_view prompt_prefix(const IntentMeta& meta) {
  const size_t at = meta.prompt_template.find(kSlot);
  CARTLM_CHECK(at != std::string::npos);
  return std::string_view(meta.prompt_template).substr(0, at);
}

std::string_view prompt_suffix(const IntentMeta& meta) {
  const size_t at = meta.prompt_template.find(kSlot);
  CARTLM_CHECK(at != std::string::npos);
  return std::string_view(meta.prompt_template).substr(at + std::string_view(kSlot).size());
}

std::string intent_meta_to_json_text(const IntentMeta& meta) {
  json j = json::object();
  j["prompt_template"] = meta.prompt_template;
  j["products"] = meta.products;
  j["text_normalization"] = text_normalization_name(meta.text_normalization);
  return j.dump(2) + "\n";
}

Result<IntentMeta> intent_meta_from_json_text(std::string_view text, const std::string& label) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return error(label + ": not a JSON object");
  IntentMeta meta;
  auto it = j.find("prompt_template");
  if (it == j.end()) return error(label + ": missing key prompt_template");
  if (!it->is_string()) return error(label + ": prompt_template must be a string");
  meta.prompt_template = it->get<std::string>();
  it = j.find("products");
  if (it != j.end()) {
    if (!it->is_array()) return error(label + ": products must be an array of strings");
    for (const json& p : *it) {
      if (!p.is_string()) return error(label + ": products must be an array of strings");
      meta.products.push_back(p.get<std::string>());
    }
  }
  it = j.find("text_normalization");
  if (it != j.end()) {
    if (!it->is_string()) return error(label + ": text_normalization must be a string");
    auto n = parse_text_normalization(it->get<std::string>());
    if (!n.ok()) return error(label + ": text_normalization: " + n.message());
    meta.text_normalization = *n;
  }
  Status st = validate_intent_meta(meta);
  if (!st.ok()) return error(label + ": " + st.message());
  return meta;
}

Status save_intent_meta(const std::string& dir, const IntentMeta& meta) {
  CARTLM_RETURN_IF_ERROR(validate_intent_meta(meta));
  return write_file_atomic(join_path(dir, kIntentMetaFile), intent_meta_to_json_text(meta));
}

Result<IntentMeta> load_intent_meta(const std::string& dir) {
  const std::string path = join_path(dir, kIntentMetaFile);
  CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return intent_meta_from_json_text(text, path);
}

bool has_intent_meta(const std::string& dir) { return file_exists(join_path(dir, kIntentMetaFile)); }

}  // namespace cartlm
