#include "actors/webhook_dispatch.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <map>

#include "actors/invariant.hpp"
#include "actors/secrets.hpp"

namespace ap::actors {

namespace json = boost::json;
using domain::WebhookRequest;
using domain::WebhookResult;

namespace {

std::string text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// One attempt to make.
struct Job {
  std::string delivery_id;
  std::string account;
  std::string entity;
  std::string conversation;  // "" when the delivery has none.
  std::string event_type;
  std::string body;
  int attempt = 1;
};

}  // namespace

json::object attempt_report(const WebhookResult& result) {
  json::value error = nullptr;
  if (!result.error.empty()) {
    error = result.error;
  } else if (result.http_status < 200 || result.http_status >= 300) {
    error = "The endpoint answered HTTP " + std::to_string(result.http_status);
  }
  const bool answered = result.http_status != 0;
  return {{"httpStatus", answered ? json::value(result.http_status) : json::value(nullptr)},
          {"error", std::move(error)},
          {"responseBody", answered ? json::value(result.body) : json::value(nullptr)},
          {"durationMs", result.duration_ms}};
}

std::vector<std::pair<std::string, std::string>> signed_headers(std::int64_t now_ms,
                                                                const std::string& delivery_id,
                                                                const std::string& event_type,
                                                                const std::string& secret,
                                                                const std::string& body) {
  const std::string timestamp = std::to_string(now_ms / 1000);
  return {
      {"Content-Type", "application/json"},
      {"User-Agent", "agentphone-selfhosted/" AP_VERSION " (webhooks)"},
      {"X-Webhook-ID", delivery_id},
      {"X-Webhook-Timestamp", timestamp},
      {"X-Webhook-Signature", domain::webhook_signature(secret, timestamp, body)},
      {"X-Webhook-Event", event_type},
  };
}

struct WebhookDispatch::Impl {
  Runtime& runtime;
  projections::CoreView& view;
  domain::WebhookTransport& client;
  const domain::Clock& clock;
  domain::Entropy& entropy;
  WebhookDispatchOptions options;

  // ---- State touched only on the client's thread ----
  struct Endpoint {
    int in_flight = 0;
    std::deque<Job> waiting;  // Configured and signed only when they leave.
  };
  std::map<std::string, Endpoint> endpoints;  // By scheme://host:port.
  // First attempts per conversation, in event order; the front is in flight.
  std::map<std::string, std::deque<Job>> first_attempts;
  // The highest attempt scheduled per delivery, so that a delivery seen twice
  // (at start and live) is not sent twice.
  std::map<std::string, int> scheduled;
  int first_attempts_seen = 0;  // For the planted bug only.
  // Jobs accepted by schedule() and not yet finished (sent and recorded, or
  // abandoned); at most options.max_held. From the first job left in the
  // read model for want of room until take_up() has scheduled every pending
  // delivery, `backlog` is set and new jobs wait in the read model too, so
  // none overtakes an earlier one of its conversation.
  std::size_t held = 0;
  bool backlog = false;
  bool take_up_queued = false;
  // Readable from any thread (for /metrics).
  std::atomic<std::uint64_t> attempts{0}, attempts_ok{0};
  std::atomic<std::int64_t> in_flight_total{0}, waiting_total{0}, held_total{0};
  std::atomic<std::uint64_t> spilled_total{0};

  Impl(Runtime& r, projections::CoreView& v, domain::WebhookTransport& c, const domain::Clock& k,
       domain::Entropy& e, WebhookDispatchOptions o)
      : runtime(r), view(v), client(c), clock(k), entropy(e), options(o) {}

  // ---- Scheduling (client thread) ----

  // Holds `job` until `at_ms`, or leaves it in the read model when
  // max_held jobs are held already or others wait there (unless take_up()
  // is scheduling those, `from_backlog`). Returns false in that case.
  bool schedule(Job job, std::int64_t at_ms, bool from_backlog = false) {
    auto seen = scheduled.find(job.delivery_id);
    if (seen != scheduled.end() && seen->second >= job.attempt) return true;
    if (held >= options.max_held || (backlog && !from_backlog)) {
      if (!from_backlog) ++spilled_total;
      backlog = true;
      return false;
    }
    scheduled[job.delivery_id] = job.attempt;
    ++held;
    ++held_total;
    return hold(std::move(job), at_ms);
  }

  bool hold(Job job, std::int64_t at_ms) {
    if (job.attempt == 1 && ++first_attempts_seen == options.bug_drop_nth_first_attempt) {
      release();
      return true;
    }
    if (job.attempt == 1 && !job.conversation.empty()) {
      std::deque<Job>& queue = first_attempts[job.conversation];
      queue.push_back(std::move(job));
      if (queue.size() == 1) start(queue.front());
      return true;
    }
    const std::int64_t delay_ms = std::max<std::int64_t>(0, at_ms - clock.now_ms());
    client.defer_after(delay_ms, [this, job = std::move(job)] { start(job); });
    return true;
  }

  // One held job is done with. Once half the room is free again, the
  // deliveries left in the read model are taken up, deferred so that a
  // finishing job never recurses into starting others.
  void release() {
    AP_ASSERT(held > 0, "release() pairs with an accepted schedule()");
    --held;
    --held_total;
    if (backlog && !take_up_queued && held <= options.max_held / 2) {
      take_up_queued = true;
      client.defer([this] {
        take_up_queued = false;
        take_up(view.pending_deliveries());
      });
    }
  }

  // Schedules the pending deliveries of the read model (`pending`) that are
  // not held, in log order (so first attempts keep their conversation's
  // order), until the room is full again.
  void take_up(std::vector<json::object> pending) {
    auto position = [](const json::object& p) {
      const json::value* at = p.if_contains("position");
      return at != nullptr ? at->to_number<std::uint64_t>() : 0;
    };
    std::stable_sort(
        pending.begin(), pending.end(),
        [&](const json::object& a, const json::object& b) { return position(a) < position(b); });
    for (const json::object& p : pending) {
      if (!schedule(job_of(p, next_attempt(p)), domain::field(p, "nextAttemptAtMs").as_int64(),
                    true)) {
        return;  // Full again: the rest wait for the next round.
      }
    }
    backlog = false;
  }

  // Makes attempt `job.attempt` against the webhook as configured now.
  void start(const Job& job) {
    std::optional<std::string> config = view.webhook(job.account, job.entity);
    domain::WebhookUrl url;
    std::string refusal = config ? "" : "The webhook was removed before this delivery was sent";
    json::object webhook;
    if (config) {
      webhook = json::parse(*config).as_object();
      refusal = domain::parse_webhook_url(text(webhook, "url"), options.production, &url);
    }
    if (!refusal.empty()) {
      runtime.send(EntityKind::kDelivery, job.delivery_id,
                   {"delivery.abandon", job.account, {{"reason", refusal}}}, [](CommandResult) {});
      finished(job);
      return release();
    }
    const std::string key = url.scheme + "://" + url.host + ":" + url.port;
    Endpoint& endpoint = endpoints[key];
    if (endpoint.in_flight >= options.max_in_flight_per_endpoint) {
      // Wait for a free slot; the webhook is read and the request signed
      // again then, so a change of URL or secret meanwhile is honoured and
      // the timestamp is fresh.
      endpoint.waiting.push_back(job);
      ++waiting_total;
      return;
    }
    WebhookRequest request;
    request.url = url;
    request.body = job.body;
    request.timeout_ms = domain::field(webhook, "timeout").as_int64() * 1000;
    request.headers = signed_headers(clock.now_ms(), job.delivery_id, job.event_type,
                                     text(webhook, "secret"), job.body);
    send(key, job, std::move(request));
  }

  void send(const std::string& key, const Job& job, WebhookRequest request) {
    ++endpoints[key].in_flight;
    ++in_flight_total;
    client.send(std::move(request), [this, key, job](WebhookResult result) {
      Endpoint& endpoint = endpoints[key];
      --endpoint.in_flight;
      --in_flight_total;
      ++attempts;
      if (result.error.empty() && result.http_status / 100 == 2) ++attempts_ok;
      record(job, result);
      finished(job);
      if (!endpoint.waiting.empty()) {
        Job next = std::move(endpoint.waiting.front());
        endpoint.waiting.pop_front();
        --waiting_total;
        start(next);
      }
      release();
    });
  }

  void record(const Job& job, const WebhookResult& result) {
    json::object args = attempt_report(result);
    args["attempt"] = job.attempt;
    args["retryAfterMs"] =
        result.retry_after_ms < 0 ? json::value(nullptr) : json::value(result.retry_after_ms);
    args["retryBaseMs"] = options.retry_base_ms;
    runtime.send(EntityKind::kDelivery, job.delivery_id,
                 {"delivery.attempt", job.account, std::move(args)},
                 [id = job.delivery_id](CommandResult r) {
                   if (!r.ok) {
                     std::fprintf(stderr, "agentphone: attempt of %s not recorded: %s\n",
                                  id.c_str(), r.error.message.c_str());
                   }
                 });
  }

  // After a first attempt, the conversation's next delivery may go.
  void finished(const Job& job) {
    if (job.attempt != 1 || job.conversation.empty()) return;
    auto it = first_attempts.find(job.conversation);
    if (it == first_attempts.end() || it->second.empty() ||
        it->second.front().delivery_id != job.delivery_id) {
      return;
    }
    it->second.pop_front();
    if (it->second.empty()) {
      first_attempts.erase(it);
    } else {
      // Deferred, not called: a long run of abandoned deliveries must not
      // recurse through start() and finished().
      client.defer([this, next = it->second.front()] { start(next); });
    }
  }

  // A job from a webhook.delivery_created event or a pending-delivery row
  // (both carry deliveryId, accountId, entity, conversationId, eventType and body).
  static Job job_of(const json::object& delivery, int attempt) {
    Job job;
    job.delivery_id = text(delivery, "deliveryId");
    job.account = text(delivery, "accountId");
    job.entity = text(delivery, "entity");
    job.conversation = text(delivery, "conversationId");
    job.event_type = text(delivery, "eventType");
    job.body = text(delivery, "body");
    job.attempt = attempt;
    return job;
  }

  static int next_attempt(const json::object& pending) {
    return static_cast<int>(domain::field(pending, "attempts").as_int64()) + 1;
  }
};

WebhookDispatch::WebhookDispatch(Runtime& runtime, projections::CoreView& view,
                                 domain::WebhookTransport& transport, const domain::Clock& clock,
                                 domain::Entropy& entropy, WebhookDispatchOptions options)
    : impl_(std::make_unique<Impl>(runtime, view, transport, clock, entropy, options)) {}

WebhookDispatch::~WebhookDispatch() = default;

void WebhookDispatch::on_event(const std::string& type, const std::string& payload) {
  if (type == "webhook.delivery_created") {
    const json::object data = json::parse(payload).as_object();
    if (domain::was_sent_when_recorded(data)) return;
    impl_->client.defer([impl = impl_.get(), job = Impl::job_of(data, 1)]() mutable {
      impl->schedule(std::move(job), 0);
    });
    return;
  }
  if (type == "webhook.delivery_attempted") {
    const json::object data = json::parse(payload).as_object();
    const std::string id = text(data, "deliveryId");
    if (text(data, "status") != "pending") {
      impl_->client.defer([impl = impl_.get(), id] { impl->scheduled.erase(id); });
      return;
    }
    std::optional<json::object> pending = impl_->view.pending_delivery(id);
    if (!pending) return;
    const std::int64_t at_ms = domain::field(data, "nextRetryAtMs").as_int64();
    impl_->client.defer([impl = impl_.get(),
                         job = Impl::job_of(*pending, Impl::next_attempt(*pending)),
                         at_ms] { impl->schedule(job, at_ms); });
  }
}

WebhookDispatch::Stats WebhookDispatch::stats() const {
  return Stats{impl_->attempts.load(),        impl_->attempts_ok.load(),
               impl_->in_flight_total.load(), impl_->waiting_total.load(),
               impl_->held_total.load(),      impl_->spilled_total.load()};
}

std::size_t WebhookDispatch::resume() {
  std::vector<json::object> pending = impl_->view.pending_deliveries();
  const std::size_t count = pending.size();
  impl_->client.defer([impl = impl_.get(), pending = std::move(pending)]() mutable {
    impl->take_up(std::move(pending));
  });
  return count;
}

void WebhookDispatch::send_test(const std::string& account, const std::string& entity,
                                const json::value& agent_id, TestDone done) {
  auto fail = [&](const std::string& why) {
    done(
        json::object{
            {"success", false}, {"statusCode", nullptr}, {"responseMs", nullptr}, {"error", why}},
        json::object{});
  };
  std::optional<std::string> config = impl_->view.webhook(account, entity);
  if (!config) return fail("No webhook is configured");
  const json::object webhook = json::parse(*config).as_object();
  domain::WebhookUrl url;
  if (std::string why =
          domain::parse_webhook_url(text(webhook, "url"), impl_->options.production, &url);
      !why.empty()) {
    return fail(why);
  }
  const std::int64_t at = impl_->clock.now_ms();
  const std::string message_id = "msg_test_" + domain::random_hex(impl_->entropy, 8);
  const std::string delivery_id = "whd_test_" + domain::random_hex(impl_->entropy, 12);
  const json::object message{{"messageId", message_id},
                             {"conversationId", nullptr},
                             {"numberId", nullptr},
                             {"from", "+15555550100"},
                             {"to", "+15555550199"},
                             {"body", "This is a test webhook from AgentPhone."},
                             {"mediaUrls", json::array()},
                             {"direction", "inbound"},
                             {"channel", "sms"},
                             {"agentId", agent_id},
                             {"atMs", at}};
  WebhookRequest request;
  request.url = url;
  request.body = domain::agent_message_body(message, nullptr, nullptr, {}, domain::iso8601(at));
  request.timeout_ms = domain::field(webhook, "timeout").as_int64() * 1000;
  request.headers =
      signed_headers(at, delivery_id, "agent.message", text(webhook, "secret"), request.body);
  json::object record{{"deliveryId", delivery_id},
                      {"entity", entity},
                      {"webhookId", domain::field(webhook, "id")},
                      {"agentId", agent_id},
                      {"messageId", message_id},
                      {"body", request.body},
                      {"createdAtMs", at}};
  impl_->client.send(std::move(request),
                     [done, record = std::move(record)](WebhookResult result) mutable {
                       for (auto& [key, value] : attempt_report(result))
                         record[key] = std::move(value);
                       // Built before `record` is moved into the call: arguments are
                       // initialised in no fixed order.
                       json::object outcome{{"success", domain::field(record, "error").is_null()},
                                            {"statusCode", domain::field(record, "httpStatus")},
                                            {"responseMs", result.duration_ms},
                                            {"error", domain::field(record, "error")}};
                       done(std::move(outcome), std::move(record));
                     });
}

}  // namespace ap::actors
