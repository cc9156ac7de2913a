// The `cartlm` command line: one file per verb (cmd_<verb>.cpp), each exposing a register function
// that adds its CLI11 subcommand. A verb's action returns the process exit code through `exit_code`.
#pragma once
#include <CLI/CLI.hpp>

#include "core/status.h"

namespace cartlm {
struct LoadOptions;  // model/load.h
}

namespace cartlm::cli {

void register_data(CLI::App& root, int& exit_code);
void register_data_generate(CLI::App& data, int& exit_code);
void register_data_metaprompt(CLI::App& data, int& exit_code);
void register_score(CLI::App& root, int& exit_code);
void register_inspect(CLI::App& root, int& exit_code);
void register_tokenizer(CLI::App& root, int& exit_code);
void register_init(CLI::App& root, int& exit_code);
void register_generate(CLI::App& root, int& exit_code);
void register_train(CLI::App& root, int& exit_code);
void register_bench_model(CLI::App& root, int& exit_code);
void register_merge(CLI::App& root, int& exit_code);
void register_quantize(CLI::App& root, int& exit_code);
void register_serve(CLI::App& root, int& exit_code);
void register_gptq(CLI::App& root, int& exit_code);
void register_imatrix(CLI::App& root, int& exit_code);
void register_eval(CLI::App& root, int& exit_code);
void register_run(CLI::App& root, int& exit_code);
void register_bench(CLI::App& root, int& exit_code);  // bench, bench-worker, report
void register_pipeline(CLI::App& root, int& exit_code);

// Prints "cartlm: error: <message>" on one line and returns 1 (the exit code for bad input).
int fail(const Status& status);

// --no-mmap (sets opt.mmap = false), with one help text for every verb that loads a model.
void add_no_mmap_flag(CLI::App* cmd, LoadOptions& opt);

}  // namespace cartlm::cli
