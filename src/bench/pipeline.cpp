#include "bench/pipeline.h"

#include <algorithm>
#include <filesystem>

#include "bench/subprocess.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "core/timer.h"
#include "data/generator.h"
#include "formats/jsonl.h"

namespace cartlm {

const std::vector<std::string>& stage_groups() {
  static const std::vector<std::string> kGroups = {"data", "train", "export", "quantize",
                                                   "gptq", "eval",  "bench",  "report"};
  return kGroups;
}

std::vector<std::pair<std::string, std::string>> study_variants(const PipelineSettings& s) {
  std::string models = join_path(s.run_dir, "models");
  std::vector<std::pair<std::string, std::string>> v = {{"F16", join_path(models, "F16.gguf")}};
  for (const std::string& t : s.quant_types) v.push_back({t, join_path(models, t + ".gguf")});
  if (s.gptq) v.push_back({"GPTQ-4", join_path(models, "GPTQ-4")});
  return v;
}

std::vector<Stage> build_stages(const PipelineSettings& s) {
  const std::string run = s.run_dir;
  const std::string data = join_path(run, "data"), model = join_path(run, "train"),
                    models = join_path(run, "models");
  const std::string train_jsonl = join_path(data, "train.jsonl"),
                    val_jsonl = join_path(data, "val.jsonl"),
                    eval_jsonl = join_path(data, "eval.jsonl");
  const std::string threads = std::to_string(s.threads);
  std::vector<Stage> st;

  Stage d{"data", "data", "generate the dataset", {"data", "generate", "--out", data, "--force"},
          {}, {train_jsonl, val_jsonl, eval_jsonl}};
  if (s.quick) {
    // CI size: enough for every language/action, small enough to train and evaluate quickly.
    for (const char* a : {"--size", "600", "--eval-size", "200"}) d.args.push_back(a);
  } else {
    // The tiny model needs more than the study's 3k examples to reach its accuracy goal; the
    // generator is free, so it trains one epoch over kTinyGenSize examples (why: kTinyEpochs in
    // cmd_train.cpp). 500 of them are val; eval is the held-out 1000.
    d.args.push_back("--size");
    d.args.push_back(std::to_string(kTinyGenSize));
    d.args.push_back("--val-fraction");
    d.args.push_back(strformat("%.8g", 500.0 / (double)kTinyGenSize));
  }
  // More typos, distractor numbers, item details and numbers above 10 in train only (why:
  // kTinyTrainRates); val and eval keep the default mix. Also for a real base: it is a property of
  // the data, not of the model.
  for (const char* r : kTinyTrainRates) {
    d.args.push_back("--train-rate");
    d.args.push_back(r);
  }
  d.args.push_back("--train-tail-share");
  d.args.push_back(strformat("%g", kTinyTrainTailShare));
  st.push_back(d);

  if (s.base.empty()) {
    Stage t{"train", "train", "train the tiny model",
            {"train", "--base", "tiny", "--data", data, "--out", model, "--threads", threads},
            {train_jsonl, val_jsonl}, {join_path(model, "config.json")}};
    if (s.quick) for (const char* a : {"--max-steps", "60"}) t.args.push_back(a);
    st.push_back(t);
  } else {
    // The study's setting on a real checkpoint: QLoRA (trainer defaults: rank 8, alpha 16,
    // dropout 0.1, all projections, 5 epochs, batch 8, lr 2e-5), then merge into an F16 checkpoint.
    std::string adapter = join_path(run, "adapter");
    Stage t{"train", "train", "QLoRA fine-tune of " + s.base,
            {"train", "--base", s.base, "--mode", "qlora", "--data", data, "--out", adapter,
             "--threads", threads},
            {train_jsonl, val_jsonl, s.base}, {join_path(adapter, "adapter_config.json")}};
    if (s.quick) for (const char* a : {"--max-steps", "20"}) t.args.push_back(a);
    st.push_back(t);
    st.push_back(Stage{"merge", "train", "merge the adapter into the base",
                       {"merge", "--base", s.base, "--adapter", adapter, "--out", model, "--dtype",
                        "f16", "--force", "--threads", threads},
                       {adapter, s.base}, {join_path(model, "config.json")}});
  }

  std::string f16 = join_path(models, "F16.gguf");
  st.push_back(Stage{"export-F16", "export", "export F16 GGUF",
                     {"quantize", "--model", model, "--type", "F16", "--out", f16, "--threads",
                      threads},
                     {model}, {f16}});
  for (const std::string& type : s.quant_types) {
    std::string out = join_path(models, type + ".gguf");
    st.push_back(Stage{"quantize-" + type, "quantize", "quantize " + type,
                       {"quantize", "--model", f16, "--type", type, "--out", out, "--threads",
                        threads},
                       {f16}, {out}});
  }
  if (s.gptq) {
    std::string out = join_path(models, "GPTQ-4");
    // The study's GPTQ settings: 4 bits, group 128, 300 calibration examples (gptq's defaults).
    Stage g{"gptq-4", "gptq", "GPTQ 4-bit",
            {"gptq", "--model", model, "--data", train_jsonl, "--out", out, "--bits", "4",
             "--threads", threads},
            {model, train_jsonl}, {join_path(out, "quantize_config.json")}};
    if (s.quick) for (const char* a : {"--samples", "64"}) g.args.push_back(a);
    st.push_back(g);
  }

  std::vector<std::string> model_paths, names;
  for (const auto& [name, path] : study_variants(s)) {
    model_paths.push_back(path);
    names.push_back(name);
    for (const char* mode : {"free", "constrained"}) {
      std::string out = join_path(join_path(run, "eval"), name + "-" + mode);
      Stage e{"eval-" + name + "-" + mode, "eval", "evaluate " + name + " (" + mode + ")",
              {"eval", "--model", path, "--data", eval_jsonl, "--out", out, "--decode", mode,
               "--threads", threads, "--quiet"},
              {path, eval_jsonl}, {join_path(out, "report.json")}};
      st.push_back(e);
    }
  }

  std::string bench_dir = join_path(run, "bench");
  std::vector<std::string> bench_inputs = model_paths;
  bench_inputs.push_back(eval_jsonl);
  Stage b{"bench", "bench", "benchmark every variant",
          {"bench", "--models", join(model_paths, ","), "--names", join(names, ","), "--data",
           eval_jsonl, "--out", bench_dir, "--reps", std::to_string(s.quick ? 1 : s.reps),
           "--threads", threads, "--keep-going"},
          bench_inputs, {join_path(bench_dir, "bench.json")}};
  if (s.quick) for (const char* a : {"--limit", "50"}) b.args.push_back(a);
  st.push_back(b);

  st.push_back(Stage{"report", "report", "write the report",
                     {"report", "--bench", join_path(bench_dir, "bench.json"), "--eval",
                      join_path(run, "eval"), "--out", run},
                     {join_path(bench_dir, "bench.json"), join_path(run, "eval")},
                     {join_path(run, "report.md"), join_path(run, "report.html")}});
  return st;
}

namespace {

void fnv(uint64_t& h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= 0xff;  // field separator, so ("ab","c") and ("a","bc") differ
  h *= 1099511628211ull;
}

void fingerprint_path(uint64_t& h, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fnv(h, path);
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
         it.increment(ec))
      if (it->is_regular_file(ec)) files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) fingerprint_path(h, f.string());
    return;
  }
  auto size = fs::file_size(path, ec);
  if (ec) {
    fnv(h, "<missing>");
    return;
  }
  auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  fnv(h, std::to_string(size) + ":" + std::to_string(mtime));
}

std::string marker_path(const std::string& run, const std::string& name) {
  return join_path(join_path(run, ".done"), name + ".json");
}

bool outputs_exist(const Stage& st) {
  return std::all_of(st.outputs.begin(), st.outputs.end(),
                     [](const std::string& p) { return file_exists(p); });
}

// The last few lines of a log, for the one-line failure message's hint.
std::string log_tail(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text.ok()) return "";
  std::vector<std::string> lines;
  for (const std::string& l : split(*text, '\n'))
    if (!trim(l).empty()) lines.push_back(std::string(trim(l)));
  if (lines.empty()) return "";
  std::string last = lines.back();
  // Progress bars redraw with \r: keep the final state.
  size_t cr = last.rfind('\r');
  return cr == std::string::npos ? last : last.substr(cr + 1);
}

}  // namespace

std::string stage_fingerprint(const Stage& st) {
  uint64_t h = 1469598103934665603ull;
  for (const std::string& a : st.args) fnv(h, a);
  fnv(h, "--inputs--");
  for (const std::string& in : st.inputs) fingerprint_path(h, in);
  return strformat("%016llx", static_cast<unsigned long long>(h));
}

PipelineRun run_pipeline(const std::vector<Stage>& stages, const PipelineOptions& opt) {
  PipelineRun result;
  std::vector<StageOutcome>& outcomes = result.outcomes;
  auto fail_with = [&](Status st) {
    result.status = st;
    return result;
  };
  for (const std::string& g : opt.only_groups) {
    bool known = std::any_of(stages.begin(), stages.end(),
                             [&](const Stage& s) { return s.group == g || s.name == g; });
    if (!known) {
      std::vector<std::string> groups;
      for (const Stage& s : stages)
        if (std::find(groups.begin(), groups.end(), s.group) == groups.end()) groups.push_back(s.group);
      return fail_with(error("--stages: unknown stage '" + g + "'; hint: choose from " +
                             join(groups, ",") + " (or a single stage name such as " +
                             stages.back().name + ")"));
    }
  }
  auto say = [&](const std::string& line) {
    if (opt.on_line) opt.on_line(line);
  };
  for (const char* sub : {".done", "logs"}) {
    Status st = ensure_dir(join_path(opt.run_dir, sub));
    if (!st.ok()) return fail_with(st);
  }
  std::string first_failure;
  size_t total = stages.size();
  for (size_t i = 0; i < total; ++i) {
    const Stage& st = stages[i];
    StageOutcome oc;
    oc.name = st.name;
    std::string prefix = strformat("[%zu/%zu] %-28s", i + 1, total, st.name.c_str());
    bool selected = opt.only_groups.empty() ||
                    std::any_of(opt.only_groups.begin(), opt.only_groups.end(),
                                [&](const std::string& g) { return g == st.group || g == st.name; });
    if (!selected) {
      outcomes.push_back(oc);
      continue;
    }
    std::string fp = stage_fingerprint(st);
    std::string marker = marker_path(opt.run_dir, st.name);
    if (!opt.force && outputs_exist(st)) {
      Result<std::string> text = read_file(marker);
      if (text.ok()) {
        json j = json::parse(*text, nullptr, false);
        if (j.is_object() && j.value("fingerprint", "") == fp) {
          oc.kind = StageOutcome::Kind::Skipped;
          say(prefix + " skipped (done, inputs unchanged)");
          outcomes.push_back(oc);
          continue;
        }
      }
    }
    std::string log = join_path(join_path(opt.run_dir, "logs"), st.name + ".log");
    std::vector<std::string> argv = {opt.exe};
    argv.insert(argv.end(), st.args.begin(), st.args.end());
    say(prefix + " " + st.title + " ...");
    // A stale marker must not survive a failed rerun.
    std::filesystem::remove(marker);
    {
      // Start each log fresh with the command, so it can be rerun by hand.
      Status w = write_file_atomic(log, "$ " + command_line(argv) + "\n");
      if (!w.ok()) return fail_with(w);
    }
    // Verbs write their outputs but need not create the folders around them.
    for (const std::string& out : st.outputs) {
      std::string parent = std::filesystem::path(out).parent_path().string();
      if (parent.empty()) continue;
      Status d = ensure_dir(parent);
      if (!d.ok()) return fail_with(d);
    }
    ProcOptions po;
    po.stderr_path = opt.verbose ? "" : log;
    Timer t;
    Result<ProcResult> pr = run_process(argv, po);
    oc.seconds = t.seconds();
    if (!pr.ok() || pr->exit_code != 0 || !outputs_exist(st)) {
      oc.kind = StageOutcome::Kind::Failed;
      if (!pr.ok()) oc.message = pr.message();
      else if (pr->exit_code != 0)
        oc.message = pr->signal ? strformat("killed by signal %d", pr->signal)
                                : strformat("exit code %d", pr->exit_code);
      else
        oc.message = "finished but did not write " + join(st.outputs, ", ");
      std::string tail = opt.verbose ? "" : log_tail(log);
      say(prefix + " FAILED after " + human_duration(oc.seconds) + " (" + oc.message + ")" +
          (tail.empty() ? "" : ": " + tail) + (opt.verbose ? "" : " [log: " + log + "]"));
      std::string why = "stage '" + st.name + "' failed (" + oc.message + "): " +
                        command_line(argv) + (tail.empty() ? "" : "; last log line: " + tail) +
                        (opt.verbose ? "" : "; hint: see " + log);
      outcomes.push_back(oc);
      if (!opt.keep_going) return fail_with(error(why));
      if (first_failure.empty()) first_failure = why;
      continue;
    }
    // The fingerprint taken before the run: what the stage actually read.
    json m = {{"stage", st.name},
              {"fingerprint", fp},
              {"command", command_line(argv)},
              {"seconds", oc.seconds}};
    Status w = write_file_atomic(marker, m.dump(2) + "\n");
    if (!w.ok()) return fail_with(w);
    oc.kind = StageOutcome::Kind::Ran;
    say(prefix + " done in " + human_duration(oc.seconds));
    outcomes.push_back(oc);
  }
  if (!first_failure.empty()) {
    size_t failed = std::count_if(outcomes.begin(), outcomes.end(), [](const StageOutcome& o) {
      return o.kind == StageOutcome::Kind::Failed;
    });
    if (failed > 1) first_failure = strformat("%zu stages failed; first: ", failed) + first_failure;
    return fail_with(error(first_failure));
  }
  return result;
}

}  // namespace cartlm
