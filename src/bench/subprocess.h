// Running cartlm verbs (or any program) as child processes: `cartlm bench` runs each variant in a
// fresh `cartlm bench-worker` process, `cartlm pipeline` runs each stage as its verb.
#pragma once
#include <string>
#include <vector>

#include "core/status.h"

namespace cartlm {

struct ProcOptions {
  bool capture_stdout = false;  // else the child's stdout is ours
  std::string stderr_path;      // append the child's stderr (and stdout when not captured) here;
                                // empty = inherit ours
};
struct ProcResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;     // captured stdout
};
// fork + execv(argv[0], argv). Errors only when the process cannot be started; a non-zero exit is
// a result (the caller decides what it means).
Result<ProcResult> run_process(const std::vector<std::string>& argv, const ProcOptions& opt = {});

// The running executable (readlink /proc/self/exe).
std::string self_exe();

// Shell-quoted command line, for logs ("cartlm eval --model 'a b'").
std::string command_line(const std::vector<std::string>& argv);

}  // namespace cartlm
