// Billing: the rounding table (the billing rules and the audit's independent
// replay must both give it), the ledger projection and the replay agreeing
// entry by entry over a log of every kind of charge, a duplicate cause
// charged once, and the renewal and grace timeline of a number.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <memory>
#include <string>

#include "actors/billing.hpp"
#include "actors/number.hpp"
#include "eventstore/event_store.hpp"
#include "eventstore/memory_backend.hpp"
#include "projections/audit.hpp"
#include "projections/core_view.hpp"

namespace ap {
namespace {

namespace json = boost::json;
using domain::kDayMs;

constexpr std::int64_t kT0 = 1'790'000'000'000;  // 2026-09: rate card 2026-01 is in force.

struct RoundingRow {
  std::int64_t talked_ms;
  const char* mode;
  std::int64_t micros;
};

// ceil(seconds) x rate / 60, rounded up to a micro-dollar, at least 1 cent; 0 s is free.
const RoundingRow kTable[] = {
    {0, "webhook", 0},
    {0, "hosted", 0},
    {1, "webhook", 10'000},
    {1, "hosted", 10'000},  // 1 ms bills 1 s: the 1 cent minimum.
    {1'000, "webhook", 10'000},
    {1'000, "hosted", 10'000},
    {59'000, "webhook", 127'834},
    {59'000, "hosted", 216'334},
    {60'000, "webhook", 130'000},
    {60'000, "hosted", 220'000},
    {61'000, "webhook", 132'167},
    {61'000, "hosted", 223'667},
    {60'001, "webhook", 132'167},  // 60.001 s bills 61 s.
    {3'599'000, "webhook", 7'797'834},
    {3'599'000, "hosted", 13'196'334},
};

TEST(Billing, VoiceRoundingTable) {
  const domain::RateCard& card = domain::rate_card_at(kT0);
  for (const RoundingRow& row : kTable) {
    EXPECT_EQ(domain::voice_charge_micros(card, row.mode, row.talked_ms), row.micros)
        << row.talked_ms << " ms " << row.mode;
  }
  // What a reservation buys never costs more than the reservation.
  for (std::int64_t held : {10'000, 10'001, 130'000, 1'083'334}) {
    for (const char* mode : {"webhook", "hosted"}) {
      const std::int64_t seconds = domain::voice_seconds_affordable(card, mode, held);
      EXPECT_LE(domain::voice_charge_micros(card, mode, seconds * 1000), held);
      EXPECT_GT(domain::voice_charge_micros(card, mode, (seconds + 1) * 1000), held);
    }
  }
  EXPECT_EQ(domain::voice_seconds_affordable(card, "webhook", 9'999), 0);
}

// A log written by hand, as the deciders write it, in a memory store.
class LedgerLog : public ::testing::Test {
 protected:
  void SetUp() override {
    es::Options options;
    options.clock_ms = [this] { return now_ms; };
    options.synchronous = true;
    ASSERT_TRUE(es::EventStore::open(options, std::make_shared<es::MemoryBackend>(), &store).ok());
  }

  void append(const std::string& stream, const std::string& type, json::object data) {
    es::AppendResult result;
    es::Status s = store->append_and_wait(
        {es::StreamAppend{stream, es::ExpectedVersion::any(), {{type, json::serialize(data)}}}},
        &result);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // A call of `talked_ms` in `mode`, answered at once, with an optional budget.
  void call(const std::string& id, const char* mode, std::int64_t talked_ms,
            std::int64_t budget_ms = -1) {
    append("call-" + id, "call.started",
           {{"callId", id},
            {"accountId", "acct_a"},
            {"numberId", "num_1"},
            {"phoneNumber", "+14152000100"},
            {"participant", "+14155550123"},
            {"agentId", nullptr},
            {"direction", "inbound"},
            {"status", "in-progress"},
            {"mode", mode},
            {"startedAtMs", now_ms},
            {"heldMicros", 0},
            {"budgetMs", budget_ms >= 0 ? json::value(budget_ms) : json::value(nullptr)}});
    now_ms += talked_ms;
    append("call-" + id, "call.ended",
           {{"callId", id},
            {"accountId", "acct_a"},
            {"status", "completed"},
            {"reason", "user_hangup"},
            {"endedAtMs", now_ms},
            {"durationMs", talked_ms},
            {"durationSeconds", (talked_ms + 999) / 1000},
            {"mode", mode},
            {"budgetMs", budget_ms >= 0 ? json::value(budget_ms) : json::value(nullptr)}});
  }

  std::int64_t now_ms = kT0;
  std::unique_ptr<es::EventStore> store;
};

TEST_F(LedgerLog, TheReplayAgreesWithTheProjectionEntryByEntry) {
  append("account-acct_a", "account.created",
         {{"accountId", "acct_a"}, {"email", "a@b.co"}, {"creditMicros", 5'000'000}});
  append("account-acct_a", "account.number_charged",
         {{"accountId", "acct_a"},
          {"numberId", "num_1"},
          {"phoneNumber", "+14152000100"},
          {"amountMicros", 3'000'000},
          {"rateVersion", "2026-01"},
          {"periodStartMs", now_ms},
          {"paidUntilMs", now_ms + 30 * kDayMs}});
  append("account-acct_a", "account.credited",
         {{"accountId", "acct_a"},
          {"amountMicros", 20'000'000},
          {"reason", "top_up"},
          {"paymentId", "pay_1"},
          {"note", ""},
          {"atMs", now_ms}});
  for (const RoundingRow& row : kTable) {
    call("call_" + std::to_string(row.talked_ms) + row.mode, row.mode, row.talked_ms);
  }
  // Cut off by its budget: billed to the budget, not the talk.
  call("call_budget", "webhook", 90'000, 30'000);
  for (int i = 0; i < 3; ++i) {
    append("conversation-conv_1", "message.queued",
           {{"accountId", "acct_a"},
            {"messageId", "msg_" + std::to_string(i)},
            {"numberId", "num_1"},
            {"conversationId", "conv_1"},
            {"agentId", nullptr},
            {"to", "+14155550123"},
            {"segments", 2},
            {"atMs", now_ms}});
  }

  projections::CoreView view(*store);
  view.start();
  while (view.checkpoint() < store->head_position() && store->pump() > 0) {
  }
  ASSERT_EQ(view.checkpoint(), store->head_position());

  const std::vector<projections::AuditEntry> entries =
      projections::replay_ledger(*store, "acct_a", nullptr);
  EXPECT_TRUE(projections::diff_with_projection(*store, "acct_a", entries).empty());

  // The audit path gives the rounding table too.
  std::int64_t sum = 0;
  for (const projections::AuditEntry& e : entries) {
    sum += e.amount_micros;
    for (const RoundingRow& row : kTable) {
      if (e.call_id == "call_" + std::to_string(row.talked_ms) + row.mode) {
        EXPECT_EQ(-e.amount_micros, row.micros) << e.call_id;
      }
    }
    if (e.call_id == "call_budget") EXPECT_EQ(e.quantity, 30) << "billed to the budget";
  }
  // 0 s calls are free: no entry.
  EXPECT_EQ(entries.size(), 3u + 13u + 1u + 3u);
  EXPECT_EQ(view.billing("acct_a").at("balanceMicros").as_int64(), sum);
  EXPECT_EQ(view.available_micros("acct_a"), sum);
}

TEST_F(LedgerLog, ADuplicatedCauseIsChargedOnceAndAnEditedLedgerIsCaught) {
  append("account-acct_a", "account.created",
         {{"accountId", "acct_a"}, {"email", "a@b.co"}, {"creditMicros", 5'000'000}});
  const json::object queued{{"accountId", "acct_a"}, {"messageId", "msg_1"},
                            {"numberId", "num_1"},   {"conversationId", "conv_1"},
                            {"agentId", nullptr},    {"to", "+14155550123"},
                            {"atMs", now_ms}};
  append("conversation-conv_1", "message.queued", queued);
  append("conversation-conv_1", "message.queued", queued);  // The same message again.
  projections::CoreView view(*store);
  view.start();
  while (view.checkpoint() < store->head_position() && store->pump() > 0) {
  }
  EXPECT_EQ(view.billing("acct_a").at("balanceMicros").as_int64(), 5'000'000 - 20'000);
  std::vector<projections::AuditEntry> entries =
      projections::replay_ledger(*store, "acct_a", nullptr);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(projections::diff_with_projection(*store, "acct_a", entries).empty());
  // A replay that priced the SMS differently is reported, line by line.
  entries[1].amount_micros = -30'000;
  const std::vector<std::string> diff =
      projections::diff_with_projection(*store, "acct_a", entries);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_NE(diff[0].find("sms:msg_1"), std::string::npos) << diff[0];
}

TEST(NumberRenewal, RenewsEvery30DaysThenGraceThenRelease) {
  domain::NumberState number;
  number.id = "num_1";
  domain::evolve_number(number, "number.provisioned",
                        {{"accountId", "acct_1"},
                         {"phoneNumber", "+14152000100"},
                         {"country", "US"},
                         {"agentId", nullptr},
                         {"createdAtMs", kT0},
                         {"paidUntilMs", kT0 + 30 * kDayMs}});
  auto renew = [&](std::int64_t at_ms, std::optional<std::int64_t> funds, bool due = true) {
    domain::Context context;
    context.now_ms = at_ms;
    context.funds_micros = funds;
    json::object args;
    if (due) args["dueAtMs"] = at_ms;
    domain::Decision d = domain::decide_number(number, {"number.renew", "acct_1", args}, context);
    domain::Outcome out = std::get<domain::Outcome>(std::move(d));
    for (const domain::Event& e : out.events) {
      if (e.stream.empty()) domain::evolve_number(number, e.type, e.data);
    }
    return out;
  };
  // Early: only the timer again, to the end of the paid period.
  domain::Outcome early = renew(kT0 + kDayMs, 3'000'000);
  EXPECT_TRUE(early.events.empty());
  ASSERT_EQ(early.effects.size(), 1u);
  EXPECT_EQ(early.effects[0].data.at("delayMs").as_int64(), 29 * kDayMs);
  // A restart's re-arm (no dueAtMs) never charges, even when due.
  EXPECT_TRUE(renew(kT0 + 30 * kDayMs, 3'000'000, false).events.empty());
  // Due and funded: renewed for 30 more days.
  domain::Outcome renewed = renew(kT0 + 30 * kDayMs, 3'000'000);
  ASSERT_EQ(renewed.events.size(), 1u);
  EXPECT_EQ(renewed.events[0].type, "number.renewed");
  EXPECT_EQ(renewed.events[0].data.at("periodStartMs").as_int64(), kT0 + 30 * kDayMs);
  EXPECT_EQ(number.paid_until_ms, kT0 + 60 * kDayMs);
  // Due and unfunded: the grace period starts; daily retries; release after 30 days.
  domain::Outcome failed = renew(kT0 + 60 * kDayMs, 0);
  ASSERT_EQ(failed.events.size(), 1u);
  EXPECT_EQ(failed.events[0].type, "number.renewal_failed");
  EXPECT_EQ(failed.events[0].data.at("graceUntilMs").as_int64(), kT0 + 90 * kDayMs);
  EXPECT_EQ(failed.effects[0].data.at("delayMs").as_int64(), kDayMs);
  EXPECT_TRUE(renew(kT0 + 61 * kDayMs, 0).events.empty());
  EXPECT_EQ(number.status, "active");
  domain::Outcome released = renew(kT0 + 90 * kDayMs, 0);
  ASSERT_FALSE(released.events.empty());
  EXPECT_EQ(released.events[0].type, "number.released");
  EXPECT_EQ(released.events[0].data.at("reason"), "unpaid");
}

}  // namespace
}  // namespace ap
