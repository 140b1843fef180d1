#include "actors/billing.hpp"
#include "actors/invariant.hpp"

#include <array>
#include <cstdio>

namespace ap::domain {

namespace {

// Every card ever in force, oldest first. Add a card; never edit one that
// has charged anything.
constexpr std::array<RateCard, 1> kRateCards{{{
    "2026-01", 0,
    5'000'000,  // $5.00 sign-up credit.
    3'000'000,  // $3.00 per number per period.
    30 * kDayMs, 30 * kDayMs,
    20'000,   // $0.02 per outbound SMS.
    130'000,  // $0.13 per minute, webhook mode.
    220'000,  // $0.22 per minute, hosted mode.
    10'000,   // 1 cent minimum per billed call.
    300,      // A live call reserves five minutes at a time.
}}};

std::string text_arg(const Command& command, const char* name) {
  const json::value* value = command.args.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

}  // namespace

const RateCard& rate_card_at(std::int64_t at_ms) {
  const RateCard* found = &kRateCards.front();
  for (const RateCard& card : kRateCards) {
    if (card.effective_from_ms <= at_ms) found = &card;
  }
  return *found;
}

const RateCard* rate_card(std::string_view version) {
  for (const RateCard& card : kRateCards) {
    if (version == card.version) return &card;
  }
  return nullptr;
}

std::int64_t voice_per_minute_micros(const RateCard& card, std::string_view mode) {
  AP_ASSERT(mode == "webhook" || mode == "hosted", "a voice mode is webhook or hosted");
  return mode == "hosted" ? card.voice_hosted_per_minute_micros
                          : card.voice_webhook_per_minute_micros;
}

std::int64_t billable_seconds(std::int64_t talked_ms) {
  return talked_ms <= 0 ? 0 : (talked_ms + 999) / 1000;
}

std::int64_t voice_charge_micros(const RateCard& card, std::string_view mode,
                                 std::int64_t talked_ms) {
  const std::int64_t seconds = billable_seconds(talked_ms);
  if (seconds == 0) return 0;
  const std::int64_t per_minute = voice_per_minute_micros(card, mode);
  const std::int64_t amount = (seconds * per_minute + 59) / 60;
  return amount < card.voice_minimum_micros ? card.voice_minimum_micros : amount;
}

std::int64_t voice_seconds_affordable(const RateCard& card, std::string_view mode,
                                      std::int64_t micros) {
  if (micros < card.voice_minimum_micros) return 0;
  // The largest s with ceil(s x rate / 60) <= micros is floor(micros x 60 / rate).
  const std::int64_t seconds = micros * 60 / voice_per_minute_micros(card, mode);
  AP_ASSERT(voice_charge_micros(card, mode, seconds * 1000) <= micros,
            "the affordable seconds cost no more than the budget");
  return seconds;
}

std::string call_hold_id(std::string_view call_id) {
  return "call:" + std::string(call_id);
}

std::optional<FundsRequest> funds_needed(const Command& command, std::int64_t now_ms) {
  const RateCard& card = rate_card_at(now_ms);
  if (command.type == "number.provision") {
    return FundsRequest{card.number_period_micros, card.number_period_micros, false};
  }
  if (command.type == "number.renew") {
    // Only a renewal that is due spends: an early or re-arming one sets its timer again.
    const json::value* due = command.args.if_contains("dueAtMs");
    if (due == nullptr || !due->is_int64() || due->as_int64() > now_ms) return std::nullopt;
    return FundsRequest{card.number_period_micros, card.number_period_micros, false};
  }
  if (command.type == "conversation.send") {
    return FundsRequest{card.sms_outbound_micros, card.sms_outbound_micros, false};
  }
  if (command.type == "call.start") {
    const std::string mode = text_arg(command, "mode");
    if (mode != "webhook" && mode != "hosted") return std::nullopt;  // The decider refuses it.
    return FundsRequest{voice_charge_micros(card, mode, card.voice_reserve_seconds * 1000),
                        card.voice_minimum_micros, true};
  }
  return std::nullopt;
}

DomainError insufficient_balance(const std::string& what, std::int64_t needed_micros) {
  return make_error(ErrorKind::kInsufficientBalance, "INSUFFICIENT_BALANCE",
                    "Insufficient balance: " + what + " needs " + format_dollars(needed_micros) +
                        " of available credit. Top up with POST /v1/billing/top-up.");
}

std::string format_dollars(std::int64_t micros) {
  const bool negative = micros < 0;
  const std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-(micros + 1)) + 1 : static_cast<std::uint64_t>(micros);
  const std::uint64_t dollars = magnitude / 1'000'000;
  std::uint64_t fraction = magnitude % 1'000'000;
  char digits[8];
  std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(fraction));
  std::string cents(digits);
  // Keep two decimals, and any further digits that are not zero.
  while (cents.size() > 2 && cents.back() == '0') cents.pop_back();
  return std::string(negative ? "-$" : "$") + std::to_string(dollars) + "." + cents;
}

}  // namespace ap::domain
