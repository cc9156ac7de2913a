// Byte-level BPE tokenizer (GPT-2 / Llama 3 / Qwen2 / SmolLM2 style), loaded from a Hugging Face
// tokenizer.json or from GGUF tokenizer.ggml.* metadata, and a BPE trainer (REFERENCE.md §4).
//
// Encoding: (1) added/special tokens are cut out of the raw text first (leftmost, longest match);
// (2) every other segment is split by the pre-tokenizer, a sequence of PCRE2 regexes each of which
// isolates its matches (gaps become pieces too, as HF's Split "Isolated" does); (3) each piece's
// UTF-8 bytes are merged by BPE rank. The byte-level alphabet covers all 256 bytes, so any input,
// invalid UTF-8 included, round-trips exactly through encode + decode.
//
// Token strings are kept as they appear in the files: normal tokens in the GPT-2 bytes->unicode
// alphabet ("Ġthe"), added tokens as raw text ("<|eot_id|>"). decode() turns both into bytes.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "formats/gguf.h"

namespace cartlm {

class Rng;

// GGUF tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

// An HF added token (also present in Tokenizer::tokens). special = true -> TokenType::Control,
// false -> UserDefined. lstrip/rstrip eat whitespace next to the token when it is matched.
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = true;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false;
  bool operator==(const AddedToken&) const = default;
};

struct TokenizerIndex;  // lookup tables and compiled regexes, built by finalize_tokenizer

struct Tokenizer {
  std::vector<std::string> tokens;  // id -> token text
  std::vector<TokenType> types;     // id -> type (same size as tokens)
  std::vector<std::pair<std::string, std::string>> merges;  // rank order (0 = applied first)
  std::vector<AddedToken> added;    // sorted by id
  // Pre-tokenizer: GGUF name (tokenizer.ggml.pre) and the regexes it stands for, applied in order.
  std::string pre = "default";
  std::vector<std::string> pre_regexes;
  bool ignore_merges = false;     // a piece that is itself a token is emitted whole (Llama 3)
  bool add_prefix_space = false;  // ByteLevel add_prefix_space: " " before each text segment
  bool add_bos = false, add_eos = false;  // what the model expects (encode() is told explicitly)
  int32_t bos_id = -1, eos_id = -1, eot_id = -1, eom_id = -1, pad_id = -1, unk_id = -1;
  std::vector<int32_t> eog_ids;   // end-of-generation ids: eos, eot, eom and known names
  std::string chat_template;      // Jinja text from the model files, may be empty
  std::string normalizer;         // "" or "NFC" (recorded and written back, not applied)

  std::shared_ptr<const TokenizerIndex> index;  // set by finalize_tokenizer

  int32_t size() const { return (int32_t)tokens.size(); }
  std::optional<int32_t> find(std::string_view token_text) const;  // exact text of a token
  bool is_special(int32_t id) const;  // Control or Unknown: skipped by decode(render_special=false)
  bool is_eog(int32_t id) const;
};

// Checks consistency (sizes, ids in range, merges made of known tokens, regexes compile) and builds
// the lookup tables. Loaders call it; code that edits a Tokenizer by hand must call it again.
// Also fills eog_ids. Errors are prefixed with `source`.
Status finalize_tokenizer(Tokenizer& t, const std::string& source);

// HF tokenizer.json. Also reads tokenizer_config.json next to it when present (bos/eos/pad tokens,
// add_bos_token, add_eos_token, chat_template). Only byte-level BPE files are accepted.
Result<Tokenizer> load_tokenizer_json(const std::string& path);
// `path` may be a directory (HF checkpoint: tokenizer.json inside) or a .gguf file or a tokenizer.json.
Result<Tokenizer> load_tokenizer(const std::string& path);
// Parses tokenizer.json text; `config_json` is tokenizer_config.json text or "".
Result<Tokenizer> parse_tokenizer_json(std::string_view json, std::string_view config_json,
                                       const std::string& label);
// A standard tokenizer.json (model BPE, ByteLevel pre-tokenizer/decoder, TemplateProcessing that
// adds BOS when add_bos), written atomically.
std::string tokenizer_to_json(const Tokenizer& t);
Status write_tokenizer_json(const std::string& path, const Tokenizer& t);
// tokenizer_config.json with bos/eos/pad tokens, add_bos/add_eos, chat_template, added_tokens_decoder.
std::string tokenizer_config_to_json(const Tokenizer& t);
// Writes tokenizer.json and tokenizer_config.json into `dir`.
Status save_tokenizer(const std::string& dir, const Tokenizer& t);

// GGUF tokenizer.ggml.* metadata (model "gpt2" only; "llama" SentencePiece vocabs are rejected).
Result<Tokenizer> tokenizer_from_gguf(const GgufFile& f);
// The tokenizer.* KVs a model GGUF needs (model, pre, tokens, token_type, merges, special ids,
// add_bos/add_eos, chat_template), in the order llama.cpp's converter writes them.
std::vector<GgufKV> tokenizer_gguf_kvs(const Tokenizer& t);

// Encoding and decoding. encode prepends bos_id when add_bos (and bos_id >= 0). parse_special:
// Control tokens written in the text ("<|eot_id|>") become their ids; when false they are encoded
// as plain text. UserDefined added tokens are always matched (as HF and llama.cpp do).
// BPE-dropout for training-time augmentation: every applicable merge is skipped with
// probability p at each merge step, so words also appear split into smaller tokens (as typos
// split them). Pieces that are digits only ("12", " 12") keep their normal tokens. ignore_merges is
// not honoured under dropout.
struct BpeDropout {
  double p = 0.0;
  Rng* rng = nullptr;
};
std::vector<int32_t> encode(const Tokenizer& t, std::string_view text, bool add_bos,
                            bool parse_special, const BpeDropout* dropout = nullptr);
// Bytes of the ids concatenated. Ids out of range are skipped. Control/Unknown tokens are written
// as their text unless render_special is false.
std::string decode(const Tokenizer& t, std::span<const int32_t> ids, bool render_special = true);
// Bytes one token stands for ("Ġthe" -> " the"; "<|eot_id|>" -> itself); "" when out of range.
// The view points into t.index (valid while the tokenizer, or a copy sharing its index, lives).
std::string_view token_to_piece(const Tokenizer& t, int32_t id);

// ---- pre-tokenizers and the byte-level alphabet ----------------------------------------------

// Regex list for a GGUF pre-tokenizer name ("llama-bpe", "gpt-2", "qwen2", "deepseek-coder", ...).
Result<std::vector<std::string>> pre_tokenizer_regexes(std::string_view pre);
// The names pre_tokenizer_regexes accepts.
std::vector<std::string> pre_tokenizer_names();
// Best GGUF name for a regex list ("default" when it matches no known pre-tokenizer).
std::string pre_tokenizer_name_for(const std::vector<std::string>& regexes);
// Whether the GGUF name implies Llama 3 behaviour (ignore_merges, add_bos).
bool pre_tokenizer_is_llama3(std::string_view pre);
// Pieces (raw bytes) the pre-tokenizer cuts `text` into; no special-token handling.
std::vector<std::string> pre_tokenize(const Tokenizer& t, std::string_view text);

// GPT-2 bytes->unicode map: each byte to its UTF-8 encoded alphabet character ("\x20" -> "Ġ").
std::string bytes_to_unicode(std::string_view bytes);
// Inverse; nullopt when a character is outside the 256-character alphabet.
std::optional<std::string> unicode_to_bytes(std::string_view text);

// ---- training --------------------------------------------------------------------------------

struct BpeTrainOptions {
  int32_t vocab_size = 4096;       // total, including the 256 byte tokens and the specials
  std::string pre = "llama-bpe";   // pre-tokenizer to split the corpus with ("gpt-2", ...)
  // Added as Control tokens after the learned vocabulary, in this order. The ones named
  // bos/eos/pad below must be among them.
  std::vector<std::string> special_tokens = {"<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"};
  std::string bos_token = "<|begin_of_text|>";
  std::string eos_token = "<|end_of_text|>";
  std::string pad_token = "<|pad|>";
  // Added as UserDefined (non-special) tokens right after the learned vocabulary: fixed strings,
  // such as the parts of a prompt template, that encode() then matches whole wherever they
  // occur (as HF and llama.cpp match non-special added tokens). They are cut out of the corpus
  // before pairs are counted, so the merge budget goes to the rest of the text.
  std::vector<std::string> user_tokens = {};
  int64_t min_frequency = 2;       // pairs seen fewer times are never merged
  // Special tokens get ids 0..k-1 (HF trainer layout, e.g. 0 <pad>, 1 <bos>, 2 <eos> with
  // special_tokens = {"<pad>", "<bos>", "<eos>"}) instead of following the learned vocabulary
  // (Llama 3 layout).
  bool specials_first = false;
};

// Learns merges from `texts` (each split by the pre-tokenizer; specials are not split out, so
// they never influence the merges). Deterministic: ties between equally frequent pairs go to the
// pair whose (left, right) token texts compare smallest. Returns a finalized tokenizer with
// add_bos = true. Fails when vocab_size cannot hold 256 bytes + specials + user tokens, or when a
// user token is empty, repeated, a special token or the text of a learned token.
Result<Tokenizer> train_bpe(std::span<const std::string> texts, const BpeTrainOptions& options);

}  // namespace cartlm
