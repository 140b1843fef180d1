#include "actors/call_dispatch.hpp"

#include <boost/json/parse.hpp>

#include <map>
#include <mutex>
#include <vector>

#include "actors/call.hpp"
#include "actors/invariant.hpp"
#include "actors/webhook.hpp"
#include "actors/webhook_dispatch.hpp"

namespace ap::actors {

namespace json = boost::json;

namespace {

std::string text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

void ignore_result(CommandResult) {}

// The NDJSON lines of an answer still arriving: each complete line that is
// an interim object is taken as it arrives (transport thread only).
struct EarlyLines {
  std::string pending;  // An incomplete last line.
  std::size_t spoken = 0;
  bool closed = false;  // A final line arrived: the rest is the answer's.

  json::array take(std::string_view piece) {
    json::array out;
    if (closed) return out;
    pending.append(piece);
    std::size_t at = 0;
    // Bounded by the input: each round consumes one line.
    for (std::size_t end; (end = pending.find('\n', at)) != std::string::npos; at = end + 1) {
      boost::system::error_code ec;
      const json::value line = json::parse(std::string_view(pending).substr(at, end - at), ec);
      if (ec || !line.is_object()) continue;  // Blank or not NDJSON: read whole at the end.
      const json::value* interim = line.as_object().if_contains("interim");
      if (interim == nullptr || !interim->is_bool() || !interim->as_bool()) {
        closed = true;
        break;
      }
      const json::value* words = line.as_object().if_contains("text");
      if (words == nullptr || !words->is_string()) continue;
      out.push_back(json::object{{"text", *words}});
      ++spoken;
    }
    pending.erase(0, closed ? pending.size() : at);
    return out;
  }
};

}  // namespace

struct CallDispatch::Impl {
  Runtime& runtime;
  projections::CoreView& view;
  domain::WebhookTransport& transport;
  domain::LlmPort& llm;
  domain::CarrierPort& carrier;
  const domain::Clock& clock;
  domain::Timers& timers;
  bool production;

  // A request waiting for a call to move on: to turn `turn`'s answer, or
  // (turn kEnd) to its end, or (kAnswer) to leaving "ringing".
  static constexpr int kEnd = -1;
  static constexpr int kAnswer = -2;
  struct Waiter {
    std::uint64_t id = 0;
    int turn = kEnd;
    TurnFn turn_done;
    std::function<void()> end_done;
  };
  std::mutex mu;
  std::map<std::string, std::vector<Waiter>> waiters;  // By call id.
  std::uint64_t next_waiter = 1;

  Impl(Runtime& r, projections::CoreView& v, domain::WebhookTransport& t, domain::LlmPort& l,
       domain::CarrierPort& c, const domain::Clock& k, domain::Timers& s, bool p)
      : runtime(r), view(v), transport(t), llm(l), carrier(c), clock(k), timers(s), production(p) {}

  // ---- Effects ----

  void answer(const std::string& account, const std::string& call_id, int turn, json::object args) {
    args["turn"] = turn;
    runtime.send(EntityKind::kCall, call_id, {"call.answer", account, std::move(args)},
                 ignore_result);
  }

  void silent(const std::string& account, const std::string& call_id, int turn, std::string why) {
    answer(account, call_id, turn,
           {{"lines", json::array()},
            {"hangup", false},
            {"action", nullptr},
            {"digits", nullptr},
            {"error", std::move(why)}});
  }

  void webhook_turn(const json::object& e) {
    const std::string account = text(e, "accountId");
    const std::string call_id = text(e, "callId");
    const int turn = static_cast<int>(domain::field(e, "turn").as_int64());
    std::optional<std::string> config = view.webhook(account, text(e, "entity"));
    if (!config) return silent(account, call_id, turn, "The webhook was removed during the call");
    const json::object webhook = json::parse(*config).as_object();
    domain::WebhookRequest request;
    if (std::string why = domain::parse_webhook_url(text(webhook, "url"), production, &request.url);
        !why.empty()) {
      return silent(account, call_id, turn, why);
    }
    const std::int64_t sent_ms = clock.now_ms();
    request.body = text(e, "body");
    request.timeout_ms = domain::field(webhook, "timeout").as_int64() * 1000;
    request.headers = signed_headers(sent_ms, text(e, "deliveryId"), "agent.message",
                                     text(webhook, "secret"), request.body);
    json::object record{{"entity", domain::field(e, "entity")},
                        {"webhookId", domain::field(e, "webhookId")},
                        {"agentId", domain::field(e, "agentId")},
                        {"messageId", nullptr},
                        {"body", request.body},
                        {"createdAtMs", sent_ms},
                        {"eventType", "agent.message"},
                        {"channel", "voice"},
                        {"callId", call_id}};
    const std::string delivery_id = text(e, "deliveryId");
    // NDJSON interim lines are spoken as each arrives; the answer at the end
    // carries the rest.
    auto early = std::make_shared<EarlyLines>();
    request.on_body = [this, early, account, call_id, turn](std::string_view piece) {
      json::array lines = early->take(piece);
      if (lines.empty()) return;
      runtime.send(EntityKind::kCall, call_id,
                   {"call.speak", account, {{"turn", turn}, {"lines", std::move(lines)}}},
                   ignore_result);
    };
    transport.defer([this, request = std::move(request), record = std::move(record), account,
                     call_id, delivery_id, turn, early]() mutable {
      transport.send(
          std::move(request), [this, record = std::move(record), account, call_id, delivery_id,
                               turn, early](domain::WebhookResult result) mutable {
            json::object report = attempt_report(result);
            json::array lines;
            bool hangup = false;
            json::value action = nullptr, digits = nullptr;
            json::value why = domain::field(report, "error");
            if (why.is_null()) {
              std::string refusal = domain::parse_turn_answer(result.content_type, result.body,
                                                              &lines, &hangup, &action, &digits);
              if (!refusal.empty()) why = std::move(refusal);
            }
            // What was spoken early is not said twice.
            const std::size_t spoken = std::min(early->spoken, lines.size());
            lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(spoken));
            answer(account, call_id, turn,
                   {{"lines", std::move(lines)},
                    {"hangup", hangup},
                    {"action", std::move(action)},
                    {"digits", std::move(digits)},
                    {"error", std::move(why)}});
            for (auto& [key, value] : report) record[key] = std::move(value);
            runtime.send(EntityKind::kDelivery, delivery_id,
                         {"delivery.record_sent", account, std::move(record)}, ignore_result);
          });
    });
  }

  void hosted_turn(const json::object& e) {
    const std::string account = text(e, "accountId");
    const std::string call_id = text(e, "callId");
    const int turn = static_cast<int>(domain::field(e, "turn").as_int64());
    domain::LlmRequest request{text(e, "systemPrompt"), domain::field(e, "transcript").as_array(),
                               text(e, "utterance"), text(e, "modelTier")};
    auto early = [this, account, call_id, turn](std::string sentence) {
      runtime.send(EntityKind::kCall, call_id,
                   {"call.speak",
                    account,
                    {{"turn", turn}, {"lines", json::array{json::object{{"text", sentence}}}}}},
                   ignore_result);
    };
    llm.complete(request, early, [this, account, call_id, turn](domain::LlmReply reply) {
      json::array lines;
      for (std::string& line : reply.lines) {
        lines.push_back(json::object{{"text", std::move(line)}, {"interim", false}});
      }
      answer(account, call_id, turn,
             {{"lines", std::move(lines)},
              {"hangup", reply.hangup},
              {"action", nullptr},
              {"digits", nullptr},
              {"error", reply.error.empty() ? json::value(nullptr) : json::value(reply.error)}});
    });
  }

  void dial(const json::object& e) {
    const std::string account = text(e, "accountId");
    const std::string call_id = text(e, "callId");
    carrier.place_call(
        call_id, text(e, "from"), text(e, "to"), [this, account, call_id](std::string event) {
          runtime.send(EntityKind::kCall, call_id,
                       {"call.carrier", account, {{"event", std::move(event)}}}, ignore_result);
        });
  }

  // ---- Waiters ----

  // Whether the read model shows waiter `w` of `call_id` as done.
  bool done(const std::string& call_id, const Waiter& w) const {
    std::optional<std::string> status = view.call_status(call_id);
    if (status && !domain::call_is_live(*status)) return true;
    if (w.turn == kAnswer) return status && *status != "ringing";
    if (w.turn == kEnd) return false;
    std::optional<json::object> row = view.call_turn(call_id, w.turn);
    return row && domain::field(*row, "answered").as_bool();
  }

  void fire(const std::string& call_id, Waiter& w) {
    if (w.turn < 0) return w.end_done();  // kEnd or kAnswer.
    std::optional<json::object> row = view.call_turn(call_id, w.turn);
    if (row && !domain::field(*row, "answered").as_bool()) row.reset();
    w.turn_done(std::move(row));
  }

  void wait(const std::string& call_id, Waiter w, std::int64_t timeout_ms) {
    std::uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      // Checked under the lock that on_event takes: an event applied before
      // this check is seen here, and one applied after it finds the waiter.
      if (!done(call_id, w)) {
        id = w.id = next_waiter++;
        waiters[call_id].push_back(std::move(w));
      }
    }
    if (id == 0) return fire(call_id, w);
    timers.after(timeout_ms, [this, call_id, id] { expire(call_id, id); });
  }

  void expire(const std::string& call_id, std::uint64_t id) {
    std::optional<Waiter> due;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = waiters.find(call_id);
      if (it == waiters.end()) return;
      std::vector<Waiter>& list = it->second;
      for (auto w = list.begin(); w != list.end(); ++w) {
        if (w->id != id) continue;
        due = std::move(*w);
        list.erase(w);
        break;
      }
      if (list.empty()) waiters.erase(it);
    }
    if (due) fire(call_id, *due);
  }
};

CallDispatch::CallDispatch(Runtime& runtime, projections::CoreView& view,
                           domain::WebhookTransport& transport, domain::LlmPort& llm,
                           domain::CarrierPort& carrier, const domain::Clock& clock,
                           domain::Timers& timers, bool production)
    : impl_(std::make_unique<Impl>(runtime, view, transport, llm, carrier, clock, timers,
                                   production)) {}

CallDispatch::~CallDispatch() = default;

bool CallDispatch::run(const domain::Effect& effect) {
  if (effect.type == "voice.webhook") {
    impl_->webhook_turn(effect.data);
  } else if (effect.type == "voice.hosted") {
    impl_->hosted_turn(effect.data);
  } else if (effect.type == "carrier.dial") {
    impl_->dial(effect.data);
  } else {
    return false;
  }
  return true;
}

void CallDispatch::on_event(const std::string& type, const std::string& payload) {
  if (type != "call.turn_answered" && type != "call.ended" && type != "call.answered") return;
  const json::object data = json::parse(payload).as_object();
  const std::string call_id = text(data, "callId");
  const bool ended = type == "call.ended";
  const int turn = type == "call.turn_answered"
                       ? static_cast<int>(domain::field(data, "turn").as_int64())
                       : Impl::kAnswer;
  std::vector<Impl::Waiter> due;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->waiters.find(call_id);
    if (it == impl_->waiters.end()) return;
    std::vector<Impl::Waiter>& list = it->second;
    for (auto w = list.begin(); w != list.end();) {
      // The end answers everyone; an answer, the waiters for its turn.
      if (ended || w->turn == turn) {
        due.push_back(std::move(*w));
        w = list.erase(w);
      } else {
        ++w;
      }
    }
    if (list.empty()) impl_->waiters.erase(it);
  }
  for (Impl::Waiter& w : due) impl_->fire(call_id, w);
}

void CallDispatch::when_turn_answered(const std::string& call_id, int turn, std::int64_t timeout_ms,
                                      TurnFn done) {
  AP_ASSERT(turn >= 0, "turn numbers start at 0 (the greeting)");
  Impl::Waiter w;
  w.turn = turn;
  w.turn_done = std::move(done);
  impl_->wait(call_id, std::move(w), timeout_ms);
}

void CallDispatch::when_answered(const std::string& call_id, std::int64_t timeout_ms,
                                 std::function<void()> done) {
  Impl::Waiter w;
  w.turn = Impl::kAnswer;
  w.end_done = std::move(done);
  impl_->wait(call_id, std::move(w), timeout_ms);
}

void CallDispatch::when_ended(const std::string& call_id, std::int64_t timeout_ms,
                              std::function<void()> done) {
  Impl::Waiter w;
  w.end_done = std::move(done);
  impl_->wait(call_id, std::move(w), timeout_ms);
}

}  // namespace ap::actors
