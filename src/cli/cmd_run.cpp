// `cartlm run`: recognize shopper messages with a model — one text from the command line, lines
// from stdin, or a whole file (optionally one shard of it, so a cluster can split the work).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/cli.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "decode/eval_run.h"
#include "eval/score.h"
#include "model/load.h"

namespace cartlm::cli {

namespace {

struct RunArgs {
  std::string model, input, output, shard, shard_mode = "contiguous", decode = "constrained";
  std::vector<std::string> text;
  RecognizerOptions opt;
  LoadOptions load;
  int threads = 0;
  bool quiet = false;
};

struct Record {
  std::string id, text, error;  // error: the line could not even be read as an input
};

// "i/N" with 0 <= i < N.
Status parse_shard(const std::string& s, size_t* index, size_t* count) {
  std::vector<std::string> parts = split(s, '/');
  auto num = [](const std::string& x, size_t* out) {
    if (x.empty() || x.size() > 9 || x.find_first_not_of("0123456789") != std::string::npos) return false;
    *out = (size_t)std::stoul(x);
    return true;
  };
  if (parts.size() != 2 || !num(parts[0], index) || !num(parts[1], count) || *count == 0 ||
      *index >= *count)
    return error("--shard \"" + s + "\" must be i/N with 0 <= i < N, e.g. 0/4");
  return {};
}

// Every line of the file is a record (ids and error messages use 1-based line numbers), except the
// empty string after a final newline. .jsonl/.json lines are objects with "text" and optional "id";
// other files have one text per line.
std::vector<Record> parse_records(const std::string& data, bool jsonl) {
  std::vector<std::string> lines = split(data, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::vector<Record> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    Record r;
    r.id = strformat("line-%zu", i + 1);
    std::string line = lines[i];
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!jsonl) {
      r.text = line;
    } else if (trim(line).empty()) {
      r.error = "empty line";
    } else {
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        r.error = "not a JSON object";
      } else {
        auto t = j.find("text");
        auto id = j.find("id");
        if (t == j.end() || !t->is_string()) r.error = "missing string field 'text'";
        else r.text = t->get<std::string>();
        if (id != j.end() && id->is_string() && !id->get<std::string>().empty()) r.id = id->get<std::string>();
        else if (id != j.end() && id->is_number_integer()) r.id = std::to_string(id->get<long long>());
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string record_line(const std::string& id, const IntentResult& res, const std::string& error) {
  using ojson = nlohmann::ordered_json;
  ojson j;
  j["id"] = id;
  j["output"] = res.output_text;
  OutputCheck c = check_output(res.output_text);
  if (c.parsed) j["parsed"] = {{"action", c.parsed->action}, {"product", c.parsed->product},
                               {"quantity", c.parsed->quantity}};
  else j["parsed"] = nullptr;
  if (res.forward_passes > 0) j["latency_ms"] = res.latency_ms;
  else j["latency_ms"] = nullptr;
  if (!error.empty()) j["error"] = error;
  else j["error"] = nullptr;
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

int run_bulk(const RunArgs& a, const Recognizer& rec, std::vector<Record> records) {
  size_t si = 0, sn = 1;
  if (!a.shard.empty()) CARTLM_CHECK(parse_shard(a.shard, &si, &sn).ok());  // checked up front
  std::vector<Record> mine;
  size_t n = records.size();
  for (size_t i = 0; i < n; ++i) {
    bool take = a.shard_mode == "strided" ? i % sn == si : (i >= si * n / sn && i < (si + 1) * n / sn);
    if (take) mine.push_back(std::move(records[i]));
  }
  std::vector<std::string> lines(mine.size());
  if (!mine.empty()) {
    std::vector<Example> exs(mine.size());
    for (size_t i = 0; i < mine.size(); ++i) {
      exs[i].id = mine[i].id;
      exs[i].text = mine[i].text;
    }
    EvalRunOptions ro;
    ro.threads = a.threads;
    ro.progress = !a.quiet;
    Result<EvalRunResult> run = eval_run(rec, exs, ro);
    if (!run.ok()) return fail(run.status());
    for (size_t i = 0; i < mine.size(); ++i) {
      std::string err = mine[i].error.empty() ? run->results[i].error : mine[i].error;
      if (!mine[i].error.empty()) run->results[i] = IntentResult{};
      lines[i] = record_line(mine[i].id, run->results[i], err);
    }
    if (!a.quiet) std::fputs(format_throughput_text(run->throughput).c_str(), stderr);
  }
  if (a.output.empty()) {
    for (const std::string& l : lines) std::printf("%s\n", l.c_str());
    return 0;
  }
  Status st = write_lines_atomic(a.output, lines.size(), [&](size_t i) { return lines[i]; });
  if (!st.ok()) return fail(st.with_context("--output"));
  return 0;
}

int run_run(RunArgs& a) {
  Result<DecodeMode> mode = parse_decode_mode(a.decode);
  if (!mode.ok()) return fail(mode.status().with_context("--decode"));
  a.opt.mode = *mode;
  if (!a.text.empty() && !a.input.empty()) return fail(error("give a text or --input, not both"));
  if (!a.output.empty() && a.input.empty() && !a.text.empty())
    return fail(error("--output is for bulk runs; hint: use --input FILE"));
  if (!a.shard.empty() && a.input.empty()) return fail(error("--shard needs --input"));
  if (!a.shard.empty()) {
    size_t si = 0, sn = 1;
    Status st = parse_shard(a.shard, &si, &sn);
    if (!st.ok()) return fail(st);
  }
  if (a.shard_mode != "contiguous" && a.shard_mode != "strided")
    return fail(error("--shard-mode \"" + a.shard_mode + "\" must be contiguous or strided"));
  std::string in_data;
  if (!a.input.empty()) {
    Result<std::string> data = read_file(a.input);
    if (!data.ok()) return fail(data.status());
    in_data = std::move(*data);
  }
  auto lm = load_model(a.model, a.load);
  if (!lm.ok()) return fail(lm.status());
  auto rec = recognizer_create(**lm, a.opt);
  if (!rec.ok()) return fail(rec.status());
  for (const std::string& w : (*rec)->warnings) std::fprintf(stderr, "cartlm: warning: %s\n", w.c_str());

  if (!a.input.empty()) {
    bool jsonl = ends_with(a.input, ".jsonl") || ends_with(a.input, ".json");
    return run_bulk(a, **rec, parse_records(in_data, jsonl));
  }
  if (a.text.empty()) {
    // stdin: one text per line, one output line per input line (JSONL records, so a bad line
    // stays on its own line with its error).
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return run_bulk(a, **rec, parse_records(data, false));
  }
  std::string text = join(a.text, " ");
  auto s = recognizer_session(**rec);
  if (!s.ok()) return fail(s.status());
  Result<IntentResult> res = recognize(**rec, **s, text);
  if (!res.ok()) return fail(res.status());
  std::printf("%s\n", res->output_text.c_str());
  if (!res->valid)
    std::fprintf(stderr, "cartlm: warning: the output is not a valid intent (%s)\n", res->error.c_str());
  if (!a.quiet)
    std::fprintf(stderr, "%.1f ms, %zu prompt tokens (%zu cached), %zu generated, %zu forward passes\n",
                 res->latency_ms, res->prompt_tokens, res->cached_tokens, res->generated_tokens,
                 res->forward_passes);
  return 0;
}

}  // namespace

void register_run(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = root.add_subcommand(
      "run",
      "Recognize shopper messages: `cartlm run --model M \"Can you delet 12 lip balms for me?\"`\n"
      "prints {\"action\": \"remove\", \"product\": \"Lip Balm\", \"quantity\": 12}. Without a text it reads\n"
      "stdin (one message per line); --input runs a whole file.");
  cmd->add_option("text", a->text, "The message (several words are joined with spaces)");
  cmd->add_option("--model", a->model, "Model: HF checkpoint directory, .gguf file or GPTQ directory")
      ->required();
  cmd->add_option("--input", a->input,
                  "Bulk input: .jsonl/.json lines are objects with \"text\" (and optional \"id\"); any "
                  "other file has one message per line. Ids default to line-<n> (1-based line number)");
  cmd->add_option("--output", a->output,
                  "Bulk output JSONL (default stdout), one line per input line: {\"id\", \"output\", "
                  "\"parsed\", \"latency_ms\", \"error\"}; readable by `cartlm score --pred`. Bad lines "
                  "(empty, over the size cap, invalid UTF-8, bad JSON) get an error, not a crash");
  cmd->add_option("--shard", a->shard,
                  "Only shard i of N of the input lines (0-based, e.g. 2/8), so N machines can split a "
                  "file; the outputs concatenate back in order with --shard-mode contiguous");
  cmd->add_option("--shard-mode", a->shard_mode,
                  "contiguous: shard i gets lines [i*L/N, (i+1)*L/N); strided: lines with index % N == i")
      ->capture_default_str();
  cmd->add_option("--decode", a->decode, "constrained (always a valid intent) or free (raw greedy)")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads for bulk runs (0 = all cores)")->capture_default_str();
  cmd->add_option("--few-shot", a->opt.few_shot, "K examples in front of the prompt (not fine-tuned models)")
      ->capture_default_str();
  cmd->add_option("--few-shot-file", a->opt.few_shot_file, "Dataset JSONL with the few-shot examples");
  cmd->add_option("--max-quantity", a->opt.max_quantity, "Largest quantity the grammar allows")
      ->capture_default_str();
  cmd->add_option("--max-text-bytes", a->opt.max_text_bytes, "Longer messages are rejected")
      ->capture_default_str();
  cmd->add_option("--max-text-tokens", a->opt.max_text_tokens, "Messages with more tokens are rejected")
      ->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "No progress or timing on stderr");
  add_no_mmap_flag(cmd, a->load);
  cmd->callback([a, &exit_code] { exit_code = run_run(*a); });
}

}  // namespace cartlm::cli
