#include "http/serve.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "actors/node.hpp"
#include "actors/secrets.hpp"
#include "actors/system_ports.hpp"
#include "http/admin_client.hpp"
#include "http/api.hpp"
#include "http/llm_client.hpp"
#include "http/server.hpp"
#include "http/smtp_mailer.hpp"
#include "http/webhook_client.hpp"

namespace ap::http {

namespace {

// Writes admin.json readable by the owner only: created private, then renamed.
void write_admin_file(const std::string& data_dir, const std::string& url,
                      const std::string& token) {
  const std::string path = admin_file(data_dir);
  const std::string temporary = path + ".tmp";
  const mode_t old_mask = ::umask(077);
  {
    std::ofstream out(temporary);
    out << "{\"url\":\"" << url << "\",\"token\":\"" << token << "\"}\n";
  }
  ::umask(old_mask);
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec)
    std::fprintf(stderr, "agentphone: cannot write %s: %s\n", path.c_str(), ec.message().c_str());
}

}  // namespace

int run_serve(const ServeConfig& config) {
  // The server's ports: the system clock, OpenSSL, one timer thread and the
  // Beast webhook client. The simulator swaps exactly these.
  domain::SystemClock clock;
  domain::OpenSslEntropy entropy;
  domain::ThreadTimers timers;
  WebhookClientOptions client_options;
  client_options.production = !config.sandbox;
  for (const std::string& pair : config.webhook_resolve) {
    const std::size_t eq = pair.find('=');
    if (eq == std::string::npos) continue;
    client_options.resolve_overrides[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  WebhookClient webhook_client(client_options);
  // The model's address is the operator's choice, so its client may reach
  // local servers; webhooks keep their own rules.
  WebhookClientOptions llm_client_options;
  llm_client_options.production = false;
  WebhookClient llm_client(llm_client_options);
  std::unique_ptr<OpenAiLlm> llm;
  if (!config.llm_url.empty()) {
    OpenAiLlmOptions llm_options;
    llm_options.url = config.llm_url;
    llm_options.api_key = config.llm_key;
    if (llm_options.api_key.empty()) {
      if (const char* key = std::getenv("AGENTPHONE_LLM_KEY")) llm_options.api_key = key;
    }
    llm_options.model = config.llm_model;
    for (const std::string& pair : config.llm_tier_models) {
      const std::size_t eq = pair.find('=');
      if (eq != std::string::npos)
        llm_options.tier_models[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
    std::string why;
    llm = std::make_unique<OpenAiLlm>(llm_client, llm_options, &why);
    if (!why.empty()) {
      std::fprintf(stderr, "agentphone: --llm-url %s: %s\n", config.llm_url.c_str(), why.c_str());
      return 2;
    }
  }

  es::Options options;
  options.path = config.data_dir;
  options.clock_ms = [&clock] { return clock.now_ms(); };
  std::unique_ptr<es::EventStore> store;
  es::Status status = es::EventStore::open(options, &store);
  if (!status.ok()) {
    std::fprintf(stderr, "agentphone: %s\n", status.message().c_str());
    return 1;
  }

  // Sign-up codes go to an SMTP relay when one is named, else to files in
  // the data folder.
  domain::FileMailer file_mailer(config.data_dir + "/outbox", clock, timers);
  std::unique_ptr<SmtpMailer> smtp_mailer;
  if (!config.smtp_url.empty()) {
    SmtpOptions smtp;
    smtp.url = config.smtp_url;
    smtp.from = config.smtp_from;
    std::string why;
    smtp_mailer = std::make_unique<SmtpMailer>(smtp, &why);
    if (!why.empty()) {
      std::fprintf(stderr, "agentphone: --smtp-url %s: %s\n", config.smtp_url.c_str(), why.c_str());
      return 2;
    }
  }
  domain::MailPort& mailer =
      smtp_mailer ? static_cast<domain::MailPort&>(*smtp_mailer) : file_mailer;
  const bool first_run = store->head_position() == 0;

  actors::NodeOptions node_options;
  node_options.carrier.per_area_code = config.sim_numbers_per_area_code;
  node_options.carrier.send_delay_ms = config.sim_send_delay_ms;
  node_options.carrier.deliver_delay_ms = config.sim_deliver_delay_ms;
  node_options.runtime.idle_timeout_ms = config.idle_timeout_ms;
  node_options.runtime.max_queued_per_entity = static_cast<std::size_t>(config.entity_max_queued);
  node_options.webhooks.production = !config.sandbox;
  node_options.webhooks.retry_base_ms = config.webhook_retry_base_ms;
  node_options.webhooks.max_in_flight_per_endpoint = config.webhook_max_in_flight;
  node_options.webhooks.max_held = static_cast<std::size_t>(config.webhook_max_held);
  node_options.webhooks.max_held_per_account =
      static_cast<std::size_t>(config.webhook_max_held_per_account);
  node_options.webhooks.max_waiting_per_endpoint =
      static_cast<std::size_t>(config.webhook_max_waiting);
  // A node that cannot read where its read model stands refuses to start,
  // with the reason, rather than serve wrong answers.
  std::unique_ptr<actors::Node> node;
  try {
    node = std::make_unique<actors::Node>(
        std::move(store),
        actors::NodePorts{clock, entropy, timers, webhook_client, llm.get(), &mailer},
        node_options);
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "agentphone: cannot start: %s\n", e.what());
    return 1;
  }

  SignupOptions signup;
  signup.per_email_per_hour = config.signup_per_email_per_hour;
  signup.per_ip_per_hour = config.signup_per_ip_per_hour;
  signup.otp_ttl_ms = config.signup_otp_ttl_s * 1000;
  ApiLimits limits;
  limits.requests_per_key_per_s = config.requests_per_key_per_s;
  limits.request_burst = config.request_burst;
  limits.max_in_flight_per_account = config.max_in_flight_per_account;
  Api api(*node, config.sandbox, signup, limits);
  // Operator commands reach the running server with this token, which only
  // the folder's owner can read (admin.json, written once the port is known).
  const std::string admin_token = domain::random_hex(entropy, 24);
  api.set_admin_token(admin_token);
  ServerOptions server_options;
  server_options.address = config.address;
  server_options.port = config.port;
  server_options.io_threads = config.io_threads;
  server_options.body_limit_bytes = config.body_limit_bytes;
  server_options.max_connections_per_ip = config.max_connections_per_ip;
  Server server(server_options,
                [&api](Request request, Reply reply) { api.handle(std::move(request), reply); });
  const std::string error = server.start();
  if (!error.empty()) {
    std::fprintf(stderr, "agentphone: %s\n", error.c_str());
    return 1;
  }
  if (!config.port_file.empty()) {
    std::ofstream(config.port_file) << server.port() << "\n";
  }
  const std::string loopback =
      config.address == "0.0.0.0" || config.address == "::" ? "127.0.0.1" : config.address;
  write_admin_file(config.data_dir, "http://" + loopback + ":" + std::to_string(server.port()),
                   admin_token);
  std::fprintf(stderr,
               "agentphone %s listening on http://%s:%u (data: %s, carrier: simulated, mode: %s)\n",
               AP_VERSION, config.address.c_str(), static_cast<unsigned>(server.port()),
               config.data_dir.c_str(), config.sandbox ? "sandbox" : "production");
  if (first_run) {
    // A new data folder has no account yet: say how to get a key.
    const std::string url = "http://" + config.address + ":" + std::to_string(server.port());
    std::fprintf(stderr,
                 "agentphone: no accounts yet. To get an API key, let an agent sign up:\n"
                 "  curl -s %s/v0/agent/sign-up -d '{\"human_email\":\"you@example.com\"}'\n"
                 "  %s   # prints the code mailed to data/outbox\n"
                 "  curl -s %s/v0/agent/verify -d "
                 "'{\"verification_id\":\"ver_...\",\"otp_code\":\"123456\"}'\n"
                 "or create one (with the server stopped): agentphone admin --data-dir %s "
                 "create-account --email you@example.com\n",
                 url.c_str(), ("agentphone sim mail --data-dir " + config.data_dir).c_str(),
                 url.c_str(), config.data_dir.c_str());
  }
  server.wait();
  std::error_code ignored;
  std::filesystem::remove(admin_file(config.data_dir), ignored);
  // In-flight requests are done. Timers and webhook responses stop first, so
  // that none reaches the node while it closes the log and stops its actors.
  timers.stop();
  webhook_client.stop();
  llm_client.stop();
  const std::uint64_t head = node->store().head_position();
  node.reset();
  std::fprintf(stderr, "agentphone: stopped; log head %llu\n",
               static_cast<unsigned long long>(head));
  return 0;
}

}  // namespace ap::http
