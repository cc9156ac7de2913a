// `cartlm pipeline`: the whole study in one command (src/bench/pipeline.h): every stage is a cartlm
// verb run as a child process, logged to RUN/logs/<stage>.log, resumable through RUN/.done/.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "bench/pipeline.h"
#include "bench/report.h"
#include "bench/subprocess.h"
#include "cli/cli.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "core/timer.h"

namespace cartlm::cli {

namespace {

struct PipelineArgs {
  std::string run, base, stages, runs_root = "runs";
  bool quick = false, force = false, fail_fast = false, verbose = false, no_gptq = false;
  int threads = 0, reps = 3;
};

std::string utc_stamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

// runs/latest -> <stamp>, replaced atomically (symlink under a temp name, then rename).
Status update_latest(const std::string& root, const std::string& name) {
  std::string link = join_path(root, "latest"), tmp = link + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  if (::symlink(name.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), link.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return error("cannot update the symlink '" + link + "'");
  }
  return {};
}

void print_summary(const std::string& run) {
  std::string bench = join_path(join_path(run, "bench"), "bench.json");
  Result<std::string> text = read_file(bench);
  if (!text.ok()) return;
  Result<BenchFile> b = bench_from_json_text(*text, bench);
  if (!b.ok()) return;
  ReportInput in;
  in.bench = *b;
  Result<std::vector<EvalEntry>> ev = collect_eval_entries(join_path(run, "eval"));
  if (ev.ok()) in.evals = *ev;
  std::string table = summary_table_text(in);
  std::printf("\n%s\n", table.c_str());
  auto pts = tradeoff_points(in);
  for (const std::string& l : recommendation_lines(pts, recommend(pts, in.tolerance)))
    std::printf("%s\n", replace_all(l, "**", "").c_str());
}

int run_pipeline_cmd(const PipelineArgs& a) {
  Timer total;
  PipelineSettings s;
  s.base = a.base;
  s.quick = a.quick;
  s.threads = a.threads;
  s.reps = a.reps;
  s.gptq = !a.no_gptq;
  if (!a.base.empty() && !file_exists(join_path(a.base, "config.json")))
    return fail(error("--base '" + a.base + "' is not an HF checkpoint directory (no config.json)"));
  std::vector<std::string> only;
  for (const std::string& g : split(a.stages, ','))
    if (!trim(g).empty()) only.push_back(std::string(trim(g)));
  {
    // Bad --stages is bad input: one error line, before anything is created or printed.
    std::vector<Stage> probe = build_stages(s);
    for (const std::string& g : only) {
      bool known = false;
      for (const Stage& x : probe) known = known || x.group == g || x.name == g;
      if (!known)
        return fail(error("--stages: unknown stage '" + g + "'; hint: choose from " +
                          join(stage_groups(), ",") + " or a single stage name such as " +
                          probe.back().name));
    }
  }
  bool fresh = a.run.empty();
  std::string stamp = utc_stamp();
  s.run_dir = fresh ? join_path(a.runs_root, stamp) : a.run;
  Status st = ensure_dir(s.run_dir);
  if (!st.ok()) return fail(st.with_context("run directory"));
  if (fresh) {
    st = update_latest(a.runs_root, stamp);
    if (!st.ok()) std::fprintf(stderr, "cartlm: warning: %s\n", st.message().c_str());
  }
  PipelineOptions o;
  o.exe = self_exe();
  o.run_dir = s.run_dir;
  o.force = a.force;
  o.verbose = a.verbose;
  o.keep_going = !a.fail_fast;
  o.only_groups = only;
  o.on_line = [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };
  std::vector<Stage> stages = build_stages(s);
  std::fprintf(stderr, "pipeline: run directory %s (%s%s)\n", s.run_dir.c_str(),
               a.base.empty() ? "tiny model from scratch" : ("QLoRA on " + a.base).c_str(),
               a.quick ? ", quick" : "");
  PipelineRun r = run_pipeline(stages, o);
  print_summary(s.run_dir);
  std::string report = join_path(s.run_dir, "report.html");
  std::fprintf(stderr, "pipeline: %s in %s%s\n", r.status.ok() ? "finished" : "stopped",
               human_duration(total.seconds()).c_str(),
               file_exists(report) ? ("; report: " + report).c_str() : "");
  if (!r.status.ok()) return fail(r.status);
  return 0;
}

}  // namespace

void register_pipeline(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<PipelineArgs>();
  CLI::App* cmd = root.add_subcommand(
      "pipeline",
      "The whole study in one command: generate the dataset -> train the tiny model (or, with\n"
      "--base DIR, QLoRA-fine-tune that checkpoint and merge) -> export F16 -> quantize Q8_0,\n"
      "Q5_K_M, Q4_K_M, Q3_K_M and GPTQ 4-bit -> evaluate each (free and constrained decoding) ->\n"
      "benchmark -> report, into runs/<UTC timestamp>/ (runs/latest points at it). Every stage is\n"
      "a cartlm verb run as a child process (the exact command is the first line of\n"
      "RUN/logs/<stage>.log), so each can be rerun by hand. Stages are resumable: a finished stage\n"
      "leaves RUN/.done/<stage>.json with a fingerprint of its command and inputs, and a rerun\n"
      "with --run RUN skips it while those are unchanged (--force reruns).");
  cmd->add_option("--run", a->run, "Reuse this run directory (resume, or rerun stages)");
  cmd->add_option("--base", a->base, "HF checkpoint directory: QLoRA + merge instead of the tiny model");
  cmd->add_option("--stages", a->stages,
                  "Comma-separated stages to run (others are left as they are): data, train, "
                  "export, quantize, gptq, eval, bench, report, or a single stage name such as "
                  "quantize-Q4_K_M or eval-F16-free");
  cmd->add_flag("--force", a->force, "Rerun the selected stages even when they are done");
  cmd->add_flag("--quick", a->quick,
                "Small data (600 + 200 eval), few training steps, 1 bench repetition (what CI runs)");
  cmd->add_option("--threads", a->threads, "Threads for every stage (0 = all cores)")
      ->capture_default_str();
  cmd->add_option("--reps", a->reps, "Benchmark repetitions per variant")->capture_default_str();
  cmd->add_option("--runs-root", a->runs_root, "Where new run directories go")->capture_default_str();
  cmd->add_flag("--no-gptq", a->no_gptq, "Leave out the GPTQ variant");
  cmd->add_flag("--fail-fast", a->fail_fast,
                "Stop at the first failed stage (default: go on, so the report covers whatever "
                "worked, and exit 1 at the end)");
  cmd->add_flag("--verbose", a->verbose, "Show every stage's own output instead of logging it");
  cmd->callback([a, &exit_code] { exit_code = run_pipeline_cmd(*a); });
}

}  // namespace cartlm::cli
