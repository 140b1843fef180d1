// SimEndpoints: the customers' webhook endpoints, in process, as a
// WebhookTransport. Each endpoint answers after a seeded latency, fails with
// HTTP 500 or never answers at seeded rates, and refuses connections during
// its outage windows. Every request is checked (known endpoint, valid
// signature) and recorded, so the runner can prove each delivery went where
// it was configured to go, signed.
//
// A voice turn (an agent.message with channel "voice") is answered with what
// the agent says, {"text": "…"}; every other event with an empty object.
//
// Single-threaded: responses are timed on the simulator's VirtualTimers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "actors/ports.hpp"

namespace ap::sim {

struct EndpointBehaviour {
  std::int64_t latency_ms_min = 1;
  std::int64_t latency_ms_max = 100;
  std::uint64_t error_ppm = 0;    // Answers 500.
  std::uint64_t timeout_ppm = 0;  // Never answers (the request times out).
  std::vector<std::pair<std::int64_t, std::int64_t>> outages;  // [from_ms, to_ms) refused.
};

// What one delivery id received.
struct DeliveryLog {
  std::vector<std::string> urls;  // Every request's URL, in order.
  int answered_2xx = 0;
  // A voice turn: sent during its call and recorded only after its answer,
  // so a crash in between leaves no record (and none is owed).
  bool voice_turn = false;
};

class SimEndpoints final : public domain::WebhookTransport {
 public:
  SimEndpoints(const domain::Clock& clock, domain::Timers& timers, domain::Entropy& entropy)
      : clock_(clock), timers_(timers), entropy_(entropy) {}

  // Serves `url` with `secret` (to check signatures) as `behaviour` says.
  void add(const std::string& url, const std::string& secret, EndpointBehaviour behaviour);
  // Sets the outage windows of `url` (an endpoint added before).
  void set_outages(const std::string& url,
                   std::vector<std::pair<std::int64_t, std::int64_t>> windows);
  // Off: no errors, timeouts or outages (the final fault-free phase).
  void set_faults(bool on) { faults_ = on; }

  void send(domain::WebhookRequest request,
            std::function<void(domain::WebhookResult)> done) override;
  void defer(std::function<void()> fn) override;
  void defer_after(std::int64_t delay_ms, std::function<void()> fn) override;

  // By delivery id (X-Webhook-ID).
  const std::map<std::string, DeliveryLog>& deliveries() const { return deliveries_; }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t unknown_urls() const { return unknown_urls_; }
  std::uint64_t bad_signatures() const { return bad_signatures_; }
  // Counts by outcome: "200", "500", "timeout", "refused".
  const std::map<std::string, std::uint64_t>& outcomes() const { return outcomes_; }

 private:
  struct Endpoint {
    std::string secret;
    EndpointBehaviour behaviour;
  };

  const domain::Clock& clock_;
  domain::Timers& timers_;
  domain::Entropy& entropy_;
  bool faults_ = true;
  std::map<std::string, Endpoint> endpoints_;  // By URL.
  std::map<std::string, DeliveryLog> deliveries_;
  std::map<std::string, std::uint64_t> outcomes_;
  std::uint64_t requests_ = 0;
  std::uint64_t unknown_urls_ = 0;
  std::uint64_t bad_signatures_ = 0;
};

// The URL text of a parsed webhook URL, as the endpoints are keyed.
std::string url_text(const domain::WebhookUrl& url);

}  // namespace ap::sim
