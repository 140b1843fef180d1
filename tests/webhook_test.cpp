// Webhooks end to end: the real server delivers to real receivers on
// loopback. Retries and give-up, kill -9 between attempts, routing to exactly
// one endpoint, recentHistory, slow endpoints, URL rules and bad input.
// (Signatures are verified independently, with Node's crypto, in tests/sdk.)
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "tests/api_fixture.hpp"
#include "tests/webhook_receiver.hpp"

namespace ap::test {
namespace {

class WebhookTest : public ApiTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--webhook-retry-base-ms", "50"};
  }

  void SetUp() override {
    ApiTest::SetUp();
    agent_ = std::string(
        call_json(alice_, "POST", "/v1/agents", R"({"name":"hooked"})").at("id").as_string());
    phone_ =
        std::string(call_json(alice_, "POST", "/v1/numbers", "{\"agentId\":\"" + agent_ + "\"}")
                        .at("phoneNumber")
                        .as_string());
  }

  void inbound(const std::string& body, const std::string& from = "+14155552671",
               const std::string& to = "") {
    HttpClient client(server_->port());
    HttpResult r =
        client.request("POST", "/sim/sms",
                       json::serialize(json::object{
                           {"from", from}, {"to", to.empty() ? phone_ : to}, {"body", body}}));
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Gives Bob a number and a project webhook at `url`, then sends his number
  // `count` messages ("b0", "b1", …), each from its own sender.
  void bob_receives(const std::string& url, int count) {
    const std::string bob_agent(
        call_json(bob_, "POST", "/v1/agents", R"({"name":"other"})").at("id").as_string());
    const std::string bob_phone(
        call_json(bob_, "POST", "/v1/numbers", "{\"agentId\":\"" + bob_agent + "\"}")
            .at("phoneNumber")
            .as_string());
    call_json(bob_, "POST", "/v1/webhooks", "{\"url\":\"" + url + "\"}");
    for (int i = 0; i < count; ++i) {
      inbound("b" + std::to_string(i), "+1415555" + std::to_string(4200 + i), bob_phone);
    }
  }

  // Restarts the server on the same data with other flags.
  void restart_with(std::vector<std::string> flags) {
    server_->stop(SIGTERM);
    server_ = std::make_unique<ServerProcess>(AP_BINARY, data_, std::move(flags));
  }

  json::object set_webhook(const std::string& path, const std::string& url,
                           const std::string& extra = "") {
    return call_json(alice_, "POST", path, "{\"url\":\"" + url + "\"" + extra + "}").as_object();
  }

  // Polls the project's deliveries until the newest has `status` (~10 s).
  json::object wait_for_delivery(const std::string& status) {
    json::object newest;
    for (int i = 0; i < 500; ++i) {
      json::object page = call_json(alice_, "GET", "/v1/webhooks/deliveries").as_object();
      if (!page.at("items").as_array().empty()) {
        newest = page.at("items").at(0).as_object();
        if (newest.at("status") == status.c_str()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return newest;
  }

  std::string agent_, phone_;
};

json::object body_of(const ReceivedRequest& r) {
  return json::parse(r.body).as_object();
}

TEST_F(WebhookTest, FailingEndpointIsRetriedWithTheSameDeliveryId) {
  WebhookReceiver receiver([](int i) { return ReceiverAnswer{i < 2 ? 500 : 200}; });
  set_webhook("/v1/webhooks", receiver.url());
  inbound("please retry");
  std::vector<ReceivedRequest> got = receiver.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  for (const ReceivedRequest& r : got) {
    EXPECT_EQ(r.headers.at("x-webhook-id"), got[0].headers.at("x-webhook-id"));
    EXPECT_EQ(r.body, got[0].body);  // The same bytes on every attempt.
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_EQ(r.headers.at("x-webhook-signature").rfind("sha256=", 0), 0u);
    EXPECT_NE(r.headers.at("user-agent").find("agentphone"), std::string::npos);
  }
  json::object delivery = wait_for_delivery("delivered");
  EXPECT_EQ(delivery.at("status"), "delivered");
  EXPECT_EQ(delivery.at("attemptCount"), 3);
  EXPECT_EQ(delivery.at("httpStatus"), 200);
  EXPECT_EQ(delivery.at("eventType"), "agent.message");
  EXPECT_EQ(delivery.at("channel"), "sms");
  EXPECT_TRUE(delivery.at("nextRetryAt").is_null());
  EXPECT_EQ(delivery.at("id"), got[0].headers.at("x-webhook-id").c_str());
  HttpClient client(server_->port());
  const std::string metrics = client.request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("agentphone_webhook_attempts_total 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("agentphone_webhook_attempts_ok_total 1"), std::string::npos);
}

TEST_F(WebhookTest, GivesUpAfterSixAttemptsAndHonoursRetryAfter) {
  restart_with({"--webhook-retry-base-ms", "10"});  // Steps of 10, 40, 160, 640 ms.
  WebhookReceiver receiver([](int i) {
    ReceiverAnswer answer{503};
    if (i == 0) answer = ReceiverAnswer{429, 0, {{"Retry-After", "1"}}};
    return answer;
  });
  set_webhook("/v1/webhooks", receiver.url());
  inbound("never lands");
  json::object delivery = wait_for_delivery("failed");
  EXPECT_EQ(delivery.at("status"), "failed");
  EXPECT_EQ(delivery.at("attemptCount"), 6);
  EXPECT_EQ(delivery.at("httpStatus"), 503);
  EXPECT_TRUE(delivery.at("errorMessage").is_string());
  std::vector<ReceivedRequest> got = receiver.received();
  ASSERT_EQ(got.size(), 6u);
  // Retry-After: 1 outweighs the 50 ms first step of the schedule.
  EXPECT_GE(got[1].at - got[0].at, std::chrono::milliseconds(900));
  EXPECT_LT(got[2].at - got[1].at, std::chrono::milliseconds(900));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(receiver.received().size(), 6u);  // Nothing after giving up.
  json::object stats = call_json(alice_, "GET", "/v1/webhooks/deliveries/stats").as_object();
  EXPECT_EQ(stats.at("failed"), 1);
  EXPECT_EQ(stats.at("total"), 1);
  json::object all_time = call_json(alice_, "GET", "/v1/webhooks/deliveries/all-time").as_object();
  EXPECT_EQ(all_time.at("failed"), 1);
  EXPECT_EQ(all_time.at("successRate").as_double(), 0.0);
}

TEST_F(WebhookTest, KillNineBetweenAttemptsResumesWithTheSameId) {
  // A long first retry step, so that the server dies between the attempts.
  restart_with({"--webhook-retry-base-ms", "1500"});
  WebhookReceiver receiver([](int i) { return ReceiverAnswer{i == 0 ? 500 : 200}; });
  set_webhook("/v1/webhooks", receiver.url());
  inbound("survive the crash");
  ASSERT_EQ(receiver.wait_for(1).size(), 1u);
  // Wait until the failed attempt is in the log, then kill -9.
  for (int i = 0; i < 200; ++i) {
    json::object page = call_json(alice_, "GET", "/v1/webhooks/deliveries").as_object();
    if (!page.at("items").as_array().empty() && page.at("items").at(0).at("attemptCount") == 1) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server_->stop(SIGKILL);
  server_->start();
  std::vector<ReceivedRequest> got = receiver.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].headers.at("x-webhook-id"), got[0].headers.at("x-webhook-id"));
  json::object delivery = wait_for_delivery("delivered");
  EXPECT_EQ(delivery.at("attemptCount"), 2);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/webhooks/deliveries").at("total"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(receiver.received().size(), 2u);
}

TEST_F(WebhookTest, ExactlyOneEndpointPerEvent) {
  WebhookReceiver project, agent;
  set_webhook("/v1/webhooks", project.url());
  set_webhook("/v1/agents/" + agent_ + "/webhook", agent.url());
  inbound("to the agent");
  ASSERT_EQ(agent.wait_for(1).size(), 1u);
  EXPECT_EQ(body_of(agent.received()[0]).at("agentId"), agent_.c_str());
  // The agent's deliveries list (a bare array) shows it.
  json::value listed = call_json(alice_, "GET", "/v1/agents/" + agent_ + "/webhook/deliveries");
  EXPECT_EQ(listed.as_array().size(), 1u);

  call_json(alice_, "DELETE", "/v1/agents/" + agent_ + "/webhook");
  EXPECT_TRUE(call_json(alice_, "GET", "/v1/agents/" + agent_ + "/webhook").is_null());
  inbound("back to the project");
  ASSERT_EQ(project.wait_for(1).size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(project.received().size(), 1u);
  EXPECT_EQ(agent.received().size(), 1u);
  EXPECT_EQ(body_of(project.received()[0]).at("data").at("message"), "back to the project");
}

TEST_F(WebhookTest, NoWebhookMeansNoDeliveryAndNoBackfill) {
  inbound("nobody listens");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(call_json(alice_, "GET", "/v1/webhooks/deliveries").at("total"), 0);
  WebhookReceiver receiver;
  set_webhook("/v1/webhooks", receiver.url());
  inbound("now someone does");
  ASSERT_EQ(receiver.wait_for(1).size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(receiver.received().size(), 1u);
  EXPECT_EQ(body_of(receiver.received()[0]).at("data").at("message"), "now someone does");
}

TEST_F(WebhookTest, RecentHistoryHonoursContextLimitOldestFirst) {
  WebhookReceiver receiver;
  const std::string conversation(
      call_json(alice_, "POST", "/v1/messages",
                R"({"agent_id":")" + agent_ + R"(","to_number":"+14155552671","body":"out 1"})")
          .at("conversation_id")
          .as_string());
  call_json(alice_, "PATCH", "/v1/conversations/" + conversation,
            R"({"metadata":{"stage":"qualified"}})");
  std::size_t expected = 0;
  for (int limit : {0, 1, 3, 50}) {
    set_webhook("/v1/webhooks", receiver.url(), ",\"contextLimit\":" + std::to_string(limit));
    const std::string text = "in " + std::to_string(limit);
    inbound(text);
    std::vector<ReceivedRequest> got = receiver.wait_for(++expected);
    ASSERT_EQ(got.size(), expected);
    json::object body = body_of(got.back());
    const json::array& history = body.at("recentHistory").as_array();
    // The conversation now holds 1 outbound + `expected` inbound messages.
    const std::size_t in_conversation = 1 + expected;
    EXPECT_EQ(history.size(), std::min<std::size_t>(limit, in_conversation)) << limit;
    if (!history.empty()) {
      EXPECT_EQ(history.back().at("content"), text.c_str());
      EXPECT_EQ(history.back().at("direction"), "inbound");
      EXPECT_EQ(history.back().at("messageId"), body.at("data").at("messageId"));
    }
    if (limit == 50) {
      EXPECT_EQ(history.front().at("content"), "out 1");
      EXPECT_EQ(history.front().at("direction"), "outbound");
    }
    EXPECT_EQ(body.at("conversationState"), (json::object{{"stage", "qualified"}}));
    EXPECT_EQ(body.at("data").at("conversationId"), conversation.c_str());
    EXPECT_EQ(body.at("event"), "agent.message");
    EXPECT_EQ(body.at("channel"), "sms");
  }
}

TEST_F(WebhookTest, ASlowEndpointDoesNotDelayAnother) {
  WebhookReceiver slow([](int) { return ReceiverAnswer{200, 3000}; });
  WebhookReceiver fast;
  set_webhook("/v1/webhooks", slow.url());
  const std::string bobs_phone(call_json(bob_, "POST", "/v1/numbers", R"({"areaCode":"212"})")
                                   .at("phoneNumber")
                                   .as_string());
  ASSERT_EQ(call(bob_, "POST", "/v1/webhooks", "{\"url\":\"" + fast.url() + "\"}").status, 200);
  inbound("to the slow one");
  ASSERT_EQ(slow.wait_for(1).size(), 1u);
  HttpClient client(server_->port());
  client.request("POST", "/sim/sms",
                 json::serialize(json::object{
                     {"from", "+14155552671"}, {"to", bobs_phone}, {"body", "to the fast one"}}));
  ASSERT_EQ(fast.wait_for(1, 2500).size(), 1u);
  // The slow endpoint is still holding its request.
  EXPECT_EQ(call_json(alice_, "GET", "/v1/webhooks/deliveries").at("items").at(0).at("status"),
            "pending");
}

TEST_F(WebhookTest, TestEndpointSendsAFakeMessage) {
  WebhookReceiver receiver;
  expect_refused(alice_, "POST", "/v1/webhooks/test", "", 404);
  set_webhook("/v1/webhooks", receiver.url());
  json::object outcome = call_json(alice_, "POST", "/v1/webhooks/test").as_object();
  EXPECT_EQ(outcome.at("success"), true);
  EXPECT_EQ(outcome.at("statusCode"), 200);
  EXPECT_TRUE(outcome.at("error").is_null());
  ASSERT_EQ(receiver.wait_for(1).size(), 1u);
  EXPECT_EQ(body_of(receiver.received()[0]).at("agentId"), agent_.c_str());
  // A test send is in the history where a user looks, marked, and final.
  json::object page = call_json(alice_, "GET", "/v1/webhooks/deliveries").as_object();
  ASSERT_EQ(page.at("total"), 1);
  json::object sent = page.at("items").at(0).as_object();
  EXPECT_EQ(sent.at("test"), true);
  EXPECT_EQ(sent.at("status"), "delivered");
  EXPECT_EQ(sent.at("attemptCount"), 1);
  EXPECT_EQ(sent.at("httpStatus"), 200);
  EXPECT_EQ(sent.at("id"), receiver.received()[0].headers.at("x-webhook-id").c_str());
  WebhookReceiver failing([](int) { return ReceiverAnswer{500}; });
  set_webhook("/v1/agents/" + agent_ + "/webhook", failing.url());
  json::object failed =
      call_json(alice_, "POST", "/v1/agents/" + agent_ + "/webhook/test").as_object();
  EXPECT_EQ(failed.at("success"), false);
  EXPECT_EQ(failed.at("statusCode"), 500);
  json::value by_agent = call_json(alice_, "GET", "/v1/agents/" + agent_ + "/webhook/deliveries");
  ASSERT_EQ(by_agent.as_array().size(), 1u);
  EXPECT_EQ(by_agent.at(0).at("status"), "failed");
  json::object stats = call_json(alice_, "GET", "/v1/webhooks/deliveries/stats").as_object();
  EXPECT_EQ(stats.at("success"), 1);
  EXPECT_EQ(stats.at("failed"), 1);
  // Never retried: a test send was made before it was recorded.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(failing.received().size(), 1u);
}

// GET /v1/webhooks/deliveries carries the SDK's envelope and the official MCP
// server's (contract G), whose list_webhook_deliveries reads data and hasMore.
TEST_F(WebhookTest, DeliveriesServeTheSdkAndTheMcpServer) {
  WebhookReceiver receiver;
  set_webhook("/v1/webhooks", receiver.url());
  inbound("one");
  inbound("two");
  ASSERT_EQ(receiver.wait_for(2).size(), 2u);
  wait_for_delivery("delivered");
  json::object page = call_json(alice_, "GET", "/v1/webhooks/deliveries?limit=1").as_object();
  EXPECT_EQ(page.at("total"), 2);
  EXPECT_EQ(page.at("offset"), 0);
  EXPECT_EQ(page.at("limit"), 1);
  EXPECT_EQ(page.at("hasMore"), true);
  ASSERT_EQ(page.at("items").as_array().size(), 1u);
  EXPECT_EQ(page.at("data"), page.at("items"));
  const json::object& item = page.at("data").at(0).as_object();
  EXPECT_EQ(item.at("event"), "agent.message");
  EXPECT_EQ(item.at("statusCode"), 200);
  EXPECT_EQ(item.at("success"), true);
  EXPECT_EQ(item.at("deliveredAt"), item.at("lastAttemptAt"));
  EXPECT_TRUE(item.at("responseMs").is_int64());
  EXPECT_EQ(item.at("test"), false);
  json::object last = call_json(alice_, "GET", "/v1/webhooks/deliveries?offset=1").as_object();
  EXPECT_EQ(last.at("hasMore"), false);
  EXPECT_EQ(last.at("data").as_array().size(), 1u);
}

TEST_F(WebhookTest, ConfigurationRulesAndBadInput) {
  json::object first = set_webhook("/v1/webhooks", "http://127.0.0.1:9/hook");
  EXPECT_EQ(first.at("contextLimit"), 10);
  EXPECT_EQ(first.at("timeout"), 30);
  EXPECT_EQ(first.at("status"), "active");
  EXPECT_EQ(std::string(first.at("secret").as_string()).rfind("whsec_", 0), 0u);
  json::object second =
      set_webhook("/v1/webhooks", "http://127.0.0.1:9/other", R"(,"contextLimit":0,"timeout":5)");
  EXPECT_EQ(second.at("id"), first.at("id"));
  EXPECT_NE(second.at("secret"), first.at("secret"));  // A new secret every time.
  EXPECT_EQ(second.at("contextLimit"), 0);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/webhooks"), second);
  EXPECT_TRUE(call_json(bob_, "GET", "/v1/webhooks").is_null());

  for (const std::string body :
       {std::string(R"({})"), std::string(R"({"url":5})"), std::string(R"({"url":"not a url"})"),
        std::string(R"({"url":"ftp://127.0.0.1/x"})"),
        std::string(R"({"url":"http://169.254.169.254/latest"})"),
        std::string(R"({"url":"http://127.0.0.1/x","contextLimit":51})"),
        std::string(R"({"url":"http://127.0.0.1/x","contextLimit":"3"})"),
        std::string(R"({"url":"http://127.0.0.1/x","timeout":4})"),
        std::string(R"({"url":"http://127.0.0.1/x","timeout":121})"),
        "{\"url\":\"https://example.com/" + std::string(2100, 'a') + "\"}"}) {
    expect_refused(alice_, "POST", "/v1/webhooks", body, 422);
  }
  expect_refused(alice_, "POST", "/v1/webhooks", "not json", 422);
  expect_refused(alice_, "POST", "/v1/agents/agt_nope/webhook", R"({"url":"http://127.0.0.1/"})",
                 404);
  expect_refused(bob_, "DELETE", "/v1/webhooks", "", 404);
  expect_refused(alice_, "GET", "/v1/webhooks/deliveries?limit=101", "", 422);
  expect_refused(alice_, "GET", "/v1/webhooks/deliveries?hours=0", "", 422);
  expect_refused(alice_, "GET", "/v1/webhooks/deliveries/stats?hours=x", "", 422);
  EXPECT_EQ(call_json(alice_, "DELETE", "/v1/webhooks").at("success"), true);
  EXPECT_TRUE(call_json(alice_, "GET", "/v1/webhooks").is_null());
}

TEST(WebhookProduction, PrivateAddressesAreRefusedBeforeAndAfterDns) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  Account alice = create_account(data, "alice@example.com");
  WebhookReceiver receiver;
  // hooks.example.test resolves (by override, as DNS could) to loopback.
  ServerProcess server(
      AP_BINARY, data,
      {"--mode", "production", "--webhook-resolve", "hooks.example.test=127.0.0.1"});
  auto post = [&](const std::string& url) {
    HttpClient client(server.port());
    return client.request("POST", "/v1/webhooks", "{\"url\":\"" + url + "\"}",
                          {{"Authorization", "Bearer " + alice.key}});
  };
  for (const char* url : {"http://hooks.example.test/x", "https://127.0.0.1/x",
                          "https://10.1.2.3/x", "https://192.168.1.1/x", "https://172.16.0.1/x",
                          "https://169.254.169.254/x", "https://[::1]/x", "https://[fd00::1]/x",
                          "https://localhost/x", "https://[::ffff:127.0.0.1]/x"}) {
    HttpResult r = post(url);
    EXPECT_EQ(r.status, 422) << url << " -> " << r.body;
  }
  ASSERT_EQ(post("https://hooks.example.test:" + std::to_string(receiver.port()) + "/x").status,
            200);
  HttpClient client(server.port());
  HttpResult test =
      client.request("POST", "/v1/webhooks/test", "", {{"Authorization", "Bearer " + alice.key}});
  ASSERT_EQ(test.status, 200) << test.body;
  json::object outcome = json::parse(test.body).as_object();
  EXPECT_EQ(outcome.at("success"), false);
  EXPECT_NE(std::string(outcome.at("error").as_string()).find("loopback"), std::string::npos)
      << test.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(receiver.received().empty());
}

// A flood of deliveries to a slow endpoint with room for only four in memory:
// the rest wait in the read model, and every one still arrives, once, and
// each conversation's in order.
class BoundedWebhookTest : public WebhookTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--webhook-retry-base-ms", "50", "--webhook-max-held", "4",
            "--webhook-max-in-flight", "1"};
  }
};

// The value of gauge `name` in /metrics text, or -1.
double gauge(const std::string& metrics, const std::string& name) {
  const std::size_t at = metrics.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(metrics.substr(at + name.size() + 2));
}

// The /metrics text once the engine holds no delivery (or after 5 s): the
// last answers may still be on their way back to the engine.
std::string metrics_once_none_held(int port) {
  std::string metrics;
  for (int i = 0; i < 250; ++i) {
    HttpClient client(port);
    metrics = client.request("GET", "/metrics").body;
    if (gauge(metrics, "agentphone_webhook_deliveries_held") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return metrics;
}

// A receiver policy that answers 200 after `delay_ms`.
std::function<ReceiverAnswer(int)> answer_after_ms(int delay_ms) {
  return [delay_ms](int) {
    ReceiverAnswer answer;
    answer.delay_ms = delay_ms;
    return answer;
  };
}

// Waits (up to `timeout_ms`) for `count` requests at `receiver`, then a
// little longer for any extra one, and checks that it got exactly `count`,
// each delivery once.
std::vector<ReceivedRequest> expect_each_once(WebhookReceiver& receiver, std::size_t count,
                                              int timeout_ms = 10'000) {
  receiver.wait_for(count, timeout_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<ReceivedRequest> got = receiver.received();
  EXPECT_EQ(got.size(), count);
  std::set<std::string> ids;
  for (const ReceivedRequest& r : got) ids.insert(r.headers.at("x-webhook-id"));
  EXPECT_EQ(ids.size(), got.size()) << "a delivery arrived twice";
  return got;
}

TEST_F(BoundedWebhookTest, AFloodWaitsInTheReadModelAndEveryDeliveryArrivesOnce) {
  WebhookReceiver receiver(answer_after_ms(5));
  set_webhook("/v1/webhooks", receiver.url());
  constexpr int kSenders = 10, kEach = 4;
  for (int i = 0; i < kEach; ++i) {
    for (int s = 0; s < kSenders; ++s) {
      inbound("m" + std::to_string(i), "+1415555" + std::to_string(3100 + s));
    }
  }
  double most_held = 0;
  std::string metrics;
  for (int i = 0; i < 500 && receiver.received().size() < kSenders * kEach; ++i) {
    HttpClient client(server_->port());
    metrics = client.request("GET", "/metrics").body;
    most_held = std::max(most_held, gauge(metrics, "agentphone_webhook_deliveries_held"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::vector<ReceivedRequest> got = expect_each_once(receiver, kSenders * kEach);
  std::map<std::string, std::vector<std::string>> by_sender;
  for (const ReceivedRequest& r : got) {
    const json::object body = body_of(r);
    by_sender[std::string(body.at("data").at("from").as_string())].emplace_back(
        body.at("data").at("message").as_string());
  }
  for (const auto& [sender, messages] : by_sender) {
    EXPECT_EQ(messages, (std::vector<std::string>{"m0", "m1", "m2", "m3"})) << sender;
  }
  EXPECT_LE(most_held, 4);
  metrics = metrics_once_none_held(server_->port());
  EXPECT_GT(gauge(metrics, "agentphone_webhook_deliveries_spilled_total"), 0) << metrics;
  EXPECT_EQ(gauge(metrics, "agentphone_webhook_deliveries_held"), 0);
}

// One account's endpoint fails every attempt; its deliveries wait for retries
// far in the future. They must not take the room of another account's
// deliveries: those arrive at once, though the engine holds only 4.
class RetryRoomTest : public WebhookTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--webhook-retry-base-ms", "60000", "--webhook-max-held", "4"};
  }
};

TEST_F(RetryRoomTest, ADeadEndpointsRetriesTakeNoRoomFromAnotherAccount) {
  WebhookReceiver dead([](int) { return ReceiverAnswer{500}; });
  WebhookReceiver alive([](int) { return ReceiverAnswer{200}; });
  set_webhook("/v1/webhooks", dead.url());
  constexpr int kFailing = 12, kOther = 8;
  for (int i = 0; i < kFailing; ++i)
    inbound("f" + std::to_string(i), "+1415555" + std::to_string(4100 + i));
  ASSERT_EQ(dead.wait_for(kFailing).size(), static_cast<std::size_t>(kFailing));

  bob_receives(alive.url(), kOther);
  // Long before the first retry (60 s away) could free any room.
  EXPECT_EQ(alive.wait_for(kOther).size(), static_cast<std::size_t>(kOther));
  EXPECT_EQ(dead.received().size(), static_cast<std::size_t>(kFailing));  // No early retry.
  const std::string metrics = metrics_once_none_held(server_->port());
  EXPECT_EQ(gauge(metrics, "agentphone_webhook_deliveries_held"), 0) << metrics;
  json::object alice_page = call_json(alice_, "GET", "/v1/webhooks/deliveries").as_object();
  for (const json::value& d : alice_page.at("items").as_array()) {
    EXPECT_EQ(d.at("status"), "pending");
    EXPECT_EQ(d.at("attemptCount"), 1);
    EXPECT_TRUE(d.at("nextRetryAt").is_string());
  }
}

// One account's endpoint is slow (2 s an answer). The account holds at most
// its share (3) of the engine's room; its other deliveries are deferred, wait
// in the read model, and still arrive once each, while another account's
// deliveries go out at once.
class AccountShareTest : public WebhookTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--webhook-retry-base-ms",        "50", "--webhook-max-held", "16",
            "--webhook-max-held-per-account", "3"};
  }
};

TEST_F(AccountShareTest, ASlowEndpointsDeliveriesAreDeferredPastTheirAccountsShare) {
  WebhookReceiver slow(answer_after_ms(2000));
  WebhookReceiver fast;
  set_webhook("/v1/webhooks", slow.url());
  constexpr int kSlow = 6, kOther = 8;
  for (int i = 0; i < kSlow; ++i)
    inbound("s" + std::to_string(i), "+1415555" + std::to_string(5100 + i));
  ASSERT_EQ(slow.wait_for(3).size(), 3u);

  bob_receives(fast.url(), kOther);
  EXPECT_EQ(fast.wait_for(kOther).size(), static_cast<std::size_t>(kOther));
  // Before the slow endpoint's first answer, it has seen only the share.
  EXPECT_EQ(slow.received().size(), 3u);
  bool deferred_listed = false;
  for (int i = 0; i < 50 && !deferred_listed; ++i) {
    json::object page = call_json(alice_, "GET", "/v1/webhooks/deliveries").as_object();
    for (const json::value& d : page.at("items").as_array()) {
      deferred_listed |= d.at("status") == "pending" && d.at("attemptCount") == 0 &&
                         d.at("nextRetryAt").is_string();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(deferred_listed) << "a deferred delivery shows when it will be tried";

  expect_each_once(slow, kSlow, 30'000);
  const std::string metrics = metrics_once_none_held(server_->port());
  EXPECT_GE(gauge(metrics, "agentphone_webhook_deliveries_deferred_total"), kSlow - 3) << metrics;
  EXPECT_EQ(gauge(metrics, "agentphone_webhook_deliveries_held"), 0) << metrics;
}

// An endpoint that takes one request at a time and queues one more: the
// deliveries past that are deferred, not queued in memory, and every one
// still arrives once.
class EndpointQueueTest : public WebhookTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--webhook-retry-base-ms", "50", "--webhook-max-in-flight", "1",
            "--webhook-max-waiting",   "1"};
  }
};

TEST_F(EndpointQueueTest, DeliveriesPastAFullEndpointQueueAreDeferredAndStillArriveOnce) {
  WebhookReceiver slow(answer_after_ms(300));
  set_webhook("/v1/webhooks", slow.url());
  constexpr int kMessages = 5;
  for (int i = 0; i < kMessages; ++i)
    inbound("q" + std::to_string(i), "+1415555" + std::to_string(5300 + i));
  expect_each_once(slow, kMessages, 30'000);
  const std::string metrics = metrics_once_none_held(server_->port());
  EXPECT_GE(gauge(metrics, "agentphone_webhook_deliveries_deferred_total"), 1) << metrics;
  EXPECT_EQ(gauge(metrics, "agentphone_webhook_deliveries_held"), 0) << metrics;
}

}  // namespace
}  // namespace ap::test
