// agentphone: the one binary. This file only parses the command line and hands
// each subcommand to the layer that owns it.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <string>

#include "http/serve.hpp"

namespace {

// Returns the environment variable `name`, or `fallback` when unset.
std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agentphone: phone numbers, SMS and voice for AI agents (self-hosted)"};
  app.require_subcommand(1);

  ap::http::ServeConfig serve;
  serve.data_dir = env_or("AGENTPHONE_DATA_DIR", serve.data_dir);
  serve.address = env_or("AGENTPHONE_ADDRESS", serve.address);
  serve.port = static_cast<std::uint16_t>(std::stoi(env_or("AGENTPHONE_PORT", "8080")));
  CLI::App* serve_cmd = app.add_subcommand("serve", "run the API server");
  serve_cmd->add_option("--data-dir", serve.data_dir, "data folder (env AGENTPHONE_DATA_DIR)");
  serve_cmd->add_option("--address", serve.address, "listen address (env AGENTPHONE_ADDRESS)");
  serve_cmd->add_option("--port", serve.port, "listen port, 0 = any free (env AGENTPHONE_PORT)");
  serve_cmd->add_option("--io-threads", serve.io_threads, "HTTP io threads")
      ->check(CLI::Range(1, 64));
  serve_cmd->add_option("--body-limit", serve.body_limit_bytes, "maximum request body in bytes");
  serve_cmd->add_option("--port-file", serve.port_file, "write the bound port to this file");

  CLI11_PARSE(app, argc, argv);
  if (serve_cmd->parsed()) return ap::http::run_serve(serve);
  return 2;
}
