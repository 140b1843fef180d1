// agentphone: the one binary. This file only parses the command line and hands
// each subcommand to the layer that owns it.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "actors/admin.hpp"
#include "http/admin_client.hpp"
#include "http/mcp.hpp"
#include "http/serve.hpp"
#include "http/sim_cli.hpp"
#include "projections/audit.hpp"
#include "sim/runner.hpp"

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
  serve_cmd
      ->add_option("--idle-timeout-ms", serve.idle_timeout_ms,
                   "passivate entity actors idle this long")
      ->check(CLI::Range(10, 86'400'000));
  serve_cmd
      ->add_option("--sim-numbers-per-area-code", serve.sim_numbers_per_area_code,
                   "simulated carrier inventory per area code (1-1000)")
      ->check(CLI::Range(1, 1000));
  serve_cmd
      ->add_option("--sim-send-delay-ms", serve.sim_send_delay_ms,
                   "simulated carrier: ms from queued to sent")
      ->check(CLI::Range(0, 600'000));
  serve_cmd
      ->add_option("--sim-deliver-delay-ms", serve.sim_deliver_delay_ms,
                   "simulated carrier: ms from sent to delivered")
      ->check(CLI::Range(0, 600'000));
  serve_cmd
      ->add_option("--webhook-retry-base-ms", serve.webhook_retry_base_ms,
                   "first webhook retry after about this long; x4 per attempt")
      ->check(CLI::Range(10, 600'000));
  serve_cmd
      ->add_option("--webhook-max-in-flight", serve.webhook_max_in_flight,
                   "webhook requests in flight per endpoint")
      ->check(CLI::Range(1, 256));
  serve_cmd
      ->add_option("--webhook-max-held", serve.webhook_max_held,
                   "webhook deliveries held in memory at once; the rest wait in the read model")
      ->check(CLI::Range(1, 1'000'000));
  serve_cmd
      ->add_option("--webhook-max-held-per-account", serve.webhook_max_held_per_account,
                   "one account's share of --webhook-max-held; past it deliveries are deferred")
      ->check(CLI::Range(1, 1'000'000));
  serve_cmd
      ->add_option("--webhook-max-waiting", serve.webhook_max_waiting,
                   "deliveries waiting for a free slot of one endpoint; past it they are deferred")
      ->check(CLI::Range(1, 1'000'000));
  serve_cmd
      ->add_option("--entity-max-queued", serve.entity_max_queued,
                   "commands one entity may hold waiting; more are refused with 503 ENTITY_BUSY")
      ->check(CLI::Range(1, 1'000'000));
  serve_cmd->add_option("--webhook-resolve", serve.webhook_resolve,
                        "host=address to use instead of DNS for a webhook host (repeatable)");
  serve_cmd->add_option("--llm-url", serve.llm_url,
                        "OpenAI-compatible chat-completions URL for hosted voice mode "
                        "(default: the built-in offline responder)");
  serve_cmd->add_option("--llm-key", serve.llm_key,
                        "API key for --llm-url (env AGENTPHONE_LLM_KEY)");
  serve_cmd->add_option("--llm-model", serve.llm_model, "model for every modelTier");
  serve_cmd->add_option(
      "--llm-model-for", serve.llm_tier_models,
      "tier=model, the model of one modelTier (turbo, balanced, max; repeatable)");
  serve_cmd
      ->add_option("--signup-per-email-per-hour", serve.signup_per_email_per_hour,
                   "agent sign-ups per email address per hour")
      ->check(CLI::Range(0, 1'000'000));
  serve_cmd
      ->add_option("--signup-per-ip-per-hour", serve.signup_per_ip_per_hour,
                   "agent sign-ups per client address per hour")
      ->check(CLI::Range(0, 1'000'000));
  serve_cmd
      ->add_option("--signup-otp-ttl-s", serve.signup_otp_ttl_s,
                   "how long a sign-up code stays valid, in seconds")
      ->check(CLI::Range(1, 86'400));
  serve_cmd
      ->add_option("--rate-limit-per-key", serve.requests_per_key_per_s,
                   "requests per second per API key after the burst (0 = no limit)")
      ->check(CLI::Range(0.0, 1e9));
  serve_cmd->add_option("--rate-limit-burst", serve.request_burst, "requests per API key at once")
      ->check(CLI::Range(1.0, 1e9));
  serve_cmd
      ->add_option("--max-in-flight-per-account", serve.max_in_flight_per_account,
                   "requests of one account handled at once; more are answered 429 (0 = no limit)")
      ->check(CLI::Range(0, 1'000'000));
  serve_cmd
      ->add_option("--max-connections-per-ip", serve.max_connections_per_ip,
                   "open connections from one address (0 = no limit)")
      ->check(CLI::Range(0, 1'000'000));
  serve_cmd->add_option("--smtp-url", serve.smtp_url,
                        "send mail (sign-up codes) through this SMTP relay, smtp://host:port "
                        "(STARTTLS when offered); default: files in <data-dir>/outbox");
  serve_cmd->add_option("--smtp-from", serve.smtp_from, "the sender address of mail");
  std::string mode = "sandbox";
  serve_cmd->add_option("--mode", mode, "sandbox (local simulator surface on) or production")
      ->check(CLI::IsMember({"sandbox", "production"}));

  std::string data_dir = env_or("AGENTPHONE_DATA_DIR", "./data");
  std::string email, account, key_id;
  CLI::App* admin = app.add_subcommand(
      "admin", "operator commands, on the folder or through the server that holds it");
  admin->require_subcommand(1);
  admin->add_option("--data-dir", data_dir, "data folder (env AGENTPHONE_DATA_DIR)");
  CLI::App* create_account = admin->add_subcommand("create-account", "create an account and key");
  create_account->add_option("--email", email, "owner's email")->required();
  CLI::App* create_key = admin->add_subcommand("create-key", "add an API key to an account");
  create_key->add_option("--account", account, "account id")->required();
  CLI::App* list_keys = admin->add_subcommand("list-keys", "list an account's keys (prefixes)");
  list_keys->add_option("--account", account, "account id")->required();
  CLI::App* revoke_key = admin->add_subcommand("revoke-key", "revoke an API key");
  revoke_key->add_option("--account", account, "account id")->required();
  revoke_key->add_option("--key-id", key_id, "key id from list-keys")->required();
  std::string backup_to;
  CLI::App* backup = admin->add_subcommand(
      "backup", "copy the whole data folder, consistently, into a new folder (server may run)");
  backup->add_option("--to", backup_to, "the new folder")->required();

  std::string server = env_or("AGENTPHONE_URL", "http://127.0.0.1:8080");
  std::string from, to, text, fault_mode;
  std::int64_t limit = 20, delay_ms = 0;
  bool raw_json = false, clear = false;
  CLI::App* sim = app.add_subcommand("sim", "drive a running sandbox server's simulated carrier");
  sim->require_subcommand(1);
  sim->fallthrough();  // --server may also follow the subcommand.
  sim->add_option("--server", server, "server URL (env AGENTPHONE_URL)");
  CLI::App* sim_sms = sim->add_subcommand("sms", "text one of our numbers, as a person would");
  sim_sms->add_option("--from", from, "the sender, any US/CA format")->required();
  sim_sms->add_option("--to", to, "our number that receives it")->required();
  sim_sms->add_option("text", text, "the message")->required();
  CLI::App* sim_outbox = sim->add_subcommand("outbox", "show what agents sent, newest first");
  sim_outbox->add_option("--limit", limit, "how many (1-1000)")->check(CLI::Range(1, 1000));
  sim_outbox->add_flag("--json", raw_json, "print the server's JSON");
  CLI::App* sim_fault = sim->add_subcommand("fault", "make a destination fail or lag");
  sim_fault->add_option("--to", to, "the destination number");
  sim_fault
      ->add_option("--mode", fault_mode,
                   "SMS: unreachable, reject or delay; calls: busy, no-answer, fail or "
                   "drop-after-ms")
      ->check(CLI::IsMember(
          {"unreachable", "reject", "delay", "busy", "no-answer", "fail", "drop-after-ms"}));
  sim_fault->add_option("--delay-ms", delay_ms, "extra delay for each status report");
  sim_fault->add_flag("--clear", clear, "remove every fault");
  std::string mail_dir = env_or("AGENTPHONE_DATA_DIR", "./data");
  CLI::App* sim_mail = sim->add_subcommand(
      "mail", "print the newest mail the server sent (a sign-up code), from the data folder");
  sim_mail->add_option("--data-dir", mail_dir, "data folder (env AGENTPHONE_DATA_DIR)");
  std::string caller = "+14155550123";
  CLI::App* sim_call = sim->add_subcommand(
      "call", "call one of our numbers and talk to its agent, a line at a time (/hangup ends)");
  sim_call->add_option("--to", to, "our number to call")->required();
  sim_call->add_option("--from", caller, "the caller, any US/CA format");

  ap::sim::RunOptions run;
  std::string report_dir;
  bool check_determinism = false, no_progress = false;
  CLI::App* sim_run = sim->add_subcommand(
      "run", "simulate a scenario on one thread under virtual time (no server needed)");
  sim_run->add_option("--scenario", run.scenario_path, "scenario file (see docs/simulation.md)")
      ->required()
      ->check(CLI::ExistingFile);
  sim_run->add_option("--seed", run.seed, "the seed; the same seed replays the same run");
  sim_run->add_option("--store", run.store, "memory or rocksdb")
      ->check(CLI::IsMember({"memory", "rocksdb"}));
  sim_run->add_option("--data-dir", run.data_dir,
                      "rocksdb store: folder (default: a temporary one)");
  sim_run->add_option("--report", report_dir, "write report.html and report.json here");
  sim_run->add_flag("--check-determinism", check_determinism,
                    "run twice and compare head hashes at every checkpoint");
  sim_run
      ->add_option("--checkpoint-every-s", run.checkpoint_every_s,
                   "record the head hash every N virtual seconds")
      ->check(CLI::Range(1, 86'400));
  sim_run->add_flag(
      "--no-rebuild-check", [&run](std::int64_t) { run.rebuild_check = false; },
      "skip rebuilding the read model after restarts and at the end");
  sim_run->add_flag("--no-progress", no_progress, "no progress bar");
  sim_run
      ->add_option("--plant-bug", run.plant_bug,
                   "plant a known bug to see the invariants catch it (drop-delivery)")
      ->check(CLI::IsMember({"drop-delivery"}));

  std::string audit_dir = env_or("AGENTPHONE_DATA_DIR", "./data");
  std::string audit_account, audit_from, audit_to, audit_format = "csv";
  bool audit_no_progress = false;
  CLI::App* audit = app.add_subcommand(
      "audit", "verify the log and replay the ledger, on a stopped server's folder or a backup");
  audit->require_subcommand(1);
  audit->fallthrough();
  audit->add_option("--data-dir", audit_dir, "data folder or backup (env AGENTPHONE_DATA_DIR)");
  audit->add_flag("--no-progress", audit_no_progress, "no progress bar");
  CLI::App* audit_verify =
      audit->add_subcommand("verify", "check every hash link and stream version; print the head");
  CLI::App* audit_replay = audit->add_subcommand(
      "replay", "recompute the ledger from the raw events and diff it with the projection");
  audit_replay->add_option("--account", audit_account, "one account (default: every account)");
  CLI::App* audit_statement =
      audit->add_subcommand("statement", "an account's line items and balances over a range");
  audit_statement->add_option("--account", audit_account, "account id")->required();
  audit_statement->add_option("--from", audit_from, "start, ISO 8601 (UTC), included")->required();
  audit_statement->add_option("--to", audit_to, "end, ISO 8601 (UTC), excluded")->required();
  audit_statement->add_option("--format", audit_format, "csv or json")
      ->check(CLI::IsMember({"csv", "json"}));

  std::string mcp_url = env_or("AGENTPHONE_URL", "http://127.0.0.1:8080");
  bool mcp_stdio = false;
  CLI::App* mcp = app.add_subcommand(
      "mcp", "MCP over stdin/stdout for Claude Code, Cursor and other MCP clients");
  mcp->add_flag("--stdio", mcp_stdio, "newline-delimited JSON-RPC on stdin/stdout (the default)");
  mcp->add_option("--url", mcp_url, "the running server (env AGENTPHONE_URL)");
  std::string mcp_data_dir;
  mcp->add_option("--data-dir", mcp_data_dir,
                  "serve from this data folder instead of a running server (stops with stdin)");

  CLI11_PARSE(app, argc, argv);
  if (mcp->parsed()) {
    const std::string key = env_or("AGENTPHONE_API_KEY", "");
    return mcp_data_dir.empty() ? ap::http::run_mcp_stdio(mcp_url, key)
                                : ap::http::run_mcp_stdio_local(mcp_data_dir, key);
  }
  const bool audit_progress = !audit_no_progress && isatty(2) != 0;
  if (audit_verify->parsed()) return ap::projections::audit_verify(audit_dir, audit_progress);
  if (audit_replay->parsed()) {
    return ap::projections::audit_replay(audit_dir, audit_account, audit_progress);
  }
  if (audit_statement->parsed()) {
    return ap::projections::audit_statement(audit_dir, audit_account, audit_from, audit_to,
                                            audit_format, audit_progress);
  }
  serve.sandbox = mode == "sandbox";
  if (serve_cmd->parsed()) return ap::http::run_serve(serve);
  // A running server holds the folder: the command goes to it.
  if (admin->parsed()) {
    const std::string op = admin->get_subcommands().front()->get_name();
    const std::string to = backup_to.empty() ? "" : std::filesystem::absolute(backup_to).string();
    if (std::optional<int> code = ap::http::admin_remote(
            data_dir, op,
            {{"email", email}, {"account", account}, {"key_id", key_id}, {"to", to}})) {
      return *code;
    }
  }
  if (create_account->parsed()) return ap::actors::admin_create_account(data_dir, email);
  if (create_key->parsed()) return ap::actors::admin_create_key(data_dir, account);
  if (list_keys->parsed()) return ap::actors::admin_list_keys(data_dir, account);
  if (revoke_key->parsed()) return ap::actors::admin_revoke_key(data_dir, account, key_id);
  if (backup->parsed()) return ap::actors::admin_backup(data_dir, backup_to);
  if (sim_run->parsed()) {
    std::ifstream file(run.scenario_path);
    std::stringstream text_of_file;
    text_of_file << file.rdbuf();
    if (std::string why = ap::sim::parse_scenario(text_of_file.str(), &run.scenario);
        !why.empty()) {
      std::fprintf(stderr, "agentphone sim run: %s: %s\n", run.scenario_path.c_str(), why.c_str());
      return 2;
    }
    run.progress = !no_progress && isatty(2) != 0;
    return ap::sim::sim_run(run, check_determinism, report_dir);
  }
  if (sim_sms->parsed()) return ap::http::sim_send_sms(server, from, to, text);
  if (sim_outbox->parsed()) return ap::http::sim_show_outbox(server, limit, raw_json);
  if (sim_call->parsed()) return ap::http::sim_call(server, caller, to, stdin, stdout);
  if (sim_mail->parsed()) return ap::http::sim_show_mail(mail_dir, stdout);
  if (sim_fault->parsed()) {
    if (!clear && (to.empty() || fault_mode.empty())) {
      std::fprintf(stderr, "agentphone sim fault: give --to and --mode, or --clear\n");
      return 2;
    }
    return ap::http::sim_set_fault(server, to, fault_mode, delay_ms, clear);
  }
  return 2;
}
