// Internal to the REST layer: the wire helpers, the request being routed
// (Call), and Api::Impl, whose routes are split over api.cpp (auth,
// idempotency, agents, numbers), api_messaging.cpp (messages, conversations,
// the sandbox simulator) and api_webhooks.cpp (webhooks and deliveries).
#pragma once

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/aggregate.hpp"
#include "actors/billing_dispatch.hpp"
#include "actors/calling.hpp"
#include "actors/domain.hpp"
#include "actors/invariant.hpp"
#include "actors/messaging.hpp"
#include "actors/runtime.hpp"
#include "http/api.hpp"
#include "http/errors.hpp"
#include "http/mcp.hpp"
#include "http/metrics.hpp"
#include "http/rate_limit.hpp"
#include "http/request_parsing.hpp"
#include "sim/payments.hpp"

namespace ap::http {

namespace json = boost::json;
using actors::CommandResult;
using actors::EntityKind;
using domain::DomainError;
using domain::ErrorKind;
using domain::FieldError;
using Clock = std::chrono::steady_clock;

// ---- Wire helpers (api.cpp) ---------------------------------------------------

Response domain_error_response(const DomainError& error);
Response not_found_response(const std::string& what);
// 405 in the contract's error shape.
Response method_not_allowed_response();
// A JSON array of `items`, each already wire JSON (stored view rows): joined
// as text, never parsed.
std::string json_array(const std::vector<std::string>& items);
Response agent_or_404(std::optional<std::string> agent);
Response number_or_404(std::optional<std::string> number);

// ---- The request being routed ---------------------------------------------------

// The Idempotency-Key of a POST being answered (see docs/idempotency.md).
struct IdempotencyContext {
  std::string account;
  std::string key_hash;     // SHA-256 of account and key: the key itself is not stored.
  std::string fingerprint;  // SHA-256 of method, target and body.
};

// A reply plus the Idempotency-Key it answers, if any, so that the command
// helper can claim the key atomically with the command's events.
struct Responder {
  Reply reply;
  std::shared_ptr<const IdempotencyContext> idempotency;

  Responder(Reply r, std::shared_ptr<const IdempotencyContext> i = nullptr)  // NOLINT: implicit.
      : reply(std::move(r)), idempotency(std::move(i)) {}
  void operator()(Response response) const { reply(std::move(response)); }
};

// One authenticated request on its way through the router, with the small
// helpers every route uses. Each helper that fails has already replied.
struct Call {
  std::string account;
  const Request& request;
  const std::vector<std::string>& parts;  // Path segments, "v1" first.
  const Query& query;
  std::string* route_label;
  Responder reply;

  void method_not_allowed() const { reply(method_not_allowed_response()); }
  void unknown_route() const {
    *route_label = "unknown";
    reply(not_found_response("Not Found"));
  }
  // Reads `limit` (1–100, default `default_limit`) and `offset`; answers
  // 422 with these and any `errors` already found in the query.
  bool paging(std::int64_t* offset, std::int64_t* limit, std::int64_t default_limit = 20,
              std::vector<FieldError> errors = {}) const {
    query_int(query, "limit", default_limit, 1, 100, limit, errors);
    query_int(query, "offset", 0, 0, 1'000'000'000, offset, errors);
    if (!errors.empty()) reply(validation_response(errors, "query"));
    return errors.empty();
  }
  bool body_object(json::object* out) const {
    Response error;
    if (!parse_object(request.body, out, &error)) reply(error);
    return error.status == 200;
  }
};

// ---- The API ------------------------------------------------------------------

struct Api::Impl {
  // Sign-up (api_signup.cpp).
  SignupOptions signup;
  domain::Entropy& entropy;
  RateLimiter signups_per_email, signups_per_ip;
  ApiLimits limits;
  TokenBuckets requests_per_key;
  // Requests being handled per account (ApiLimits::max_in_flight_per_account).
  std::mutex in_flight_mu;
  std::unordered_map<std::string, int> in_flight;
  // Counts one request of `account` in; false (counting nothing) when it
  // already has `limit` being handled.
  bool enter(const std::string& account, int limit) {
    std::lock_guard<std::mutex> lock(in_flight_mu);
    int& n = in_flight[account];
    if (limit > 0 && n >= limit) return false;
    ++n;
    return true;
  }
  void leave(const std::string& account) {
    std::lock_guard<std::mutex> lock(in_flight_mu);
    auto it = in_flight.find(account);
    AP_ASSERT(it != in_flight.end() && it->second > 0, "leave() pairs with enter()");
    if (--it->second == 0) in_flight.erase(it);
  }
  // One entered request: leaves the count once, on release() or at the end
  // of its last owner, so that neither a second reply nor a dropped one can
  // unbalance it.
  class InFlightSlot {
   public:
    InFlightSlot(Impl& impl, std::string account) : impl_(impl), account_(std::move(account)) {}
    ~InFlightSlot() { release(); }
    InFlightSlot(const InFlightSlot&) = delete;
    InFlightSlot& operator=(const InFlightSlot&) = delete;
    void release() {
      if (!released_.exchange(true)) impl_.leave(account_);
    }

   private:
    Impl& impl_;
    const std::string account_;
    std::atomic<bool> released_{false};
  };

  es::EventStore& store;
  actors::Runtime& runtime;
  projections::CoreView& view;
  domain::IdSource& ids;
  const domain::Clock& clock;
  Metrics metrics;

  // The log position of each account's last acknowledged write; reads by that
  // account wait until the projection has applied it (read-your-writes).
  std::mutex writes_mu;
  std::unordered_map<std::string, std::uint64_t> last_write;

  sim::SimCarrier* simulator;  // Null in production mode.
  bool production;
  actors::WebhookDispatch& webhooks;
  actors::CallDispatch& calls;

  Impl(actors::Node& node, bool sandbox, SignupOptions s)
      : signup(s),
        entropy(node.entropy()),
        signups_per_email(node.clock(), 3'600'000),
        signups_per_ip(node.clock(), 3'600'000),
        requests_per_key(node.clock()),
        store(node.store()),
        runtime(node.runtime()),
        view(node.view()),
        ids(node.ids()),
        clock(node.clock()),
        simulator(sandbox ? &node.carrier() : nullptr),
        production(!sandbox),
        webhooks(node.webhooks()),
        calls(node.calls()),
        billing(node.billing()),
        payments(sandbox ? &node.sim_payments() : nullptr),
        audits_per_account(node.clock(), 60'000) {}

  void note_write(const std::string& account, std::uint64_t position) {
    std::lock_guard<std::mutex> lock(writes_mu);
    std::uint64_t& last = last_write[account];
    last = std::max(last, position);
  }

  // Runs `fn` once the projection reflects every write this account has
  // been told succeeded.
  void after_own_writes(const std::string& account, std::function<void()> fn) {
    std::uint64_t position = 0;
    {
      std::lock_guard<std::mutex> lock(writes_mu);
      auto it = last_write.find(account);
      if (it != last_write.end()) position = it->second;
    }
    view.when_applied(position, std::move(fn));
  }

  // Sends a command; on success waits for the projection to apply it and
  // answers with `respond(result)`; on failure answers with the error. With
  // an Idempotency-Key, the key is claimed with the command's events and the
  // answer is recorded in the log before it is sent.
  void command(EntityKind kind, const std::string& id, domain::Command cmd, const Responder& reply,
               std::function<Response(const CommandResult&)> respond) {
    const std::string account = cmd.account_id;
    runtime.send(
        kind, id, std::move(cmd),
        [this, account, reply, respond = std::move(respond)](CommandResult result) {
          answer(account, reply, std::move(result), respond);
        },
        claim_for(reply));
  }

  // The claim of the Idempotency-Key `reply` answers, if any, to append with a command's events.
  std::optional<actors::IdempotencyClaim> claim_for(const Responder& reply) const {
    if (!reply.idempotency) return std::nullopt;
    const IdempotencyContext& idem = *reply.idempotency;
    return actors::IdempotencyClaim{idempotency_stream(idem.key_hash),
                                    {{"accountId", idem.account},
                                     {"keyHash", idem.key_hash},
                                     {"fingerprint", idem.fingerprint},
                                     {"atMs", clock.now_ms()}}};
  }

  // Answers a command's `result` as command() does: the error, or
  // `respond(result)` once the projection has applied what it wrote (and,
  // for a claimed Idempotency-Key, once the answer is recorded).
  void answer(const std::string& account, const Responder& reply, CommandResult result,
              const std::function<Response(const CommandResult&)>& respond) {
    if (!result.ok) return reply(domain_error_response(result.error));
    if (result.last_position == 0) return reply(respond(result));
    note_write(account, result.last_position);
    view.when_applied(result.last_position, [this, reply, respond, result = std::move(result)] {
      Response response = respond(result);
      if (!result.claimed) return reply(std::move(response));
      record_idempotent_response(*reply.idempotency, std::move(response), reply);
    });
  }

  static std::string idempotency_stream(const std::string& key_hash) { return "idem-" + key_hash; }

  // Appends the answer to a claimed key and sends it once the log holds it
  // and the projection shows it, so that a retry finds the stored answer.
  void record_idempotent_response(const IdempotencyContext& idem, Response response,
                                  const Reply& reply) {
    json::object data{{"accountId", idem.account},
                      {"keyHash", idem.key_hash},
                      {"status", response.status},
                      {"body", response.body}};
    auto shared = std::make_shared<Response>(std::move(response));
    store.append(idempotency_stream(idem.key_hash), es::ExpectedVersion::exact(1),
                 {es::NewEvent{"idempotency.completed", json::serialize(data)}},
                 [this, shared, reply](const es::Status& status, const es::AppendResult& r) {
                   // Without the record a retry gets 409 rather than a second
                   // effect; the answer itself is still correct to send.
                   if (!status.ok()) return reply(*shared);
                   view.when_applied(r.last_position, [shared, reply] { reply(*shared); });
                 });
  }

  // Idempotency-Keys whose first request is still being answered.
  std::mutex idempotency_mu;
  std::unordered_map<std::string, std::string> idempotency_in_flight;  // key hash -> fingerprint.
  void idempotent(const Call& call, const std::string& key);
  void dispatch(const Call& call);

  void route(const Call& call);
  void route_agents(const Call& call);
  void route_numbers(const Call& call);
  void route_messages(const Call& call);
  void route_conversations(const Call& call);
  // Answers a cursor-paginated message list under `prefix` once `guard`
  // (run after the caller's own writes are visible) finds no error.
  void list_messages(const Call& call, const std::string& prefix,
                     std::function<std::optional<Response>()> guard);
  void route_sim(const Request& request, const std::string& path, const Query& query,
                 const Reply& reply);
  void sim_inbound_sms(const Request& request, const Reply& reply);
  void sim_faults(const Request& request, const Reply& reply);
  // Records `message` between `number` and `participant` in its
  // conversation and answers with the message's wire form.
  void deliver(const actors::SenderNumber& number, const std::string& participant,
               json::object message, bool outbound, const Responder& reply);
  void list_page(const projections::Page& page, bool with_has_more, const Reply& reply);
  void route_webhooks(const Call& call);
  // The MCP server at /mcp (http/mcp.cpp); its tools call back into handle().
  std::unique_ptr<McpServer> mcp;

  // Billing and usage (api_billing.cpp).
  actors::BillingDispatch& billing;
  sim::SimPayments* payments;  // Null in production mode.
  void route_billing(const Call& call);
  static constexpr int kAuditsPerMinute = 6;
  RateLimiter audits_per_account;
  std::mutex audit_mu;  // Held while an audit walks the log.
  bool begin_audit(const Call& call, std::unique_lock<std::mutex>* running);
  void audit(const Call& call);
  void statement(const Call& call);
  void route_usage(const Call& call);
  void top_up(const Call& call);
  void auto_recharge(const Call& call);
  json::object balance(const std::string& account);
  void sim_payments(const Request& request, const Reply& reply);
  // Calls (api_calls.cpp).
  void route_calls(const Call& call);
  void list_calls(const Call& call, const std::string& scope, const std::string& scope_id,
                  std::function<std::optional<Response>()> guard);
  void start_call(actors::CallStart start, std::int64_t wait_ms, const Reply& reply);
  json::object call_detail(const std::string& summary, const std::string& call_id);
  Response call_response(const std::string& account, const std::string& call_id);
  void sim_calls(const Request& request, const std::vector<std::string>& parts, const Reply& reply);
  // POST /admin/command: operator commands on a running server (api_admin.cpp).
  std::string admin_token;  // "" = none accepted.
  void admin_command(const Request& request, const Reply& reply);
  // POST /v0/agent/sign-up and /v0/agent/verify (api_signup.cpp).
  void route_signup(const Request& request, const std::string& step, const Reply& reply);
  void sign_up(const Request& request, const Reply& reply);
  void verify(const Request& request, const Reply& reply);
  void route_agent_webhook(const Call& call, const std::string& agent_id);
  // The address book (api_contacts.cpp).
  void route_contacts(const Call& call);
};

}  // namespace ap::http
