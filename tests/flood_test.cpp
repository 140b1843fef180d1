// Flood: one account hammers the server from many connections while another
// uses it as usual. The hammering account is held to its in-flight bound
// (429 TOO_MANY_IN_FLIGHT, Retry-After), nothing answers 5xx, and the other
// account is served completely and sees every one of its writes.
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/api_fixture.hpp"

namespace ap::test {
namespace {

constexpr int kMaxInFlight = 8;
constexpr int kHammerThreads = 32;

class Flood : public ApiTest {
 protected:
  // The per-key rate limit is off, so that only the in-flight bound holds
  // the hammering account back.
  std::vector<std::string> server_flags() const override {
    return {"--max-in-flight-per-account", std::to_string(kMaxInFlight), "--rate-limit-per-key",
            "0"};
  }
};

TEST_F(Flood, OneAccountHammeringLeavesAnotherAccountServed) {
  call_json(alice_, "POST", "/v1/billing/top-up", R"({"amountCents":1000000})");
  const std::string number = std::string(
      call_json(alice_, "POST", "/v1/numbers", R"({"areaCode":"415"})").at("id").as_string());
  const std::string send = json::serialize(
      json::object{{"number_id", number}, {"to_number", "+14155550123"}, {"body", "flood"}});

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<int, int> statuses;  // Alice's answers by HTTP status.
  int too_many_in_flight = 0;
  std::vector<std::thread> hammers;
  for (int t = 0; t < kHammerThreads; ++t) {
    hammers.emplace_back([&] {
      HttpClient client(server_->port());
      // Bounded: a thread sends at most this many, flood or not.
      for (int i = 0; i < 2'000 && !stop.load(); ++i) {
        const HttpResult r = client.request("POST", "/v1/messages", send,
                                            {{"Authorization", "Bearer " + alice_.key}});
        std::lock_guard<std::mutex> lock(mu);
        ++statuses[r.status];
        if (r.body.find("TOO_MANY_IN_FLIGHT") != std::string::npos) ++too_many_in_flight;
      }
    });
  }

  // Bob, meanwhile: every request answered, every write visible to him.
  std::vector<std::string> created;
  for (int i = 0; i < 40; ++i) {
    const HttpResult made =
        call(bob_, "POST", "/v1/agents", R"({"name":"bob-)" + std::to_string(i) + R"("})");
    ASSERT_EQ(made.status, 200) << made.body;
    created.emplace_back(json::parse(made.body).at("id").as_string());
    const HttpResult read = call(bob_, "GET", "/v1/agents/" + created.back());
    EXPECT_EQ(read.status, 200) << read.body;
  }
  stop = true;
  for (std::thread& t : hammers) t.join();

  const json::object listed = call_json(bob_, "GET", "/v1/agents?limit=100").as_object();
  EXPECT_EQ(listed.at("total").as_int64(), 40);
  int answered = 0;
  for (const auto& [status, count] : statuses) {
    EXPECT_LT(status, 500) << count << " answers with status " << status;
    EXPECT_TRUE(status == 200 || status == 429) << count << " answers with status " << status;
    answered += count;
  }
  EXPECT_GT(statuses[200], 0);
  EXPECT_GT(too_many_in_flight, 0) << "32 connections never met the bound of 8";
  EXPECT_EQ(too_many_in_flight, statuses[429]);
  // Every accepted request left the count: Alice is served again at once.
  EXPECT_EQ(call(alice_, "GET", "/v1/agents").status, 200);
  for (int i = 0; i < kMaxInFlight; ++i) {
    EXPECT_EQ(call(alice_, "GET", "/v1/billing/balance").status, 200);
  }
  EXPECT_GT(answered, kHammerThreads);
}

}  // namespace
}  // namespace ap::test
