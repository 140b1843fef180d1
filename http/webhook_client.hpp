// WebhookClient: sends webhook requests to customer endpoints over HTTP/1.1
// (Beast, OpenSSL for https with certificates verified against the system
// store and the host name checked). Connections are kept alive and reused per
// endpoint. Every request has a deadline. Host names are resolved at send time
// and every address checked against the URL rules again, so a DNS answer
// cannot point a webhook at a private network.
//
// The client owns one io thread. Callbacks, deferred work and timers all run
// on it, so its users need no locks for state they only touch from there.
// Asio and Beast stay behind this header.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/ports.hpp"

namespace ap::http {

using domain::WebhookRequest;
using domain::WebhookResult;

struct WebhookClientOptions {
  bool production = true;  // Address rules of production mode (see parse_webhook_url).
  // Host name -> address used instead of DNS (like curl --resolve), for tests
  // and local setups.
  std::map<std::string, std::string> resolve_overrides;
  std::size_t max_idle_per_endpoint = 8;
};

class WebhookClient final : public domain::WebhookTransport {
 public:
  explicit WebhookClient(WebhookClientOptions options);
  ~WebhookClient() override;  // Stops the io thread; pending callbacks are dropped.
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;

  // Sends `request`; `done` runs once on the client's thread.
  void send(WebhookRequest request, std::function<void(WebhookResult)> done) override;
  // Runs `fn` on the client's thread, now or after `delay_ms`.
  void defer(std::function<void()> fn) override;
  void defer_after(std::int64_t delay_ms, std::function<void()> fn) override;
  // Stops the io thread; afterwards nothing runs.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::http
