// The pure deciders, without CAF, a log or a clock.
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "actors/account.hpp"
#include "actors/agent.hpp"
#include "actors/conversation.hpp"
#include "actors/number.hpp"
#include "actors/sms.hpp"
#include "actors/webhook.hpp"
#include "sim/carrier.hpp"
#include "sim/virtual_ports.hpp"
#include "tests/sequential_ids.hpp"

namespace ap::domain {
namespace {

using test::SequentialIds;

Context context_at(std::int64_t now_ms) {
  static SequentialIds ids;
  static sim::SeededEntropy entropy(1);
  Context context;
  context.now_ms = now_ms;
  context.ids = &ids;
  context.entropy = &entropy;
  return context;
}

const std::vector<Event>& events_of(const Decision& decision) {
  if (auto* error = std::get_if<DomainError>(&decision)) {
    ADD_FAILURE() << "unexpected error: " << error->message;
  }
  static const std::vector<Event> kNone;
  return std::holds_alternative<Outcome>(decision) ? std::get<Outcome>(decision).events : kNone;
}

AgentState created_agent(json::object body) {
  AgentState state;
  state.id = "agt_1";
  Decision d = decide_agent(state, {"agent.create", "acct_1", std::move(body)}, context_at(5000));
  for (const Event& e : events_of(d)) evolve_agent(state, e.type, e.data);
  return state;
}

TEST(AgentDecider, CreateFillsDefaultsAndRecordsTheTime) {
  AgentState state = created_agent({{"name", "Support"}});
  ASSERT_TRUE(state.exists);
  EXPECT_EQ(state.created_at_ms, 5000);
  EXPECT_EQ(state.config.at("voiceMode"), "webhook");
  EXPECT_EQ(state.config.at("voice"), default_voice_id());
  EXPECT_EQ(state.config.at("maxSilenceMs"), 600000);
  EXPECT_TRUE(state.config.at("description").is_null());
  json::object wire = agent_to_wire(state);
  EXPECT_EQ(wire.at("id"), "agt_1");
  EXPECT_EQ(wire.at("createdAt"), "1970-01-01T00:00:05.000Z");
}

TEST(AgentDecider, ValidationReportsEveryBadFieldWithFastApiTypes) {
  AgentState state;
  state.id = "agt_1";
  Decision d = decide_agent(state,
                            {"agent.create",
                             "acct_1",
                             {{"voiceMode", "robot"},
                              {"maxSilenceMs", 5},
                              {"voiceSpeed", "fast"},
                              {"language", "xx-XX"},
                              {"enableMessaging", "yes"}}},
                            context_at(0));
  ASSERT_TRUE(std::holds_alternative<DomainError>(d));
  const DomainError& error = std::get<DomainError>(d);
  EXPECT_EQ(error.kind, ErrorKind::kValidation);
  std::map<std::string, std::string> types;
  for (const FieldError& f : error.fields) types[f.field] = f.type;
  EXPECT_EQ(types["name"], "missing");
  EXPECT_EQ(types["voiceMode"], "enum");
  EXPECT_EQ(types["maxSilenceMs"], "greater_than_equal");
  EXPECT_EQ(types["voiceSpeed"], "float_type");
  EXPECT_EQ(types["language"], "enum");
  EXPECT_EQ(types["enableMessaging"], "bool_type");
}

TEST(AgentDecider, HostedModeNeedsASystemPrompt) {
  AgentState state;
  state.id = "agt_1";
  Decision d = decide_agent(
      state, {"agent.create", "acct_1", {{"name", "x"}, {"voiceMode", "hosted"}}}, context_at(0));
  ASSERT_TRUE(std::holds_alternative<DomainError>(d));
  EXPECT_EQ(std::get<DomainError>(d).fields.at(0).field, "systemPrompt");

  AgentState agent = created_agent({{"name", "x"}});
  Decision patch =
      decide_agent(agent, {"agent.update", "acct_1", {{"voiceMode", "hosted"}}}, context_at(0));
  ASSERT_TRUE(std::holds_alternative<DomainError>(patch));
}

TEST(AgentDecider, UpdateRecordsOnlyRealChangesAndTheVoiceModeSwitch) {
  AgentState agent = created_agent({{"name", "x"}, {"description", "d"}});
  Decision same = decide_agent(agent, {"agent.update", "acct_1", {{"name", "x"}}}, context_at(0));
  EXPECT_TRUE(events_of(same).empty());
  Decision d = decide_agent(
      agent,
      {"agent.update",
       "acct_1",
       {{"voiceMode", "hosted"}, {"systemPrompt", "Be kind"}, {"description", nullptr}}},
      context_at(0));
  const auto& events = events_of(d);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "agent.updated");
  EXPECT_EQ(events[1].type, "agent.voice_mode_changed");
  EXPECT_EQ(events[1].data.at("from"), "webhook");
  for (const Event& e : events) evolve_agent(agent, e.type, e.data);
  EXPECT_TRUE(agent.config.at("description").is_null());
  EXPECT_EQ(agent.config.at("name"), "x");
}

TEST(AgentDecider, ForeignAndDeletedAgentsAreNotFound) {
  AgentState agent = created_agent({{"name", "x"}});
  Decision foreign = decide_agent(agent, {"agent.delete", "acct_2", {}}, context_at(0));
  EXPECT_EQ(std::get<DomainError>(foreign).kind, ErrorKind::kNotFound);
  Decision removal = decide_agent(agent, {"agent.delete", "acct_1", {}}, context_at(0));
  for (const Event& e : events_of(removal)) evolve_agent(agent, e.type, e.data);
  Decision again = decide_agent(agent, {"agent.update", "acct_1", {{"name", "y"}}}, context_at(0));
  EXPECT_EQ(std::get<DomainError>(again).kind, ErrorKind::kNotFound);
}

AccountState created_account() {
  AccountState state;
  state.id = "acct_1";
  Decision d =
      decide_account(state,
                     {"account.create",
                      "acct_1",
                      {{"email", "a@b.co"}, {"keyPrefix", "sk_live_abcd"}, {"keySha256", "ff"}}},
                     context_at(0));
  for (const Event& e : events_of(d)) evolve_account(state, e.type, e.data);
  return state;
}

Decision provision(const AccountState& state, int n, std::int64_t funds_micros) {
  Context context = context_at(0);
  context.port_answer = {{"phoneNumber", "+1415200010" + std::to_string(n % 10)}};
  context.funds_micros = funds_micros;
  return decide_account(state, {"number.provision", "acct_1", {{"country", "US"}}}, context);
}

TEST(AccountDecider, ProvisioningNeedsTheFirstPeriodAndRespectsTheNumberCap) {
  AccountState account = created_account();
  ASSERT_EQ(account.keys.size(), 1u);
  // The host reserved $3.00: the number is provisioned and charged.
  Decision provisioned = provision(account, 1, 3 * kMicrosPerDollar);
  const auto& first = events_of(provisioned);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].type, "account.number_charged");
  EXPECT_EQ(first[0].data.at("amountMicros").as_int64(), 3 * kMicrosPerDollar);
  const std::string number_id(first[1].data.at("numberId").as_string());
  EXPECT_EQ(number_id.rfind("num_", 0), 0u);
  EXPECT_EQ(first[1].stream, number_stream(number_id));
  EXPECT_TRUE(first[1].new_stream);
  EXPECT_EQ(first[1].data.at("paidUntilMs").as_int64(), 30LL * 24 * 3600 * 1000);
  EXPECT_EQ(first[2].stream, phone_stream("+14152000101"));
  for (const Event& e : first) {
    if (e.stream.empty()) evolve_account(account, e.type, e.data);
  }
  // One micro-dollar short of a period is refused for balance.
  Decision second = provision(account, 2, 3 * kMicrosPerDollar - 1);
  EXPECT_EQ(std::get<DomainError>(second).code, "INSUFFICIENT_BALANCE");

  account.active_numbers = kSelfServeNumberLimit;
  EXPECT_EQ(std::get<DomainError>(provision(account, 3, 100 * kMicrosPerDollar)).code,
            "VALIDATION_ERROR_NUMBER_LIMIT");
}

TEST(AccountDecider, RevokedKeysCannotBeRevokedAgain) {
  AccountState account = created_account();
  const std::string key_id = account.keys.begin()->first;
  Decision d =
      decide_account(account, {"account.revoke_key", "acct_1", {{"keyId", key_id}}}, context_at(0));
  for (const Event& e : events_of(d)) evolve_account(account, e.type, e.data);
  EXPECT_TRUE(account.keys[key_id].revoked);
  Decision again =
      decide_account(account, {"account.revoke_key", "acct_1", {{"keyId", key_id}}}, context_at(0));
  EXPECT_EQ(std::get<DomainError>(again).kind, ErrorKind::kNotFound);
}

TEST(NumberDecider, AttachDetachAndReleaseIsFinal) {
  NumberState number;
  number.id = "num_1";
  evolve_number(number, "number.provisioned",
                {{"accountId", "acct_1"},
                 {"phoneNumber", "+14152000100"},
                 {"country", "US"},
                 {"agentId", nullptr},
                 {"createdAtMs", 1}});
  auto apply = [&](const Decision& d) {
    for (const Event& e : events_of(d)) {
      if (e.stream.empty()) evolve_number(number, e.type, e.data);
    }
  };
  apply(decide_number(number, {"number.attach", "acct_1", {{"agentId", "agt_1"}}}, context_at(0)));
  EXPECT_EQ(number.agent_id, "agt_1");
  Decision wrong =
      decide_number(number, {"number.detach", "acct_1", {{"agentId", "agt_2"}}}, context_at(0));
  EXPECT_EQ(std::get<DomainError>(wrong).kind, ErrorKind::kNotFound);
  Decision release = decide_number(number, {"number.release", "acct_1", {}}, context_at(0));
  ASSERT_EQ(events_of(release).size(), 2u);
  EXPECT_EQ(events_of(release)[1].stream, account_stream("acct_1"));
  apply(release);
  EXPECT_EQ(number.status, "released");
  Decision attach =
      decide_number(number, {"number.attach", "acct_1", {{"agentId", "agt_1"}}}, context_at(0));
  EXPECT_EQ(std::get<DomainError>(attach).code, "NUMBER_RELEASED");
  Decision foreign = decide_number(number, {"number.release", "acct_2", {}}, context_at(0));
  EXPECT_EQ(std::get<DomainError>(foreign).code, "PHONE_NUMBER_NOT_FOUND");
}

TEST(Nanp, NormalizesAndRejects) {
  EXPECT_EQ(normalize_nanp("+1 (415) 555-2671"), "+14155552671");
  EXPECT_EQ(normalize_nanp("415.555.2671"), "+14155552671");
  EXPECT_EQ(normalize_nanp("14155552671"), "+14155552671");
  EXPECT_EQ(normalize_nanp("+44 20 7946 0958"), "");
  EXPECT_EQ(normalize_nanp("+11155552671"), "");  // Area code cannot start with 1.
  EXPECT_EQ(normalize_nanp("4111552671"), "");    // N11 area code.
  EXPECT_EQ(normalize_nanp("415555267"), "");
  EXPECT_EQ(normalize_nanp("415-555-267a"), "");
}

TEST(Iso8601, RoundTripsAndParsesOffsets) {
  std::int64_t ms = 0;
  ASSERT_TRUE(parse_iso8601("2026-11-28T12:00:00.250Z", &ms));
  EXPECT_EQ(iso8601(ms), "2026-11-28T12:00:00.250Z");
  ASSERT_TRUE(parse_iso8601("2026-11-28T13:00:00+01:00", &ms));
  EXPECT_EQ(iso8601(ms), "2026-11-28T12:00:00.000Z");
  EXPECT_FALSE(parse_iso8601("yesterday", &ms));
  EXPECT_FALSE(parse_iso8601("2026-13-01T00:00:00Z", &ms));
}

TEST(SimCarrier, DeterministicUniqueAndBounded) {
  std::set<std::string> taken;
  sim::ManualClock clock(0);
  sim::VirtualTimers timers(clock);
  sim::SimCarrier carrier([&](const std::string& n) { return taken.count(n) > 0; }, timers,
                          {.per_area_code = 3});
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    NumberOffer offer = carrier.offer_number("US", "212");
    ASSERT_TRUE(offer.ok) << offer.message;
    EXPECT_EQ(normalize_nanp(offer.phone_number), offer.phone_number);
    EXPECT_EQ(offer.phone_number.substr(0, 5), "+1212");
    taken.insert(offer.phone_number);
    got.push_back(offer.phone_number);
  }
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 3u);
  NumberOffer exhausted = carrier.offer_number("US", "212");
  EXPECT_FALSE(exhausted.ok);
  EXPECT_EQ(exhausted.code, "AREA_CODE_EXHAUSTED");
  EXPECT_EQ(carrier.offer_number("US", "416").code, "AREA_CODE_UNAVAILABLE");  // Toronto.
  EXPECT_TRUE(carrier.offer_number("CA", "416").ok);
  EXPECT_EQ(carrier.offer_number("US", "999").code, "AREA_CODE_UNAVAILABLE");
  // A fresh carrier over the same claims offers the same next number.
  sim::SimCarrier again([&](const std::string& n) { return taken.count(n) > 0; }, timers,
                        {.per_area_code = 5});
  EXPECT_EQ(again.offer_number("US", "212").phone_number, "+12122000103");
}

}  // namespace
}  // namespace ap::domain

namespace ap::domain {
namespace {

struct SegmentCase {
  std::string body;
  SmsEncoding encoding;
  std::size_t units;
  std::size_t segments;
};

// Conversation previews are the first 100 characters; cutting bytes instead
// once produced invalid UTF-8 that no JSON reader accepts (found by sim run).
TEST(Utf8Prefix, NeverSplitsACharacter) {
  const std::string text = std::string(99, 'a') + "\xc5\x82" + "b";  // 99 + "ł" + "b".
  EXPECT_EQ(domain::utf8_prefix(text, 100), std::string(99, 'a') + "\xc5\x82");
  EXPECT_EQ(domain::utf8_prefix(text, 99), std::string(99, 'a'));
  EXPECT_EQ(domain::utf8_prefix("\xf0\x9f\x98\x80x", 1), "\xf0\x9f\x98\x80");
  EXPECT_EQ(domain::utf8_prefix("short", 100), "short");
  EXPECT_EQ(domain::utf8_prefix("", 3), "");
}

// Malformed UTF-8: a lead byte without its continuation bytes is one U+FFFD
// and never swallows the character after it, so the character limit, the
// segment count and the preview all count alike (found by fuzz_sms: the
// preview of "\xdb\xdb…" held twice the characters code_points counted).
TEST(Utf8Prefix, MalformedTextCountsOneCharacterPerBadByte) {
  EXPECT_EQ(domain::code_points("\xc3"
                                "A"),
            2u);
  EXPECT_EQ(domain::code_points("\xdb\xdb\xc3"), 3u);
  EXPECT_EQ(domain::utf8_prefix("\xdb\xdb\xc3", 1), "\xdb");
  EXPECT_EQ(domain::utf8_prefix("\x80\x80"
                                "ab",
                                2),
            "\x80\x80");
  EXPECT_EQ(domain::count_segments("\xc3"
                                   "A")
                .units,
            2u);
}

TEST(SmsSegments, Gsm7AndUcs2Boundaries) {
  const std::vector<SegmentCase> cases = {
      {"", SmsEncoding::kGsm7, 0, 0},
      {"hello", SmsEncoding::kGsm7, 5, 1},
      {std::string(160, 'a'), SmsEncoding::kGsm7, 160, 1},
      {std::string(161, 'a'), SmsEncoding::kGsm7, 161, 2},
      {std::string(306, 'a'), SmsEncoding::kGsm7, 306, 2},
      {std::string(307, 'a'), SmsEncoding::kGsm7, 307, 3},
      {std::string(159, 'a') + "€", SmsEncoding::kGsm7, 161, 2},  // € takes two septets.
      {std::string(158, 'a') + "{", SmsEncoding::kGsm7, 160, 1},
      {"Ça coûte 5£ à Zürich", SmsEncoding::kUcs2, 20, 1},  // û is not GSM-7.
      {"Ça va? 5£ à Zürich", SmsEncoding::kGsm7, 18, 1},    // Ç, £, à, ü are.
      {std::string(69, 'a') + "é", SmsEncoding::kGsm7, 70, 1},
      {std::string(69, 'a') + "ê", SmsEncoding::kUcs2, 70, 1},
      {std::string(70, 'a') + "ê", SmsEncoding::kUcs2, 71, 2},
      {std::string(133, 'a') + "ê", SmsEncoding::kUcs2, 134, 2},
      {std::string(134, 'a') + "ê", SmsEncoding::kUcs2, 135, 3},
      {"hi 😀", SmsEncoding::kUcs2, 5, 1},  // Outside the BMP: two UTF-16 units.
  };
  for (const SegmentCase& c : cases) {
    const SmsSegments got = count_segments(c.body);
    EXPECT_EQ(got.encoding, c.encoding) << c.body;
    EXPECT_EQ(got.units, c.units) << c.body;
    EXPECT_EQ(got.segments, c.segments) << c.body;
  }
  EXPECT_EQ(code_points("Zürich 😀"), 8u);
}

json::object message_args(const std::string& body) {
  return {{"numberId", "num_1"},
          {"phoneNumber", "+14152000100"},
          {"participant", "+14155552671"},
          {"agentId", nullptr},
          {"body", body},
          {"mediaUrls", json::array()},
          {"segments", 1}};
}

TEST(ConversationDecider, FirstMessageStartsTheThreadEitherWay) {
  ConversationState conversation;
  conversation.id = conversation_id_for("num_1", "+14155552671");
  EXPECT_EQ(conversation.id, conversation_id_for("num_1", "+14155552671"));
  EXPECT_NE(conversation.id, conversation_id_for("num_2", "+14155552671"));
  Decision first = decide_conversation(
      conversation, {"conversation.receive", "acct_1", message_args("hi")}, context_at(10));
  const auto& events = events_of(first);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "conversation.started");
  EXPECT_EQ(events[1].type, "message.received");
  // No webhook configured: the delivery is recorded as skipped, in its own stream.
  EXPECT_EQ(events[2].type, "webhook.delivery_skipped");
  EXPECT_EQ(events[2].stream, delivery_stream(delivery_id_for(
                                  "agent.message", events[1].data.at("messageId").as_string())));
  EXPECT_TRUE(events[2].new_stream);
  EXPECT_EQ(events[1].data.at("from"), "+14155552671");
  EXPECT_EQ(events[1].data.at("direction"), "inbound");
  for (const Event& e : events) evolve_conversation(conversation, e.type, e.data);
  Decision reply = decide_conversation(
      conversation, {"conversation.send", "acct_1", message_args("hello")}, context_at(20));
  ASSERT_EQ(events_of(reply).size(), 1u);
  EXPECT_EQ(events_of(reply)[0].type, "message.queued");
  EXPECT_EQ(events_of(reply)[0].data.at("to"), "+14155552671");
  EXPECT_EQ(events_of(reply)[0].data.at("status"), "queued");
  Decision foreign = decide_conversation(
      conversation, {"conversation.update", "acct_2", {{"metadata", nullptr}}}, context_at(0));
  EXPECT_EQ(std::get<DomainError>(foreign).kind, ErrorKind::kNotFound);
}

// Applies `decision`'s events and returns how many there were.
std::size_t apply_all(ConversationState& conversation, const Decision& decision) {
  for (const Event& e : events_of(decision)) evolve_conversation(conversation, e.type, e.data);
  return events_of(decision).size();
}

TEST(ConversationDecider, CarrierReportsMoveStatusForwardOnly) {
  ConversationState conversation;
  conversation.id = "conv_1";
  apply_all(conversation,
            decide_conversation(conversation, {"conversation.send", "acct_1", message_args("a")},
                                context_at(0)));
  ASSERT_EQ(conversation.pending.size(), 1u);
  const std::string id = conversation.pending.begin()->first;
  auto report = [&](const char* status) {
    return decide_conversation(
        conversation, {"conversation.status", "acct_1", {{"messageId", id}, {"status", status}}},
        context_at(5));
  };
  EXPECT_EQ(std::get<DomainError>(report("read")).kind, ErrorKind::kValidation);
  Decision sent = report("sent");
  ASSERT_EQ(events_of(sent).size(), 1u);
  EXPECT_EQ(events_of(sent)[0].type, "message.status_updated");
  EXPECT_TRUE(events_of(sent)[0].data.at("errorCode").is_null());
  apply_all(conversation, sent);
  EXPECT_EQ(apply_all(conversation, report("sent")), 0u);  // Repeated report.
  EXPECT_EQ(apply_all(conversation, report("delivered")), 1u);
  EXPECT_TRUE(conversation.pending.empty());
  EXPECT_EQ(apply_all(conversation, report("failed")), 0u);  // Late: delivered is final.
  EXPECT_EQ(apply_all(conversation, report("sent")), 0u);

  // A failure straight from queued carries CARRIER_ERROR unless told otherwise.
  apply_all(conversation,
            decide_conversation(conversation, {"conversation.send", "acct_1", message_args("b")},
                                context_at(9)));
  const std::string second = conversation.pending.begin()->first;
  Decision failed = decide_conversation(
      conversation,
      {"conversation.status", "acct_1", {{"messageId", second}, {"status", "failed"}}},
      context_at(10));
  ASSERT_EQ(events_of(failed).size(), 1u);
  EXPECT_EQ(events_of(failed)[0].data.at("errorCode"), "CARRIER_ERROR");
  EXPECT_TRUE(events_of(failed)[0].data.at("errorMessage").is_string());
  // Reports about another account's conversation are refused.
  EXPECT_EQ(std::get<DomainError>(
                decide_conversation(
                    conversation,
                    {"conversation.status", "acct_2", {{"messageId", second}, {"status", "sent"}}},
                    context_at(10)))
                .kind,
            ErrorKind::kNotFound);
}

TEST(ConversationDecider, MetadataIsReplacedClearedAndBounded) {
  ConversationState conversation;
  conversation.id = "conv_1";
  EXPECT_EQ(std::get<DomainError>(
                decide_conversation(
                    conversation, {"conversation.update", "acct_1", {{"metadata", json::object()}}},
                    context_at(0)))
                .kind,
            ErrorKind::kNotFound);
  Decision start = decide_conversation(
      conversation, {"conversation.receive", "acct_1", message_args("hi")}, context_at(0));
  for (const Event& e : events_of(start)) evolve_conversation(conversation, e.type, e.data);
  Decision set = decide_conversation(
      conversation, {"conversation.update", "acct_1", {{"metadata", {{"stage", "lead"}}}}},
      context_at(0));
  for (const Event& e : events_of(set)) evolve_conversation(conversation, e.type, e.data);
  EXPECT_EQ(conversation.metadata.at("stage"), "lead");
  Decision same = decide_conversation(
      conversation, {"conversation.update", "acct_1", {{"metadata", {{"stage", "lead"}}}}},
      context_at(0));
  EXPECT_TRUE(events_of(same).empty());
  Decision clear = decide_conversation(
      conversation, {"conversation.update", "acct_1", {{"metadata", nullptr}}}, context_at(0));
  for (const Event& e : events_of(clear)) evolve_conversation(conversation, e.type, e.data);
  EXPECT_TRUE(conversation.metadata.is_null());
  Decision big =
      decide_conversation(conversation,
                          {"conversation.update",
                           "acct_1",
                           {{"metadata", {{"blob", std::string(kMaxMetadataBytes, 'x')}}}}},
                          context_at(0));
  EXPECT_EQ(std::get<DomainError>(big).fields.at(0).type, "too_long");
}

// ---- Webhooks ----------------------------------------------------------------

TEST(WebhookUrl, ProductionAndSandboxRules) {
  WebhookUrl url;
  EXPECT_EQ(parse_webhook_url("https://hooks.example.com/in?x=1#frag", true, &url), "");
  EXPECT_EQ(url.host, "hooks.example.com");
  EXPECT_EQ(url.port, "443");
  EXPECT_EQ(url.target, "/in?x=1");
  EXPECT_EQ(parse_webhook_url("https://[2001:db8::1]:8443", true, &url), "");
  EXPECT_EQ(url.host, "2001:db8::1");
  EXPECT_EQ(url.port, "8443");
  EXPECT_EQ(url.target, "/");
  struct Case {
    const char* url;
    bool production_ok, sandbox_ok;
  };
  for (const Case& c : std::vector<Case>{
           {"http://hooks.example.com/", false, true},
           {"http://127.0.0.1:8080/hook", false, true},
           {"https://localhost/x", false, true},
           {"https://10.0.0.8/x", false, true},
           {"https://172.31.255.255/x", false, true},
           {"https://172.32.0.1/x", true, true},
           {"https://192.168.0.1/x", false, true},
           {"https://100.64.0.1/x", false, true},
           {"https://169.254.169.254/latest/meta-data", false, false},
           {"https://[fe80::1]/x", false, false},
           {"https://[fd00:ec2::254]/x", false, false},
           {"https://[::ffff:10.0.0.1]/x", false, true},
           {"https://0.0.0.0/x", false, false},
           {"https://user:pw@hooks.example.com/x", false, false},
           {"ftp://hooks.example.com/x", false, false},
           {"https://hooks.example.com:0/x", false, false},
           {"https://hooks.example.com:70000/x", false, false},
           {"https:///x", false, false},
           {"hooks.example.com/x", false, false},
           {"https://hooks.example.com/a b", false, false},
           {"https://2130706433/x", false, false},
           {"https://0x7f.1/x", false, false},
           {"https://127.1/x", false, false},
           {"https://[64:ff9b::a9fe:a9fe]/x", false, false},
           {"https://[64:ff9b::808:808]/x", true, true},
           {"https://[2002:a00:1::]/x", false, true},
           {"https://[::10.0.0.1]/x", false, true},
           {"https://198.18.0.1/x", false, true},
       }) {
    EXPECT_EQ(parse_webhook_url(c.url, true, &url).empty(), c.production_ok) << c.url;
    EXPECT_EQ(parse_webhook_url(c.url, false, &url).empty(), c.sandbox_ok) << c.url;
  }
  EXPECT_NE(forbidden_address_reason("127.0.0.1", true), "");
  EXPECT_EQ(forbidden_address_reason("127.0.0.1", false), "");
  EXPECT_NE(forbidden_address_reason("169.254.169.254", false), "");
  EXPECT_EQ(forbidden_address_reason("93.184.216.34", true), "");
  EXPECT_NE(forbidden_address_reason("::1", true), "");
}

TEST(WebhookSignature, MatchesAnIndependentHmac) {
  // From Python: hmac.new(b"whsec_test-secret", b'1700000000.{"event":"agent.message"}', sha256).
  EXPECT_EQ(webhook_signature("whsec_test-secret", "1700000000", R"({"event":"agent.message"})"),
            "sha256=f1c5cba7b6f4967d35285ec501ae66c47b91204d17f2d2aeb67ce077cd41e1e1");
}

TEST(WebhookDecider, NewSecretEveryTimeSameIdAndBounds) {
  WebhookState hook;
  hook.id = project_webhook_entity("acct_1");
  auto set = [&](json::object extra, const char*) {
    json::object args{
        {"webhookId", "wh_new"}, {"agentId", nullptr}, {"url", "https://x.example/h"}};
    for (auto& [k, v] : extra) args[k] = v;
    return decide_webhook(hook, {"webhook.set", "acct_1", args}, context_at(1000));
  };
  Decision first = set({}, "whsec_1");
  for (const Event& e : events_of(first)) evolve_webhook(hook, e.type, e.data);
  EXPECT_EQ(hook.config.at("contextLimit"), kDefaultContextLimit);
  EXPECT_EQ(hook.config.at("timeout"), kDefaultWebhookTimeoutS);
  Decision second = set({{"contextLimit", 0}}, "whsec_2");
  ASSERT_EQ(events_of(second).size(), 1u);
  EXPECT_EQ(events_of(second)[0].data.at("config").at("id"), "wh_new");
  // A fresh secret on every set: whsec_ and 48 hex digits, never the previous one.
  const std::string secret(events_of(second)[0].data.at("config").at("secret").as_string());
  EXPECT_EQ(secret.size(), 6u + 48u);
  EXPECT_EQ(secret.rfind("whsec_", 0), 0u);
  EXPECT_NE(json::value(secret), events_of(first)[0].data.at("config").at("secret"));
  EXPECT_EQ(events_of(second)[0].data.at("config").at("createdAt"), hook.config.at("createdAt"));
  EXPECT_EQ(std::get<DomainError>(set({{"contextLimit", 51}}, "s")).kind, ErrorKind::kValidation);
  EXPECT_EQ(std::get<DomainError>(set({{"timeout", 4}}, "s")).kind, ErrorKind::kValidation);
  EXPECT_EQ(
      std::get<DomainError>(decide_webhook(hook, {"webhook.delete", "acct_2", {}}, context_at(0)))
          .kind,
      ErrorKind::kNotFound);
}

TEST(DeliveryDecider, RetriesOnScheduleThenFails) {
  DeliveryState delivery;
  delivery.id = delivery_id_for("agent.message", "msg_1");
  EXPECT_EQ(delivery.id, delivery_id_for("agent.message", "msg_1"));
  const Event created = delivery_event(
      delivery.id, "acct_1", json::object{{"entity", "project-acct_1"}, {"webhookId", "wh_1"}},
      nullptr, "agent.message", "sms", "msg_1", "conv_1", "{}", 0);
  EXPECT_EQ(created.type, "webhook.delivery_created");
  evolve_delivery(delivery, created.type, created.data);
  EXPECT_EQ(delivery.status, "pending");
  auto attempt = [&](int n, json::value status, std::int64_t now) {
    return decide_delivery(delivery,
                           {"delivery.attempt",
                            "acct_1",
                            {{"attempt", n},
                             {"httpStatus", status},
                             {"error", nullptr},
                             {"responseBody", "nope"},
                             {"durationMs", 3},
                             {"retryAfterMs", nullptr},
                             {"retryBaseMs", 1000}}},
                           context_at(now));
  };
  EXPECT_TRUE(events_of(attempt(2, 500, 0)).empty());  // Not the next attempt.
  std::int64_t previous_delay = 0;
  for (int n = 1; n <= kMaxDeliveryAttempts; ++n) {
    Decision d = attempt(n, 500, 10'000);
    ASSERT_EQ(events_of(d).size(), 1u) << n;
    const json::object& data = events_of(d)[0].data;
    if (n < kMaxDeliveryAttempts) {
      EXPECT_EQ(data.at("status"), "pending");
      const std::int64_t delay = data.at("nextRetryAtMs").as_int64() - 10'000;
      EXPECT_EQ(delay, retry_delay_ms(delivery.id, n, 1000, 0));
      EXPECT_GT(delay, previous_delay);  // Exponential: ×4 beats ±20 % jitter.
      previous_delay = delay;
    } else {
      EXPECT_EQ(data.at("status"), "failed");
      EXPECT_TRUE(data.at("nextRetryAtMs").is_null());
    }
    evolve_delivery(delivery, events_of(d)[0].type, data);
  }
  EXPECT_TRUE(events_of(attempt(7, 200, 0)).empty());  // Final stays final.
  // The schedule: 1 s, 4 s, 16 s, 64 s, 256 s, each ±20 %; Retry-After wins when longer.
  for (int n = 1; n <= 5; ++n) {
    const std::int64_t nominal = 1000LL << (2 * (n - 1));
    const std::int64_t delay = retry_delay_ms("whd_x", n, 1000, 0);
    EXPECT_GE(delay, nominal * 8 / 10) << n;
    EXPECT_LT(delay, nominal * 12 / 10) << n;
  }
  EXPECT_EQ(retry_delay_ms("whd_x", 1, 1000, 30'000), 30'000);
  EXPECT_EQ(retry_delay_ms("whd_x", 1, 1000, 10'000'000), kMaxRetryDelayMs);
}

// A delivery put off for want of room waits longer each time, spends no
// attempt, and stays pending; a deferral of an attempt already made, or of a
// final delivery, changes nothing.
TEST(DeliveryDecider, ADeferralWaitsLongerEachTimeAndSpendsNoAttempt) {
  DeliveryState delivery;
  delivery.id = delivery_id_for("agent.message", "msg_2");
  const Event created = delivery_event(
      delivery.id, "acct_1", json::object{{"entity", "project-acct_1"}, {"webhookId", "wh_1"}},
      nullptr, "agent.message", "sms", "msg_2", "conv_1", "{}", 0);
  evolve_delivery(delivery, created.type, created.data);
  auto defer = [&](int attempt, std::int64_t now) {
    return decide_delivery(delivery,
                           {"delivery.defer",
                            "acct_1",
                            {{"attempt", attempt}, {"reason", "full"}, {"deferBaseMs", 1000}}},
                           context_at(now));
  };
  EXPECT_TRUE(events_of(defer(2, 0)).empty());  // Not the next attempt.
  std::int64_t previous_delay = 0;
  for (int n = 1; n <= 8; ++n) {
    Decision d = defer(1, 5'000);
    ASSERT_EQ(events_of(d).size(), 1u) << n;
    const Event& deferred = events_of(d)[0];
    EXPECT_EQ(deferred.type, "webhook.delivery_deferred");
    EXPECT_EQ(deferred.data.at("attempt"), 1);
    EXPECT_EQ(deferred.data.at("deferrals"), n);
    const std::int64_t delay = deferred.data.at("untilMs").as_int64() - 5'000;
    EXPECT_EQ(delay, defer_delay_ms(delivery.id, n, 1000));
    EXPECT_LE(delay, kMaxDeferDelayMs);
    if (n <= 5) EXPECT_GT(delay, previous_delay) << n;  // ×2 beats ±20 % jitter.
    previous_delay = delay;
    evolve_delivery(delivery, deferred.type, deferred.data);
    EXPECT_EQ(delivery.status, "pending");
    EXPECT_EQ(delivery.attempts, 0);
  }
  // The count survives a snapshot.
  DeliveryState restored;
  restore_delivery(restored, delivery_snapshot(delivery));
  EXPECT_EQ(restored.deferrals, 8);
  // Once delivered, a late deferral is ignored.
  Decision ok = decide_delivery(delivery,
                                {"delivery.attempt",
                                 "acct_1",
                                 {{"attempt", 1},
                                  {"httpStatus", 200},
                                  {"error", nullptr},
                                  {"responseBody", ""},
                                  {"durationMs", 3},
                                  {"retryAfterMs", nullptr},
                                  {"retryBaseMs", 1000}}},
                                context_at(6'000));
  evolve_delivery(delivery, events_of(ok)[0].type, events_of(ok)[0].data);
  EXPECT_TRUE(events_of(defer(2, 7'000)).empty());
}

// A test send becomes one finished delivery, created and attempted in one
// append, and recording it again adds nothing.
TEST(DeliveryDecider, ATestSendIsRecordedOnceAndFinal) {
  DeliveryState delivery;
  delivery.id = "whd_test_1";
  const Command record{"delivery.record_test",
                       "acct_1",
                       {{"entity", "project-acct_1"},
                        {"webhookId", "wh_1"},
                        {"agentId", nullptr},
                        {"messageId", "msg_test_1"},
                        {"body", "{}"},
                        {"createdAtMs", 5},
                        {"httpStatus", 503},
                        {"error", "The endpoint answered HTTP 503"},
                        {"responseBody", std::string(kMaxStoredResponseBytes + 10, 'x')},
                        {"durationMs", 7}}};
  Decision d = decide_delivery(delivery, record, context_at(9));
  ASSERT_EQ(events_of(d).size(), 2u);
  EXPECT_EQ(events_of(d)[0].type, "webhook.delivery_created");
  EXPECT_EQ(events_of(d)[0].data.at("test"), true);
  const json::object& attempted = events_of(d)[1].data;
  EXPECT_EQ(attempted.at("status"), "failed");  // Never retried.
  EXPECT_TRUE(attempted.at("nextRetryAtMs").is_null());
  EXPECT_EQ(attempted.at("responseBody").as_string().size(), kMaxStoredResponseBytes);
  for (const Event& e : events_of(d)) evolve_delivery(delivery, e.type, e.data);
  EXPECT_EQ(delivery.status, "failed");
  EXPECT_TRUE(events_of(decide_delivery(delivery, record, context_at(10))).empty());
}

TEST(ConversationDecider, InboundMessageCreatesItsDeliveryWithHistory) {
  ConversationState conversation;
  conversation.id = "conv_1";
  json::object webhook{{"entity", "agent-agt_1"}, {"webhookId", "wh_1"}, {"contextLimit", 2}};
  for (const char* text : {"one", "two"}) {
    json::object args = message_args(text);
    args["webhook"] = webhook;
    Decision d = decide_conversation(conversation, {"conversation.receive", "acct_1", args},
                                     context_at(100));
    for (const Event& e : events_of(d)) evolve_conversation(conversation, e.type, e.data);
  }
  apply_all(
      conversation,
      decide_conversation(conversation,
                          {"conversation.update", "acct_1", {{"metadata", {{"stage", "lead"}}}}},
                          context_at(150)));
  json::object args = message_args("three");
  args["webhook"] = webhook;
  Decision d =
      decide_conversation(conversation, {"conversation.receive", "acct_1", args}, context_at(200));
  ASSERT_EQ(events_of(d).size(), 2u);
  const Event& delivery = events_of(d)[1];
  EXPECT_EQ(delivery.type, "webhook.delivery_created");
  EXPECT_EQ(delivery.data.at("entity"), "agent-agt_1");
  const json::object body = json::parse(delivery.data.at("body").as_string()).as_object();
  const json::array& history = body.at("recentHistory").as_array();
  ASSERT_EQ(history.size(), 2u);  // contextLimit 2: the previous message and this one.
  EXPECT_EQ(history[0].at("content"), "two");
  EXPECT_EQ(history[1].at("content"), "three");
  EXPECT_EQ(history[1].at("messageId"), body.at("data").at("messageId"));
  EXPECT_EQ(body.at("conversationState"), (json::object{{"stage", "lead"}}));
  EXPECT_EQ(body.at("data").at("message"), "three");
  EXPECT_EQ(body.at("event"), "agent.message");
  webhook["contextLimit"] = 0;
  args["webhook"] = webhook;
  Decision none =
      decide_conversation(conversation, {"conversation.receive", "acct_1", args}, context_at(300));
  EXPECT_TRUE(json::parse(events_of(none)[1].data.at("body").as_string())
                  .at("recentHistory")
                  .as_array()
                  .empty());
}

TEST(JsonText, DoublesAreWrittenInPlainDecimal) {
  EXPECT_EQ(to_json(json::value(1.0)), "1.0");
  EXPECT_EQ(to_json(json::value(0.8)), "0.8");
  EXPECT_EQ(to_json(json::object{{"rate", 66.67}, {"n", 3}, {"s", "a\"b"}}),
            R"({"rate":66.67,"n":3,"s":"a\"b"})");
}

}  // namespace
}  // namespace ap::domain
