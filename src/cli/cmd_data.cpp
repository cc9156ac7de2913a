// `cartlm data`: dataset verbs. Each sub-verb lives in its own file (cmd_data_<verb>.cpp).
#include "cli/cli.h"

namespace cartlm::cli {

void register_data(CLI::App& root, int& exit_code) {
  CLI::App* data = root.add_subcommand(
      "data", "Make datasets: synthetic multilingual shopper messages with exact labels");
  data->require_subcommand(1);
  register_data_generate(*data, exit_code);
  register_data_metaprompt(*data, exit_code);
}

}  // namespace cartlm::cli
