// `cartlm pipeline`: the whole study as a list of stages, each one a cartlm verb run as a child
// process, so every stage is also a command a user can run by hand:
//   data generate -> train (tiny; or qlora + merge on --base DIR) -> export F16 -> quantize
//   Q8_0, Q5_K_M, Q4_K_M, Q3_K_M -> gptq 4-bit -> eval (free and constrained) -> bench -> report
// A stage is one table entry: name, group (what --stages selects), argv, inputs, outputs.
// Resumable: after a stage succeeds it writes RUN/.done/<name>.json with a fingerprint of its
// command and input files; a rerun skips a stage whose marker matches and whose outputs exist,
// unless --force.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace cartlm {

struct Stage {
  std::string name;   // unique, used for the marker and the log file: "quantize-Q4_K_M"
  std::string group;  // what --stages selects: data, train, export, quantize, gptq, eval, bench, report
  std::string title;  // progress line text
  std::vector<std::string> args;     // arguments after the executable
  std::vector<std::string> inputs;   // files/dirs whose contents (size + mtime) are fingerprinted
  std::vector<std::string> outputs;  // must exist after the stage (and for a skip)
};

struct PipelineSettings {
  std::string run_dir;   // RUN
  std::string base;      // empty: the tiny model from scratch; else an HF checkpoint (QLoRA)
  bool quick = false;    // small data, few steps (CI)
  int threads = 0;
  int reps = 3;          // bench repetitions (quick: 1)
  std::vector<std::string> quant_types = {"Q8_0", "Q5_K_M", "Q4_K_M", "Q3_K_M"};
  bool gptq = true;
};

// The study's stage table for these settings.
std::vector<Stage> build_stages(const PipelineSettings& s);
// Names of the variants the study compares, in report order, with their model paths.
std::vector<std::pair<std::string, std::string>> study_variants(const PipelineSettings& s);
const std::vector<std::string>& stage_groups();

struct PipelineOptions {
  std::string exe;            // program every stage runs (normally /proc/self/exe)
  std::string run_dir;
  bool force = false;         // rerun selected stages even when their marker matches
  std::vector<std::string> only_groups;  // empty: all
  bool verbose = false;       // stream children's stderr instead of logging to RUN/logs/
  bool keep_going = false;    // run the remaining stages after a failure
  // Called with one progress line per event (stage start/skip/done/fail).
  std::function<void(const std::string&)> on_line;
};

struct StageOutcome {
  std::string name;
  enum class Kind { Ran, Skipped, NotSelected, Failed } kind = Kind::NotSelected;
  double seconds = 0;
  std::string message;  // failure reason
};

struct PipelineRun {
  std::vector<StageOutcome> outcomes;  // one per stage reached, in order
  Status status;  // error when a stage failed (names the stage, exit code, last log line, log
                  // file) or the selection names an unknown group
};
// Runs the stages in order. A failed stage stops the run unless keep_going, in which case the
// later stages still run (those that need the missing outputs fail quickly in turn) and status
// reports the failures at the end.
PipelineRun run_pipeline(const std::vector<Stage>& stages, const PipelineOptions& opt);

// FNV-1a over the command line and, for every input (recursively for directories, in sorted
// order), its relative path, size and modification time.
std::string stage_fingerprint(const Stage& st);

}  // namespace cartlm
