// Billing and usage over a real socket: the balance and the ledger, top-ups
// (accepted, declined, retried with an Idempotency-Key), 402s that write
// nothing, and the usage endpoints' shapes (contract B.9).
#include <sys/wait.h>

#include <atomic>
#include <csignal>
#include <set>
#include <thread>

#include "tests/api_fixture.hpp"

namespace ap::test {
namespace {

class BillingApi : public ApiTest {
 protected:
  void quiesce() override { wait_for_outbox_final(); }
  HttpResult sim(const std::string& method, const std::string& target, const std::string& body) {
    HttpClient client(server_->port());
    return client.request(method, target, body);
  }
  std::int64_t balance(const Account& who) {
    return call_json(who, "GET", "/v1/billing/balance").at("balanceMicros").as_int64();
  }
  std::string provision(const Account& who) {
    return std::string(
        call_json(who, "POST", "/v1/numbers", R"({"areaCode":"415"})").at("id").as_string());
  }
  HttpResult send_sms(const Account& who, const std::string& number, const std::string& body) {
    return call(who, "POST", "/v1/messages",
                json::serialize(json::object{
                    {"number_id", number}, {"to_number", "+14155550123"}, {"body", body}}));
  }
};

TEST_F(BillingApi, ChargesAndCreditsAreLedgerEntriesPagedLosslessly) {
  EXPECT_EQ(balance(alice_), 5'000'000);
  provision(alice_);
  EXPECT_EQ(balance(alice_), 2'000'000);
  // $2.00 does not pay for a second number: refused, nothing written.
  expect_refused(alice_, "POST", "/v1/numbers", R"({"areaCode":"415"})", 402);
  const json::object topped =
      call_json(alice_, "POST", "/v1/billing/top-up", R"({"amountCents":1000})").as_object();
  EXPECT_EQ(topped.at("balanceMicros").as_int64(), 12'000'000);
  EXPECT_EQ(topped.at("balance"), "$12.00");
  EXPECT_EQ(topped.at("amountCents").as_int64(), 1000);

  // One entry a page, following nextCursor: every entry once, in order.
  std::vector<std::string> rules;
  std::int64_t running = 0;
  std::string cursor = "0";
  for (int page = 0; page < 10 && !cursor.empty(); ++page) {
    const json::object p =
        call_json(alice_, "GET", "/v1/billing/ledger?limit=1&after=" + cursor).as_object();
    for (const json::value& e : p.at("data").as_array()) {
      rules.emplace_back(e.at("rule").as_string());
      running += e.at("amountMicros").as_int64();
      EXPECT_EQ(e.at("balanceAfterMicros").as_int64(), running);
      EXPECT_EQ(e.at("seq").as_int64(), static_cast<std::int64_t>(rules.size()));
      EXPECT_FALSE(e.at("causeHash").as_string().empty());
    }
    cursor = p.at("nextCursor").is_string() ? std::string(p.at("nextCursor").as_string()) : "";
  }
  EXPECT_EQ(rules, (std::vector<std::string>{"signup_credit", "number_first_month", "top_up"}));
  EXPECT_EQ(running, 12'000'000);
  // Another account sees only its own.
  EXPECT_EQ(balance(bob_), 5'000'000);
  EXPECT_EQ(call_json(bob_, "GET", "/v1/billing/ledger").at("data").as_array().size(), 1u);
}

TEST_F(BillingApi, DeclinedAndInvalidTopUpsCreditNothing) {
  for (const char* bad : {R"({"amountCents":99})", R"({"amountCents":"500"})", R"({})",
                          R"({"amountCents":1000001})", R"({"amountCents":5.5})", "[1]"}) {
    expect_refused(alice_, "POST", "/v1/billing/top-up", bad, 422);
  }
  ASSERT_EQ(sim("POST", "/sim/payments", R"({"declineNext":1})").status, 200);
  expect_error(call(alice_, "POST", "/v1/billing/top-up", R"({"amountCents":500})"), 402,
               "PAYMENT_DECLINED");
  const json::object after = call_json(alice_, "GET", "/v1/billing/balance").as_object();
  EXPECT_EQ(after.at("balanceMicros").as_int64(), 5'000'000);
  EXPECT_EQ(after.at("lastDecline").at("code"), "card_declined");
  // The next charge goes through.
  EXPECT_EQ(call(alice_, "POST", "/v1/billing/top-up", R"({"amountCents":500})").status, 200);
  EXPECT_EQ(balance(alice_), 10'000'000);
}

TEST_F(BillingApi, ARetriedTopUpWithItsIdempotencyKeyCreditsOnce) {
  HttpClient client(server_->port());
  const std::vector<std::pair<std::string, std::string>> headers{
      {"Authorization", "Bearer " + alice_.key}, {"Idempotency-Key", "topup-1"}};
  const HttpResult first =
      client.request("POST", "/v1/billing/top-up", R"({"amountCents":2500})", headers);
  const HttpResult again =
      client.request("POST", "/v1/billing/top-up", R"({"amountCents":2500})", headers);
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(first.body).at("paymentId"), json::parse(again.body).at("paymentId"));
  EXPECT_EQ(balance(alice_), 30'000'000);
}

TEST_F(BillingApi, AnSmsTheBalanceCannotPayForIsRefusedAndWritesNothing) {
  const std::string number = provision(alice_);  // $2.00 left: 100 messages.
  for (int i = 0; i < 100; ++i) ASSERT_EQ(send_sms(alice_, number, "m").status, 200) << i;
  EXPECT_EQ(balance(alice_), 0);
  expect_refused(alice_, "POST", "/v1/messages",
                 json::serialize(json::object{
                     {"number_id", number}, {"to_number", "+14155550123"}, {"body", "one more"}}),
                 402);
  const json::object usage = call_json(alice_, "GET", "/v1/usage").as_object();
  EXPECT_EQ(usage.at("stats").at("totalMessages").as_int64(), 100);
  EXPECT_EQ(usage.at("stats").at("messagesLast24h").as_int64(), 100);
  EXPECT_EQ(usage.at("numbers").at("used").as_int64(), 1);
  const json::array by_number =
      call_json(alice_, "GET", "/v1/usage/by-number").at("data").as_array();
  ASSERT_EQ(by_number.size(), 1u);
  EXPECT_EQ(by_number[0].at("messages").as_int64(), 100);
  // Auto-recharge below $1.00 tops the account up by $5.00, once.
  call_json(alice_, "PUT", "/v1/billing/auto-recharge",
            R"({"enabled":true,"thresholdCents":100,"amountCents":500})");
  EXPECT_TRUE(eventually([&] { return balance(alice_) == 5'000'000; }));
  EXPECT_EQ(send_sms(alice_, number, "again").status, 200);
}

TEST_F(BillingApi, ARefusedChargeTriggersAutoRechargeWhateverTheThreshold) {
  provision(alice_);  // $2.00 left.
  // A $0.00 threshold is never crossed by spending: only a refusal recharges.
  call_json(alice_, "PUT", "/v1/billing/auto-recharge",
            R"({"enabled":true,"thresholdCents":0,"amountCents":500})");
  quiesce();
  EXPECT_EQ(balance(alice_), 2'000'000);
  // A second number ($3.00) is refused, and the refusal recharges $5.00 once.
  const HttpResult refused = call(alice_, "POST", "/v1/numbers", R"({"areaCode":"415"})");
  EXPECT_EQ(refused.status, 402) << refused.body;
  EXPECT_TRUE(eventually([&] { return balance(alice_) == 7'000'000; }));
  provision(alice_);
  quiesce();
  EXPECT_EQ(balance(alice_), 4'000'000);
  const json::array ledger =
      call_json(alice_, "GET", "/v1/billing/ledger?limit=500").at("data").as_array();
  int recharges = 0;
  for (const json::value& e : ledger) recharges += e.at("rule") == "auto_recharge" ? 1 : 0;
  EXPECT_EQ(recharges, 1);
}

TEST_F(BillingApi, AnAccountAuditsItsOwnLedgerAndStatementOverHttp) {
  const std::string number = provision(alice_);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(send_sms(alice_, number, "hi").status, 200);
  call_json(alice_, "POST", "/v1/billing/top-up", R"({"amountCents":250})");
  quiesce();

  // Sign-up +$5.00, number -$3.00, 3 messages -$0.06, top-up +$2.50.
  const json::object audit = call_json(alice_, "GET", "/v1/billing/audit").as_object();
  EXPECT_TRUE(audit.at("agrees").as_bool()) << json::serialize(audit);
  EXPECT_EQ(audit.at("entries").as_int64(), 6);
  EXPECT_EQ(audit.at("closingBalanceMicros").as_int64(), 4'440'000);
  EXPECT_EQ(audit.at("closingBalanceMicros").as_int64(), balance(alice_));
  EXPECT_TRUE(audit.at("differences").as_array().empty());
  EXPECT_TRUE(audit.at("chain").at("verified").as_bool());
  EXPECT_EQ(audit.at("headHash").as_string().size(), 64u);
  // Bob's audit holds his sign-up credit only: nothing of Alice's.
  const json::object bobs = call_json(bob_, "GET", "/v1/billing/audit?verify=false").as_object();
  EXPECT_EQ(bobs.at("entries").as_int64(), 1);
  EXPECT_EQ(bobs.at("closingBalanceMicros").as_int64(), 5'000'000);
  EXPECT_FALSE(bobs.at("chain").at("verified").as_bool());

  const std::string range = "from=2000-01-01&to=2100-01-01";
  const json::object st =
      call_json(alice_, "GET", "/v1/billing/statement?" + range + "&format=json").as_object();
  EXPECT_EQ(st.at("openingBalanceMicros").as_int64(), 0);
  EXPECT_EQ(st.at("closingBalanceMicros").as_int64(), 4'440'000);
  const json::array& items = st.at("items").as_array();
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(items[0].at("kind"), "signup_credit");
  EXPECT_EQ(items[1].at("kind"), "number_first_month");
  EXPECT_EQ(items[2].at("kind"), "sms_outbound");
  EXPECT_EQ(items[2].at("amountMicros").as_int64(), -20'000);
  EXPECT_EQ(items[5].at("kind"), "top_up");
  EXPECT_EQ(st.at("lastEventHash").as_string().size(), 64u);
  // An empty range before the account existed: opening = closing = 0.
  const json::object before =
      call_json(alice_, "GET", "/v1/billing/statement?from=2001-01-01&to=2001-02-01").as_object();
  EXPECT_TRUE(before.at("items").as_array().empty());
  EXPECT_EQ(before.at("closingBalanceMicros").as_int64(), 0);

  const HttpResult csv = call(alice_, "GET", "/v1/billing/statement?" + range + "&format=csv");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_NE(csv.headers.find("text/csv"), std::string::npos) << csv.headers;
  EXPECT_EQ(csv.body.rfind("at,kind,cause,", 0), 0u) << csv.body;
  EXPECT_NE(csv.body.find("# closing_balance_micros,4440000\n"), std::string::npos) << csv.body;

  // Bad queries: 422 in the contract's shape, naming the field.
  for (const std::string& bad : {std::string("/v1/billing/statement?to=2100-01-01"),
                                 std::string("/v1/billing/statement?from=yesterday&to=2100-01-01"),
                                 std::string("/v1/billing/statement?from=2100-01-01&to=2000-01-01"),
                                 std::string("/v1/billing/statement?") + range + "&format=pdf",
                                 std::string("/v1/billing/audit?verify=maybe")}) {
    const HttpResult r = call(alice_, "GET", bad);
    EXPECT_EQ(r.status, 422) << bad << " -> " << r.body;
    EXPECT_NE(r.body.find("\"detail\""), std::string::npos) << r.body;
  }
  EXPECT_EQ(call(alice_, "POST", "/v1/billing/audit").status, 405);

  // Six audits or statements a minute per account (four were run above,
  // the refused ones do not count): the seventh is 429 with Retry-After.
  EXPECT_EQ(call(alice_, "GET", "/v1/billing/audit?verify=false").status, 200);
  EXPECT_EQ(call(alice_, "GET", "/v1/billing/audit?verify=false").status, 200);
  const HttpResult limited = call(alice_, "GET", "/v1/billing/audit?verify=false");
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_NE(limited.body.find("RATE_LIMITED"), std::string::npos) << limited.body;
  EXPECT_EQ(call(bob_, "GET", "/v1/billing/audit?verify=false").status, 200);
}

TEST_F(BillingApi, AnAuditDuringWritesAgreesAndVerifies) {
  call_json(alice_, "POST", "/v1/billing/top-up", R"({"amountCents":100000})");
  const std::string number = provision(alice_);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      HttpClient client(server_->port());
      const std::string body = json::serialize(
          json::object{{"number_id", number}, {"to_number", "+14155550123"}, {"body", "w"}});
      for (int i = 0; i < 2'000 && !stop.load(); ++i) {
        client.request("POST", "/v1/messages", body, {{"Authorization", "Bearer " + alice_.key}});
      }
    });
  }
  // Audits of both accounts while Alice writes: the writes after each walk
  // began are left out, never reported as differences or a broken chain.
  for (const Account* who : {&alice_, &bob_, &alice_, &bob_}) {
    const json::object audit = call_json(*who, "GET", "/v1/billing/audit").as_object();
    EXPECT_TRUE(audit.at("agrees").as_bool()) << json::serialize(audit);
    EXPECT_TRUE(audit.at("chain").at("verified").as_bool()) << json::serialize(audit);
  }
  stop = true;
  for (std::thread& t : writers) t.join();
}

TEST_F(BillingApi, UsageEndpointsHaveEveryFieldAndValidateTheirQueries) {
  const json::object usage = call_json(alice_, "GET", "/v1/usage").as_object();
  EXPECT_EQ(usage.at("plan").at("name"), "payg");
  for (const char* k : {"numbers", "messagesPerMonth", "voiceMinutesPerMonth",
                        "maxCallDurationMinutes", "concurrentCalls"}) {
    EXPECT_TRUE(usage.at("plan").at("limits").as_object().contains(k)) << k;
  }
  for (const char* k :
       {"totalMessages", "messagesLast24h", "messagesLast7d", "messagesLast30d", "totalCalls",
        "callsLast24h", "callsLast7d", "callsLast30d", "totalWebhookDeliveries",
        "successfulWebhookDeliveries", "failedWebhookDeliveries"}) {
    EXPECT_TRUE(usage.at("stats").as_object().contains(k)) << k;
  }
  EXPECT_EQ(usage.at("numbers").at("limit").as_int64(), 10);
  EXPECT_TRUE(usage.contains("periodStart") && usage.contains("periodEnd"));

  const json::object daily = call_json(alice_, "GET", "/v1/usage/daily?days=7").as_object();
  ASSERT_EQ(daily.at("data").as_array().size(), 7u);
  for (const char* k : {"date", "messages", "calls", "webhooks", "voiceMinutes"}) {
    EXPECT_TRUE(daily.at("data").as_array()[0].as_object().contains(k)) << k;
  }
  EXPECT_EQ(call_json(alice_, "GET", "/v1/usage/daily").at("days").as_int64(), 30);
  const json::object monthly = call_json(alice_, "GET", "/v1/usage/monthly").as_object();
  EXPECT_EQ(monthly.at("months").as_int64(), 6);
  EXPECT_EQ(monthly.at("data").as_array().size(), 6u);
  const json::object by_agent =
      call_json(alice_, "GET", "/v1/usage/by-agent?period=month&tz=America/New_York").as_object();
  EXPECT_EQ(by_agent.at("period"), "month");
  EXPECT_NE(std::string(by_agent.at("periodStart").as_string()).find("T05:00:00"),
            std::string::npos)
      << "New York's midnight in UTC";
  for (const char* bad :
       {"/v1/usage/daily?days=366", "/v1/usage/daily?days=0", "/v1/usage/monthly?months=25",
        "/v1/usage/by-agent", "/v1/usage/by-agent?period=day",
        "/v1/usage/by-agent?period=week&tz=Nope/x",
        "/v1/usage/by-agent?period=week&tz=../../etc"}) {
    expect_error(call(alice_, "GET", bad), 422, "VALIDATION_ERROR");
  }
}

// Runs `agentphone audit …` on the stopped server's folder; returns its exit code.
int audit(const std::string& data_dir, const std::string& args) {
  const std::string command = std::string(AP_BINARY) + " audit --no-progress --data-dir " +
                              data_dir + " " + args + " > /dev/null";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(BillingApi, KillNineWhileChargingLosesAndDoublesNoEntryAndTheAuditAgrees) {
  call_json(alice_, "POST", "/v1/billing/top-up", R"({"amountCents":10000})");
  const std::string number = provision(alice_);
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    // Requests in flight when the server dies fail to connect or lose their answer.
    try {
      for (int i = 0; i < 2000 && !stop; ++i) {
        const HttpResult r = send_sms(alice_, number, "m" + std::to_string(i));
        if (r.status == 200) {
          acknowledged.insert(std::string(json::parse(r.body).at("id").as_string()));
        }
      }
    } catch (const std::exception&) {
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_->stop(SIGKILL);
  stop = true;
  sender.join();
  ASSERT_FALSE(acknowledged.empty());
  server_->start();

  std::multiset<std::string> charged;
  std::int64_t sum = 0;
  std::string cursor = "0";
  while (!cursor.empty()) {
    const json::object page =
        call_json(alice_, "GET", "/v1/billing/ledger?limit=500&after=" + cursor).as_object();
    for (const json::value& e : page.at("data").as_array()) {
      sum += e.at("amountMicros").as_int64();
      if (e.at("rule") == "sms_outbound") charged.emplace(e.at("messageId").as_string());
    }
    cursor =
        page.at("nextCursor").is_string() ? std::string(page.at("nextCursor").as_string()) : "";
  }
  for (const std::string& id : acknowledged) EXPECT_EQ(charged.count(id), 1u) << id;
  for (const std::string& id : charged) EXPECT_EQ(charged.count(id), 1u) << id << " twice";
  EXPECT_EQ(balance(alice_), sum);
  EXPECT_EQ(sum, 105'000'000 - 3'000'000 - 20'000 * static_cast<std::int64_t>(charged.size()));

  wait_for_outbox_final();
  server_->stop(SIGTERM);
  EXPECT_EQ(audit(data_, "verify"), 0);
  EXPECT_EQ(audit(data_, "replay"), 0);
  EXPECT_EQ(audit(data_, "replay --account " + alice_.id), 0);
  EXPECT_EQ(audit(data_, "statement --account " + alice_.id +
                             " --from 2000-01-01 --to 2100-01-01 --format json"),
            0);
  EXPECT_EQ(audit(data_, "statement --account " + alice_.id + " --from x --to y"), 2);
}

}  // namespace
}  // namespace ap::test
