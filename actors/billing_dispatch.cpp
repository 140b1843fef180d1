#include "actors/billing_dispatch.hpp"

#include <boost/json/parse.hpp>

#include <memory>

#include "actors/billing.hpp"
#include "actors/invariant.hpp"

namespace ap::actors {

namespace json = boost::json;

namespace {

std::int64_t integer(const json::object& o, const char* key, std::int64_t fallback) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : fallback;
}

// Events after which an account may need recharging: its balance is lower
// than before, or its threshold was set.
bool may_need_recharge(const std::string& type) {
  return type == "account.number_charged" || type == "number.renewed" || type == "message.queued" ||
         type == "call.ended" || type == "call.started" ||
         type == "account.auto_recharge_configured";
}

}  // namespace

BillingDispatch::BillingDispatch(Runtime& runtime, es::EventStore& store,
                                 projections::CoreView& view, domain::PaymentPort& payments,
                                 const domain::Clock& clock)
    : runtime_(runtime), store_(store), view_(view), payments_(payments), clock_(clock) {}

void BillingDispatch::top_up(const std::string& account, std::int64_t amount_micros,
                             const std::string& idempotency_key,
                             std::optional<IdempotencyClaim> claim, TopUpDone done) {
  AP_ASSERT(amount_micros > 0 && !idempotency_key.empty(),
            "a charge is positive and names its idempotency key");
  auto shared_done = std::make_shared<TopUpDone>(std::move(done));
  auto shared_claim = std::make_shared<std::optional<IdempotencyClaim>>(std::move(claim));
  payments_.charge(
      account, amount_micros, idempotency_key,
      [this, account, amount_micros, shared_done, shared_claim](domain::PaymentResult paid) {
        json::object args{
            {"amountMicros", amount_micros}, {"paymentId", paid.payment_id}, {"reason", "top_up"}};
        if (!paid.ok) {
          args["code"] = paid.code;
          args["message"] = paid.message;
        }
        const char* type = paid.ok ? "account.credit" : "account.payment_declined";
        runtime_.send(
            EntityKind::kAccount, account, {type, account, std::move(args)},
            [shared_done, paid](CommandResult result) { (*shared_done)(std::move(result), paid); },
            std::move(*shared_claim));
      });
}

void BillingDispatch::on_event(const std::string& type, const std::string& payload) {
  if (!may_need_recharge(type)) return;
  const json::object data = json::parse(payload).as_object();
  const json::value* field = data.if_contains("accountId");
  if (field == nullptr || !field->is_string()) return;
  const std::string account(field->as_string());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (type == "account.auto_recharge_configured") {
      const json::value* enabled = data.if_contains("enabled");
      enabled_[account] = enabled != nullptr && enabled->is_bool() && enabled->as_bool();
    } else if (auto it = enabled_.find(account); it != enabled_.end() && !it->second) {
      return;
    }
  }
  recharge(account, false);
}

void BillingDispatch::on_shortfall(const std::string& account) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = enabled_.find(account); it != enabled_.end() && !it->second) return;
  }
  recharge(account, true);
}

void BillingDispatch::recharge(const std::string& account, bool short_of_funds) {
  // A recharge under way answers every shortfall until it lands; a flood of
  // refused sends must not read the billing row once each.
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (recharging_.count(account) != 0) return;
  }
  const json::object billing = view_.billing(account);
  const json::object& config = domain::field(billing, "autoRecharge").as_object();
  const bool enabled = domain::field(config, "enabled").as_bool();
  {
    std::lock_guard<std::mutex> lock(mu_);
    enabled_.try_emplace(account, enabled);
  }
  if (!enabled) return;
  const std::int64_t amount = domain::field(config, "amountMicros").as_int64();
  if (!short_of_funds &&
      view_.available_micros(account) >= domain::field(config, "thresholdMicros").as_int64()) {
    return;
  }
  const json::value& decline = domain::field(billing, "lastDecline");
  if (decline.is_object() && domain::field(decline.as_object(), "reason") == "auto_recharge" &&
      clock_.now_ms() - integer(decline.as_object(), "atMs", 0) < kRetryAfterDeclineMs) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!recharging_.insert(account).second) return;
  }
  // One key per ledger position and last declined recharge: the same low
  // balance never recharges twice, even when the events that caused it are
  // seen again after a restart, while a retry after a declined recharge is a
  // new charge (the processor answers a key it has seen with its first
  // answer; a declined key took no money). Other declines (a top-up's) leave
  // the key alone, so an accepted charge whose credit was lost is answered,
  // and credited, under its own key.
  const bool recharge_declined =
      decline.is_object() && domain::field(decline.as_object(), "reason") == "auto_recharge";
  const std::int64_t declined_ms = recharge_declined ? integer(decline.as_object(), "atMs", 0) : 0;
  const std::string key = "auto:" + account + ":" +
                          std::to_string(domain::field(billing, "entries").as_int64()) + ":" +
                          std::to_string(declined_ms);
  payments_.charge(account, amount, key, [this, account, amount](domain::PaymentResult paid) {
    json::object args{
        {"amountMicros", amount}, {"paymentId", paid.payment_id}, {"reason", "auto_recharge"}};
    std::string type = "account.credit";
    if (!paid.ok) {
      type = "account.payment_declined";
      args["code"] = paid.code;
      args["message"] = paid.message;
    }
    runtime_.send(EntityKind::kAccount, account, {type, account, std::move(args)},
                  [this, account](CommandResult result) {
                    // The view shows the credit (or the decline) before the
                    // next recharge of this account is considered.
                    view_.when_applied(result.last_position, [this, account] {
                      std::lock_guard<std::mutex> lock(mu_);
                      recharging_.erase(account);
                    });
                  });
  });
}

bool BillingDispatch::run(const domain::Effect& effect) {
  if (effect.type != "billing.extend") return false;
  extend_call(effect.data);
  return true;
}

void BillingDispatch::extend_call(const json::object& data) {
  const std::string call(domain::field(data, "callId").as_string());
  const std::string account(domain::field(data, "accountId").as_string());
  const std::string mode(domain::field(data, "mode").as_string());
  const domain::RateCard& card =
      domain::rate_card_at(domain::field(data, "startedAtMs").as_int64());
  // At least one more second, so that every extension lengthens the call.
  const std::int64_t per_minute = domain::voice_per_minute_micros(card, mode);
  const std::int64_t one_second = (per_minute + 59) / 60;
  const std::int64_t want = per_minute * card.voice_reserve_seconds / 60;
  const std::string hold = domain::call_hold_id(call);
  const std::int64_t granted = view_.reserve(account, hold, want, one_second);
  runtime_.send(EntityKind::kCall, call,
                {"call.extend_budget", account, {{"grantedMicros", granted}}},
                [this, hold, granted](CommandResult result) {
                  if (granted == 0 || (result.ok && !result.events.empty())) return;
                  // The call had ended: what was added to its hold is not
                  // needed, once its end is in the balance.
                  view_.release(hold, store_.head_position());
                });
}

}  // namespace ap::actors
