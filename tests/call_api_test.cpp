// Voice calls end to end, against the real binary: the sandbox phone
// (/sim/calls) dials our numbers and talks; a webhook-mode agent answers each
// caller turn over its webhook (JSON or NDJSON), a hosted agent with the
// built-in responder; the REST API reports, lists, ends, waits for and places
// calls; every ended call is reported as agent.call_ended; a kill -9 ends the
// calls it interrupted (platform_restart), and a live call keeps the voice
// mode it started with.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/api_fixture.hpp"
#include "tests/webhook_receiver.hpp"

namespace ap::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kCaller = "+14155550123";
constexpr const char* kHostedAgent =
    R"({"name":"Ada","voiceMode":"hosted","systemPrompt":"You are Ada, the front desk of Acme.",)"
    R"("beginMessage":"Hello {{name}}, Acme here."})";
// An inbound sandbox call fills no variables, and an unfilled {{name}} says nothing.
constexpr const char* kHostedGreeting = "Hello , Acme here.";

// One of our numbers and the agent that answers it.
struct Line {
  std::string agent, number_id, phone;
};

// (text, interim) of each line an agent spoke in one turn.
using Spoken = std::vector<std::pair<std::string, bool>>;
// (transcript, response) of each item of a call's transcripts; a silent
// turn's response is null.
using Turns = std::vector<std::pair<std::string, json::value>>;
// (role, content) of each line of an agent.call_ended transcript.
using Said = std::vector<std::pair<std::string, std::string>>;
// (role, text, interim) of each line of the sandbox phone's view of a call.
using PhoneLines = std::vector<std::tuple<std::string, std::string, bool>>;

Spoken spoken(const json::value& said) {
  Spoken out;
  for (const json::value& line : said.as_array()) {
    out.emplace_back(std::string(line.at("text").as_string()), line.at("interim").as_bool());
  }
  return out;
}

Turns turns(const json::value& items) {
  Turns out;
  for (const json::value& item : items.as_array()) {
    out.emplace_back(std::string(item.at("transcript").as_string()), item.at("response"));
  }
  return out;
}

Said said_in(const json::value& transcript) {
  Said out;
  for (const json::value& line : transcript.as_array()) {
    out.emplace_back(std::string(line.at("role").as_string()),
                     std::string(line.at("content").as_string()));
  }
  return out;
}

PhoneLines phone_lines(const json::value& call) {
  PhoneLines out;
  for (const json::value& line : call.at("lines").as_array()) {
    out.emplace_back(std::string(line.at("role").as_string()),
                     std::string(line.at("text").as_string()), line.at("interim").as_bool());
  }
  return out;
}

// A webhook answer of 200 with `body`.
ReceiverAnswer answer_with(std::string body, std::string content_type = "application/json") {
  ReceiverAnswer answer;
  answer.body = std::move(body);
  answer.content_type = std::move(content_type);
  return answer;
}

class CallApiTest : public ApiTest {
 protected:
  // Quick retries, so that an agent.call_ended whose first attempt fails still
  // arrives well within the tests' deadlines.
  std::vector<std::string> server_flags() const override {
    return {"--webhook-retry-base-ms", "50"};
  }

  // Alice's number is answered by a webhook-mode agent whose webhook is hook_.
  void SetUp() override {
    ApiTest::SetUp();
    line_ = make_line(alice_, R"({"name":"Front desk","voiceMode":"webhook"})");
    call_json(alice_, "POST", "/v1/agents/" + line_.agent + "/webhook", hook_config());
  }

  // Creates an agent from `agent_body` and gives it a 415 number. The sign-up
  // credit pays for one number, so each account has at most one line.
  Line make_line(const Account& who, const std::string& agent_body) {
    Line line;
    line.agent = std::string(call_json(who, "POST", "/v1/agents", agent_body).at("id").as_string());
    const json::object number =
        call_json(who, "POST", "/v1/numbers",
                  R"({"country":"US","areaCode":"415","agentId":")" + line.agent + "\"}")
            .as_object();
    line.number_id = std::string(number.at("id").as_string());
    line.phone = std::string(number.at("phoneNumber").as_string());
    return line;
  }

  // A webhook pointing at hook_. Five seconds is the shortest timeout allowed;
  // it keeps the one test of a late answer short.
  std::string hook_config() const { return "{\"url\":\"" + hook_.url() + "\",\"timeout\":5}"; }

  // From now on the agent's webhook answers `answer` to the caller's `words`.
  void when_caller_says(const std::string& words, ReceiverAnswer answer) {
    std::lock_guard<std::mutex> lock(replies_mu_);
    replies_[words] = std::move(answer);
  }

  // hook_'s policy: a voice turn gets the reply set for its transcript (an
  // empty 200 otherwise); every other event, e.g. agent.call_ended, a plain 200.
  // Answering by content, not by arrival order, keeps the tests independent
  // of when the background deliveries arrive.
  ReceiverAnswer answer_for(const ReceivedRequest& request) {
    const auto event = request.headers.find("x-webhook-event");
    if (event == request.headers.end() || event->second != "agent.message") return {};
    std::string words;
    try {
      words = std::string(json::parse(request.body).at("data").at("transcript").as_string());
    } catch (const std::exception&) {
      return {};
    }
    std::lock_guard<std::mutex> lock(replies_mu_);
    const auto reply = replies_.find(words);
    return reply == replies_.end() ? ReceiverAnswer{} : reply->second;
  }

  // The requests hook_ received with X-Webhook-Event `event`, in arrival order.
  std::vector<ReceivedRequest> events(const std::string& event) {
    std::vector<ReceivedRequest> out;
    for (ReceivedRequest& r : hook_.received()) {
      const auto header = r.headers.find("x-webhook-event");
      if (header != r.headers.end() && header->second == event) out.push_back(std::move(r));
    }
    return out;
  }

  // Waits for the agent.call_ended of `call` (it is delivered in the
  // background) and returns its body; an empty object when none came.
  json::object call_ended(const std::string& call) {
    json::object found;
    eventually([&] {
      for (const ReceivedRequest& r : events("agent.call_ended")) {
        json::object body = json::parse(r.body).as_object();
        if (body.at("data").at("callId") == call.c_str()) {
          found = std::move(body);
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // The sandbox phone takes no key, like /sim/sms.
  HttpResult sim(const std::string& method, const std::string& target,
                 const std::string& body = "") {
    HttpClient client(server_->port());
    return client.request(method, target, body);
  }

  json::value sim_json(const std::string& method, const std::string& target,
                       const std::string& body = "") {
    HttpResult r = sim(method, target, body);
    EXPECT_EQ(r.status, 200) << method << " " << target << " -> " << r.body;
    return json::parse(r.body);
  }

  // The sandbox phone calls `to` from `from`; the answer once it was picked up.
  json::object dial(const std::string& to, const std::string& from = kCaller) {
    return sim_json("POST", "/sim/calls", json::serialize(json::object{{"from", from}, {"to", to}}))
        .as_object();
  }

  // Dials alice's line and returns the call's id.
  std::string dial_alice(const std::string& from = kCaller) {
    const json::object dialled = dial(line_.phone, from);
    EXPECT_EQ(dialled.at("status"), "in-progress") << json::serialize(dialled);
    return std::string(dialled.at("callId").as_string());
  }

  // The caller says `text`; the answer comes once the agent's turn ended.
  HttpResult say_raw(const std::string& call, const std::string& text) {
    return sim("POST", "/sim/calls/" + call + "/say",
               json::serialize(json::object{{"text", text}}));
  }

  json::object say(const std::string& call, const std::string& text) {
    return sim_json("POST", "/sim/calls/" + call + "/say",
                    json::serialize(json::object{{"text", text}}))
        .as_object();
  }

  json::object get_call(const std::string& call, const std::string& query = "") {
    return call_json(alice_, "GET", "/v1/calls/" + call + query).as_object();
  }

  std::int64_t calls_total(const std::string& query = "") {
    return call_json(alice_, "GET", "/v1/calls" + query).at("total").to_number<std::int64_t>();
  }

  // Declared before hook_, whose policy reads them, so that they outlive it.
  std::mutex replies_mu_;
  std::map<std::string, ReceiverAnswer> replies_;
  // Stays up across server restarts, so the webhook URL stays valid.
  WebhookReceiver hook_{[this](const ReceivedRequest& r) { return answer_for(r); }};
  Line line_;
};

// ---- The transcript as an event stream ----------------------------------------

// Sends `raw` to the server and reads until it closes the connection (or
// 10 s pass): the whole of a streamed response.
std::string read_until_closed(int port, const std::string& raw) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size())) {
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) out.append(buffer, n);
  }
  ::close(fd);
  return out;
}

// The "event: …" names of an SSE text, in order, with each transcript
// event's transcript text: "transcript:<words>".
std::vector<std::string> sse_events(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = text.find("event: "); at != std::string::npos;
       at = text.find("event: ", at + 1)) {
    const std::string name = text.substr(at + 7, text.find('\n', at) - at - 7);
    const std::size_t data = text.find("data: ", at) + 6;
    const json::value body = json::parse(text.substr(data, text.find('\n', data) - data));
    out.push_back(name == "transcript"
                      ? "transcript:" + std::string(body.at("transcript").as_string())
                      : name + ":" + std::string(body.at("status").as_string()));
  }
  return out;
}

TEST_F(CallApiTest, TheTranscriptStreamReplaysFollowsAndEnds) {
  const Line bobs = make_line(bob_, kHostedAgent);
  const std::string id(dial(bobs.phone).at("callId").as_string());
  say(id, "first");
  const std::string request = "GET /v1/calls/" + id +
                              "/transcript/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Accept: text/event-stream\r\nAuthorization: Bearer " +
                              bob_.key + "\r\n\r\n";
  std::string live;
  std::thread reader([&] { live = read_until_closed(server_->port(), request); });
  // Give the stream time to replay what was said so far; then the call goes
  // on live (were the stream late, its replay would show the same).
  std::this_thread::sleep_for(200ms);
  say(id, "second");
  say(id, "bye");
  reader.join();
  EXPECT_NE(live.find("Content-Type: text/event-stream"), std::string::npos) << live;
  EXPECT_EQ(sse_events(live),
            (std::vector<std::string>{"transcript:", "transcript:first", "transcript:second",
                                      "transcript:bye", "ended:completed"}))
      << live;
  // Once the call is over the stream replays it all and ends at once.
  EXPECT_EQ(sse_events(read_until_closed(server_->port(), request)), sse_events(live));
  // Another account's call is not found, as everywhere.
  const HttpResult foreign = call(alice_, "GET", "/v1/calls/" + id + "/transcript/stream");
  EXPECT_EQ(foreign.status, 404);
}

TEST_F(CallApiTest, TheTerminalPhoneTalksToTheAgentAndHangsUp) {
  const Line bobs = make_line(bob_, kHostedAgent);
  const std::string command = "printf 'Is this Acme?\\n/hangup\\n' | " + std::string(AP_BINARY) +
                              " sim --server http://127.0.0.1:" + std::to_string(server_->port()) +
                              " call --to " + bobs.phone + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char chunk[4096];
  while (fgets(chunk, sizeof chunk, pipe) != nullptr) out += chunk;
  EXPECT_EQ(WEXITSTATUS(pclose(pipe)), 0) << out;
  EXPECT_NE(out.find(std::string("agent: ") + kHostedGreeting), std::string::npos) << out;
  EXPECT_NE(out.find("agent: You said: Is this Acme?. How else can I help?"), std::string::npos)
      << out;
  EXPECT_NE(out.find("ended: completed (user_hangup)"), std::string::npos) << out;
}

// ---- One conversation for texts and calls ------------------------------------

TEST_F(CallApiTest, CallsThreadIntoTheConversationBesideTexts) {
  // The caller texts first, then calls: the voice turn's history holds the
  // text, and afterwards a text's history holds the call.
  sim_json(
      "POST", "/sim/sms",
      json::serialize(json::object{{"from", kCaller}, {"to", line_.phone}, {"body", "Texted"}}));
  ASSERT_TRUE(eventually([&] { return events("agent.message").size() == 1; }));
  when_caller_says("On the phone now", answer_with(R"({"text":"I see your text"})"));
  const std::string call = dial_alice();
  say(call, "On the phone now");
  const std::vector<ReceivedRequest> turns = events("agent.message");
  ASSERT_EQ(turns.size(), 2u);
  const json::value turn = json::parse(turns[1].body);
  const json::array& history = turn.at("recentHistory").as_array();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].at("content"), "Texted");
  EXPECT_EQ(history[0].at("channel"), "sms");
  EXPECT_EQ(history[1].at("content"), "On the phone now");
  EXPECT_EQ(history[1].at("channel"), "voice");
  sim("POST", "/sim/calls/" + call + "/hangup");

  sim_json(
      "POST", "/sim/sms",
      json::serialize(json::object{{"from", kCaller}, {"to", line_.phone}, {"body", "Thanks"}}));
  ASSERT_TRUE(eventually([&] { return events("agent.message").size() == 3; }));
  const json::value text = json::parse(events("agent.message")[2].body);
  std::vector<std::string> seen;
  for (const json::value& item : text.at("recentHistory").as_array()) {
    seen.push_back(std::string(item.at("channel").as_string()) + ":" +
                   std::string(item.at("content").as_string()));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"sms:Texted", "voice:On the phone now",
                                            "voice:I see your text", "sms:Thanks"}));

  // The conversation lists both kinds; the number's message list only texts.
  const std::string conversation = std::string(text.at("data").at("conversationId").as_string());
  const json::object listed =
      call_json(alice_, "GET", "/v1/conversations/" + conversation).as_object();
  EXPECT_EQ(listed.at("messageCount"), 4);
  const json::value numbers =
      call_json(alice_, "GET", "/v1/numbers/" + line_.number_id + "/messages");
  EXPECT_EQ(numbers.at("data").as_array().size(), 2u);
}

// ---- Webhook-mode turns ----------------------------------------------------

TEST_F(CallApiTest, WebhookAgentSpeaksItsAnswerAndTheCallRecordsTheTurn) {
  when_caller_says("hello", answer_with(R"({"text":"Hi there"})"));
  const json::object dialled = dial(line_.phone);
  EXPECT_EQ(dialled.at("status"), "in-progress");
  EXPECT_TRUE(dialled.at("said").as_array().empty());  // A webhook agent has no greeting.
  const std::string id(dialled.at("callId").as_string());
  EXPECT_EQ(id.rfind("call_", 0), 0u);

  const json::object turn = say(id, "hello");
  EXPECT_EQ(spoken(turn.at("said")), (Spoken{{"Hi there", false}}));
  EXPECT_EQ(turn.at("hangup"), false);
  EXPECT_EQ(turn.at("status"), "in-progress");

  // The turn went to the agent's webhook as a signed voice agent.message;
  // /say answered after the webhook did, so it has already arrived.
  const std::vector<ReceivedRequest> sent = events("agent.message");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].headers.at("x-webhook-signature").rfind("sha256=", 0), 0u);
  EXPECT_EQ(sent[0].headers.count("x-webhook-id"), 1u);
  const json::object body = json::parse(sent[0].body).as_object();
  EXPECT_EQ(body.at("event"), "agent.message");
  EXPECT_EQ(body.at("channel"), "voice");
  EXPECT_TRUE(body.at("timestamp").is_string());
  EXPECT_EQ(body.at("agentId"), line_.agent.c_str());
  EXPECT_TRUE(body.at("conversationState").is_null());
  EXPECT_TRUE(body.at("recentHistory").is_array());
  const json::object& data = body.at("data").as_object();
  EXPECT_EQ(data.at("callId"), id.c_str());
  EXPECT_EQ(data.at("numberId"), line_.number_id.c_str());
  EXPECT_EQ(data.at("from"), kCaller);
  EXPECT_EQ(data.at("to"), line_.phone.c_str());
  EXPECT_EQ(data.at("status"), "in-progress");
  EXPECT_EQ(data.at("transcript"), "hello");
  EXPECT_TRUE(data.at("confidence").is_number());
  EXPECT_EQ(data.at("direction"), "inbound");

  // The REST view of the live call.
  const json::object call = get_call(id);
  EXPECT_EQ(call.at("id"), id.c_str());
  EXPECT_EQ(call.at("agentId"), line_.agent.c_str());
  EXPECT_EQ(call.at("phoneNumberId"), line_.number_id.c_str());
  EXPECT_EQ(call.at("phoneNumber"), line_.phone.c_str());
  EXPECT_EQ(call.at("fromNumber"), kCaller);
  EXPECT_EQ(call.at("toNumber"), line_.phone.c_str());
  EXPECT_EQ(call.at("direction"), "inbound");
  EXPECT_EQ(call.at("status"), "in-progress");
  EXPECT_EQ(call.at("voiceMode"), "webhook");
  EXPECT_TRUE(call.at("startedAt").is_string());
  for (const char* unset : {"endedAt", "durationSeconds", "disconnectionReason", "recordingUrl"}) {
    EXPECT_TRUE(call.at(unset).is_null()) << unset;
  }
  EXPECT_EQ(call.at("recordingAvailable"), false);
  EXPECT_EQ(turns(call.at("transcripts")), (Turns{{"hello", "Hi there"}}));
  const json::object& item = call.at("transcripts").at(0).as_object();
  EXPECT_TRUE(item.at("id").is_string());
  EXPECT_TRUE(item.at("confidence").is_number());
  EXPECT_TRUE(item.at("createdAt").is_string());

  const json::object phone = sim_json("GET", "/sim/calls/" + id).as_object();
  EXPECT_EQ(phone.at("callId"), id.c_str());
  EXPECT_EQ(phone.at("status"), "in-progress");
  EXPECT_EQ(phone_lines(phone),
            (PhoneLines{{"caller", "hello", false}, {"agent", "Hi there", false}}));

  // Voice turns are in the delivery history with the SMS ones.
  EXPECT_TRUE(eventually([&] {
    const json::value page = call_json(alice_, "GET", "/v1/webhooks/deliveries");
    for (const json::value& delivery : page.at("items").as_array()) {
      if (delivery.at("channel") == "voice" && delivery.at("eventType") == "agent.message") {
        return true;
      }
    }
    return false;
  }));
}

TEST_F(CallApiTest, StreamedAnswerSpeaksInterimLinesFirst) {
  when_caller_says(
      "where is my order",
      answer_with("{\"text\":\"One moment\",\"interim\":true}\n{\"text\":\"Found it\"}\n",
                  "application/x-ndjson"));
  const std::string id = dial_alice();
  const json::object turn = say(id, "where is my order");
  EXPECT_EQ(spoken(turn.at("said")), (Spoken{{"One moment", true}, {"Found it", false}}));
  EXPECT_EQ(turn.at("hangup"), false);
  EXPECT_EQ(turn.at("status"), "in-progress");
  // One caller utterance is one transcripts item; its response joins the lines.
  EXPECT_EQ(turns(get_call(id).at("transcripts")),
            (Turns{{"where is my order", "One moment Found it"}}));
  EXPECT_EQ(phone_lines(sim_json("GET", "/sim/calls/" + id)),
            (PhoneLines{{"caller", "where is my order", false},
                        {"agent", "One moment", true},
                        {"agent", "Found it", false}}));
}

// A streaming endpoint's interim line is spoken while the rest of its answer
// is still on the way: the phone hears it before the final line is sent.
TEST_F(CallApiTest, InterimLinesAreSpokenBeforeTheAnswerEnds) {
  ReceiverAnswer streamed;
  streamed.content_type = "application/x-ndjson";
  streamed.pieces = {{0, "{\"text\":\"Let me check\",\"interim\":true}\n"},
                     {1500, "{\"text\":\"All done\"}\n"}};
  when_caller_says("check my order", streamed);
  const std::string id = dial_alice();
  json::object turn;
  std::thread caller([&] { turn = say(id, "check my order"); });
  // Well before the final line leaves the endpoint, the first is heard.
  const bool heard_early =
      eventually([&] { return phone_lines(sim_json("GET", "/sim/calls/" + id)).size() == 2; });
  const auto early = std::chrono::steady_clock::now();
  caller.join();
  const auto done = std::chrono::steady_clock::now();
  EXPECT_TRUE(heard_early);
  EXPECT_GT(done - early, 500ms) << "the interim line was heard only with the final one";
  EXPECT_EQ(phone_lines(sim_json("GET", "/sim/calls/" + id)),
            (PhoneLines{{"caller", "check my order", false},
                        {"agent", "Let me check", true},
                        {"agent", "All done", false}}));
  EXPECT_EQ(spoken(turn.at("said")), (Spoken{{"Let me check", true}, {"All done", false}}));
  EXPECT_EQ(turns(get_call(id).at("transcripts")),
            (Turns{{"check my order", "Let me check All done"}}));
}

// An answer the server cannot speak makes the turn silent; the call goes on
// and the next good answer is spoken.
TEST_F(CallApiTest, UnusableAnswersAreSilentTurnsAndTheCallGoesOn) {
  ReceiverAnswer server_error = answer_with(R"({"text":"An error page"})");
  server_error.status = 500;
  const std::vector<std::pair<std::string, ReceiverAnswer>> unusable = {
      {"an array please", answer_with("[1,2]")},
      {"a string please", answer_with(R"("hello")")},
      {"broken json please", answer_with(R"({"text":)")},
      {"a server error please", server_error},
  };
  for (const auto& [words, answer] : unusable) when_caller_says(words, answer);
  when_caller_says("are you still there", answer_with(R"({"text":"Yes"})"));
  const std::string id = dial_alice();

  Turns expected;
  for (const auto& [words, answer] : unusable) {
    const json::object turn = say(id, words);
    EXPECT_TRUE(turn.at("said").as_array().empty()) << words << ": " << json::serialize(turn);
    EXPECT_EQ(turn.at("hangup"), false) << words;
    EXPECT_EQ(turn.at("status"), "in-progress") << words;
    expected.emplace_back(words, nullptr);
  }
  EXPECT_EQ(spoken(say(id, "are you still there").at("said")), (Spoken{{"Yes", false}}));
  expected.emplace_back("are you still there", "Yes");
  const json::object call = get_call(id);
  EXPECT_EQ(call.at("status"), "in-progress");
  EXPECT_EQ(turns(call.at("transcripts")), expected);
}

// The webhook's timeout (5 s here) bounds a turn: a later answer is never
// spoken, and the call is still there for the next turn.
TEST_F(CallApiTest, AnAnswerLaterThanTheWebhookTimeoutIsASilentTurn) {
  ReceiverAnswer late = answer_with(R"({"text":"Too late"})");
  late.delay_ms = 6500;
  when_caller_says("anyone there", late);
  when_caller_says("hello", answer_with(R"({"text":"Hi there"})"));
  const std::string id = dial_alice();

  const auto start = std::chrono::steady_clock::now();
  const json::object turn = say(id, "anyone there");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 6500ms) << "/say waited for the late answer";
  EXPECT_TRUE(turn.at("said").as_array().empty()) << json::serialize(turn);
  EXPECT_EQ(turn.at("status"), "in-progress");
  EXPECT_EQ(spoken(say(id, "hello").at("said")), (Spoken{{"Hi there", false}}));

  // Wait until the late answer has come, then check it was dropped. (hook_
  // would wait for it anyway when the test ends.)
  std::this_thread::sleep_until(start + 7000ms);
  EXPECT_EQ(phone_lines(sim_json("GET", "/sim/calls/" + id)),
            (PhoneLines{{"caller", "anyone there", false},
                        {"caller", "hello", false},
                        {"agent", "Hi there", false}}));
  const json::object call = get_call(id);
  EXPECT_EQ(call.at("status"), "in-progress");
  EXPECT_EQ(turns(call.at("transcripts")),
            (Turns{{"anyone there", nullptr}, {"hello", "Hi there"}}));
}

// ---- How calls end ---------------------------------------------------------

TEST_F(CallApiTest, TheAgentCanHangUpOrTransfer) {
  when_caller_says("hello", answer_with(R"({"text":"Hi there"})"));
  when_caller_says("that is all", answer_with(R"({"text":"Bye","hangup":true})"));
  when_caller_says("put me through", answer_with(R"({"action":"transfer"})"));

  const std::string id = dial_alice();
  say(id, "hello");
  const json::object last = say(id, "that is all");
  EXPECT_EQ(spoken(last.at("said")), (Spoken{{"Bye", false}}));
  EXPECT_EQ(last.at("hangup"), true);
  EXPECT_EQ(last.at("status"), "completed");
  const json::object ended = get_call(id);
  EXPECT_EQ(ended.at("status"), "completed");
  EXPECT_EQ(ended.at("disconnectionReason"), "agent_hangup");
  EXPECT_TRUE(ended.at("endedAt").is_string());
  EXPECT_TRUE(ended.at("durationSeconds").is_number());
  expect_error(say_raw(id, "hello?"), 409, "CALL_NOT_LIVE");
  const json::object report = call_ended(id);
  ASSERT_FALSE(report.empty()) << "no agent.call_ended for " << id;
  EXPECT_EQ(report.at("data").at("disconnectionReason"), "agent_hangup");
  EXPECT_EQ(
      said_in(report.at("data").at("transcript")),
      (Said{{"user", "hello"}, {"agent", "Hi there"}, {"user", "that is all"}, {"agent", "Bye"}}));

  const std::string transferred = dial_alice();
  const json::object turn = say(transferred, "put me through");
  EXPECT_EQ(turn.at("status"), "completed") << json::serialize(turn);
  const json::object call = get_call(transferred);
  EXPECT_EQ(call.at("disconnectionReason"), "transfer");
  EXPECT_TRUE(call.at("endedAt").is_string());
  expect_error(say_raw(transferred, "hello?"), 409, "CALL_NOT_LIVE");
}

TEST_F(CallApiTest, CallerHangupEndsTheCallAndReportsIt) {
  when_caller_says("hello", answer_with(R"({"text":"Hi there"})"));
  const std::string id = dial_alice();
  say(id, "hello");
  const json::object hung_up = sim_json("POST", "/sim/calls/" + id + "/hangup").as_object();
  EXPECT_EQ(hung_up.at("status"), "completed");
  EXPECT_EQ(hung_up.at("disconnectionReason"), "user_hangup");
  EXPECT_EQ(sim_json("GET", "/sim/calls/" + id).at("status"), "completed");
  expect_error(sim("POST", "/sim/calls/" + id + "/hangup"), 409, "CALL_NOT_LIVE");
  expect_error(say_raw(id, "hello?"), 409, "CALL_NOT_LIVE");

  const json::object report = call_ended(id);
  ASSERT_FALSE(report.empty()) << "no agent.call_ended for " << id;
  const std::vector<ReceivedRequest> sent = events("agent.call_ended");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].headers.at("x-webhook-signature").rfind("sha256=", 0), 0u);
  EXPECT_EQ(report.at("event"), "agent.call_ended");
  EXPECT_EQ(report.at("channel"), "voice");
  EXPECT_EQ(report.at("agentId"), line_.agent.c_str());
  const json::object& data = report.at("data").as_object();
  EXPECT_EQ(data.at("numberId"), line_.number_id.c_str());
  EXPECT_EQ(data.at("from"), kCaller);
  EXPECT_EQ(data.at("to"), line_.phone.c_str());
  EXPECT_EQ(data.at("direction"), "inbound");
  EXPECT_EQ(data.at("status"), "completed");
  EXPECT_EQ(data.at("disconnectionReason"), "user_hangup");
  EXPECT_TRUE(data.at("startedAt").is_string());
  EXPECT_TRUE(data.at("endedAt").is_string());
  EXPECT_TRUE(data.at("durationSeconds").is_number());
  for (const char* unset : {"contact", "summary", "userSentiment", "callSuccessful"}) {
    EXPECT_TRUE(data.at(unset).is_null()) << unset;
  }
  EXPECT_EQ(said_in(data.at("transcript")), (Said{{"user", "hello"}, {"agent", "Hi there"}}));
  // The REST view agrees with the report.
  const json::object call = get_call(id);
  EXPECT_EQ(call.at("disconnectionReason"), "user_hangup");
  EXPECT_TRUE(call.at("endedAt").is_string());
}

TEST_F(CallApiTest, AWebhookAgentWithoutAWebhookFailsTheCall) {
  // Bob has neither an agent webhook nor a project webhook.
  const Line bobs = make_line(bob_, R"({"name":"Unhooked","voiceMode":"webhook"})");
  const json::object dialled = dial(bobs.phone);
  EXPECT_EQ(dialled.at("status"), "failed");
  const std::string id(dialled.at("callId").as_string());
  const json::object call = call_json(bob_, "GET", "/v1/calls/" + id).as_object();
  EXPECT_EQ(call.at("status"), "failed");
  EXPECT_EQ(call.at("disconnectionReason"), "webhook_unavailable");
  expect_error(say_raw(id, "hello?"), 409, "CALL_NOT_LIVE");
}

TEST_F(CallApiTest, TheSandboxPhoneRefusesUnknownNumbersCallersAndCalls) {
  expect_error(sim("POST", "/sim/calls", R"({"from":"+14155550123","to":"+12125550199"})"), 404,
               "PHONE_NUMBER_NOT_FOUND");
  EXPECT_EQ(sim("POST", "/sim/calls",
                json::serialize(json::object{{"from", "not a number"}, {"to", line_.phone}}))
                .status,
            422);
  EXPECT_EQ(say_raw("call_nope", "hello").status, 404);
  EXPECT_EQ(sim("POST", "/sim/calls/call_nope/hangup").status, 404);
  EXPECT_EQ(sim("GET", "/sim/calls/call_nope").status, 404);
  EXPECT_EQ(call(alice_, "GET", "/v1/calls/call_nope").status, 404);
  EXPECT_EQ(calls_total(), 0);  // Nothing refused left a call behind.
}

// ---- Hosted mode -----------------------------------------------------------

TEST_F(CallApiTest, HostedAgentGreetsAnswersAndSaysGoodbye) {
  // Bob's hosted agent has no agent webhook: its call_ended goes to his
  // project webhook.
  const Line bobs = make_line(bob_, kHostedAgent);
  call_json(bob_, "POST", "/v1/webhooks", hook_config());
  const json::object dialled = dial(bobs.phone);
  EXPECT_EQ(dialled.at("status"), "in-progress");
  EXPECT_EQ(spoken(dialled.at("said")), (Spoken{{kHostedGreeting, false}}));
  const std::string id(dialled.at("callId").as_string());

  const json::object answer = say(id, "I need a plumber");
  EXPECT_EQ(spoken(answer.at("said")),
            (Spoken{{"You said: I need a plumber. How else can I help?", false}}));
  EXPECT_EQ(answer.at("hangup"), false);
  EXPECT_EQ(answer.at("status"), "in-progress");
  const json::object goodbye = say(id, "Great, Bye now");  // "bye" in any case ends it.
  EXPECT_EQ(spoken(goodbye.at("said")), (Spoken{{"Thank you for calling. Goodbye!", false}}));
  EXPECT_EQ(goodbye.at("hangup"), true);
  EXPECT_EQ(goodbye.at("status"), "completed");

  const json::object call = call_json(bob_, "GET", "/v1/calls/" + id).as_object();
  EXPECT_EQ(call.at("voiceMode"), "hosted");
  EXPECT_EQ(call.at("status"), "completed");
  EXPECT_EQ(call.at("disconnectionReason"), "agent_hangup");
  EXPECT_EQ(turns(call.at("transcripts")),
            (Turns{{"", kHostedGreeting},
                   {"I need a plumber", "You said: I need a plumber. How else can I help?"},
                   {"Great, Bye now", "Thank you for calling. Goodbye!"}}));

  const json::object report = call_ended(id);
  ASSERT_FALSE(report.empty()) << "no agent.call_ended for " << id;
  EXPECT_EQ(report.at("agentId"), bobs.agent.c_str());
  EXPECT_EQ(said_in(report.at("data").at("transcript")),
            (Said{{"agent", kHostedGreeting},
                  {"user", "I need a plumber"},
                  {"agent", "You said: I need a plumber. How else can I help?"},
                  {"user", "Great, Bye now"},
                  {"agent", "Thank you for calling. Goodbye!"}}));
  EXPECT_TRUE(events("agent.message").empty());  // A hosted agent needs no webhook turns.
}

// ---- The REST API ----------------------------------------------------------

TEST_F(CallApiTest, EndingOverRestWakesAWaitingClient) {
  when_caller_says("hello", answer_with(R"({"text":"Hi there"})"));
  const std::string id = dial_alice();
  say(id, "hello");
  const json::object live = get_call(id);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/calls/" + id + "/transcript").at("data"),
            live.at("transcripts"));

  // A client waits for the end; meanwhile a short wait on the live call
  // answers when its timeout passes, with the call still in progress. (A
  // jthread, so that a failure that throws still joins it.)
  HttpResult waited;
  std::chrono::steady_clock::duration waited_for{};
  std::jthread waiter([&] {
    const auto start = std::chrono::steady_clock::now();
    waited = call(alice_, "GET", "/v1/calls/" + id + "?wait=true&timeout=30");
    waited_for = std::chrono::steady_clock::now() - start;
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(get_call(id, "?wait=true&timeout=1").at("status"), "in-progress");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);

  const json::object ended = call_json(alice_, "POST", "/v1/calls/" + id + "/end").as_object();
  EXPECT_EQ(ended.at("status"), "completed");
  EXPECT_EQ(ended.at("disconnectionReason"), "agent_hangup");
  waiter.join();
  ASSERT_EQ(waited.status, 200) << waited.body;
  EXPECT_EQ(json::parse(waited.body).at("status"), "completed");
  EXPECT_LT(waited_for, 10s) << "the waiting client was not woken by the end";

  expect_error(call(alice_, "POST", "/v1/calls/" + id + "/end"), 409, "CALL_NOT_LIVE");
  expect_error(say_raw(id, "hello?"), 409, "CALL_NOT_LIVE");
  EXPECT_EQ(call(alice_, "GET", "/v1/calls/" + id + "?wait=true&timeout=0").status, 422);
  EXPECT_EQ(call(alice_, "GET", "/v1/calls/" + id + "?wait=true&timeout=301").status, 422);
}

TEST_F(CallApiTest, CallListsFilterPageAndStayWithinTheAccount) {
  const std::vector<std::string> callers = {"+13105550111", "+13105550122", "+13105550133"};
  std::vector<std::string> ids;
  for (const std::string& caller : callers) {
    ids.push_back(dial_alice(caller));
    std::this_thread::sleep_for(3ms);  // Distinct start times give a definite order.
  }
  sim_json("POST", "/sim/calls/" + ids[1] + "/hangup");

  const json::object all = call_json(alice_, "GET", "/v1/calls").as_object();
  EXPECT_EQ(all.at("total"), 3);
  EXPECT_EQ(all.at("hasMore"), false);
  ASSERT_EQ(all.at("data").as_array().size(), 3u);
  EXPECT_EQ(all.at("data").at(0).at("id"), ids[2].c_str());  // Newest first.
  EXPECT_EQ(all.at("data").at(2).at("id"), ids[0].c_str());
  for (const json::value& summary : all.at("data").as_array()) {
    EXPECT_FALSE(summary.as_object().contains("transcripts"));
  }
  const json::object first = call_json(alice_, "GET", "/v1/calls?limit=2").as_object();
  EXPECT_EQ(first.at("data").as_array().size(), 2u);
  EXPECT_EQ(first.at("hasMore"), true);
  EXPECT_EQ(first.at("total"), 3);
  const json::object rest = call_json(alice_, "GET", "/v1/calls?limit=2&offset=2").as_object();
  ASSERT_EQ(rest.at("data").as_array().size(), 1u);
  EXPECT_EQ(rest.at("data").at(0).at("id"), ids[0].c_str());
  EXPECT_EQ(rest.at("hasMore"), false);

  const json::object completed = call_json(alice_, "GET", "/v1/calls?status=completed").as_object();
  EXPECT_EQ(completed.at("total"), 1);
  EXPECT_EQ(completed.at("data").at(0).at("id"), ids[1].c_str());
  EXPECT_EQ(calls_total("?status=in-progress"), 2);
  EXPECT_EQ(calls_total("?direction=inbound"), 3);
  EXPECT_EQ(calls_total("?direction=outbound"), 0);
  const json::object found = call_json(alice_, "GET", "/v1/calls?search=3105550122").as_object();
  EXPECT_EQ(found.at("total"), 1);
  EXPECT_EQ(found.at("data").at(0).at("id"), ids[1].c_str());
  EXPECT_EQ(calls_total("?search=" + line_.phone.substr(2)), 3);  // Our number is every toNumber.
  EXPECT_EQ(call(alice_, "GET", "/v1/calls?limit=0").status, 422);
  EXPECT_EQ(call(alice_, "GET", "/v1/calls?limit=101").status, 422);

  for (const std::string& path :
       {"/v1/agents/" + line_.agent + "/calls", "/v1/numbers/" + line_.number_id + "/calls"}) {
    const json::object page = call_json(alice_, "GET", path).as_object();
    EXPECT_EQ(page.at("total"), 3) << path;
    EXPECT_EQ(page.at("data").as_array().size(), 3u) << path;
    EXPECT_EQ(page.at("hasMore"), false) << path;
    EXPECT_EQ(call(bob_, "GET", path).status, 404) << path;
  }
  EXPECT_EQ(call(alice_, "GET", "/v1/agents/agt_nope/calls").status, 404);
  EXPECT_EQ(call(alice_, "GET", "/v1/numbers/num_nope/calls").status, 404);

  // Bob sees none of it and can end none of it.
  EXPECT_EQ(call_json(bob_, "GET", "/v1/calls").at("total"), 0);
  EXPECT_EQ(call(bob_, "GET", "/v1/calls/" + ids[0]).status, 404);
  EXPECT_EQ(call(bob_, "GET", "/v1/calls/" + ids[0] + "/transcript").status, 404);
  EXPECT_EQ(call(bob_, "POST", "/v1/calls/" + ids[0] + "/end").status, 404);
  EXPECT_EQ(get_call(ids[0]).at("status"), "in-progress");
}

// ---- Outbound calls --------------------------------------------------------

TEST_F(CallApiTest, OutboundCallGreetsAndIsDrivenLikeAnInboundOne) {
  const std::string greeting = "Hi, this is Acme calling about your order.";
  when_caller_says("Who is this?", answer_with(R"({"text":"Acme, about your order"})"));
  const json::object placed =
      call_json(alice_, "POST", "/v1/calls",
                json::serialize(json::object{{"agentId", line_.agent},
                                             {"toNumber", "+14155550177"},
                                             {"initialGreeting", greeting}}))
          .as_object();
  const std::string id(placed.at("id").as_string());
  EXPECT_EQ(placed.at("direction"), "outbound");
  EXPECT_EQ(placed.at("status"), "in-progress");  // The sandbox callee answers at once.
  EXPECT_EQ(placed.at("agentId"), line_.agent.c_str());
  EXPECT_EQ(placed.at("phoneNumberId"), line_.number_id.c_str());
  EXPECT_EQ(placed.at("fromNumber"), line_.phone.c_str());
  EXPECT_EQ(placed.at("toNumber"), "+14155550177");
  EXPECT_EQ(turns(placed.at("transcripts")), (Turns{{"", greeting.c_str()}}));

  // The simulated callee talks back; the agent's webhook answers.
  EXPECT_EQ(spoken(say(id, "Who is this?").at("said")),
            (Spoken{{"Acme, about your order", false}}));
  const std::vector<ReceivedRequest> sent = events("agent.message");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(json::parse(sent[0].body).at("data").at("callId"), id.c_str());
  EXPECT_EQ(turns(get_call(id).at("transcripts")),
            (Turns{{"", greeting.c_str()}, {"Who is this?", "Acme, about your order"}}));
  EXPECT_EQ(calls_total("?direction=outbound"), 1);
}

TEST_F(CallApiTest, OutboundCallsThatCannotBePlacedOrAnswered) {
  const std::string numberless(
      call_json(alice_, "POST", "/v1/agents", R"({"name":"Numberless","voiceMode":"webhook"})")
          .at("id")
          .as_string());
  auto place = [&](const Account& who, const std::string& agent, const std::string& to) {
    return call(who, "POST", "/v1/calls",
                json::serialize(json::object{{"agentId", agent}, {"toNumber", to}}));
  };
  // Refused calls are never created.
  EXPECT_EQ(place(alice_, "agt_nope", "+14155550177").status, 404);
  EXPECT_EQ(place(bob_, line_.agent, "+14155550177").status, 404);
  // An emergency number, an N11 area code and an N11 exchange.
  for (const char* to : {"911", "+14115550100", "+14155110100"}) {
    const HttpResult r = place(alice_, line_.agent, to);
    EXPECT_GE(r.status, 400) << to << " -> " << r.body;
    EXPECT_LT(r.status, 500) << to << " -> " << r.body;
    EXPECT_NE(r.body.find("\"detail\""), std::string::npos) << to << " -> " << r.body;
  }
  expect_error(place(alice_, numberless, "+14155550177"), 400, "AGENT_HAS_NO_NUMBER");
  EXPECT_EQ(calls_total(), 0);

  // A callee that is busy, or a call the carrier fails, ends at once.
  sim_json("POST", "/sim/faults", R"({"to":"+14155550188","mode":"busy"})");
  sim_json("POST", "/sim/faults", R"({"to":"+14155550199","mode":"fail"})");
  const HttpResult busy = place(alice_, line_.agent, "+14155550188");
  ASSERT_EQ(busy.status, 200) << busy.body;
  EXPECT_EQ(json::parse(busy.body).at("status"), "busy");
  const HttpResult failed = place(alice_, line_.agent, "+14155550199");
  ASSERT_EQ(failed.status, 200) << failed.body;
  EXPECT_EQ(json::parse(failed.body).at("status"), "failed");
  EXPECT_EQ(calls_total(), 2);
  EXPECT_EQ(calls_total("?status=in-progress"), 0);
}

// ---- Restarts and changes of mode ------------------------------------------

// Nobody is on the line after a crash: the interrupted call ends when the
// server starts again, and its end is reported like any other.
TEST_F(CallApiTest, KillNineEndsTheLiveCallWithPlatformRestart) {
  when_caller_says("hello", answer_with(R"({"text":"Hi there"})"));
  const std::string id = dial_alice();
  say(id, "hello");
  server_->stop(SIGKILL);
  server_->start();

  const json::object call = get_call(id, "?wait=true&timeout=10");
  EXPECT_EQ(call.at("status"), "completed");
  EXPECT_EQ(call.at("disconnectionReason"), "platform_restart");
  EXPECT_TRUE(call.at("endedAt").is_string());
  EXPECT_EQ(turns(call.at("transcripts")), (Turns{{"hello", "Hi there"}}));
  expect_error(say_raw(id, "hello?"), 409, "CALL_NOT_LIVE");

  const json::object report = call_ended(id);
  ASSERT_FALSE(report.empty()) << "no agent.call_ended for " << id;
  EXPECT_EQ(report.at("data").at("status"), "completed");
  EXPECT_EQ(report.at("data").at("disconnectionReason"), "platform_restart");
  EXPECT_EQ(said_in(report.at("data").at("transcript")),
            (Said{{"user", "hello"}, {"agent", "Hi there"}}));
}

TEST_F(CallApiTest, ALiveCallKeepsItsModeWhenTheAgentSwitchesToHosted) {
  when_caller_says("still you?", answer_with(R"({"text":"Still me"})"));
  const std::string before = dial_alice();
  call_json(alice_, "PATCH", "/v1/agents/" + line_.agent,
            R"({"voiceMode":"hosted","systemPrompt":"You are Ada, the front desk of Acme."})");

  // The live call still takes its turns to the webhook.
  EXPECT_EQ(spoken(say(before, "still you?").at("said")), (Spoken{{"Still me", false}}));
  ASSERT_EQ(events("agent.message").size(), 1u);
  sim_json("POST", "/sim/calls/" + before + "/hangup");

  // A new call is hosted.
  const std::string after = dial_alice();
  EXPECT_EQ(spoken(say(after, "I need a plumber").at("said")),
            (Spoken{{"You said: I need a plumber. How else can I help?", false}}));
  EXPECT_EQ(events("agent.message").size(), 1u);  // No webhook turn for the hosted call.
  EXPECT_EQ(get_call(before).at("voiceMode"), "webhook");
  EXPECT_EQ(get_call(after).at("voiceMode"), "hosted");
}

// ---- Hosted mode on an OpenAI-compatible model ----------------------------------

// A stand-in for a chat-completions endpoint: it streams its answer as
// server-sent events, the first sentence at once and the rest 800 ms later.
class HostedLlmTest : public CallApiTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--webhook-retry-base-ms",
            "50",
            "--llm-url",
            "http://127.0.0.1:" + std::to_string(model_.port()) + "/v1/chat/completions",
            "--llm-key",
            "sk-test-model",
            "--llm-model-for",
            "max=big-model"};
  }

  static ReceiverAnswer stream_answer() {
    ReceiverAnswer answer;
    answer.content_type = "text/event-stream";
    answer.pieces = {{0,
                      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
                      "data: {\"choices\":[{\"delta\":{\"content\":\"Sure thing! Your \"}}]}\n\n"},
                     {800,
                      "data: {\"choices\":[{\"delta\":{\"content\":\"order ships today.\"}}]}\n\n"
                      "data: [DONE]\n\n"}};
    return answer;
  }

  WebhookReceiver model_{[](const ReceivedRequest&) { return stream_answer(); }};
};

TEST_F(HostedLlmTest, TheModelsFirstSentenceIsSpokenBeforeItsAnswerEnds) {
  const Line bobs = make_line(
      bob_, R"({"name":"Max","voiceMode":"hosted","modelTier":"max",)"
            R"("systemPrompt":"You are Max of Acme.","beginMessage":"Acme, Max speaking."})");
  const std::string id(dial(bobs.phone).at("callId").as_string());
  json::object turn;
  std::thread caller([&] { turn = say(id, "Where is my order?"); });
  const bool heard_early =
      eventually([&] { return phone_lines(sim_json("GET", "/sim/calls/" + id)).size() == 3; });
  const auto early = std::chrono::steady_clock::now();
  caller.join();
  EXPECT_TRUE(heard_early);
  EXPECT_GT(std::chrono::steady_clock::now() - early, 400ms)
      << "the first sentence was heard only with the whole answer";
  EXPECT_EQ(spoken(turn.at("said")),
            (Spoken{{"Sure thing!", true}, {"Your order ships today.", false}}));
  EXPECT_EQ(turn.at("status"), "in-progress");

  // The model was asked as chat completions are: streamed, with the tier's
  // model, the key, the system prompt, the call so far and the new line.
  const std::vector<ReceivedRequest> asked = model_.received();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].headers.at("authorization"), "Bearer sk-test-model");
  const json::value body = json::parse(asked[0].body);
  EXPECT_EQ(body.at("model"), "big-model");
  EXPECT_EQ(body.at("stream"), true);
  EXPECT_EQ(body.at("messages"),
            json::parse(R"([{"role":"system","content":"You are Max of Acme."},)"
                        R"({"role":"assistant","content":"Acme, Max speaking."},)"
                        R"({"role":"user","content":"Where is my order?"}])"));
}

}  // namespace
}  // namespace ap::test
