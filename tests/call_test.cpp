// The call decider under a virtual clock, without CAF: lifecycle, timers,
// turns, interruptions, restart reconciliation and the turn answer format.
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "actors/call.hpp"
#include "actors/responder.hpp"
#include "sim/virtual_ports.hpp"
#include "tests/sequential_ids.hpp"

namespace ap::domain {
namespace {

using test::SequentialIds;

// One call and the clock it runs under; each step decides and folds the events in.
class CallRun {
 public:
  CallRun() {
    state.id = "call_1";
    context.ids = &ids_;
    context.entropy = &entropy_;
  }

  // Decides `type` with `args` at `at_ms`; returns the outcome (failing the
  // test on an error) after folding its events into the state.
  Outcome step(std::int64_t at_ms, const std::string& type, json::object args = {}) {
    context.now_ms = at_ms;
    Decision d = decide_call(state, {type, "acct_1", std::move(args)}, context);
    if (auto* error = std::get_if<DomainError>(&d)) {
      ADD_FAILURE() << type << ": " << error->message;
      return {};
    }
    Outcome out = std::get<Outcome>(std::move(d));
    for (const Event& e : out.events) {
      if (e.stream.empty()) evolve_call(state, e.type, e.data);
    }
    return out;
  }

  DomainError refused(std::int64_t at_ms, const std::string& type, json::object args = {}) {
    context.now_ms = at_ms;
    Decision d = decide_call(state, {type, "acct_1", std::move(args)}, context);
    EXPECT_TRUE(std::holds_alternative<DomainError>(d)) << type << " was accepted";
    return std::holds_alternative<DomainError>(d) ? std::get<DomainError>(d) : DomainError{};
  }

  CallState state;
  Context context;

 private:
  SequentialIds ids_;
  sim::SeededEntropy entropy_{7};
};

json::object start_args(const char* direction, const char* mode, json::value webhook) {
  return {{"direction", direction},
          {"numberId", "num_1"},
          {"phoneNumber", "+14155550100"},
          {"participant", "+14155550123"},
          {"agentId", "agt_1"},
          {"mode", mode},
          {"webhook", std::move(webhook)},
          {"systemPrompt", "You are Ada."},
          {"greeting", "Hello {{name}}, Acme here."},
          {"voice", nullptr},
          {"variables", json::object{{"name", "Sam"}}},
          {"maxSilenceMs", 10'000},
          {"maxDurationMs", 60'000}};
}

const json::value kWebhook =
    json::object{{"entity", "agent-agt_1"}, {"webhookId", "wh_1"}, {"contextLimit", 2}};

// The event types of an outcome, without the conversation lines (tested on their own).
std::vector<std::string> types_of(const Outcome& out) {
  std::vector<std::string> types;
  for (const Event& e : out.events) {
    if (e.type != "message.voice") types.push_back(e.type);
  }
  return types;
}

std::vector<std::string> voice_lines(const Outcome& out) {
  std::vector<std::string> lines;
  for (const Event& e : out.events) {
    if (e.type == "message.voice") {
      lines.push_back(std::string(e.data.at("direction").as_string()) + ":" +
                      std::string(e.data.at("body").as_string()));
    }
  }
  return lines;
}

const Event* find_event(const Outcome& out, const std::string& type) {
  for (const Event& e : out.events) {
    if (e.type == type) return &e;
  }
  return nullptr;
}

// The timer kinds an outcome arms, in order.
std::vector<std::string> timers_of(const Outcome& out) {
  std::vector<std::string> kinds;
  for (const Effect& e : out.effects) {
    if (e.type == "timer") {
      kinds.emplace_back(e.data.at("command").at("args").at("kind").as_string());
    }
  }
  return kinds;
}

TEST(CallDecider, AnInboundCallIsAnsweredGreetedAndTimed) {
  CallRun run;
  Outcome out = run.step(1000, "call.start", start_args("inbound", "hosted", kWebhook));
  EXPECT_EQ(types_of(out), (std::vector<std::string>{"call.started", "call.turn_answered"}));
  EXPECT_EQ(run.state.status, "in-progress");
  // The greeting is filled from the call's variables and spoken first.
  EXPECT_EQ(out.events[1].data.at("lines").at(0).at("text"), "Hello Sam, Acme here.");
  EXPECT_EQ(timers_of(out), (std::vector<std::string>{"duration", "silence"}));
  ASSERT_EQ(run.state.lines.size(), 1u);
  EXPECT_EQ(run.state.lines[0].role, "agent");
}

TEST(CallDecider, AWebhookCallWithoutAWebhookFailsAtOnce) {
  CallRun run;
  Outcome out = run.step(1000, "call.start", start_args("inbound", "webhook", nullptr));
  EXPECT_EQ(types_of(out),
            (std::vector<std::string>{"call.started", "call.ended", "webhook.delivery_skipped"}));
  EXPECT_EQ(run.state.status, "failed");
  EXPECT_EQ(out.events[1].data.at("reason"), reason::kWebhookUnavailable);
  EXPECT_TRUE(out.effects.empty());
}

TEST(CallDecider, SilenceEndsTheCallOnlyAfterMaxSilenceWithoutALine) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "webhook", kWebhook));
  // Timers are never cancelled: early or stale ones find nothing to do.
  EXPECT_TRUE(run.step(5000, "call.timeout", {{"kind", "silence"}}).events.empty());
  Outcome said = run.step(6000, "call.say", {{"text", "Hi"}});
  EXPECT_EQ(said.effects.front().type, "voice.webhook");
  EXPECT_EQ(timers_of(said), (std::vector<std::string>{"silence"}));
  EXPECT_TRUE(run.step(10'000, "call.timeout", {{"kind", "silence"}}).events.empty());
  Outcome ended = run.step(16'000, "call.timeout", {{"kind", "silence"}});
  ASSERT_EQ(types_of(ended), (std::vector<std::string>{"call.ended", "webhook.delivery_created"}));
  EXPECT_EQ(ended.events[0].data.at("reason"), reason::kSilenceTimeout);
  EXPECT_EQ(ended.events[0].data.at("durationMs"), 16'000);
  EXPECT_EQ(ended.events[0].data.at("durationSeconds"), 16);
  // The agent.call_ended delivery carries the whole transcript.
  const json::value body = json::parse(ended.events[1].data.at("body").as_string());
  EXPECT_EQ(body.at("event"), "agent.call_ended");
  EXPECT_EQ(body.at("data").at("transcript"),
            json::parse(R"([{"role":"agent","content":"Hello Sam, Acme here."},)"
                        R"({"role":"user","content":"Hi"}])"));
}

TEST(CallDecider, MaxDurationEndsALiveCall) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "hosted", kWebhook));
  EXPECT_TRUE(run.step(59'999, "call.timeout", {{"kind", "duration"}}).events.empty());
  Outcome out = run.step(60'000, "call.timeout", {{"kind", "duration"}});
  EXPECT_EQ(out.events.at(0).data.at("reason"), reason::kMaxDuration);
  EXPECT_EQ(run.state.status, "completed");
}

TEST(CallDecider, AnOutboundCallRingsUntilAnsweredOrTheRingTimer) {
  CallRun run;
  json::object args = start_args("outbound", "webhook", kWebhook);
  args["ringTimeoutMs"] = 30'000;
  Outcome out = run.step(0, "call.start", args);
  EXPECT_EQ(run.state.status, "ringing");
  EXPECT_EQ(out.effects.at(0).type, "carrier.dial");
  EXPECT_EQ(timers_of(out), (std::vector<std::string>{"ring"}));
  EXPECT_EQ(run.refused(10, "call.say", {{"text", "hello?"}}).code, "CALL_NOT_LIVE");
  EXPECT_TRUE(run.step(29'999, "call.timeout", {{"kind", "ring"}}).events.empty());
  out = run.step(30'000, "call.timeout", {{"kind", "ring"}});
  EXPECT_EQ(run.state.status, "no-answer");
  // An answer after the call gave up changes nothing.
  EXPECT_TRUE(run.step(30'001, "call.carrier", {{"event", "answered"}}).events.empty());

  CallRun busy;
  busy.step(0, "call.start", args);
  busy.step(5, "call.carrier", {{"event", "busy"}});
  EXPECT_EQ(busy.state.status, "busy");

  CallRun answered;
  answered.step(0, "call.start", args);
  out = answered.step(2000, "call.carrier", {{"event", "answered"}});
  EXPECT_EQ(types_of(out), (std::vector<std::string>{"call.answered", "call.turn_answered"}));
  EXPECT_EQ(answered.state.answered_at_ms, 2000);
  out = answered.step(7000, "call.hangup", {{"by", "caller"}});
  // Talk time counts from the answer, not from the dial.
  EXPECT_EQ(out.events.at(0).data.at("durationMs"), 5000);
  EXPECT_EQ(out.events.at(0).data.at("reason"), reason::kUserHangup);
}

TEST(CallDecider, AnswersFollowTheirTurnAndLateOnesAreDropped) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "webhook", kWebhook));
  run.step(100, "call.say", {{"text", "First"}});
  // The caller speaks again before the first answer came back.
  Outcome second = run.step(200, "call.say", {{"text", "Second"}});
  EXPECT_EQ(second.events[0].data.at("interrupts"), 1);
  Outcome late = run.step(300, "call.answer",
                          {{"turn", 1},
                           {"lines", json::array{json::object{{"text", "To the first"}}}},
                           {"hangup", true}});
  // Never heard, so its hangup is not obeyed either.
  EXPECT_EQ(late.events[0].data.at("interrupted"), true);
  EXPECT_EQ(run.state.status, "in-progress");
  run.step(400, "call.answer",
           {{"turn", 2},
            {"lines", json::array{json::object{{"text", "One moment"}, {"interim", true}},
                                  json::object{{"text", "Done"}}}},
            {"hangup", false}});
  // A repeated answer, or one for a turn never asked, changes nothing.
  EXPECT_TRUE(run.step(500, "call.answer", {{"turn", 2}}).events.empty());
  EXPECT_TRUE(run.step(500, "call.answer", {{"turn", 9}}).events.empty());
  run.step(600, "call.hangup", {{"by", "agent"}});
  EXPECT_TRUE(run.step(700, "call.answer", {{"turn", 3}}).events.empty());
  EXPECT_EQ(run.refused(800, "call.hangup", {{"by", "caller"}}).code, "CALL_NOT_LIVE");
  std::vector<std::string> heard;
  for (const CallLine& line : run.state.lines) {
    heard.push_back(line.role + (line.interrupted ? "!" : ":") + line.text);
  }
  EXPECT_EQ(heard,
            (std::vector<std::string>{"agent:Hello Sam, Acme here.", "user:First", "user:Second",
                                      "agent!To the first", "agent:One moment", "agent:Done"}));
}

TEST(CallDecider, EarlyLinesAreSpokenOnlyIntoTheNewestOpenTurn) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "webhook", kWebhook));
  run.step(10, "call.say", {{"text", "One"}});
  Outcome early = run.step(20, "call.speak",
                           {{"turn", 1}, {"lines", json::array{json::object{{"text", "Hm"}}}}});
  EXPECT_EQ(types_of(early), (std::vector<std::string>{"call.turn_progress"}));
  EXPECT_EQ(voice_lines(early), (std::vector<std::string>{"outbound:Hm"}));
  EXPECT_EQ(timers_of(early), (std::vector<std::string>{"silence"}));
  ASSERT_EQ(run.state.lines.back().text, "Hm");
  EXPECT_TRUE(run.state.lines.back().interim);
  EXPECT_EQ(run.state.open_turns, std::set<int>{1}) << "the turn stays open";
  run.step(30, "call.say", {{"text", "Two"}});
  // Turn 1 was talked over: the rest of its answer is never heard.
  EXPECT_TRUE(run.step(40, "call.speak",
                       {{"turn", 1}, {"lines", json::array{json::object{{"text", "late"}}}}})
                  .events.empty());
  EXPECT_TRUE(run.step(40, "call.speak", {{"turn", 2}, {"lines", json::array{}}}).events.empty());
}

TEST(CallDecider, TransferAndHangupAnswersEndTheCall) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "webhook", kWebhook));
  run.step(100, "call.say", {{"text", "Put me through"}});
  Outcome out = run.step(200, "call.answer", {{"turn", 1}, {"action", "transfer"}});
  EXPECT_EQ(types_of(out), (std::vector<std::string>{"call.turn_answered", "call.ended",
                                                     "webhook.delivery_created"}));
  EXPECT_EQ(out.events[1].data.at("reason"), reason::kTransfer);
  EXPECT_EQ(out.events[0].data.at("statusAfter"), "completed");
}

TEST(CallDecider, WebhookTurnsCarryTheUtteranceAndBoundedHistory) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "webhook", kWebhook));
  run.step(10, "call.say", {{"text", "One"}});
  run.step(20, "call.answer", {{"turn", 1}, {"lines", json::array{json::object{{"text", "A"}}}}});
  Outcome out = run.step(30, "call.say", {{"text", "Two"}, {"confidence", 0.5}});
  const json::object& effect = out.effects.at(0).data;
  const json::value body = json::parse(effect.at("body").as_string());
  EXPECT_EQ(body.at("channel"), "voice");
  EXPECT_EQ(body.at("data").at("transcript"), "Two");
  EXPECT_EQ(body.at("data").at("confidence"), 0.5);
  EXPECT_EQ(body.at("data").at("from"), "+14155550123");
  // contextLimit 2: the line before this one, then this one.
  EXPECT_EQ(body.at("recentHistory").as_array().size(), 2u);
  EXPECT_EQ(body.at("recentHistory").at(0).at("content"), "A");
  EXPECT_EQ(body.at("recentHistory").at(1).at("content"), "Two");
  EXPECT_NE(effect.at("deliveryId"), out.effects.at(0).data.at("callId"));
}

TEST(CallDecider, EveryHeardLineThreadsIntoTheConversation) {
  CallRun run;
  json::object args = start_args("inbound", "webhook", kWebhook);
  args["history"] = json::array{json::object{{"messageId", "msg_sms"},
                                             {"content", "Texted earlier"},
                                             {"direction", "inbound"},
                                             {"channel", "sms"},
                                             {"at", "2026-01-01T00:00:00.000Z"}}};
  Outcome out = run.step(0, "call.start", args);
  EXPECT_EQ(voice_lines(out), (std::vector<std::string>{"outbound:Hello Sam, Acme here."}));
  const Event* greeting = find_event(out, "message.voice");
  ASSERT_NE(greeting, nullptr);
  EXPECT_EQ(greeting->stream, conversation_stream(conversation_id_for("num_1", "+14155550123")));
  EXPECT_FALSE(greeting->new_stream);
  EXPECT_EQ(greeting->data.at("channel"), "voice");
  out = run.step(10, "call.say", {{"text", "Hi"}});
  EXPECT_EQ(voice_lines(out), (std::vector<std::string>{"inbound:Hi"}));
  // The turn's webhook sees the texts before the call, then the call (contextLimit 2).
  const json::value body = json::parse(out.effects.at(0).data.at("body").as_string());
  EXPECT_EQ(body.at("recentHistory").at(0).at("content"), "Hello Sam, Acme here.");
  run.step(20, "call.say", {{"text", "Again"}});
  out = run.step(30, "call.answer",
                 {{"turn", 1}, {"lines", json::array{json::object{{"text", "Unheard"}}}}});
  EXPECT_TRUE(voice_lines(out).empty()) << "an interrupted answer was never heard";
  out = run.step(40, "call.answer",
                 {{"turn", 2},
                  {"lines", json::array{json::object{{"text", "Wait"}, {"interim", true}},
                                        json::object{{"text", "Done"}}}}});
  EXPECT_EQ(voice_lines(out), (std::vector<std::string>{"outbound:Wait", "outbound:Done"}));

  CallRun fresh;
  json::object first = start_args("inbound", "webhook", kWebhook);
  first["history"] = args["history"];
  first["greeting"] = nullptr;
  fresh.step(0, "call.start", first);
  out = fresh.step(10, "call.say", {{"text", "Hi"}});
  const json::value with_sms = json::parse(out.effects.at(0).data.at("body").as_string());
  EXPECT_EQ(with_sms.at("recentHistory").at(0).at("content"), "Texted earlier");
}

TEST(CallDecider, ARestartEndsLiveCallsOnceAndLeavesEndedOnes) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "hosted", kWebhook));
  Outcome out = run.step(5000, "call.reconcile");
  EXPECT_EQ(out.events.at(0).data.at("reason"), reason::kPlatformRestart);
  EXPECT_EQ(run.state.status, "completed");
  EXPECT_TRUE(run.step(6000, "call.reconcile").events.empty());
}

TEST(CallDecider, ASnapshotRestoresTheSameCall) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "webhook", kWebhook));
  run.step(10, "call.say", {{"text", "One"}});
  CallState restored;
  restored.id = run.state.id;
  restore_call(restored, json::parse(to_json(call_snapshot(run.state))).as_object());
  EXPECT_EQ(to_json(call_snapshot(restored)), to_json(call_snapshot(run.state)));
  EXPECT_EQ(restored.open_turns, std::set<int>{1});
}

TEST(CallDecider, UtterancesAreValidated) {
  CallRun run;
  run.step(0, "call.start", start_args("inbound", "webhook", kWebhook));
  EXPECT_EQ(run.refused(1, "call.say", {{"text", ""}}).kind, ErrorKind::kValidation);
  EXPECT_EQ(run.refused(1, "call.say", {{"text", 5}}).kind, ErrorKind::kValidation);
  EXPECT_EQ(run.refused(1, "call.say", {{"text", std::string(kMaxUtteranceChars + 1, 'a')}}).kind,
            ErrorKind::kValidation);
  CallRun foreign;
  Decision d = decide_call(run.state, {"call.say", "acct_2", {{"text", "hi"}}}, run.context);
  ASSERT_TRUE(std::holds_alternative<DomainError>(d));
  EXPECT_EQ(std::get<DomainError>(d).kind, ErrorKind::kNotFound);
}

TEST(TurnAnswer, ObjectsAndNdjsonLines) {
  json::array lines;
  bool hangup = false;
  json::value action, digits;
  EXPECT_EQ(parse_turn_answer("application/json", R"({"text":"Hi","hangup":true,"dtmf":"1#"})",
                              &lines, &hangup, &action, &digits),
            "");
  EXPECT_EQ(lines.size(), 1u);
  EXPECT_TRUE(hangup);
  EXPECT_EQ(digits, "1#");
  lines.clear();
  EXPECT_EQ(parse_turn_answer("application/x-ndjson",
                              "{\"text\":\"Wait\",\"interim\":true}\n\n{\"text\":\"Done\"}\n"
                              "{\"text\":\"never spoken\"}\n",
                              &lines, &hangup, &action, &digits),
            "");
  EXPECT_EQ(lines, json::parse(R"([{"text":"Wait","interim":true},)"
                               R"({"text":"Done","interim":false}])"));
  for (const char* silent : {"[1,2]", "\"hello\"", "{not json", "42"}) {
    lines.clear();
    EXPECT_NE(parse_turn_answer("application/json", silent, &lines, &hangup, &action, &digits), "")
        << silent;
    EXPECT_TRUE(lines.empty());
  }
}

TEST(Variables, FillKnownNamesAndBlankTheRest) {
  const json::object vars{{"name", "Sam"}, {"n", 3}};
  EXPECT_EQ(fill_variables("Hi {{ name }}, {{n}}{{missing}}!", vars), "Hi Sam, !");
  EXPECT_EQ(fill_variables("No {{end", vars), "No {{end");
}

TEST(BuiltinResponder, EchoesAndSaysGoodbye) {
  EXPECT_EQ(BuiltinResponder::reply_to("What time is it?").lines.at(0),
            "You said: What time is it?. How else can I help?");
  EXPECT_FALSE(BuiltinResponder::reply_to("maybe").hangup);
  EXPECT_TRUE(BuiltinResponder::reply_to("OK, Goodbye.").hangup);
  EXPECT_FALSE(BuiltinResponder::reply_to("byebye-less words like abyss").hangup);
}

}  // namespace
}  // namespace ap::domain
