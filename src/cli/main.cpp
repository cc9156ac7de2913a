#include <cstdio>
#include <string>

#include "cli/cli.h"
#include "model/load.h"

namespace cartlm::cli {

int fail(const Status& status) {
  std::fprintf(stderr, "cartlm: error: %s\n", status.message().c_str());
  return 1;
}

void add_no_mmap_flag(CLI::App* cmd, LoadOptions& opt) {
  cmd->add_flag("!--no-mmap", opt.mmap,
                "Read the weights into memory instead of memory-mapping the file: costs RAM = "
                "the file size and a load that reads the whole file, but the weights stay "
                "resident (faster decode where the page cache drops a mapped model)");
}

}  // namespace cartlm::cli

int main(int argc, char** argv) {
  using namespace cartlm::cli;
  CLI::App app{
      "cartlm: turns a small language model into a fast multilingual (en/hr/es) e-commerce intent\n"
      "recognizer: 'Can you delet 12 lip balms for me?' -> "
      "{\"action\": \"remove\", \"product\": \"Lip Balm\", \"quantity\": 12}",
      "cartlm"};
  app.set_version_flag("--version", "cartlm " CARTLM_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  int exit_code = 0;
  register_data(app, exit_code);
  register_score(app, exit_code);
  register_inspect(app, exit_code);
  register_tokenizer(app, exit_code);
  register_init(app, exit_code);
  register_generate(app, exit_code);
  register_train(app, exit_code);
  register_bench_model(app, exit_code);
  register_merge(app, exit_code);
  register_quantize(app, exit_code);
  register_serve(app, exit_code);
  register_gptq(app, exit_code);
  register_imatrix(app, exit_code);
  register_eval(app, exit_code);
  register_run(app, exit_code);
  register_bench(app, exit_code);
  register_pipeline(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // `cartlm` or `cartlm data` alone: show what can follow instead of a bare complaint.
    // (help() descends into the subcommands that were given.)
    if (argc == 1 || std::string(e.what()).find("subcommand is required") != std::string::npos) {
      std::fputs(app.help().c_str(), stderr);
      return 2;
    }
    std::fprintf(stderr, "cartlm: error: %s (see 'cartlm --help' or 'cartlm <verb> --help')\n",
                 e.what());
    return e.get_exit_code() ? e.get_exit_code() : 2;
  }
  return exit_code;
}
