// `cartlm tokenizer`: train a byte-level BPE tokenizer on a corpus, or encode text with one.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/cli.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "formats/dataset.h"
#include "formats/jsonl.h"
#include "tokenizer/tokenizer.h"

namespace cartlm::cli {

namespace {

// The training texts of one input file: .jsonl lines give "text" and, when present, the label's
// JSON text (what a fine-tuned model writes); any other file is read as lines of plain text.
Status read_corpus(const std::string& path, std::vector<std::string>& out) {
  if (ends_with(path, ".jsonl")) {
    return for_each_jsonl(path, [&](const json& v, size_t line) -> Status {
      std::string where = path + ":" + std::to_string(line);
      if (!v.is_object()) return error(where + ": expected a JSON object");
      auto text = v.find("text");
      if (text == v.end() || !text->is_string()) return error(where + ": missing string field \"text\"");
      out.push_back(text->get<std::string>());
      auto label = v.find("label");
      if (label != v.end() && label->is_object()) {
        // The canonical label text when the label has the dataset's shape, else compact JSON.
        auto a = label->find("action"), p = label->find("product"), q = label->find("quantity");
        if (a != label->end() && a->is_string() && p != label->end() && p->is_string() &&
            q != label->end() && q->is_number_integer()) {
          Label l{a->get<std::string>(), p->get<std::string>(), (int)q->get<int64_t>()};
          out.push_back(label_to_json_text(l));
        } else {
          out.push_back(dump_json_line(*label));
        }
      }
      return {};
    });
  }
  CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(path));
  for (std::string& line : split(text, '\n'))
    if (!line.empty()) out.push_back(std::move(line));
  return {};
}

struct TrainArgs {
  std::vector<std::string> inputs;
  std::string out = "tokenizer.json";
  BpeTrainOptions opt;
};

int run_train(TrainArgs& a) {
  if (a.inputs.empty()) return fail(error("--input is required"));
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const std::string& in : a.inputs) {
    Status st = read_corpus(in, texts);
    if (!st.ok()) return fail(st);
  }
  for (const std::string& t : texts) bytes += t.size();
  if (texts.empty()) return fail(error("the input has no text"));
  auto t0 = std::chrono::steady_clock::now();
  auto tok = train_bpe(texts, a.opt);
  if (!tok.ok()) return fail(tok.status());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string dir = std::filesystem::path(a.out).parent_path().string();
  if (!dir.empty()) {
    Status st = ensure_dir(dir);
    if (!st.ok()) return fail(st);
  }
  Status st = write_tokenizer_json(a.out, *tok);
  if (!st.ok()) return fail(st);
  std::string cfg = join_path(dir, "tokenizer_config.json");
  st = write_file_atomic(cfg, tokenizer_config_to_json(*tok));
  if (!st.ok()) return fail(st);
  size_t n_tokens = 0;
  for (const std::string& t : texts) n_tokens += encode(*tok, t, false, false).size();
  std::fprintf(stderr,
               "trained %d tokens (%zu merges) on %zu texts, %s, in %.2f s; %.2f bytes/token\n"
               "wrote %s and %s\n",
               tok->size(), tok->merges.size(), texts.size(), human_bytes((double)bytes).c_str(), secs,
               n_tokens ? (double)bytes / n_tokens : 0.0, a.out.c_str(), cfg.c_str());
  return 0;
}

struct EncodeArgs {
  std::string tokenizer;
  std::string text;
  bool text_given = false;
  bool bos = false, special = false, pieces = false;
};

int run_encode(EncodeArgs& a) {
  auto tok = load_tokenizer(a.tokenizer);
  if (!tok.ok()) return fail(tok.status());
  std::string text = a.text;
  if (!a.text_given) text.assign(std::istreambuf_iterator<char>(std::cin), {});
  std::vector<int32_t> ids = encode(*tok, text, a.bos, a.special);
  std::string line;
  for (int32_t id : ids) {
    if (!line.empty()) line += ' ';
    line += std::to_string(id);
    if (a.pieces) {
      std::string p;
      for (unsigned char c : token_to_piece(*tok, id))
        p += (c < 0x20 || c == 0x7f) ? strformat("\\x%02x", c) : std::string(1, (char)c);
      line += ":'" + p + "'";
    }
  }
  std::printf("%s\n", line.c_str());
  std::fprintf(stderr, "%zu tokens, %zu bytes\n", ids.size(), text.size());
  return 0;
}

}  // namespace

void register_tokenizer(CLI::App& root, int& exit_code) {
  CLI::App* cmd = root.add_subcommand("tokenizer", "Byte-level BPE tokenizers: train one, or encode text");
  cmd->require_subcommand(1);

  auto targs = std::make_shared<TrainArgs>();
  CLI::App* train = cmd->add_subcommand(
      "train",
      "Learn a byte-level BPE tokenizer from text; writes tokenizer.json and, next to it,\n"
      "tokenizer_config.json (bos/eos/pad tokens)");
  train->add_option("--input", targs->inputs,
                    "Corpus files: .jsonl (the \"text\" field, plus the \"label\" JSON when present) "
                    "or plain text (one text per line); repeatable")
      ->required();
  train->add_option("--vocab-size", targs->opt.vocab_size,
                    "Vocabulary size including the 256 byte tokens and the special tokens")
      ->capture_default_str();
  train->add_option("--out", targs->out, "Output tokenizer.json")->capture_default_str();
  train->add_option("--pre", targs->opt.pre, "Pre-tokenizer: llama-bpe (Llama 3), gpt-2, qwen2, ...")
      ->capture_default_str();
  train->add_option("--min-frequency", targs->opt.min_frequency,
                    "Pairs seen fewer times are never merged")
      ->capture_default_str();
  train->add_option("--user-token", targs->opt.user_tokens,
                    "A fixed string kept as one non-special token, matched whole wherever it\n"
                    "occurs (e.g. a prompt template's parts; in bash $'\\nCart: ' gives a newline);\n"
                    "cut out of the corpus before merges are learned; repeatable");
  train->add_flag("--specials-first", targs->opt.specials_first,
                  "Give the special tokens ids 0.. (pad, bos, eos order) instead of the last ids");
  train->callback([targs, &exit_code] {
    if (targs->opt.specials_first)  // 0 pad, 1 bos, 2 eos: the layout of the tiny preset
      targs->opt.special_tokens = {targs->opt.pad_token, targs->opt.bos_token, targs->opt.eos_token};
    exit_code = run_train(*targs);
  });

  auto eargs = std::make_shared<EncodeArgs>();
  CLI::App* enc = cmd->add_subcommand("encode", "Print the token ids of a text (from --text or stdin)");
  enc->add_option("--tokenizer", eargs->tokenizer,
                  "tokenizer.json, a model directory or a .gguf file")
      ->required();
  enc->add_option("--text", eargs->text, "Text to encode (default: read stdin)");
  enc->add_flag("--bos", eargs->bos, "Prepend the BOS token");
  enc->add_flag("--special", eargs->special, "Parse special tokens written in the text (<|eot_id|>)");
  enc->add_flag("--pieces", eargs->pieces, "Print each token's bytes after its id");
  enc->callback([eargs, enc, &exit_code] {
    eargs->text_given = enc->count("--text") > 0;
    exit_code = run_encode(*eargs);
  });
}

}  // namespace cartlm::cli
