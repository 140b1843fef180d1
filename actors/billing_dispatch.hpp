// BillingDispatch: the money process around the ledger. It takes top-ups
// through the payment port and records each outcome in the account's log
// (account.credited, or account.payment_declined), recharges an account whose
// balance fell below its auto-recharge threshold, and extends the reservation
// of a live call whose budget ran out (the call's "billing.extend" effect).
//
// Charges reach the processor with an idempotency key, and a credit claims
// its payment id in the log ("payment-<sha256>"), so a retried top-up, a
// redelivered event or a restart never credits one payment twice.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "actors/ports.hpp"
#include "actors/runtime.hpp"
#include "projections/core_view.hpp"

namespace ap::actors {

class BillingDispatch {
 public:
  BillingDispatch(Runtime& runtime, es::EventStore& store, projections::CoreView& view,
                  domain::PaymentPort& payments, const domain::Clock& clock);

  // Charges `amount_micros` to the account's payment method under
  // `idempotency_key` and records the outcome: "account.credit" when the
  // processor took the money, else "account.payment_declined", either with
  // `claim` appended. `done` runs once, on any thread, with that command's
  // result (durable, not necessarily applied to the view) and the
  // processor's answer. A payment credited before fails with 409 CONFLICT.
  using TopUpDone = std::function<void(CommandResult recorded, domain::PaymentResult paid)>;
  void top_up(const std::string& account, std::int64_t amount_micros,
              const std::string& idempotency_key, std::optional<IdempotencyClaim> claim,
              TopUpDone done);

  // Feeds an event the projection has just applied (projection thread): a
  // charge may take the balance below the auto-recharge threshold.
  void on_event(const std::string& type, const std::string& payload);

  // A reservation of `account` was refused for want of funds (any thread):
  // with auto-recharge on, the account is recharged whatever its threshold,
  // since a refused charge is what auto-recharge is for; the decline pause
  // and the one-in-flight rule still hold.
  void on_shortfall(const std::string& account);

  // Runs "billing.extend"; false for any other effect.
  bool run(const domain::Effect& effect);

  // After an auto-recharge is declined, the next waits this long.
  static constexpr std::int64_t kRetryAfterDeclineMs = 60LL * 60 * 1000;

 private:
  // Charges the account's auto-recharge amount when it is on and the
  // available balance is below the threshold (or, `short_of_funds`, always).
  void recharge(const std::string& account, bool short_of_funds);
  void extend_call(const boost::json::object& data);

  Runtime& runtime_;
  es::EventStore& store_;
  projections::CoreView& view_;
  domain::PaymentPort& payments_;
  const domain::Clock& clock_;
  std::mutex mu_;
  std::set<std::string> recharging_;  // Accounts with an auto-recharge in flight.
  // Whether each account seen so far has auto-recharge on: read from the view
  // when the account first debits, then kept by its configuration events (in
  // the order the projection applied them), so that a debit of an account
  // without auto-recharge — nearly every debit — reads nothing.
  std::unordered_map<std::string, bool> enabled_;
};

}  // namespace ap::actors
