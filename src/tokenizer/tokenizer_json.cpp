// Hugging Face tokenizer.json / tokenizer_config.json reading and writing (REFERENCE.md §4.1).
//
// Reading accepts byte-level BPE files: model BPE with a ByteLevel pre-tokenizer (alone, or in a
// Sequence after Split / Digits / Punctuation steps, which become regexes applied in order).
// Other models (WordPiece, Unigram) and SentencePiece-style BPE (no ByteLevel) are rejected with a
// message saying so. nlohmann::json is used without exceptions: every field is type-checked first.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/file_io.h"
#include "core/strings.h"
#include "tokenizer/tokenizer_internal.h"

namespace cartlm {

using json = nlohmann::json;

namespace {

const json* field(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

Status get_bool(const json& o, const char* key, bool& out, const std::string& where) {
  const json* v = field(o, key);
  if (!v || v->is_null()) return {};
  if (!v->is_boolean()) return error(where + "." + key + " must be true or false");
  out = v->get<bool>();
  return {};
}

std::string type_of(const json& o) {
  const json* t = field(o, "type");
  return t && t->is_string() ? t->get<std::string>() : std::string();
}

// Pre-tokenizer steps -> regex list. `byte_level` is set when a ByteLevel step is present.
Status parse_pre_tokenizer(const json& p, Tokenizer& t, bool& byte_level, const std::string& where) {
  if (p.is_null()) return {};
  std::string type = type_of(p);
  if (type == "Sequence") {
    const json* steps = field(p, "pretokenizers");
    if (!steps || !steps->is_array()) return error(where + ".pretokenizers must be an array");
    for (size_t i = 0; i < steps->size(); ++i)
      CARTLM_RETURN_IF_ERROR(
          parse_pre_tokenizer((*steps)[i], t, byte_level, where + ".pretokenizers[" + std::to_string(i) + "]"));
    return {};
  }
  if (type == "ByteLevel") {
    if (byte_level) return error(where + ": more than one ByteLevel step");
    byte_level = true;
    bool use_regex = true;
    CARTLM_RETURN_IF_ERROR(get_bool(p, "use_regex", use_regex, where));
    CARTLM_RETURN_IF_ERROR(get_bool(p, "add_prefix_space", t.add_prefix_space, where));
    if (use_regex) t.pre_regexes.push_back(kRegexGpt2);
    return {};
  }
  // Steps after ByteLevel would see byte-alphabet text in HF; cartlm runs every step on raw text,
  // which is the same for ASCII patterns (digits, punctuation) and is what llama.cpp does.
  if (type == "Split") {
    const json* pat = field(p, "pattern");
    const json* behavior = field(p, "behavior");
    bool invert = false;
    CARTLM_RETURN_IF_ERROR(get_bool(p, "invert", invert, where));
    if (!behavior || !behavior->is_string() || behavior->get<std::string>() != "Isolated" || invert)
      return error(where + ": only Split steps with behavior \"Isolated\" and invert false are supported");
    const json* re = pat ? field(*pat, "Regex") : nullptr;
    const json* lit = pat ? field(*pat, "String") : nullptr;
    if (re && re->is_string()) {
      t.pre_regexes.push_back(canonical_regex(re->get<std::string>()));
    } else if (lit && lit->is_string()) {
      t.pre_regexes.push_back("\\Q" + lit->get<std::string>() + "\\E");
    } else {
      return error(where + ".pattern must be {\"Regex\": ...} or {\"String\": ...}");
    }
    return {};
  }
  if (type == "Digits") {
    bool individual = false;
    CARTLM_RETURN_IF_ERROR(get_bool(p, "individual_digits", individual, where));
    t.pre_regexes.push_back(individual ? "\\p{N}" : "\\p{N}+");
    return {};
  }
  if (type == "Punctuation") {
    // HF counts ASCII punctuation (which includes the symbols $+<=>^`|~) and Unicode P*.
    const json* b = field(p, "behavior");
    std::string behavior = b && b->is_string() ? b->get<std::string>() : "Isolated";
    if (behavior != "Isolated" && behavior != "Contiguous")
      return error(where + ": Punctuation behavior \"" + behavior + "\" is not supported");
    t.pre_regexes.push_back(std::string("[\\p{P}\\$\\+<=>\\^~\\|`]") + (behavior == "Contiguous" ? "+" : ""));
    return {};
  }
  return error(where + ": pre-tokenizer type \"" + type + "\" is not supported (cartlm reads "
               "byte-level BPE: Sequence, Split, ByteLevel, Digits, Punctuation)");
}

// TemplateProcessing anywhere in the post-processor: a leading SpecialToken means add_bos, a
// trailing one add_eos.
void parse_post_processor(const json& p, const std::map<std::string, int32_t>& ids, Tokenizer& t) {
  std::string type = type_of(p);
  if (type == "Sequence") {
    if (const json* procs = field(p, "processors"); procs && procs->is_array())
      for (const json& q : *procs) parse_post_processor(q, ids, t);
    return;
  }
  if (type != "TemplateProcessing") return;
  const json* single = field(p, "single");
  if (!single || !single->is_array() || single->empty()) return;
  auto special_id = [&](const json& item) -> int32_t {
    const json* st = field(item, "SpecialToken");
    const json* name = st ? field(*st, "id") : nullptr;
    if (!name || !name->is_string()) return -1;
    std::string n = name->get<std::string>();
    if (const json* map = field(p, "special_tokens")) {
      const json* entry = field(*map, n.c_str());
      const json* idl = entry ? field(*entry, "ids") : nullptr;
      if (idl && idl->is_array() && idl->size() == 1 && (*idl)[0].is_number_integer())
        return (int32_t)(*idl)[0].get<int64_t>();
    }
    auto it = ids.find(n);
    return it == ids.end() ? -1 : it->second;
  };
  int32_t first = special_id(single->front());
  if (first >= 0) {
    t.add_bos = true;
    t.bos_id = first;
  }
  int32_t last = single->size() > 1 ? special_id(single->back()) : -1;
  if (last >= 0) {
    t.add_eos = true;
    t.eos_id = last;
  }
}

// tokenizer_config.json tokens are a string or {"content": ...}.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  const json* v = field(cfg, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  const json* c = field(*v, "content");
  if (c && c->is_string()) return c->get<std::string>();
  return std::nullopt;
}

}  // namespace

Result<Tokenizer> parse_tokenizer_json(std::string_view text, std::string_view config_text,
                                       const std::string& label) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return error(label + ": not a valid JSON object");
  const json* model = field(j, "model");
  if (!model || !model->is_object()) return error(label + ": missing \"model\" object");
  std::string mtype = type_of(*model);
  if (!mtype.empty() && mtype != "BPE")
    return error(label + ": model type \"" + mtype + "\" is not supported (byte-level BPE only)");
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = field(*model, affix);
    if (v && !v->is_null() && !(v->is_string() && v->get_ref<const std::string&>().empty()))
      return error(label + ": model." + affix + " is set; only plain byte-level BPE is supported");
  }
  const json* vocab = field(*model, "vocab");
  if (!vocab || !vocab->is_object()) return error(label + ": model.vocab must be an object");

  Tokenizer t;
  constexpr int64_t kMaxId = 1 << 24;
  int64_t max_id = -1;
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() >= kMaxId)
      return error(label + ": model.vocab[\"" + it.key().substr(0, 40) + "\"] is not a token id");
    max_id = std::max(max_id, it->get<int64_t>());
  }
  const json* added = field(j, "added_tokens");
  if (added && !added->is_null() && !added->is_array())
    return error(label + ": added_tokens must be an array");
  if (added && added->is_array()) {
    for (size_t i = 0; i < added->size(); ++i) {
      const json& a = (*added)[i];
      std::string where = label + ": added_tokens[" + std::to_string(i) + "]";
      const json* id = field(a, "id");
      const json* content = field(a, "content");
      if (!id || !id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() >= kMaxId)
        return error(where + ".id is not a token id");
      if (!content || !content->is_string()) return error(where + ".content must be a string");
      AddedToken tok;
      tok.id = (int32_t)id->get<int64_t>();
      tok.content = content->get<std::string>();
      tok.special = false;
      CARTLM_RETURN_IF_ERROR(get_bool(a, "special", tok.special, where));
      CARTLM_RETURN_IF_ERROR(get_bool(a, "lstrip", tok.lstrip, where));
      CARTLM_RETURN_IF_ERROR(get_bool(a, "rstrip", tok.rstrip, where));
      CARTLM_RETURN_IF_ERROR(get_bool(a, "single_word", tok.single_word, where));
      tok.normalized = !tok.special;
      CARTLM_RETURN_IF_ERROR(get_bool(a, "normalized", tok.normalized, where));
      max_id = std::max<int64_t>(max_id, tok.id);
      t.added.push_back(std::move(tok));
    }
  }
  if (max_id < 0) return error(label + ": empty vocabulary");
  // Gaps become placeholder tokens; refuse files whose ids are mostly gaps (a hostile id of 16M
  // would otherwise cost 16M placeholder strings).
  int64_t n_entries = (int64_t)vocab->size() + (int64_t)t.added.size();
  if (max_id + 1 > 2 * n_entries + 1024)
    return error(label + ": token ids go up to " + std::to_string(max_id) + " but only " +
                 std::to_string(n_entries) + " tokens are defined");
  t.tokens.assign((size_t)max_id + 1, std::string());
  t.types.assign((size_t)max_id + 1, TokenType::Unused);
  std::vector<bool> filled((size_t)max_id + 1, false);
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    size_t id = (size_t)it->get<int64_t>();
    t.tokens[id] = it.key();
    t.types[id] = TokenType::Normal;
    filled[id] = true;
  }
  std::sort(t.added.begin(), t.added.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  for (const AddedToken& a : t.added) {
    t.tokens[a.id] = a.content;
    t.types[a.id] = a.special ? TokenType::Control : TokenType::UserDefined;
    filled[a.id] = true;
  }
  for (size_t id = 0; id < filled.size(); ++id)
    if (!filled[id]) t.tokens[id] = "[PAD" + std::to_string(id) + "]";  // as llama.cpp's converter

  const json* merges = field(*model, "merges");
  if (!merges || !merges->is_array()) return error(label + ": model.merges must be an array");
  t.merges.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& m = (*merges)[i];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos)
        return error(label + ": model.merges[" + std::to_string(i) + "] = \"" + s.substr(0, 40) +
                     "\" is not \"left right\"");
      t.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      t.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return error(label + ": model.merges[" + std::to_string(i) + "] must be \"a b\" or [\"a\", \"b\"]");
    }
  }
  CARTLM_RETURN_IF_ERROR(get_bool(*model, "ignore_merges", t.ignore_merges, label + ": model"));

  if (const json* norm = field(j, "normalizer"); norm && !norm->is_null()) {
    std::string nt = type_of(*norm);
    const json* seq = field(*norm, "normalizers");
    if (nt == "NFC") {
      t.normalizer = "NFC";  // recorded; input is assumed to be NFC already
    } else if (!(nt == "Sequence" && seq && seq->is_array() && seq->empty())) {
      return error(label + ": normalizer \"" + nt + "\" is not supported (byte-level BPE uses none or NFC)");
    }
  }
  bool byte_level = false;
  if (const json* pre = field(j, "pre_tokenizer"))
    CARTLM_RETURN_IF_ERROR(parse_pre_tokenizer(*pre, t, byte_level, label + ": pre_tokenizer"));
  if (!byte_level)
    return error(label + ": not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer); "
                         "SentencePiece-style tokenizers are not supported");
  t.pre = pre_tokenizer_name_for(t.pre_regexes);

  std::map<std::string, int32_t> added_ids;
  for (const AddedToken& a : t.added) added_ids[a.content] = a.id;
  if (const json* post = field(j, "post_processor"); post && !post->is_null())
    parse_post_processor(*post, added_ids, t);

  auto id_of = [&](const std::string& s) -> int32_t {
    auto it = added_ids.find(s);
    if (it != added_ids.end()) return it->second;
    auto v = vocab->find(s);
    return v == vocab->end() ? -1 : (int32_t)v->get<int64_t>();
  };
  if (!config_text.empty()) {
    json cfg = json::parse(config_text.begin(), config_text.end(), nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object())
      return error(label + ": tokenizer_config.json is not a valid JSON object");
    std::string where = label + ": tokenizer_config.json";
    struct Named {
      const char* key;
      int32_t* id;
    };
    for (Named n : {Named{"bos_token", &t.bos_id}, Named{"eos_token", &t.eos_id},
                    Named{"pad_token", &t.pad_id}, Named{"unk_token", &t.unk_id}}) {
      auto s = config_token(cfg, n.key);
      if (!s) continue;
      int32_t id = id_of(*s);
      if (id < 0) return error(where + ": " + n.key + " \"" + *s + "\" is not a token");
      *n.id = id;
    }
    CARTLM_RETURN_IF_ERROR(get_bool(cfg, "add_bos_token", t.add_bos, where));
    CARTLM_RETURN_IF_ERROR(get_bool(cfg, "add_eos_token", t.add_eos, where));
    if (const json* ct = field(cfg, "chat_template")) {
      if (ct->is_string()) {
        t.chat_template = ct->get<std::string>();
      } else if (ct->is_array()) {  // [{"name": "default", "template": "..."}, ...]
        for (const json& e : *ct) {
          const json* name = field(e, "name");
          const json* tpl = field(e, "template");
          if (tpl && tpl->is_string() && (t.chat_template.empty() || (name && name->is_string() && name->get<std::string>() == "default")))
            t.chat_template = tpl->get<std::string>();
        }
      }
    }
  } else {
    // Without tokenizer_config.json, guess the usual names.
    auto first_of = [&](std::initializer_list<const char*> names) {
      for (const char* n : names)
        if (int32_t id = id_of(n); id >= 0) return id;
      return -1;
    };
    if (t.bos_id < 0) t.bos_id = first_of({"<|begin_of_text|>", "<s>", "<|startoftext|>"});
    if (t.eos_id < 0) t.eos_id = first_of({"<|end_of_text|>", "<|endoftext|>", "</s>"});
    if (t.pad_id < 0) t.pad_id = first_of({"<|pad|>", "<pad>", "[PAD]"});
  }
  CARTLM_RETURN_IF_ERROR(finalize_tokenizer(t, label));
  return t;
}

Result<Tokenizer> load_tokenizer_json(const std::string& path) {
  CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  std::string config;
  std::filesystem::path cfg = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (file_exists(cfg.string())) {
    CARTLM_ASSIGN_OR_RETURN(config, read_file(cfg.string()));
  }
  return parse_tokenizer_json(text, config, path);
}

Result<Tokenizer> load_tokenizer(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    std::string tj = join_path(path, "tokenizer.json");
    if (!file_exists(tj))
      return error("'" + path + "' has no tokenizer.json; hint: pass a model directory, a .gguf "
                   "file or a tokenizer.json");
    return load_tokenizer_json(tj);
  }
  if (ends_with(path, ".gguf")) {
    CARTLM_ASSIGN_OR_RETURN(GgufFile f, open_gguf(path));
    return tokenizer_from_gguf(f);
  }
  return load_tokenizer_json(path);
}

// ---- writing ---------------------------------------------------------------------------------

namespace {

// JSON string literal; UTF-8 passes through, control characters are escaped.
void put_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) out += strformat("\\u%04x", c);
        else out += (char)c;
    }
  }
  out += '"';
}

std::string json_quoted(std::string_view s) {
  std::string out;
  put_quoted(out, s);
  return out;
}

bool is_gap(const Tokenizer& t, int32_t id) {
  return t.types[id] == TokenType::Unused && t.tokens[id] == "[PAD" + std::to_string(id) + "]";
}

// HF spelling of the regexes cartlm keeps in an adapted form.
std::string hf_regex(const std::string& r) {
  if (r == kRegexLlama3)
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  return r;
}

std::string added_tokens_list(const Tokenizer& t) {
  std::map<int32_t, AddedToken> byid;
  for (const AddedToken& a : t.added) byid[a.id] = a;
  for (int32_t id = 0; id < t.size(); ++id)  // tokens typed as added but missing from `added`
    if (is_added_type(t.types[id]) && !byid.count(id)) {
      AddedToken a;
      a.id = id;
      a.content = t.tokens[id];
      a.special = t.types[id] != TokenType::UserDefined;
      a.normalized = !a.special;
      byid[id] = a;
    }
  std::string out = "[";
  bool first = true;
  for (const auto& [id, a] : byid) {
    out += first ? "\n    " : ",\n    ";
    first = false;
    out += strformat("{\"id\": %d, \"content\": ", id) + json_quoted(t.tokens[id]) +
           strformat(", \"single_word\": %s, \"lstrip\": %s, \"rstrip\": %s, \"normalized\": %s, "
                     "\"special\": %s}",
                     a.single_word ? "true" : "false", a.lstrip ? "true" : "false",
                     a.rstrip ? "true" : "false", a.normalized ? "true" : "false",
                     t.types[id] != TokenType::UserDefined ? "true" : "false");
  }
  return out + (first ? "]" : "\n  ]");
}

}  // namespace

std::string tokenizer_to_json(const Tokenizer& t) {
  std::string out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n";
  out += "  \"added_tokens\": " + added_tokens_list(t) + ",\n";
  out += std::string("  \"normalizer\": ") + (t.normalizer == "NFC" ? "{\"type\": \"NFC\"}" : "null") + ",\n";

  // Pre-tokenizer: Split steps, then ByteLevel (which carries the GPT-2 regex when it is last).
  std::vector<std::string> regexes = t.pre_regexes;
  bool use_regex = !regexes.empty() && regexes.back() == kRegexGpt2;
  if (use_regex) regexes.pop_back();
  std::string byte_level = strformat(
      "{\"type\": \"ByteLevel\", \"add_prefix_space\": %s, \"trim_offsets\": true, \"use_regex\": %s}",
      t.add_prefix_space ? "true" : "false", use_regex ? "true" : "false");
  if (regexes.empty()) {
    out += "  \"pre_tokenizer\": " + byte_level + ",\n";
  } else {
    out += "  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [";
    for (const std::string& r : regexes)
      out += "\n    {\"type\": \"Split\", \"pattern\": {\"Regex\": " + json_quoted(hf_regex(r)) +
             "}, \"behavior\": \"Isolated\", \"invert\": false},";
    out += "\n    " + byte_level + "\n  ]},\n";
  }

  std::string post = "{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true}";
  bool bos = t.add_bos && t.bos_id >= 0, eos = t.add_eos && t.eos_id >= 0;
  if (bos || eos) {
    auto special = [&](int32_t id, int type_id) {
      return "{\"SpecialToken\": {\"id\": " + json_quoted(t.tokens[id]) + strformat(", \"type_id\": %d}}", type_id);
    };
    auto seq = [](const char* name, int type_id) {
      return strformat("{\"Sequence\": {\"id\": \"%s\", \"type_id\": %d}}", name, type_id);
    };
    std::string single, pair;
    if (bos) single += special(t.bos_id, 0) + ", ";
    single += seq("A", 0);
    if (eos) single += ", " + special(t.eos_id, 0);
    pair = single + ", ";
    if (bos) pair += special(t.bos_id, 1) + ", ";
    pair += seq("B", 1);
    if (eos) pair += ", " + special(t.eos_id, 1);
    std::string specials;
    std::vector<int32_t> listed;
    for (int32_t id : {bos ? t.bos_id : -1, eos ? t.eos_id : -1}) {
      if (id < 0 || std::find(listed.begin(), listed.end(), id) != listed.end()) continue;
      listed.push_back(id);
      if (!specials.empty()) specials += ", ";
      specials += json_quoted(t.tokens[id]) + ": {\"id\": " + json_quoted(t.tokens[id]) +
                  strformat(", \"ids\": [%d], \"tokens\": [", id) + json_quoted(t.tokens[id]) + "]}";
    }
    post = "{\"type\": \"Sequence\", \"processors\": [" + post +
           ", {\"type\": \"TemplateProcessing\", \"single\": [" + single + "], \"pair\": [" + pair +
           "], \"special_tokens\": {" + specials + "}}]}";
  }
  out += "  \"post_processor\": " + post + ",\n";
  out += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n";
  out += std::string("  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
                     "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
                     "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": ") +
         (t.ignore_merges ? "true" : "false") + ",\n    \"vocab\": {";
  bool first = true;
  for (int32_t id = 0; id < t.size(); ++id) {
    if (is_added_type(t.types[id]) || is_gap(t, id)) continue;  // added tokens are listed above
    out += first ? "\n      " : ",\n      ";
    first = false;
    put_quoted(out, t.tokens[id]);
    out += ": " + std::to_string(id);
  }
  out += "\n    },\n    \"merges\": [";
  bool pairs = false;  // array form only when a part contains a space
  for (const auto& [a, b] : t.merges)
    if (a.find(' ') != std::string::npos || b.find(' ') != std::string::npos) pairs = true;
  first = true;
  for (const auto& [a, b] : t.merges) {
    out += first ? "\n      " : ",\n      ";
    first = false;
    if (pairs) {
      out += "[";
      put_quoted(out, a);
      out += ", ";
      put_quoted(out, b);
      out += "]";
    } else {
      put_quoted(out, a + " " + b);
    }
  }
  out += "\n    ]\n  }\n}\n";
  return out;
}

Status write_tokenizer_json(const std::string& path, const Tokenizer& t) {
  return write_file_atomic(path, tokenizer_to_json(t));
}

std::string tokenizer_config_to_json(const Tokenizer& t) {
  json cfg = json::object();
  cfg["add_bos_token"] = t.add_bos;
  cfg["add_eos_token"] = t.add_eos;
  json dec = json::object();
  for (int32_t id = 0; id < t.size(); ++id) {
    if (!is_added_type(t.types[id])) continue;
    bool lstrip = false, rstrip = false, single_word = false, normalized = t.types[id] == TokenType::UserDefined;
    for (const AddedToken& a : t.added)
      if (a.id == id) {
        lstrip = a.lstrip;
        rstrip = a.rstrip;
        single_word = a.single_word;
        normalized = a.normalized;
      }
    dec[std::to_string(id)] = {{"content", t.tokens[id]}, {"lstrip", lstrip},
                               {"normalized", normalized}, {"rstrip", rstrip},
                               {"single_word", single_word},
                               {"special", t.types[id] != TokenType::UserDefined}};
  }
  cfg["added_tokens_decoder"] = dec;
  if (t.bos_id >= 0) cfg["bos_token"] = t.tokens[t.bos_id];
  if (t.eos_id >= 0) cfg["eos_token"] = t.tokens[t.eos_id];
  if (t.pad_id >= 0) cfg["pad_token"] = t.tokens[t.pad_id];
  if (t.unk_id >= 0) cfg["unk_token"] = t.tokens[t.unk_id];
  if (!t.chat_template.empty()) cfg["chat_template"] = t.chat_template;
  cfg["clean_up_tokenization_spaces"] = false;
  cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
  return cfg.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Status save_tokenizer(const std::string& dir, const Tokenizer& t) {
  CARTLM_RETURN_IF_ERROR(ensure_dir(dir));
  CARTLM_RETURN_IF_ERROR(write_tokenizer_json(join_path(dir, "tokenizer.json"), t));
  return write_file_atomic(join_path(dir, "tokenizer_config.json"), tokenizer_config_to_json(t));
}

}  // namespace cartlm
