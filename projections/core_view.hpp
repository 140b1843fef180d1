// CoreView: the read model of accounts' API keys, agents and numbers, built
// only from events and stored as RocksDB view rows beside the log. Each event's
// row changes commit together with the checkpoint, so a crash never applies an
// event twice or skips one.
//
// View rows (projection "core"):
//   k/<sha256 of key>         -> "<account id> <sha256>" (active keys only)
//   e/<sha256 of email>       -> "<account id>": the account of a (normalized) email
//   g/<account>/<agent id>    -> AgentResponse JSON, `numbers` included
//   gc/<account>              -> number of agents (decimal)
//   n/<account>/<number id>   -> PhoneNumberResponse JSON (released ones too)
//   nc/<account>              -> number of active numbers (decimal)
//   p/<e164>                  -> "<account id> <number id>" (active numbers only)
//   c/<account>/<conv id>     -> ConversationSummary JSON
//   cc/<account>, cac/<agent> -> number of conversations (decimal)
//   cl/<account>/<order>/<conv id>, ca/<agent>/<order>/<conv id>
//                             -> newest-first conversation indexes, each holding
//                                the ConversationSummary JSON as c/ does
//   ct/<conv id>              -> the conversation's current <order>
//   m/<conv id>/<order>/<msg id>   -> MessageInConversation JSON
//   nm/<number id>/<order>/<msg id> -> MessageResponse JSON
//   mi/<msg id>               -> "<account> <conv id> <order> <number id>"
//   nt/<number id>            -> the newest listed time of its messages (ms, decimal):
//                                listed times strictly increase per number
//   op/<msg id>               -> message.queued data of an outbound message the
//                                carrier has not finished with (resubmitted at start)
//   ob/<order>/<msg id>       -> "" : every outbound message, newest first (sim outbox)
//   wh/<account>/<entity>     -> WebhookResponse JSON; entity "project-<account>"
//                                or "agent-<agent id>"
//   d/<account>/<order>/<delivery id> -> WebhookDeliveryResponse JSON, plus the
//                                official MCP server's event, statusCode, success,
//                                deliveredAt, responseMs, and test (a test send)
//   dx/<delivery id>          -> "<account> <order> <agent id or -> <pending key or ->"
//   da/<agent>/<order>/<delivery id> -> "" : deliveries to that agent's webhook
//   dp/<position>             -> {deliveryId, accountId, entity, conversationId,
//                                eventType, body, attempts, nextAttemptAtMs, position}:
//                                a delivery whose first attempt is still to be made,
//                                in log order (position: of its creation in the log)
//   dr/<due ms>/<position>    -> the same row for a delivery waiting for a retry, in
//                                the order they fall due
//                                (<position>, <due ms>: 16 hex digits)
//   dc/<account>, dS/<account>, dF/<account> -> deliveries, delivered, failed
//   Ck/<account>/<call id>    -> CallSummary JSON (contract B.5, plus direction,
//                                disconnectionReason, voiceMode, recording fields)
//   Cx/<call id>              -> "<account> <order>"
//   Co/<account>/<order>/<call id>, Ca/<agent>/<order>/<call id>,
//   Cn/<number id>/<order>/<call id> -> "<account>": newest-first call indexes
//   Coc/<account>, Cac/<agent>, Cnc/<number id> -> number of calls (decimal)
//   Ct/<call id>/<turn, 8 hex digits> -> {id, transcript, response, confidence,
//                                createdAt, interrupted, answered, said: [{text, interim}]}:
//                                turn 0 is the greeting
//   Cv/<call id>              -> "<account>": a live call (ended at the next start)
//   Lb/<account>              -> {balanceMicros, entries, creditedMicros, debitedMicros,
//                                autoRecharge {enabled, thresholdMicros, amountMicros},
//                                lastDecline {atMs, code, message} or null}
//   Le/<account>/<seq, 12 hex digits> -> a ledger entry (docs/billing.md): one per cause
//   Lk/<account>/<cause key>  -> the entry's seq: a cause is charged once, ever
//   Uh/<account>/<hour, 8 hex digits>, Ud/<account>/<YYYY-MM-DD> -> {m, c, w, s}:
//                                messages, calls started, webhook deliveries, billed
//                                voice seconds in that UTC hour / day
//   Ua/<account>/<agent or ->/<hour> -> {m, c, s}: the agent's messages, completed
//                                calls and their seconds ("-": no agent)
//   Un/<account>/<number id>  -> {m, c}: the number's messages and calls
//   Ut/<account>              -> {m, c}: all-time messages and calls
//   An/<account>/<agent id>   -> the agent's name (kept after it is deleted)
//   K/<account>/<contact id>  -> ContactResponse JSON (contract B.8)
//   Kp/<account>/<e164>       -> {id, name, email, phoneNumber}: the contact with
//                                that phone number, as webhook payloads carry it
//   Kc/<account>              -> number of contacts (decimal)
//   i/<key hash>              -> {fingerprint, atMs, status?, body?}: an
//                                Idempotency-Key's claim and, once answered, its response
//   version                   -> kRowsVersion, as decimal text
// <order> = 16 hex digits of ~time_ms then 16 of ~(log position): newest first.
// Rows hold the exact wire JSON, so reads answer with the stored bytes.
#pragma once

#include <boost/json/object.hpp>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/ports.hpp"
#include "eventstore/event_store.hpp"

namespace ap::projections {

namespace json = boost::json;

struct Page {
  std::vector<std::string> items;  // Wire JSON of each item.
  std::uint64_t total = 0;
  bool has_more = false;
};

// The current calendar `period` ("week" from Monday, "month" or "year") at
// `now_ms` in the IANA time zone `tz` ("" = UTC), as [from_ms, to_ms).
// Returns false, with `error` set, for an unknown period or zone.
bool calendar_period(std::int64_t now_ms, const std::string& period, const std::string& tz,
                     std::int64_t* from_ms, std::int64_t* to_ms, std::string* error);

// The view is also the node's Wallet: the balance that reservations are
// taken from is the ledger's.
class CoreView final : public domain::Wallet {
 public:
  // The rows live under projection `name`; a second view under another name
  // rebuilds the same rows from the log (the simulator compares the two).
  explicit CoreView(es::EventStore& store, std::string name = kName);
  ~CoreView() override;

  // Starts applying events after the stored checkpoint, then live ones.
  void start();

  // Called on the projection thread after each event's rows are committed
  // with the event's type, JSON payload and log position. Set it before the
  // server takes traffic.
  using Listener = std::function<void(const std::string& type, const std::string& payload,
                                      std::uint64_t position)>;
  void set_listener(Listener listener);

  // Position of the last event applied.
  std::uint64_t checkpoint() const;

  // Deletes every row and the checkpoint. Call before start() only.
  void erase_rows();

  // Calls visit(key, value) for every row, in key order.
  void each_row(const std::function<void(std::string_view, std::string_view)>& visit) const;

  // Blocks until the checkpoint reaches `position` or the timeout passes.
  bool wait_until(std::uint64_t position, std::int64_t timeout_ms);

  // Runs `fn` once the checkpoint reaches `position`: at once, on this thread,
  // if it already has; otherwise on the projection's thread.
  void when_applied(std::uint64_t position, std::function<void()> fn);

  // ---- Queries (thread-safe; they read committed rows). ----

  // The account that claimed `normalized_email`, if any.
  std::optional<std::string> account_for_email(const std::string& normalized_email) const;

  // The account whose active API key hashes to `sha256_hex`.
  std::optional<std::string> account_for_key(const std::string& sha256_hex) const;

  // AgentResponse JSON with `numbers`, or nullopt if unknown or not this account's.
  std::optional<std::string> agent(const std::string& account, const std::string& agent_id) const;
  Page agents(const std::string& account, std::uint64_t offset, std::uint64_t limit) const;

  // PhoneNumberResponse JSON (any status), or nullopt if unknown or not this account's.
  std::optional<std::string> number(const std::string& account, const std::string& number_id) const;
  // (number id, account) of every active number, in any account.
  std::vector<std::pair<std::string, std::string>> active_numbers() const;
  // Active numbers only.
  Page numbers(const std::string& account, std::uint64_t offset, std::uint64_t limit) const;

  // (account id, number id) of the active number `e164`, in any account.
  std::optional<std::pair<std::string, std::string>> number_by_phone(const std::string& e164) const;

  // ConversationSummary JSON, or nullopt if unknown or not this account's.
  std::optional<std::string> conversation(const std::string& account, const std::string& id) const;
  // Newest activity first; all of the account's, or only `agent_id`'s when set.
  Page conversations(const std::string& account, const std::string& agent_id, std::uint64_t offset,
                     std::uint64_t limit) const;
  // Messages under `prefix` ("m/<conv id>/" or "nm/<number id>/"), newest first,
  // strictly older than `before_ms` / newer than `after_ms` when those are > 0.
  Page messages(const std::string& prefix, std::int64_t before_ms, std::int64_t after_ms,
                std::uint64_t limit) const;

  // Every outbound message the carrier has not finished with (message.queued data).
  std::vector<json::object> pending_outbound() const;
  // The newest `limit` outbound messages of all accounts (sim outbox), as
  // MessageInConversation JSON plus accountId and conversationId.
  Page outbound(std::uint64_t limit) const;
  // WebhookResponse JSON of webhook entity `entity` of `account`, or nullopt.
  std::optional<std::string> webhook(const std::string& account, const std::string& entity) const;
  // Deliveries not yet delivered or failed (the dp/ and dr/ rows).
  std::vector<json::object> pending_deliveries() const;
  // At most `limit` deliveries whose first attempt is still to be made,
  // created after log position `after`, in log order.
  std::vector<json::object> first_attempts_after(std::uint64_t after, std::size_t limit) const;
  // At most `limit` deliveries waiting for a retry due at or before `until_ms`,
  // earliest first.
  std::vector<json::object> retries_due(std::int64_t until_ms, std::size_t limit) const;
  // When the earliest retry due after `after_ms` falls due, or nullopt.
  std::optional<std::int64_t> next_retry_due_after(std::int64_t after_ms) const;
  // The account's deliveries, newest first, created at or after `since_ms`
  // (0 = all); only those to `agent_id`'s webhook when it is set.
  Page deliveries(const std::string& account, const std::string& agent_id, std::int64_t since_ms,
                  std::uint64_t offset, std::uint64_t limit) const;
  // Calls visit(delivery JSON) for the account's deliveries created at or
  // after `since_ms`, newest first.
  void each_delivery(const std::string& account, std::int64_t since_ms,
                     const std::function<void(const json::object&)>& visit) const;
  // All-time counts: {total, delivered, failed}.
  std::array<std::int64_t, 3> delivery_counts(const std::string& account) const;

  // ---- Calls ----

  // CallSummary JSON of `account`'s call, or nullopt if unknown or foreign.
  std::optional<std::string> call(const std::string& account, const std::string& call_id) const;
  // The account of call `call_id`, or nullopt if unknown (the sandbox phone
  // has no API key to name one).
  std::optional<std::string> call_account(const std::string& call_id) const;
  // The call's status in any account, or nullopt if unknown.
  std::optional<std::string> call_status(const std::string& call_id) const;
  // The call's turns, greeting first, as stored (Ct/ rows).
  std::vector<json::object> call_turns(const std::string& call_id) const;
  std::optional<json::object> call_turn(const std::string& call_id, int turn) const;
  // Newest first: scope "account", "agent" or "number" with that `scope_id`;
  // `status`, `direction` and `search` (a substring of either party's
  // number) filter when not empty.
  struct CallFilter {
    std::string status, direction, search;
  };
  Page calls(const std::string& account, const std::string& scope, const std::string& scope_id,
             const CallFilter& filter, std::uint64_t offset, std::uint64_t limit) const;
  // (call id, account) of every call live in the read model.
  std::vector<std::pair<std::string, std::string>> live_calls() const;

  // ---- Contacts (projections/contact_view.cpp) ----

  // ContactResponse JSON, or nullopt if unknown or not this account's.
  std::optional<std::string> contact(const std::string& account,
                                     const std::string& contact_id) const;
  // The account's contact with phone number `e164` as webhook payloads carry
  // it ({id, name, email, phoneNumber}), or null when there is none.
  json::value contact_by_phone(const std::string& account, const std::string& e164) const;
  // Oldest first. A non-empty `search` keeps the contacts whose name, email
  // or phone number contains it, ignoring case (phone punctuation too), and
  // `total` counts those.
  Page contacts(const std::string& account, const std::string& search, std::uint64_t offset,
                std::uint64_t limit) const;

  // ---- Billing (projections/ledger_view.cpp) ----

  // The account's Lb/ row (zero balance when it has none).
  json::object billing(const std::string& account) const;
  // The account's ledger entries with seq > after_seq, oldest first, at most `limit`.
  std::vector<std::string> ledger(const std::string& account, std::uint64_t after_seq,
                                  std::uint64_t limit) const;
  // Every account with a ledger, in id order.
  std::vector<std::string> ledger_accounts() const;
  // Reservations (actors/ports.hpp, Wallet): the balance less live holds.
  std::int64_t reserve(const std::string& account, const std::string& hold,
                       std::int64_t want_micros, std::int64_t min_micros) override;
  void release(const std::string& hold, std::uint64_t after_position) override;
  // Called, on the refused caller's thread and outside every lock, with the
  // account whose reservation was just refused for want of funds (so that
  // auto-recharge can act on a 402). Set it before the server takes traffic.
  using ShortfallListener = std::function<void(const std::string& account)>;
  void set_shortfall_listener(ShortfallListener listener) { shortfall_ = std::move(listener); }
  // What the account may spend now: its balance less its live reservations.
  std::int64_t available_micros(const std::string& account) const;

  // ---- Usage (projections/usage_view.cpp; contract B.9, E.1) ----

  // UsageResponse at `now_ms`.
  json::object usage(const std::string& account, std::int64_t now_ms) const;
  // DailyUsagePoint for each of the `days` UTC days up to and including today.
  json::array usage_daily(const std::string& account, std::int64_t now_ms, int days) const;
  // MonthlyUsagePoint for each of the `months` UTC months up to this one.
  json::array usage_monthly(const std::string& account, std::int64_t now_ms, int months) const;
  // NumberUsageItem of each of the account's numbers.
  json::array usage_by_number(const std::string& account) const;
  // AgentUsageItem of each agent (and "Unassigned") for [from_ms, to_ms).
  json::array usage_by_agent(const std::string& account, std::int64_t from_ms,
                             std::int64_t to_ms) const;

  // The row of an Idempotency-Key (by its hash), or nullopt when unused.
  std::optional<json::object> idempotency(const std::string& key_hash) const;

  static constexpr const char* kName = "core";  // The server's projection.
  // The layout of the rows below. A data folder whose rows have another
  // layout has its read model rebuilt from the log at start.
  static constexpr int kRowsVersion = 6;
  static constexpr const char* kVersionKey = "version";

 private:
  void apply(const std::vector<es::RecordedEvent>& events);
  void apply_one(const es::RecordedEvent& event, es::ViewBatch& batch);
  static std::string agent_key(const std::string& account, const std::string& agent_id);
  // The stored row at `key`, as it is or parsed; nullopt when absent. A
  // failed read throws es::StorageError, as does a failed scan().
  std::optional<std::string> raw_row(const std::string& key) const;
  std::optional<json::object> row(const std::string& key) const;
  std::int64_t counter(const std::string& key) const;
  // The same, seen through the writes of a batch being applied.
  std::optional<std::string> raw_row(const es::ViewBatch& batch, const std::string& key) const;
  std::optional<json::object> row(const es::ViewBatch& batch, const std::string& key) const;
  std::int64_t counter(const es::ViewBatch& batch, const std::string& key) const;
  // Calls visit(key, value) for the rows under `prefix` from `start` (or
  // the prefix when empty), in key order, until it returns false.
  void scan(const std::string& prefix, const std::string& start,
            const std::function<bool(std::string_view, std::string_view)>& visit) const;
  // Walks the index rows under `prefix`, skipping `offset` items and taking
  // `limit`; `item` maps a row to its wire JSON, or nullopt to leave it out.
  Page offset_page(
      const std::string& prefix, const std::string& total_key, std::uint64_t offset,
      std::uint64_t limit,
      const std::function<std::optional<std::string>(std::string_view key, std::string_view value)>&
          item) const;
  void apply_message(const std::string& account, const json::object& data, std::uint64_t position,
                     es::ViewBatch& batch) const;
  // Writes the summary and counters of a new conversation from `data`
  // (conversation.started, or the message.voice that starts one).
  void start_conversation(const std::string& account, const json::object& data,
                          std::int64_t created_ms, es::ViewBatch& batch) const;
  void apply_status(const json::object& data, es::ViewBatch& batch) const;
  // Writes a conversation's summary to c/ and, once it has an `order`, to
  // its rows in the newest-first indexes.
  void put_summary(const std::string& account, const std::string& conversation,
                   const std::string& order, const json::object& summary,
                   es::ViewBatch& batch) const;
  void apply_delivery(const std::string& type, const json::object& data, std::uint64_t position,
                      es::ViewBatch& batch) const;
  // call.* events (projections/call_view.cpp).
  void apply_call(const std::string& type, const json::object& data, std::uint64_t position,
                  es::ViewBatch& batch) const;
  void apply_contact(const std::string& type, const json::object& data, es::ViewBatch& batch) const;
  void put_call_summary(const std::string& call_id, const json::object& summary,
                        es::ViewBatch& batch) const;
  static std::string newest_first_key(std::int64_t at_ms, std::int64_t seq);
  // `value` as 16 lower-case hex digits, so that keys sort in numeric order.
  static std::string hex16(std::uint64_t value);
  // Ledger entries and usage counters of one event (ledger_view.cpp, usage_view.cpp).
  void apply_ledger(const es::RecordedEvent& event, const json::object& data, es::ViewBatch& batch);
  void apply_usage(const es::RecordedEvent& event, const json::object& data,
                   es::ViewBatch& batch) const;
  // Adds `amount_micros` (negative: a charge) to the account's ledger as the
  // entry `entry`, unless `cause_key` was charged before.
  void post_entry(const std::string& account, const std::string& cause_key,
                  std::int64_t amount_micros, json::object entry, const es::RecordedEvent& event,
                  es::ViewBatch& batch);
  // The committed balance of `account`; funds_mu_ must be held.
  std::int64_t balance_locked(const std::string& account) const;
  // Adds `delta` to `field` of the JSON counter row at `key`.
  using CounterRow = json::object;
  void bump_row(const std::string& key, const char* field, std::int64_t delta,
                es::ViewBatch& batch) const;
  // PlanLimits of pay-as-you-go: 0 = no cap.
  static constexpr std::int64_t kNumberLimit = 10;
  static constexpr std::int64_t kNoCap = 0;
  static constexpr std::int64_t kMaxCallMinutes = 60;
  // Commits `batch` with `last`, and ends the reservations of calls whose
  // end it holds, in one step as far as reserve() can tell.
  es::Status commit_with_funds(es::ViewBatch batch, std::uint64_t last);
  void attach_to_agent(const std::string& account, const std::string& agent_id,
                       const json::object& number, es::ViewBatch& batch) const;
  void detach_from_agent(const std::string& account, const std::string& agent_id,
                         const std::string& number_id, es::ViewBatch& batch) const;

  es::EventStore& store_;
  const std::string name_;
  std::unique_ptr<es::Subscription> subscription_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t checkpoint_ = 0;
  std::multimap<std::uint64_t, std::function<void()>> waiters_;
  Listener listener_;             // Guarded by mu_.
  bool version_written_ = false;  // The rows' layout version is stored (projection thread).
  // Reservations: hold id -> (account, micros), and each account's total.
  mutable std::mutex funds_mu_;
  std::map<std::string, std::pair<std::string, std::int64_t>> holds_;
  std::map<std::string, std::int64_t> held_by_account_;
  std::vector<std::string> ending_holds_;  // Calls ended in the batch being applied.
  // Committed balances, so that a reservation (one per outbound message or
  // call) reads no row: filled on first use from the Lb/ row, and set by
  // commit_with_funds to what each committed batch wrote. Guarded by funds_mu_.
  mutable std::unordered_map<std::string, std::int64_t> balances_;
  ShortfallListener shortfall_;  // Set once, before traffic.
  // Holds released as of a position the projection has not committed yet,
  // dropped by the commit that covers it; and the last committed position.
  // Guarded by funds_mu_.
  std::multimap<std::uint64_t, std::string> pending_releases_;
  std::uint64_t funds_checkpoint_ = 0;
  void drop_hold_locked(const std::string& hold);
  // The balances the batch being applied writes (projection thread).
  std::vector<std::pair<std::string, std::int64_t>> batch_balances_;
};

}  // namespace ap::projections
