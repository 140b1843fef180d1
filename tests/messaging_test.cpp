// Conversations and SMS over a real loopback socket, against the real binary:
// threading, cursors, metadata, carrier status reports and faults, the
// Idempotency-Key, the `agentphone sim` command line and restarts.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/api_fixture.hpp"

namespace ap::test {
namespace {

// ---- Conversations and SMS --------------------------------------------------

class MessagingTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    agent_ = std::string(
        call_json(alice_, "POST", "/v1/agents", R"({"name":"texter"})").at("id").as_string());
    json::object number = call_json(alice_, "POST", "/v1/numbers",
                                    "{\"areaCode\":\"415\",\"agentId\":\"" + agent_ + "\"}")
                              .as_object();
    number_id_ = std::string(number.at("id").as_string());
    phone_ = std::string(number.at("phoneNumber").as_string());
  }

  HttpResult inbound(const std::string& from, const std::string& to, const std::string& body) {
    HttpClient client(server_->port());
    return client.request(
        "POST", "/sim/sms",
        json::serialize(json::object{{"from", from}, {"to", to}, {"body", body}}));
  }

  json::object send(const std::string& extra) {
    return call_json(alice_, "POST", "/v1/messages",
                     "{\"number_id\":\"" + number_id_ + "\"," + extra + "}")
        .as_object();
  }

  // Carrier reports append in the background; wait until every outbound
  // message has its final status.
  void quiesce() override { wait_for_outbox_final(); }

  // Polls the conversation's newest message until its status is `want`
  // (for at most ~10 s) and returns it as last seen.
  json::object wait_for_status(const std::string& conversation, const std::string& want) {
    json::object message;
    for (int i = 0; i < 500; ++i) {
      message = call_json(alice_, "GET", "/v1/conversations/" + conversation + "/messages?limit=1")
                    .at("data")
                    .at(0)
                    .as_object();
      if (message.at("status") == want.c_str()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return message;
  }

  json::object sim(const std::string& method, const std::string& target,
                   const std::string& body = "") {
    HttpClient client(server_->port());
    HttpResult r = client.request(method, target, body);
    EXPECT_EQ(r.status, 200) << method << " " << target << " -> " << r.body;
    return json::parse(r.body).as_object();
  }

  HttpResult send_with_key(const Account& who, const std::string& key, const std::string& body) {
    HttpClient client(server_->port());
    return client.request("POST", "/v1/messages", body,
                          {{"Authorization", "Bearer " + who.key}, {"Idempotency-Key", key}});
  }

  std::string agent_, number_id_, phone_;
};

TEST_F(MessagingTest, MessagesThreadByPartyInBothDirections) {
  json::object sent = send(R"("to_number":"(415) 555-2671","body":"Hello!")");
  EXPECT_EQ(sent.at("status"), "queued");
  EXPECT_EQ(sent.at("channel"), "sms");
  EXPECT_EQ(sent.at("to_number"), "+14155552671");
  EXPECT_EQ(sent.at("from_number"), phone_.c_str());
  const std::string conversation(sent.at("conversation_id").as_string());
  EXPECT_EQ(conversation.rfind("conv_", 0), 0u);

  HttpResult reply = inbound("+1 415 555 2671", phone_, "Hi back");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(json::parse(reply.body).at("conversationId"), conversation.c_str());
  // The agent alone picks its first number (how the MCP server sends).
  json::object by_agent =
      call_json(alice_, "POST", "/v1/messages",
                "{\"agent_id\":\"" + agent_ + "\",\"to_number\":\"+14155550000\",\"body\":\"x\"}")
          .as_object();
  EXPECT_NE(by_agent.at("conversation_id"), conversation.c_str());
  EXPECT_EQ(by_agent.at("from_number"), phone_.c_str());

  json::object list = call_json(alice_, "GET", "/v1/conversations").as_object();
  EXPECT_EQ(list.at("total"), 2);
  // Newest activity first.
  EXPECT_EQ(list.at("data").at(0).at("participant"), "+14155550000");
  json::object detail = call_json(alice_, "GET", "/v1/conversations/" + conversation).as_object();
  EXPECT_EQ(detail.at("messageCount"), 2);
  EXPECT_EQ(detail.at("agentId"), agent_.c_str());
  EXPECT_FALSE(detail.contains("lastMessagePreview"));
  ASSERT_EQ(detail.at("messages").as_array().size(), 2u);
  EXPECT_EQ(detail.at("messages").at(0).at("body"), "Hi back");
  EXPECT_EQ(detail.at("messages").at(0).at("direction"), "inbound");
  EXPECT_EQ(call_json(alice_, "GET", "/v1/agents/" + agent_ + "/conversations").at("total"), 2);
  json::object numbered =
      call_json(alice_, "GET", "/v1/numbers/" + number_id_ + "/messages").as_object();
  ASSERT_EQ(numbered.at("data").as_array().size(), 3u);
  EXPECT_EQ(numbered.at("data").at(0).at("from"), numbered.at("data").at(0).at("from_"));
  EXPECT_EQ(call(bob_, "GET", "/v1/conversations/" + conversation).status, 404);
  EXPECT_EQ(call_json(bob_, "GET", "/v1/conversations").at("total"), 0);
}

// The conversation preview is the first 100 characters of the newest
// message. It once cut bytes, splitting a two-byte character at the edge
// into invalid UTF-8 that made the list unreadable (found by sim run).
TEST_F(MessagingTest, APreviewNeverSplitsACharacter) {
  const std::string body = std::string(99, 'a') + "\xc5\x82" + "tail";  // "ł" is character 100.
  ASSERT_EQ(inbound("+14155550123", phone_, body).status, 200);
  const json::value list = call_json(alice_, "GET", "/v1/conversations");
  EXPECT_EQ(std::string(list.at("data").at(0).at("lastMessagePreview").as_string()),
            std::string(99, 'a') + "\xc5\x82");
}

TEST_F(MessagingTest, CursorPagination) {
  for (int i = 0; i < 5; ++i) {
    send("\"to_number\":\"+14155552671\",\"body\":\"m" + std::to_string(i) + "\"");
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  const std::string conversation(
      call_json(alice_, "GET", "/v1/conversations").at("data").at(0).at("id").as_string());
  const std::string base = "/v1/conversations/" + conversation + "/messages";
  json::object page = call_json(alice_, "GET", base + "?limit=2").as_object();
  ASSERT_EQ(page.at("data").as_array().size(), 2u);
  EXPECT_EQ(page.at("hasMore"), true);
  EXPECT_EQ(page.at("data").at(0).at("body"), "m4");
  EXPECT_EQ(page.at("data").at(1).at("body"), "m3");
  const std::string cursor(page.at("data").at(1).at("receivedAt").as_string());
  json::object older = call_json(alice_, "GET", base + "?limit=10&before=" + cursor).as_object();
  ASSERT_EQ(older.at("data").as_array().size(), 3u);
  EXPECT_EQ(older.at("data").at(0).at("body"), "m2");
  EXPECT_EQ(older.at("hasMore"), false);
  json::object newer = call_json(alice_, "GET", base + "?after=" + cursor).as_object();
  ASSERT_EQ(newer.at("data").as_array().size(), 1u);
  EXPECT_EQ(newer.at("data").at(0).at("body"), "m4");
  json::object none = call_json(alice_, "GET", base + "?before=2000-01-01T00:00:00Z").as_object();
  EXPECT_TRUE(none.at("data").as_array().empty());
  EXPECT_EQ(none.at("hasMore"), false);
  expect_refused(alice_, "GET", base + "?before=yesterday", "", 422);
  expect_refused(alice_, "GET", base + "?limit=201", "", 422);
}

TEST_F(MessagingTest, MessagesInOneMillisecondAreNeverSkippedByCursors) {
  // Several messages arrive within a few milliseconds, some in the same one.
  std::vector<std::thread> senders;
  for (int i = 0; i < 8; ++i) {
    senders.emplace_back(
        [this, i] { inbound("+14155552671", phone_, "burst " + std::to_string(i)); });
  }
  for (std::thread& t : senders) t.join();
  const std::string conversation(
      call_json(alice_, "GET", "/v1/conversations").at("data").at(0).at("id").as_string());
  // Walk one message per page with `before` cursors: every message appears once.
  std::set<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    const std::string target = "/v1/conversations/" + conversation + "/messages?limit=1" +
                               (cursor.empty() ? "" : "&before=" + cursor);
    json::object got = call_json(alice_, "GET", target).as_object();
    if (got.at("data").as_array().empty()) break;
    seen.insert(std::string(got.at("data").at(0).at("body").as_string()));
    const std::string at(got.at("data").at(0).at("receivedAt").as_string());
    if (!cursor.empty()) EXPECT_LT(at, cursor);  // Strictly older each time.
    cursor = at;
  }
  EXPECT_EQ(seen.size(), 8u);
}

// Eight writers text one number from eight phones (eight conversations)
// while a reader walks the number's messages with `before` cursors, as a
// client syncing by number does. Many messages share a millisecond; still
// every walk sees each message acknowledged before it began exactly once,
// with listed times strictly decreasing, and so does each conversation's list.
TEST_F(MessagingTest, MessageListsPageLosslesslyUnderConcurrentWrites) {
  constexpr int kWriters = 8, kEach = 30;
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::map<std::string, std::set<std::string>> by_conversation;
  std::atomic<int> finished{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string from = "+1415555" + std::to_string(3000 + w);
      for (int k = 0; k < kEach; ++k) {
        const std::string body = "w" + std::to_string(w) + "-" + std::to_string(k);
        HttpResult r = inbound(from, phone_, body);
        if (r.status != 200) continue;
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.insert(body);
        by_conversation[std::string(json::parse(r.body).at("conversationId").as_string())].insert(
            body);
      }
      ++finished;
    });
  }
  // Walks a message list newest to oldest, 7 per page; checks the order.
  auto walk = [&](const std::string& path) {
    std::vector<std::string> bodies;
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
      json::object got =
          call_json(alice_, "GET", path + "?limit=7" + (cursor.empty() ? "" : "&before=" + cursor))
              .as_object();
      for (const json::value& item : got.at("data").as_array()) {
        const std::string at(item.at("receivedAt").as_string());
        if (!cursor.empty()) EXPECT_LT(at, cursor) << path;
        cursor = at;
        bodies.emplace_back(item.at("body").as_string());
      }
      if (!got.at("hasMore").as_bool()) break;
    }
    return bodies;
  };
  const std::string number_path = "/v1/numbers/" + number_id_ + "/messages";
  int walks = 0;
  while (finished.load() < kWriters || walks == 0) {
    std::set<std::string> before_walk;
    {
      std::lock_guard<std::mutex> lock(mu);
      before_walk = acknowledged;
    }
    const std::vector<std::string> seen = walk(number_path);
    const std::set<std::string> distinct(seen.begin(), seen.end());
    EXPECT_EQ(distinct.size(), seen.size()) << "a message was listed twice";
    for (const std::string& body : before_walk) {
      EXPECT_TRUE(distinct.count(body)) << body << " was skipped";
    }
    ++walks;
  }
  for (std::thread& t : writers) t.join();
  ASSERT_EQ(acknowledged.size(), static_cast<std::size_t>(kWriters * kEach));
  const std::vector<std::string> all = walk(number_path);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), acknowledged);
  EXPECT_EQ(all.size(), acknowledged.size());
  ASSERT_EQ(by_conversation.size(), static_cast<std::size_t>(kWriters));
  for (const auto& [conversation, bodies] : by_conversation) {
    const std::vector<std::string> listed = walk("/v1/conversations/" + conversation + "/messages");
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), bodies);
    EXPECT_EQ(listed.size(), bodies.size());
  }
  EXPECT_GE(walks, 1);
}

TEST_F(MessagingTest, MetadataReplacesAndClears) {
  const std::string conversation(
      send(R"("to_number":"+14155552671","body":"x")").at("conversation_id").as_string());
  const std::string path = "/v1/conversations/" + conversation;
  EXPECT_EQ(call_json(alice_, "PATCH", path, R"({"metadata":{"a":1,"b":2}})").at("metadata"),
            (json::object{{"a", 1}, {"b", 2}}));
  EXPECT_EQ(call_json(alice_, "PATCH", path, R"({"metadata":{"c":3}})").at("metadata"),
            (json::object{{"c", 3}}));
  EXPECT_TRUE(call_json(alice_, "PATCH", path, R"({"metadata":null})").at("metadata").is_null());
  expect_refused(alice_, "PATCH", path, R"({"metadata":[1]})", 422);
  expect_refused(alice_, "PATCH", path,
                 "{\"metadata\":{\"big\":\"" + std::string(20000, 'x') + "\"}}", 422);
  expect_refused(bob_, "PATCH", path, R"({"metadata":{}})", 404);
}

TEST_F(MessagingTest, BadMessagesAreRefusedAndWriteNothing) {
  const std::string from = "\"number_id\":\"" + number_id_ + "\",";
  for (const char* to : {"+442079460958", "555-1234", "+11155552671", "hello", "4111552671"}) {
    expect_refused(alice_, "POST", "/v1/messages",
                   "{" + from + "\"to_number\":\"" + to + "\",\"body\":\"x\"}", 422);
  }
  expect_refused(alice_, "POST", "/v1/messages", "{" + from + R"("body":"x"})", 422);
  expect_refused(alice_, "POST", "/v1/messages", R"({"to_number":"+14155552671","body":"x"})", 422);
  expect_refused(alice_, "POST", "/v1/messages", "{" + from + R"("to_number":"+14155552671"})",
                 422);
  expect_refused(
      alice_, "POST", "/v1/messages",
      "{" + from + "\"to_number\":\"+14155552671\",\"body\":\"" + std::string(1601, 'a') + "\"}",
      422);
  expect_refused(alice_, "POST", "/v1/messages",
                 "{" + from + R"("to_number":"+14155552671","body":"x","send_style":"slam"})", 400);
  expect_refused(alice_, "POST", "/v1/messages",
                 "{" + from + R"("recipients":["+14155552671","+14155552672"],"body":"x"})", 400);
  expect_refused(alice_, "POST", "/v1/messages",
                 "{" + from + R"("to_number":"+14155552671","body":"x","media_urls":["ftp://x"]})",
                 422);
  expect_refused(bob_, "POST", "/v1/messages",
                 "{" + from + R"("to_number":"+14155552671","body":"x"})", 404);
  expect_refused(alice_, "POST", "/v1/messages",
                 R"({"from_number":"+19995550100","to_number":"+14155552671","body":"x"})", 404);
  expect_refused(alice_, "POST", "/v1/messages",
                 R"({"from_number":"call me","to_number":"+14155552671","body":"x"})", 422);
}

TEST_F(MessagingTest, InboundToUnknownOrReleasedNumbersLeavesNoTrace) {
  const std::uint64_t before = log_head();
  EXPECT_EQ(inbound("+14155552671", "+12125550199", "anyone?").status, 404);
  EXPECT_EQ(inbound("not a number", phone_, "x").status, 422);
  EXPECT_EQ(log_head(), before);
  call_json(alice_, "DELETE", "/v1/numbers/" + number_id_);
  const std::uint64_t released = log_head();
  EXPECT_EQ(inbound("+14155552671", phone_, "still there?").status, 404);
  EXPECT_EQ(log_head(), released);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/conversations").at("total"), 0);
}

TEST(SandboxMode, ProductionModeHasNoSimulator) {
  TempDir dir;
  ServerProcess server(AP_BINARY, dir.path() + "/data", {"--mode", "production"});
  HttpClient client(server.port());
  EXPECT_EQ(
      client
          .request("POST", "/sim/sms", R"({"from":"+14155552671","to":"+14155552672","body":"x"})")
          .status,
      404);
}

TEST_F(MessagingTest, TwoOfOurNumbersAreTwoConversations) {
  const std::string bobs_phone(call_json(bob_, "POST", "/v1/numbers", R"({"areaCode":"212"})")
                                   .at("phoneNumber")
                                   .as_string());
  ASSERT_EQ(inbound("+14155552671", phone_, "hi alice").status, 200);
  ASSERT_EQ(inbound("+14155552671", bobs_phone, "hi bob").status, 200);
  json::object alices = call_json(alice_, "GET", "/v1/conversations").as_object();
  json::object bobs = call_json(bob_, "GET", "/v1/conversations").as_object();
  ASSERT_EQ(alices.at("total"), 1);
  ASSERT_EQ(bobs.at("total"), 1);
  EXPECT_NE(alices.at("data").at(0).at("id"), bobs.at("data").at(0).at("id"));
  EXPECT_EQ(alices.at("data").at(0).at("lastMessagePreview"), "hi alice");
  EXPECT_EQ(bobs.at("data").at(0).at("lastMessagePreview"), "hi bob");
}

TEST_F(MessagingTest, CarrierReportsMoveStatusToDelivered) {
  json::object sent = send(R"("to_number":"+14155552671","body":"status please")");
  EXPECT_EQ(sent.at("status"), "queued");
  const std::string conversation(sent.at("conversation_id").as_string());
  json::object message = wait_for_status(conversation, "delivered");
  EXPECT_EQ(message.at("status"), "delivered") << json::serialize(message);
  EXPECT_TRUE(message.at("errorCode").is_null());
  json::object numbered =
      call_json(alice_, "GET", "/v1/numbers/" + number_id_ + "/messages?limit=1").as_object();
  EXPECT_EQ(numbered.at("data").at(0).at("status"), "delivered");
  // Final statuses survive a restart, and nothing is sent again.
  server_->restart();
  EXPECT_EQ(wait_for_status(conversation, "delivered").at("status"), "delivered");
  json::object outbox = sim("GET", "/sim/outbox");
  EXPECT_EQ(outbox.at("data").as_array().size(), 1u);
  EXPECT_EQ(outbox.at("carrierAccepted"), 0);
}

TEST_F(MessagingTest, CarrierFaultsEndInFailedWithCarrierError) {
  sim("POST", "/sim/faults", R"({"to":"+14155550001","mode":"unreachable"})");
  sim("POST", "/sim/faults", R"({"to":"(415) 555-0002","mode":"reject"})");
  sim("POST", "/sim/faults", R"({"to":"+14155550003","mode":"delay","delayMs":1500})");
  EXPECT_EQ(sim("GET", "/sim/faults").at("data").as_array().size(), 3u);
  const std::string unreachable(
      send(R"("to_number":"+14155550001","body":"a")").at("conversation_id").as_string());
  const std::string rejected(
      send(R"("to_number":"+14155550002","body":"b")").at("conversation_id").as_string());
  const std::string slow(
      send(R"("to_number":"+14155550003","body":"c")").at("conversation_id").as_string());
  for (const std::string& conversation : {unreachable, rejected}) {
    json::object message = wait_for_status(conversation, "failed");
    EXPECT_EQ(message.at("status"), "failed") << json::serialize(message);
    EXPECT_EQ(message.at("errorCode"), "CARRIER_ERROR");
    EXPECT_TRUE(message.at("errorMessage").is_string());
  }
  EXPECT_EQ(wait_for_status(slow, "delivered").at("status"), "delivered");

  // Bad faults are refused; clearing restores normal delivery.
  HttpClient client(server_->port());
  EXPECT_EQ(
      client.request("POST", "/sim/faults", R"({"to":"+14155550004","mode":"explode"})").status,
      422);
  EXPECT_EQ(client.request("POST", "/sim/faults", R"({"to":"nope","mode":"reject"})").status, 422);
  EXPECT_EQ(
      client.request("POST", "/sim/faults", R"({"to":"+14155550004","mode":"delay","delayMs":-1})")
          .status,
      422);
  EXPECT_TRUE(sim("DELETE", "/sim/faults").at("data").as_array().empty());
  const std::string retry(
      send(R"("to_number":"+14155550001","body":"again")").at("conversation_id").as_string());
  EXPECT_EQ(wait_for_status(retry, "delivered").at("status"), "delivered");
}

TEST_F(MessagingTest, PendingMessagesAreResubmittedAfterKillNine) {
  // The carrier holds the message for 3 s; the server dies before it reports.
  sim("POST", "/sim/faults", R"({"to":"+14155550009","mode":"delay","delayMs":3000})");
  const std::string conversation(
      send(R"("to_number":"+14155550009","body":"survive")").at("conversation_id").as_string());
  server_->stop(SIGKILL);
  server_->start();
  // The fault was in memory and is gone; the resubmitted message goes through.
  json::object message = wait_for_status(conversation, "delivered");
  EXPECT_EQ(message.at("status"), "delivered") << json::serialize(message);
  EXPECT_EQ(sim("GET", "/sim/outbox").at("carrierAccepted"), 1);
}

TEST_F(MessagingTest, IdempotentRetriesSendOnce) {
  const std::string body =
      "{\"number_id\":\"" + number_id_ + "\",\"to_number\":\"+14155552671\",\"body\":\"once\"}";
  HttpResult first = send_with_key(alice_, "retry-1", body);
  ASSERT_EQ(first.status, 200) << first.body;
  HttpResult again = send_with_key(alice_, "retry-1", body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_NE(again.headers.find("Idempotent-Replayed: true"), std::string::npos) << again.headers;

  // The same key with another body is refused and writes nothing.
  const std::uint64_t head = log_head();
  HttpResult other = send_with_key(alice_, "retry-1", body.substr(0, body.size() - 6) + "twice\"}");
  EXPECT_EQ(other.status, 422) << other.body;
  EXPECT_NE(other.body.find("IDEMPOTENCY_KEY_REUSED"), std::string::npos);
  EXPECT_EQ(log_head(), head);
  // Keys belong to one account: bob's "retry-1" is his own.
  HttpClient client(server_->port());
  EXPECT_EQ(client
                .request("POST", "/v1/agents", R"({"name":"bobs"})",
                         {{"Authorization", "Bearer " + bob_.key}, {"Idempotency-Key", "retry-1"}})
                .status,
            200);
  // Oversized or non-printable keys are refused.
  EXPECT_EQ(send_with_key(alice_, std::string(256, 'k'), body).status, 400);
  EXPECT_EQ(send_with_key(alice_, "", body).status, 400);
  EXPECT_EQ(send_with_key(alice_, "has space", body).status, 400);

  // Kept across kill -9.
  server_->stop(SIGKILL);
  server_->start();
  HttpResult after = send_with_key(alice_, "retry-1", body);
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, first.body);

  const std::string conversation(json::parse(first.body).at("conversation_id").as_string());
  EXPECT_EQ(call_json(alice_, "GET", "/v1/conversations/" + conversation).at("messageCount"), 1);
  EXPECT_EQ(sim("GET", "/sim/outbox").at("data").as_array().size(), 1u);
}

TEST_F(MessagingTest, ConcurrentRetriesWithOneKeyWriteOnce) {
  const std::string body =
      "{\"number_id\":\"" + number_id_ + "\",\"to_number\":\"+14155552671\",\"body\":\"race\"}";
  std::atomic<int> ok{0}, in_progress{0}, other{0};
  std::set<std::string> ids;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      HttpResult r = send_with_key(alice_, "race-key", body);
      if (r.status == 200) {
        ++ok;
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(std::string(json::parse(r.body).at("id").as_string()));
      } else if (r.status == 409 &&
                 r.body.find("IDEMPOTENCY_REQUEST_IN_PROGRESS") != std::string::npos) {
        ++in_progress;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(ok.load(), 1);
  EXPECT_EQ(ids.size(), 1u);  // Every 200 names the same message.
  EXPECT_EQ(ok.load() + in_progress.load(), 8);
  EXPECT_EQ(sim("GET", "/sim/outbox").at("data").as_array().size(), 1u);
}

TEST_F(MessagingTest, IdempotencyKeyCoversOtherPosts) {
  HttpClient client(server_->port());
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Bearer " + alice_.key}, {"Idempotency-Key", "make-agent"}};
  HttpResult first = client.request("POST", "/v1/agents", R"({"name":"only one"})", headers);
  HttpResult second = client.request("POST", "/v1/agents", R"({"name":"only one"})", headers);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/agents").at("total"), 2);  // texter + this one.
  // A refused request claims nothing: fixing it and retrying with the key works.
  const std::vector<std::pair<std::string, std::string>> fix = {
      {"Authorization", "Bearer " + alice_.key}, {"Idempotency-Key", "fix-me"}};
  EXPECT_EQ(client.request("POST", "/v1/agents", R"({"name":""})", fix).status, 422);
  // Had the refusal claimed the key, another body would now get IDEMPOTENCY_KEY_REUSED.
  HttpResult fixed = client.request("POST", "/v1/agents", R"({"name":"fixed"})", fix);
  EXPECT_EQ(fixed.status, 200) << fixed.body;
  EXPECT_EQ(json::parse(fixed.body).at("name"), "fixed");
}

TEST_F(MessagingTest, SimCommandLineTextsAnAgentAndShowsTheOutbox) {
  const std::string server = "http://127.0.0.1:" + std::to_string(server_->port());
  auto run = [&](const std::string& args, std::string* out) {
    const std::string command = std::string(AP_BINARY) + " sim --server " + server + " " + args;
    FILE* pipe = popen(command.c_str(), "r");
    char chunk[4096];
    out->clear();
    while (pipe != nullptr && fgets(chunk, sizeof chunk, pipe) != nullptr) *out += chunk;
    return pipe == nullptr ? -1 : WEXITSTATUS(pclose(pipe));
  };
  std::string out;
  EXPECT_EQ(run("sms --from 4155552671 --to " + phone_ + " 'hello from the terminal'", &out), 0)
      << out;
  EXPECT_NE(out.find("conv_"), std::string::npos) << out;
  json::object list = call_json(alice_, "GET", "/v1/conversations").as_object();
  ASSERT_EQ(list.at("total"), 1);
  EXPECT_EQ(list.at("data").at(0).at("lastMessagePreview"), "hello from the terminal");
  EXPECT_NE(run("sms --from 4155552671 --to +12125550100 'nobody home' 2>&1", &out), 0);
  EXPECT_NE(out.find("404"), std::string::npos) << out;

  send(R"("to_number":"+14155552671","body":"agent says hi")");
  EXPECT_EQ(run("outbox", &out), 0);
  EXPECT_NE(out.find("agent says hi"), std::string::npos) << out;
  EXPECT_NE(out.find("+14155552671"), std::string::npos) << out;
}

}  // namespace
}  // namespace ap::test
