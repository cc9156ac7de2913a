// `cartlm bench`: accuracy / speed / memory / energy of several model variants, each measured in a
// fresh `cartlm bench-worker` process (hidden verb, one JSON line on stdout) so that the memory
// high-water mark is that model's alone; `cartlm report`: report.md + report.html + charts from a
// bench.json and, optionally, `cartlm eval` reports.
#include <cmath>
#include <cstdio>
#include <memory>

#include "bench/report.h"
#include "bench/subprocess.h"
#include "bench/worker.h"
#include "cli/cli.h"
#include "core/file_io.h"
#include "core/strings.h"

namespace cartlm::cli {

namespace {

struct BenchArgs {
  std::string models, names, data, out = "bench", decode = "constrained";
  int threads = 0, reps = 3;
  size_t limit = 0, prompt_tokens = 64, gen_tokens = 32;
  bool keep_going = false, no_report = false;
  LoadOptions load;  // passed to every worker as --no-mmap
};

int run_bench(const BenchArgs& a) {
  std::vector<std::string> models, names;
  for (const std::string& m : split(a.models, ','))
    if (!trim(m).empty()) models.push_back(std::string(trim(m)));
  if (models.empty()) return fail(error("--models is empty; hint: a comma-separated list of model files/dirs"));
  if (!a.names.empty()) {
    names = split(a.names, ',');
    if (names.size() != models.size())
      return fail(error(strformat("--names has %zu entries but --models has %zu", names.size(),
                                  models.size())));
  } else {
    for (const std::string& m : models) names.push_back(variant_name_from_path(m));
  }
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (names[i] == names[j])
        return fail(error("variant name '" + names[i] + "' appears twice; hint: pass --names"));
  if (a.reps < 1 || a.reps > 100) return fail(error("--reps must be in 1..100"));
  if (!a.data.empty() && !file_exists(a.data))
    return fail(error("--data '" + a.data + "' does not exist"));
  Status st = ensure_dir(a.out);
  if (!st.ok()) return fail(st.with_context("--out"));

  std::string exe = self_exe();
  std::vector<std::vector<BenchRun>> runs(models.size());
  std::vector<std::string> failures(models.size());
  size_t total = models.size() * a.reps, done = 0;
  // Repetition-major order, so slow drifts of the machine (thermal, other load) spread over all
  // variants instead of biasing the last ones.
  for (int rep = 0; rep < a.reps; ++rep) {
    for (size_t i = 0; i < models.size(); ++i) {
      ++done;
      if (!failures[i].empty()) continue;
      std::vector<std::string> argv = {exe, "bench-worker", "--model", models[i], "--variant",
                                       names[i], "--threads", std::to_string(a.threads),
                                       "--decode", a.decode, "--prompt-tokens",
                                       std::to_string(a.prompt_tokens), "--gen-tokens",
                                       std::to_string(a.gen_tokens)};
      if (!a.load.mmap) argv.push_back("--no-mmap");
      if (!a.data.empty()) {
        for (const std::string& s : {std::string("--data"), a.data, std::string("--limit"),
                                     std::to_string(a.limit)})
          argv.push_back(s);
      }
      std::fprintf(stderr, "bench [%zu/%zu] %s (rep %d) ...\n", done, total, names[i].c_str(), rep + 1);
      ProcOptions po;
      po.capture_stdout = true;
      Result<ProcResult> pr = run_process(argv, po);
      std::string why;
      if (!pr.ok()) {
        why = pr.message();
      } else if (pr->exit_code != 0) {
        why = pr->signal ? strformat("worker killed by signal %d", pr->signal)
                         : strformat("worker exited with code %d", pr->exit_code);
      } else {
        std::string line;
        for (const std::string& l : split(pr->out, '\n'))
          if (!trim(l).empty()) line = l;
        json j = json::parse(line, nullptr, false);
        Result<BenchRun> r = bench_run_from_json(j, "bench-worker output for " + names[i]);
        if (r.ok()) runs[i].push_back(*r);
        else why = r.message();
      }
      if (!why.empty()) {
        failures[i] = why;
        std::fprintf(stderr, "cartlm: warning: %s (%s): %s\n", names[i].c_str(), models[i].c_str(),
                     why.c_str());
      }
    }
  }
  BenchFile b;
  b.data = a.data;
  b.reps = a.reps;
  size_t failed = 0;
  for (size_t i = 0; i < models.size(); ++i) {
    if (!failures[i].empty() || runs[i].empty()) {
      ++failed;
      continue;
    }
    b.variants.push_back(summarize_variant(runs[i]));
  }
  if (b.variants.empty()) return fail(error("every variant failed; first: " + names[0] + ": " + failures[0]));
  st = write_bench_files(a.out, b);
  if (!st.ok()) return fail(st);
  if (!a.no_report) {
    ReportInput in;
    in.bench = b;
    in.notes.push_back("Benchmark of " + std::to_string(b.variants.size()) + " variant(s).");
    if (!a.load.mmap)
      in.notes.push_back("Weights read into memory (--no-mmap): load time includes reading the "
                         "whole file.");
    Result<ReportFiles> files = write_report(a.out, in);
    if (!files.ok()) return fail(files.status());
  }
  ReportInput in;
  in.bench = b;
  std::string table = summary_table_text(in);
  std::fwrite(table.data(), 1, table.size(), stdout);
  std::fprintf(stderr, "wrote %s and %s%s\n", join_path(a.out, "bench.json").c_str(),
               join_path(a.out, "bench.csv").c_str(),
               a.no_report ? "" : (" and " + join_path(a.out, "report.html")).c_str());
  if (failed > 0 && !a.keep_going)
    return fail(error(strformat("%zu of %zu variant(s) failed (see the warnings above); hint: "
                                "--keep-going exits 0 when at least one variant was measured",
                                failed, models.size())));
  return 0;
}

int run_worker(const WorkerOptions& o) {
  Result<BenchRun> r = run_bench_worker(o);
  if (!r.ok()) return fail(r.status());
  std::string line = dump_json_line(bench_run_to_json(*r)) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}

struct ReportArgs {
  std::string bench, eval, out = ".", title;
};

int run_report(const ReportArgs& a) {
  Result<std::string> text = read_file(a.bench);
  if (!text.ok()) return fail(text.status());
  Result<BenchFile> b = bench_from_json_text(*text, a.bench);
  if (!b.ok()) return fail(b.status());
  ReportInput in;
  in.bench = *b;
  if (!a.title.empty()) in.title = a.title;
  if (!a.eval.empty()) {
    Result<std::vector<EvalEntry>> ev = collect_eval_entries(a.eval);
    if (!ev.ok()) return fail(ev.status());
    in.evals = *ev;
  }
  in.notes.push_back("Benchmark: " + a.bench + (a.eval.empty() ? "" : "; eval reports: " + a.eval));
  Result<ReportFiles> files = write_report(a.out, in);
  if (!files.ok()) return fail(files.status());
  std::string table = summary_table_text(in);
  std::fwrite(table.data(), 1, table.size(), stdout);
  std::vector<std::string> recs = recommendation_lines(tradeoff_points(in), recommend(tradeoff_points(in), in.tolerance));
  for (const std::string& l : recs) std::printf("%s\n", replace_all(l, "**", "").c_str());
  std::fprintf(stderr, "wrote %s, %s and %zu chart(s)\n", files->markdown.c_str(),
               files->html.c_str(), files->charts.size());
  return 0;
}

}  // namespace

void register_bench(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = root.add_subcommand(
      "bench",
      "Benchmark model variants: for each one, in a fresh process per repetition: load time,\n"
      "model size, peak RSS (VmHWM), prefill and decode tokens/s (a 64-token prompt, then 32\n"
      "single-token steps), intent latency p50/p95 and intents/s and exact-match accuracy over\n"
      "--data, and energy per token from the RAPL powercap counters when the machine exposes them\n"
      "(else reported as \"not available\"). Writes OUT/bench.json (every repetition + median,\n"
      "quartiles, min-max), OUT/bench.csv and OUT/report.md/.html with charts.");
  cmd->add_option("--models", a->models, "Comma-separated model files/dirs (.gguf, HF dir, GPTQ dir)")
      ->required();
  cmd->add_option("--names", a->names, "Comma-separated display names (default: file names)");
  cmd->add_option("--data", a->data, "Eval JSONL for accuracy and latency (omit: speed/memory only)");
  cmd->add_option("--out", a->out, "Output directory")->capture_default_str();
  cmd->add_option("--reps", a->reps, "Repetitions per variant (fresh process each)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--limit", a->limit, "Only the first N examples of --data (0 = all)")->capture_default_str();
  cmd->add_option("--decode", a->decode, "Decoding for the intent loop: constrained or free")
      ->capture_default_str();
  cmd->add_option("--prompt-tokens", a->prompt_tokens, "Prompt length of the prefill timing")
      ->capture_default_str();
  cmd->add_option("--gen-tokens", a->gen_tokens, "Decode steps of the decode timing")->capture_default_str();
  cmd->add_flag("--keep-going", a->keep_going,
                "Exit 0 when some variants fail (they are left out with a warning)");
  cmd->add_flag("--no-report", a->no_report, "Only bench.json and bench.csv");
  add_no_mmap_flag(cmd, a->load);
  cmd->callback([a, &exit_code] { exit_code = run_bench(*a); });

  auto w = std::make_shared<WorkerOptions>();
  CLI::App* wc = root.add_subcommand("bench-worker", "Internal: one measurement, one JSON line");
  wc->group("");  // hidden from --help
  wc->add_option("--model", w->model)->required();
  wc->add_option("--variant", w->variant);
  wc->add_option("--data", w->data);
  wc->add_option("--decode", w->decode);
  wc->add_option("--threads", w->threads);
  wc->add_option("--limit", w->limit);
  wc->add_option("--prompt-tokens", w->prompt_tokens);
  wc->add_option("--gen-tokens", w->gen_tokens);
  wc->add_option("--powercap", w->powercap_root);
  wc->add_flag("!--no-mmap", w->load.mmap);
  wc->callback([w, &exit_code] { exit_code = run_worker(*w); });

  auto r = std::make_shared<ReportArgs>();
  CLI::App* rc = root.add_subcommand(
      "report",
      "Write report.md, a self-contained report.html and charts/*.png from a bench.json (and the\n"
      "report.json files of `cartlm eval` runs under --eval DIR/<variant>-<free|constrained>/):\n"
      "accuracy with 95% CIs, memory, speed, load time, energy, the Pareto frontiers (accuracy vs\n"
      "memory, accuracy vs speed) and recommendations computed from the numbers.");
  rc->add_option("--bench", r->bench, "bench.json written by `cartlm bench`")->required();
  rc->add_option("--eval", r->eval, "Directory of eval outputs named <variant>-<mode>");
  rc->add_option("--out", r->out, "Output directory")->capture_default_str();
  rc->add_option("--title", r->title, "Report title");
  rc->callback([r, &exit_code] { exit_code = run_report(*r); });
}

}  // namespace cartlm::cli
