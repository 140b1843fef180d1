#include "actors/webhook_dispatch.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>

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

// Why a delivery was deferred (webhook.delivery_deferred's reason).
constexpr char kAccountShareFull[] =
    "The account already holds its share of the webhook engine's room";
constexpr char kEndpointQueueFull[] = "The endpoint's queue of waiting deliveries is full";

// How often, and how far apart, a delivery's record refused for now is sent
// again (WebhookDispatch::Impl::submit).
constexpr int kRecordTries = 10;
constexpr std::int64_t kRecordRetryMs = 1000;

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
  int first_attempts_seen = 0;  // For the planted bug only.

  // Jobs held: accepted and not yet finished (sent and recorded, or
  // abandoned); at most options.max_held. Only jobs that can go now are
  // held: a delivery waiting for its retry time waits in the read model's
  // dr/ rows, so deliveries to a dead endpoint take no room from others.
  // Written on the client's thread only; atomic for /metrics.
  std::atomic<std::int64_t> held{0};
  // Of them, each account's (no entry: none), for its share of the room.
  std::map<std::string, std::size_t> held_by_account;

  // First attempts are accepted in log order; `cursor` is the log position
  // of the newest accepted, and every one before it was accepted. From the
  // first one left in the read model for want of room until take_up_first()
  // has caught up, `backlog` is set and new ones wait there too, so none
  // overtakes an earlier one of its conversation.
  // Set until resume() has taken up what waited from before this start.
  std::uint64_t cursor = 0;
  bool backlog = true;

  // Retries taken up from the read model and not yet recorded there (the
  // attempt number of each), so that a second look at the due rows before
  // the record lands does not send one twice. At most max_held plus the
  // records on their way.
  std::map<std::string, int> retrying;
  // The earliest time a wake-up will take up due retries (INT64_MAX: none
  // armed), and whether a due retry found no room and waits for release().
  std::int64_t wake_at_ms = INT64_MAX;
  bool retries_behind = false;
  bool take_up_queued = false;

  // Readable from any thread (for /metrics).
  std::atomic<std::uint64_t> attempts{0}, attempts_ok{0};
  std::atomic<std::int64_t> in_flight_total{0}, waiting_total{0};
  std::atomic<std::uint64_t> spilled_total{0}, deferred_total{0};

  Impl(Runtime& r, projections::CoreView& v, domain::WebhookTransport& c, const domain::Clock& k,
       domain::Entropy& e, WebhookDispatchOptions o)
      : runtime(r), view(v), client(c), clock(k), entropy(e), options(o) {}

  // ---- Scheduling (client thread) ----

  bool full() const { return static_cast<std::size_t>(held.load()) >= options.max_held; }

  // A first attempt created at log `position`, seen live: sent now, or left
  // in the read model when there is no room or others wait there.
  void on_created(Job job, std::uint64_t position) {
    if (position <= cursor) return;  // Taken up from the read model already.
    if (full() || backlog) {
      ++spilled_total;
      backlog = true;
      return;
    }
    cursor = position;
    hold(std::move(job));
  }

  // Accepts `job` and starts it, behind an earlier first attempt of its
  // conversation if there is one; or defers it when its account already
  // holds its share of the room.
  void hold(Job job) {
    std::size_t& share = held_by_account[job.account];
    const bool account_full = share >= options.max_held_per_account;
    ++share;
    ++held;
    if (account_full) return defer(job, kAccountShareFull);
    if (job.attempt == 1 && ++first_attempts_seen == options.bug_drop_nth_first_attempt) {
      return release(job.account);
    }
    if (job.attempt == 1 && !job.conversation.empty()) {
      std::deque<Job>& queue = first_attempts[job.conversation];
      queue.push_back(std::move(job));
      if (queue.size() == 1) start(queue.front());
      return;
    }
    start(job);
  }

  // A held job of `account` is done with. Once half the room is free again,
  // what waits in the read model is taken up, deferred so that a finishing
  // job never recurses into starting others.
  void release(const std::string& account) {
    AP_ASSERT(held.load() > 0, "release() pairs with hold()");
    auto share = held_by_account.find(account);
    AP_ASSERT(share != held_by_account.end() && share->second > 0,
              "the account of a released job holds room");
    if (--share->second == 0) held_by_account.erase(share);
    --held;
    if ((backlog || retries_behind) && !take_up_queued &&
        static_cast<std::size_t>(held.load()) <= options.max_held / 2) {
      take_up_queued = true;
      client.defer([this] {
        take_up_queued = false;
        take_up_retries();
        take_up_first();
      });
    }
  }

  // Accepts the first attempts waiting in the read model after `cursor`, in
  // log order, until the room is full; clears `backlog` once none is left.
  void take_up_first() {
    // Bounded: each round accepts every row it reads, or stops.
    while (!full()) {
      const std::size_t room = options.max_held - static_cast<std::size_t>(held.load());
      const std::vector<json::object> rows = view.first_attempts_after(cursor, room);
      for (const json::object& row : rows) {
        cursor = domain::field(row, "position").to_number<std::uint64_t>();
        hold(job_of(row, 1));
      }
      if (rows.size() < room) {
        backlog = false;
        return;
      }
    }
  }

  // Accepts the retries that are due, earliest first, until the room is
  // full, and arms a wake-up for the next one.
  void take_up_retries() {
    const std::int64_t now_ms = clock.now_ms();
    retries_behind = false;
    const std::size_t room =
        options.max_held - std::min<std::size_t>(options.max_held, held.load());
    // Rows already being retried are read again and skipped: ask for them too.
    for (const json::object& row : view.retries_due(now_ms, room + retrying.size())) {
      const std::string id = text(row, "deliveryId");
      const int attempt = next_attempt(row);
      auto seen = retrying.find(id);
      if (seen != retrying.end() && seen->second >= attempt) continue;
      if (full()) {
        retries_behind = true;
        return;
      }
      retrying[id] = attempt;
      hold(job_of(row, attempt));
    }
    if (std::optional<std::int64_t> next = view.next_retry_due_after(now_ms)) arm_wake(*next);
  }

  // Makes sure due retries are taken up at `due_ms`.
  void arm_wake(std::int64_t due_ms) {
    if (due_ms >= wake_at_ms) return;
    wake_at_ms = due_ms;
    // A wake-up superseded by an earlier one finds wake_at_ms changed and
    // does nothing.
    client.defer_after(std::max<std::int64_t>(0, due_ms - clock.now_ms()), [this, due_ms] {
      if (wake_at_ms != due_ms) return;
      wake_at_ms = INT64_MAX;
      take_up_retries();
    });
  }

  // Puts off attempt `job.attempt`: the delivery aggregate records that it
  // waits (webhook.delivery_deferred, which moves its row to the retry rows)
  // and the job keeps its room until that record is written, so that a burst
  // of deferrals is bounded like any other held job. `reason` says which
  // limit it met.
  void defer(const Job& job, const char* reason) {
    ++deferred_total;
    submit(job.delivery_id,
           {"delivery.defer",
            job.account,
            {{"attempt", job.attempt}, {"reason", reason}, {"deferBaseMs", options.defer_base_ms}}},
           kRecordTries, [this, account = job.account] { release(account); });
  }

  // An attempt of delivery `id` is recorded: it is final, or waits in the
  // read model for its retry at `retry_at_ms` (nullopt when final). A
  // deferral is recorded the same way, with the time it waits until.
  void on_attempted(const std::string& id, std::optional<std::int64_t> retry_at_ms) {
    retrying.erase(id);
    if (retry_at_ms) arm_wake(*retry_at_ms);
  }

  // Makes attempt `job.attempt` against the webhook as configured now.
  // `job` may be the front of its conversation's queue, which finished()
  // pops: nothing reads it after that.
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
      submit(job.delivery_id, {"delivery.abandon", job.account, {{"reason", refusal}}},
             kRecordTries, nullptr);
      const std::string account = job.account;
      finished(job);  // May pop `job` itself off its conversation's queue.
      return release(account);
    }
    const std::string key = url.scheme + "://" + url.host + ":" + url.port;
    Endpoint& endpoint = endpoints[key];
    if (endpoint.in_flight >= options.max_in_flight_per_endpoint &&
        endpoint.waiting.size() >= options.max_waiting_per_endpoint) {
      // Deferral counts like a failed attempt for its conversation's order:
      // the next first attempt may go (and most likely waits here too).
      defer(job, kEndpointQueueFull);
      return finished(job);  // May pop `job` itself off its conversation's queue.
    }
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
      release(job.account);
    });
  }

  void record(const Job& job, const WebhookResult& result) {
    json::object args = attempt_report(result);
    args["attempt"] = job.attempt;
    args["retryAfterMs"] =
        result.retry_after_ms < 0 ? json::value(nullptr) : json::value(result.retry_after_ms);
    args["retryBaseMs"] = options.retry_base_ms;
    submit(job.delivery_id, {"delivery.attempt", job.account, std::move(args)}, kRecordTries,
           nullptr);
  }

  // Sends `command` to the aggregate of delivery `id`. A refusal to retry
  // later (kUnavailable: the log failed, or the entity's queue was full) is
  // sent again after kRecordRetryMs, `tries` times in all, so that a passing
  // failure does not leave the delivery pending until the next start; the
  // aggregate ignores a report it has already recorded. `done` (may be
  // null) runs on the client's thread once the command is answered for good.
  void submit(const std::string& id, domain::Command command, int tries,
              std::function<void()> done) {
    AP_ASSERT(tries >= 1, "a command is sent at least once");
    runtime.send(EntityKind::kDelivery, id, command,
                 // Answered on an actor thread; the engine's state lives on the
                 // client's. The runtime stops before this engine goes (Node::~Node).
                 [this, id, command, tries, done = std::move(done)](CommandResult r) mutable {
                   client.defer([this, id = std::move(id), command = std::move(command), tries,
                                 done = std::move(done), r = std::move(r)]() mutable {
                     if (!r.ok && r.error.kind == domain::ErrorKind::kUnavailable && tries > 1) {
                       client.defer_after(
                           kRecordRetryMs, [this, id = std::move(id), command = std::move(command),
                                            tries, done = std::move(done)]() mutable {
                             submit(id, std::move(command), tries - 1, std::move(done));
                           });
                       return;
                     }
                     if (!r.ok) {
                       std::fprintf(stderr, "agentphone: %s of %s not recorded: %s\n",
                                    command.type.c_str(), id.c_str(), r.error.message.c_str());
                     }
                     if (done) done();
                   });
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

void WebhookDispatch::on_event(const std::string& type, const std::string& payload,
                               std::uint64_t position) {
  if (type == "webhook.delivery_created") {
    const json::object data = json::parse(payload).as_object();
    if (domain::was_sent_when_recorded(data)) return;
    impl_->client.defer([impl = impl_.get(), job = Impl::job_of(data, 1), position]() mutable {
      impl->on_created(std::move(job), position);
    });
    return;
  }
  if (type == "webhook.delivery_attempted" || type == "webhook.delivery_deferred") {
    const json::object data = json::parse(payload).as_object();
    std::optional<std::int64_t> retry_at_ms;
    if (type == "webhook.delivery_deferred") {
      retry_at_ms = domain::field(data, "untilMs").as_int64();
    } else if (text(data, "status") == "pending") {
      retry_at_ms = domain::field(data, "nextRetryAtMs").as_int64();
    }
    impl_->client.defer([impl = impl_.get(), id = text(data, "deliveryId"), retry_at_ms] {
      impl->on_attempted(id, retry_at_ms);
    });
  }
}

WebhookDispatch::Stats WebhookDispatch::stats() const {
  return Stats{
      impl_->attempts.load(),      impl_->attempts_ok.load(), impl_->in_flight_total.load(),
      impl_->waiting_total.load(), impl_->held.load(),        impl_->spilled_total.load(),
      impl_->deferred_total.load()};
}

std::size_t WebhookDispatch::resume() {
  const std::size_t count = impl_->view.pending_deliveries().size();
  impl_->client.defer([impl = impl_.get()] {
    impl->backlog = true;
    impl->take_up_retries();
    impl->take_up_first();
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
