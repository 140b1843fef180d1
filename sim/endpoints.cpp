#include "sim/endpoints.hpp"

#include <algorithm>

#include "actors/invariant.hpp"
#include "actors/webhook.hpp"

namespace ap::sim {

std::string url_text(const domain::WebhookUrl& url) {
  return url.scheme + "://" + url.host + ":" + url.port + url.target;
}

void SimEndpoints::add(const std::string& url, const std::string& secret,
                       EndpointBehaviour behaviour) {
  endpoints_[url] = Endpoint{secret, std::move(behaviour)};
}

void SimEndpoints::set_outages(const std::string& url,
                               std::vector<std::pair<std::int64_t, std::int64_t>> windows) {
  auto it = endpoints_.find(url);
  AP_ASSERT(it != endpoints_.end(), "requests go only to endpoints the scenario made");
  it->second.behaviour.outages = std::move(windows);
}

void SimEndpoints::send(domain::WebhookRequest request,
                        std::function<void(domain::WebhookResult)> done) {
  ++requests_;
  const std::string url = url_text(request.url);
  std::string delivery_id, timestamp, signature;
  for (const auto& [name, value] : request.headers) {
    if (name == "X-Webhook-ID") delivery_id = value;
    if (name == "X-Webhook-Timestamp") timestamp = value;
    if (name == "X-Webhook-Signature") signature = value;
  }
  DeliveryLog& log = deliveries_[delivery_id];
  log.urls.push_back(url);
  log.voice_turn = request.body.find("\"channel\":\"voice\"") != std::string::npos &&
                   request.body.rfind("{\"event\":\"agent.message\"", 0) == 0;
  auto it = endpoints_.find(url);
  auto answer = [this, &done, &request](const char* outcome, std::int64_t after_ms,
                                        domain::WebhookResult result) {
    ++outcomes_[outcome];
    result.duration_ms = after_ms;
    // In-process answers arrive whole: a streaming reader gets one piece.
    timers_.after(after_ms,
                  [done = std::move(done), on_body = request.on_body, result = std::move(result)] {
                    if (on_body && result.http_status / 100 == 2 && !result.body.empty())
                      on_body(result.body);
                    done(result);
                  });
  };
  if (it == endpoints_.end()) {
    ++unknown_urls_;
    return answer("refused", 1, {0, "", "connect: connection refused", 0, -1});
  }
  const Endpoint& endpoint = it->second;
  if (signature != domain::webhook_signature(endpoint.secret, timestamp, request.body)) {
    ++bad_signatures_;
    return answer("401", 1, {401, "bad signature", "", 0, -1});
  }
  const EndpointBehaviour& b = endpoint.behaviour;
  const std::int64_t now = clock_.now_ms();
  if (faults_) {
    for (const auto& [from_ms, to_ms] : b.outages) {
      if (now >= from_ms && now < to_ms) {
        return answer("refused", 1, {0, "", "connect: connection refused", 0, -1});
      }
    }
  }
  const std::int64_t latency =
      b.latency_ms_min +
      static_cast<std::int64_t>(entropy_.uniform(static_cast<std::uint64_t>(std::max<std::int64_t>(
                                                     0, b.latency_ms_max - b.latency_ms_min)) +
                                                 1));
  // An answer slower than the request's deadline is a timeout, as the real
  // client would see it.
  if ((faults_ && entropy_.chance_ppm(b.timeout_ppm)) || latency > request.timeout_ms) {
    return answer("timeout", request.timeout_ms,
                  {0, "", "timed out after " + std::to_string(request.timeout_ms) + " ms", 0, -1});
  }
  if (faults_ && entropy_.chance_ppm(b.error_ppm)) {
    return answer("500", latency, {500, "{\"error\":\"simulated\"}", "", 0, -1});
  }
  ++log.answered_2xx;
  answer("200", latency,
         {200, log.voice_turn ? "{\"text\":\"Noted, thank you.\"}" : "{}", "", 0, -1,
          "application/json"});
}

void SimEndpoints::defer(std::function<void()> fn) {
  timers_.after(0, std::move(fn));
}

void SimEndpoints::defer_after(std::int64_t delay_ms, std::function<void()> fn) {
  timers_.after(delay_ms, std::move(fn));
}

}  // namespace ap::sim
