// The `agentphone serve` command: opens the log, starts the HTTP front end and
// runs until SIGINT/SIGTERM, then drains requests and closes the log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ap::http {

struct ServeConfig {
  std::string data_dir = "./data";
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  int io_threads = 2;
  std::size_t body_limit_bytes = 1 << 20;
  std::int64_t idle_timeout_ms = 60'000;      // Entity actors passivate after this.
  int sim_numbers_per_area_code = 1000;       // Simulated carrier inventory size.
  std::int64_t sim_send_delay_ms = 20;        // Simulated carrier: queued -> sent.
  std::int64_t sim_deliver_delay_ms = 100;    // Simulated carrier: sent -> delivered.
  std::int64_t webhook_retry_base_ms = 1000;  // First webhook retry after ~this; x4 each time.
  int webhook_max_in_flight = 8;              // Requests in flight per webhook endpoint.
  int webhook_max_held = 10'000;              // Deliveries held in memory (WebhookDispatchOptions).
  int webhook_max_held_per_account = 2'500;   // One account's share of them.
  int webhook_max_waiting = 1'000;            // Deliveries waiting for one endpoint.
  int entity_max_queued = 10'000;             // Commands waiting per entity (HostEnv::max_queued).
  // "host=address" pairs used instead of DNS for webhook hosts (like curl --resolve).
  std::vector<std::string> webhook_resolve;
  // Hosted voice mode on an OpenAI-compatible endpoint; empty = the built-in responder.
  std::string llm_url;
  std::string llm_key;
  std::string llm_model = "gpt-4o-mini";
  std::vector<std::string> llm_tier_models;  // "tier=model".
  // Agent self-sign-up.
  int signup_per_email_per_hour = 3;
  int signup_per_ip_per_hour = 20;
  std::int64_t signup_otp_ttl_s = 600;
  double requests_per_key_per_s = 500;  // 0 = no limit.
  double request_burst = 1000;
  int max_in_flight_per_account = 512;  // 0 = no limit.
  int max_connections_per_ip = 256;     // 0 = no limit.
  // Mail: SMTP when set ("smtp://host:port"), else files in <data-dir>/outbox.
  std::string smtp_url;
  std::string smtp_from = "no-reply@agentphone.local";
  bool sandbox = true;  // Sandbox mode: the local simulator surface /sim/... is on.
  // When set, the bound port is written to this file once listening (tests
  // start the server on port 0 and read the port from here).
  std::string port_file;
};

// Returns the process exit code.
int run_serve(const ServeConfig& config);

}  // namespace ap::http
