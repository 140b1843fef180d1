// The ledger: every charge and credit of an account as an immutable entry,
// built only from events, priced by the rate card the cause names (or the one
// in force when it happened). Part of CoreView, so that an entry commits with
// the event's other rows and the checkpoint: a replayed event finds its cause
// key and posts nothing, and a crash never loses or doubles an entry.
//
// Double entry: each entry moves money between the customer's balance and one
// counter-account (revenue:numbers, revenue:sms, revenue:voice:<mode>,
// promotions, payments), so the sum over both sides is always zero; an entry
// names both. Corrections are new entries, never edits.
#include <boost/json/parse.hpp>

#include <cstdio>

#include "actors/billing.hpp"
#include "actors/domain.hpp"
#include "actors/invariant.hpp"
#include "projections/core_view.hpp"

namespace ap::projections {

namespace {

std::string hex12(std::uint64_t n) {
  char out[16];
  std::snprintf(out, sizeof out, "%012llx", static_cast<unsigned long long>(n));
  return out;
}

std::string hash_hex(const es::Hash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(hash.size() * 2);
  for (unsigned char b : hash) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

// The card a cause names, else the one in force when it happened.
const domain::RateCard& card_for(const json::object& data, std::int64_t at_ms) {
  const domain::RateCard* named = domain::rate_card(domain::text_of(data, "rateVersion"));
  return named != nullptr ? *named : domain::rate_card_at(at_ms);
}

json::object empty_billing() {
  return {{"balanceMicros", 0},
          {"entries", 0},
          {"creditedMicros", 0},
          {"debitedMicros", 0},
          {"autoRecharge",
           json::object{{"enabled", false}, {"thresholdMicros", 0}, {"amountMicros", 0}}},
          {"lastDecline", nullptr}};
}

}  // namespace

void CoreView::post_entry(const std::string& account, const std::string& cause_key,
                          std::int64_t amount_micros, json::object entry,
                          const es::RecordedEvent& event, es::ViewBatch& batch) {
  const std::string seen = "Lk/" + account + "/" + cause_key;
  if (raw_row(batch, seen)) return;  // Charged once, ever.
  json::object billing = row(batch, "Lb/" + account).value_or(empty_billing());
  const std::int64_t seq = domain::field(billing, "entries").as_int64() + 1;
  const std::int64_t balance = domain::field(billing, "balanceMicros").as_int64() + amount_micros;
  billing["entries"] = seq;
  billing["balanceMicros"] = balance;
  if (amount_micros >= 0) {
    billing["creditedMicros"] = domain::field(billing, "creditedMicros").as_int64() + amount_micros;
  } else {
    billing["debitedMicros"] = domain::field(billing, "debitedMicros").as_int64() - amount_micros;
  }
  entry["seq"] = seq;
  entry["accountId"] = account;
  entry["amountMicros"] = amount_micros;
  entry["balanceAfterMicros"] = balance;
  entry["causeKey"] = cause_key;
  entry["causeType"] = event.type;
  entry["causePosition"] = event.position;
  entry["causeHash"] = hash_hex(event.hash);
  entry["atMs"] = event.time_ms;
  entry["at"] = domain::iso8601(event.time_ms);
  batch.put(seen, std::to_string(seq));
  batch.put("Le/" + account + "/" + hex12(static_cast<std::uint64_t>(seq)), domain::to_json(entry));
  batch.put("Lb/" + account, domain::to_json(billing));
  batch_balances_.emplace_back(account, balance);
}

void CoreView::apply_ledger(const es::RecordedEvent& event, const json::object& data,
                            es::ViewBatch& batch) {
  const std::string& type = event.type;
  const std::string account = domain::text_of(data, "accountId");
  if (type == "account.created") {
    post_entry(account, "signup:" + account, domain::int_of(data, "creditMicros", 0),
               {{"rule", "signup_credit"},
                {"counterAccount", "promotions"},
                {"rateVersion", domain::rate_card_at(event.time_ms).version},
                {"quantity", 1},
                {"unit", "account"},
                {"description", "Sign-up credit"}},
               event, batch);
  } else if (type == "account.number_charged" || type == "number.renewed") {
    const bool first = type == "account.number_charged";
    const std::int64_t period_start = domain::int_of(data, "periodStartMs", event.time_ms);
    const domain::RateCard& card = card_for(data, period_start);
    post_entry(account,
               "number:" + domain::text_of(data, "numberId") + ":" + std::to_string(period_start),
               -card.number_period_micros,
               {{"rule", first ? "number_first_month" : "number_renewal"},
                {"counterAccount", "revenue:numbers"},
                {"rateVersion", card.version},
                {"quantity", 1},
                {"unit", "number-period"},
                {"numberId", domain::field(data, "numberId")},
                {"periodStartMs", period_start},
                {"description", std::string(first ? "Number " : "Renewal of ") +
                                    domain::text_of(data, "phoneNumber") + " for 30 days"}},
               event, batch);
  } else if (type == "message.queued") {
    // Every outbound message costs the same, whatever its segments or media.
    const domain::RateCard& card =
        domain::rate_card_at(domain::int_of(data, "atMs", event.time_ms));
    post_entry(account, "sms:" + domain::text_of(data, "messageId"), -card.sms_outbound_micros,
               {{"rule", "sms_outbound"},
                {"counterAccount", "revenue:sms"},
                {"rateVersion", card.version},
                {"quantity", 1},
                {"unit", "message"},
                {"messageId", domain::field(data, "messageId")},
                {"numberId", domain::field(data, "numberId")},
                {"segments", domain::field_or(data, "segments", 1)},
                {"description", "SMS to " + domain::text_of(data, "to")}},
               event, batch);
  } else if (type == "call.ended") {
    const std::string call = domain::text_of(data, "callId");
    ending_holds_.push_back(domain::call_hold_id(call));
    std::optional<json::object> summary = row(batch, "Ck/" + account + "/" + call);
    if (!summary) return;
    std::string mode = domain::text_of(data, "mode");
    if (mode.empty()) mode = domain::text_of(*summary, "voiceMode");
    if (mode != "hosted") mode = "webhook";
    const std::int64_t duration_ms = domain::int_of(data, "durationMs", 0);
    const std::int64_t budget_ms = domain::int_of(data, "budgetMs", -1);
    const std::int64_t billed_ms =
        budget_ms >= 0 && budget_ms < duration_ms ? budget_ms : duration_ms;
    std::int64_t started_ms = event.time_ms;
    domain::parse_iso8601(domain::text_of(*summary, "startedAt"), &started_ms);
    const domain::RateCard& card = domain::rate_card_at(started_ms);
    const std::int64_t amount = domain::voice_charge_micros(card, mode, billed_ms);
    if (amount == 0) return;  // Never connected, or 0 ms: free.
    post_entry(account, "call:" + call, -amount,
               {{"rule", mode == "hosted" ? "voice_hosted_per_second" : "voice_webhook_per_second"},
                {"counterAccount", "revenue:voice:" + mode},
                {"rateVersion", card.version},
                {"quantity", domain::billable_seconds(billed_ms)},
                {"unit", "second"},
                {"callId", call},
                {"numberId", domain::field(*summary, "phoneNumberId")},
                {"mode", mode},
                {"durationMs", duration_ms},
                {"billedMs", billed_ms},
                {"description", "Call " + domain::text_of(*summary, "fromNumber") + " -> " +
                                    domain::text_of(*summary, "toNumber")}},
               event, batch);
  } else if (type == "account.credited") {
    const std::string reason = domain::text_of(data, "reason");
    post_entry(account, "credit:" + domain::text_of(data, "paymentId"),
               domain::int_of(data, "amountMicros", 0),
               {{"rule", reason},
                {"counterAccount", reason == "adjustment" ? "adjustments" : "payments"},
                {"rateVersion", nullptr},
                {"quantity", 1},
                {"unit", "payment"},
                {"paymentId", domain::field(data, "paymentId")},
                {"description", reason == "top_up" ? "Top-up"
                                : reason == "auto_recharge"
                                    ? "Auto-recharge"
                                    : "Adjustment: " + domain::text_of(data, "note")}},
               event, batch);
  } else if (type == "account.auto_recharge_configured" || type == "account.payment_declined") {
    json::object billing = row(batch, "Lb/" + account).value_or(empty_billing());
    if (type == "account.auto_recharge_configured") {
      billing["autoRecharge"] =
          json::object{{"enabled", domain::field(data, "enabled")},
                       {"thresholdMicros", domain::field(data, "thresholdMicros")},
                       {"amountMicros", domain::field(data, "amountMicros")}};
    } else {
      billing["lastDecline"] = json::object{{"atMs", domain::field(data, "atMs")},
                                            {"reason", domain::field(data, "reason")},
                                            {"code", domain::field(data, "code")},
                                            {"message", domain::field(data, "message")}};
    }
    batch.put("Lb/" + account, domain::to_json(billing));
  }
}

es::Status CoreView::commit_with_funds(es::ViewBatch batch, std::uint64_t last) {
  // Under the funds lock, so that reserve() sees either the balance before
  // these charges with their reservations, or the balance after them without.
  std::lock_guard<std::mutex> lock(funds_mu_);
  es::Status status = store_.commit_view(name_, std::move(batch), last);
  if (status.ok()) {
    for (auto& [account, balance] : batch_balances_) balances_[std::move(account)] = balance;
  }
  batch_balances_.clear();
  for (const std::string& hold : ending_holds_) drop_hold_locked(hold);
  ending_holds_.clear();
  if (status.ok()) {
    funds_checkpoint_ = last;
    const auto due = pending_releases_.upper_bound(last);
    for (auto it = pending_releases_.begin(); it != due; ++it) drop_hold_locked(it->second);
    pending_releases_.erase(pending_releases_.begin(), due);
  }
  return status;
}

json::object CoreView::billing(const std::string& account) const {
  return row("Lb/" + account).value_or(empty_billing());
}

std::vector<std::string> CoreView::ledger(const std::string& account, std::uint64_t after_seq,
                                          std::uint64_t limit) const {
  std::vector<std::string> out;
  const std::string prefix = "Le/" + account + "/";
  scan(prefix, prefix + hex12(after_seq + 1), [&](std::string_view, std::string_view value) {
    if (out.size() >= limit) return false;
    out.emplace_back(value);
    return true;
  });
  return out;
}

std::vector<std::string> CoreView::ledger_accounts() const {
  std::vector<std::string> out;
  scan("Lb/", "", [&](std::string_view key, std::string_view) {
    out.emplace_back(key.substr(3));
    return true;
  });
  return out;
}

std::int64_t CoreView::available_micros(const std::string& account) const {
  std::lock_guard<std::mutex> lock(funds_mu_);
  const auto held = held_by_account_.find(account);
  return balance_locked(account) - (held == held_by_account_.end() ? 0 : held->second);
}

std::int64_t CoreView::balance_locked(const std::string& account) const {
  auto it = balances_.find(account);
  if (it == balances_.end()) {
    it = balances_.emplace(account, domain::field(billing(account), "balanceMicros").as_int64())
             .first;
  }
  return it->second;
}

std::int64_t CoreView::reserve(const std::string& account, const std::string& hold,
                               std::int64_t want_micros, std::int64_t min_micros) {
  AP_ASSERT(want_micros >= min_micros && min_micros >= 0,
            "a reservation wants at least its minimum, which is not negative");
  std::unique_lock<std::mutex> lock(funds_mu_);
  std::int64_t& held = held_by_account_[account];
  const std::int64_t available = balance_locked(account) - held;
  if (available < min_micros || available <= 0) {
    lock.unlock();
    if (shortfall_) shortfall_(account);
    return 0;
  }
  const std::int64_t granted = available < want_micros ? available : want_micros;
  auto [it, inserted] = holds_.try_emplace(hold, account, 0);
  AP_ASSERT(it->second.first == account, "a hold belongs to one account");
  it->second.second += granted;
  held += granted;
  return granted;
}

void CoreView::release(const std::string& hold, std::uint64_t after_position) {
  std::lock_guard<std::mutex> lock(funds_mu_);
  // A hold goes in the same step as the balance takes its charge, so that
  // reserve() and auto-recharge never count one spending twice.
  if (after_position <= funds_checkpoint_) return drop_hold_locked(hold);
  pending_releases_.emplace(after_position, hold);
}

void CoreView::drop_hold_locked(const std::string& hold) {
  auto it = holds_.find(hold);
  if (it == holds_.end()) return;
  auto total = held_by_account_.find(it->second.first);
  total->second -= it->second.second;
  if (total->second == 0) held_by_account_.erase(total);
  holds_.erase(it);
}

}  // namespace ap::projections
