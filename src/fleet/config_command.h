// `sluice config push FILE --etcd URL` and `sluice config get --etcd URL`
// (docs/fleet.md, "Commands"): a configuration file into etcd as keys in
// one transaction, and etcd's keys back out as one YAML document.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace sluice::fleet {

// Checks a configuration file as `sluice check` does, printing every
// problem as FILE:LINE:COL; true when it may be pushed.
using FileCheck = std::function<bool(const std::string& path)>;

// Adds `config` with its `push` and `get` subcommands to `app`. They run
// while `app` parses the command line and leave their exit status in
// `exit_code`; the caller returns it when the returned command was chosen.
CLI::App* add_config_commands(CLI::App& app, FileCheck check, int& exit_code);

}  // namespace sluice::fleet
