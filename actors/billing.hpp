// Billing rules: the versioned rate card, how much money a command must have
// reserved before it is decided, and the prices the platform charges.
//
// Money is integer micro-dollars ($1 = 1,000,000). Rounding rules, each with a
// table test (tests/billing_test.cpp) and written down in docs/billing.md:
//   - Voice: a call is billed from the moment it was answered to its end, in
//     whole seconds rounded up; the amount is ceil(seconds x per-minute rate
//     / 60) micro-dollars, at least the card's minimum (1 cent). A call that
//     never connected, or lasted 0 ms, costs nothing. The call's mode is the
//     one it started in. A call cut off for balance is billed up to the
//     budget its reservation covered, never beyond.
//   - SMS: each outbound message is charged once, whatever its segment count
//     (the seed's "per outbound message"; inbound messages are free).
//   - Numbers: the card's price at provisioning and at each 30-day renewal.
//
// The audit (projections/audit.cpp) shares only the rate card with these
// functions: it recomputes every charge with code of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actors/domain.hpp"

namespace ap::domain {

constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;

// One version of the prices. A charge names the version it used, so a later
// card never re-prices history.
struct RateCard {
  const char* version;
  std::int64_t effective_from_ms;  // Applies to charges caused at or after this time.
  std::int64_t signup_credit_micros;
  std::int64_t number_period_micros;  // Per number, per period.
  std::int64_t number_period_ms;      // 30 days.
  std::int64_t number_grace_ms;       // How long an unpaid number is kept.
  std::int64_t sms_outbound_micros;   // Per outbound message.
  std::int64_t voice_webhook_per_minute_micros;
  std::int64_t voice_hosted_per_minute_micros;
  std::int64_t voice_minimum_micros;   // Per billed call.
  std::int64_t voice_reserve_seconds;  // A live call reserves this much talk time at a time.
};

// The card in force at `at_ms` (the newest whose effective_from_ms <= at_ms).
const RateCard& rate_card_at(std::int64_t at_ms);
// The card named `version`, or null.
const RateCard* rate_card(std::string_view version);

// Per-minute price of voice in `mode` ("webhook" or "hosted").
std::int64_t voice_per_minute_micros(const RateCard& card, std::string_view mode);
// Seconds billed for `talked_ms` of talk time: rounded up.
std::int64_t billable_seconds(std::int64_t talked_ms);
// The charge for a call of `talked_ms` in `mode` (0 when talked_ms <= 0).
std::int64_t voice_charge_micros(const RateCard& card, std::string_view mode,
                                 std::int64_t talked_ms);
// The most whole seconds of talk in `mode` that `micros` pays for, or 0 when
// it does not cover the minimum.
std::int64_t voice_seconds_affordable(const RateCard& card, std::string_view mode,
                                      std::int64_t micros);

// Money a command must have reserved from the account's available balance
// before it is decided. The host reserves between `min_micros` and
// `want_micros` (0 when less than the minimum is available) and tells the
// decider how much through Context::funds.
struct FundsRequest {
  std::int64_t want_micros = 0;
  std::int64_t min_micros = 0;
  // The reservation outlives the command: a call's lasts until its end is
  // applied to the ledger (under the hold id "call:<call id>").
  bool until_call_ends = false;
};
// What `command` needs, or nullopt for a command that spends nothing.
std::optional<FundsRequest> funds_needed(const Command& command, std::int64_t now_ms);
// The hold id of call `call_id`'s reservation.
std::string call_hold_id(std::string_view call_id);

// The error of a command refused for want of funds.
DomainError insufficient_balance(const std::string& what, std::int64_t needed_micros);
// "$3.00" for 3,000,000 micro-dollars; sub-cent amounts keep their digits ("$0.127834").
std::string format_dollars(std::int64_t micros);

}  // namespace ap::domain
