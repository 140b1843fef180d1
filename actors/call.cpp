#include "actors/call.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cassert>

#include "actors/billing.hpp"
#include "actors/sms.hpp"
#include "actors/webhook.hpp"

namespace ap::domain {

namespace {

DomainError not_live(const CallState& state) {
  return make_error(ErrorKind::kConflict, "CALL_NOT_LIVE",
                    "Call " + state.id + " is not live (status " + state.status + ")");
}

Effect timer(const CallState& state, const std::string& account, std::int64_t delay_ms,
             const char* kind) {
  return Effect{"timer",
                {{"delayMs", std::max<std::int64_t>(0, delay_ms)},
                 {"entity", "call"},
                 {"id", state.id},
                 {"command", json::object{{"type", "call.timeout"},
                                          {"accountId", account},
                                          {"args", json::object{{"kind", kind}}}}}}};
}

// The conversation message of one line said on the call.
Event voice_message(const CallState& state, const std::string& message_id, const std::string& text,
                    bool from_caller, std::int64_t at_ms) {
  const json::object& s = state.setup;
  const std::string ours = text_of(s, "phoneNumber");
  const std::string other = text_of(s, "participant");
  const std::string conversation = text_of(s, "conversationId");
  return Event{"message.voice",
               {{"messageId", message_id},
                {"conversationId", conversation},
                {"accountId", state.account_id},
                {"numberId", field(s, "numberId")},
                {"phoneNumber", ours},
                {"participant", other},
                {"agentId", field(s, "agentId")},
                {"callId", state.id},
                {"from", from_caller ? other : ours},
                {"to", from_caller ? ours : other},
                {"body", text},
                {"mediaUrls", json::array()},
                {"direction", from_caller ? "inbound" : "outbound"},
                {"channel", "voice"},
                {"status", from_caller ? "received" : "delivered"},
                {"segments", 0},
                {"atMs", at_ms}},
               conversation_stream(conversation)};
}

// The agent.call_ended body (contract C.3): the whole transcript, every line
// the caller said and every agent line that was heard, in order.
std::string call_ended_body(const CallState& state, const json::object& ended) {
  const json::object& s = state.setup;
  json::array transcript;
  for (const CallLine& line : state.lines) {
    if (line.interrupted) continue;
    transcript.push_back(json::object{{"role", line.role}, {"content", line.text}});
  }
  const bool inbound = text_of(s, "direction") == "inbound";
  const std::string ours = text_of(s, "phoneNumber");
  const std::string other = text_of(s, "participant");
  json::object data{{"callId", state.id},
                    {"numberId", field(s, "numberId")},
                    {"from", inbound ? other : ours},
                    {"to", inbound ? ours : other},
                    {"contact", field_or(s, "contact", nullptr)},
                    {"direction", field(s, "direction")},
                    {"status", field(ended, "status")},
                    {"startedAt", iso8601(field(s, "startedAtMs").as_int64())},
                    {"endedAt", iso8601(field(ended, "endedAtMs").as_int64())},
                    {"durationSeconds", field(ended, "durationSeconds")},
                    {"disconnectionReason", field(ended, "reason")},
                    {"transcript", std::move(transcript)},
                    {"summary", nullptr},
                    {"userSentiment", nullptr},
                    {"callSuccessful", nullptr}};
  return to_json(json::object{{"event", "agent.call_ended"},
                              {"channel", "voice"},
                              {"timestamp", iso8601(field(ended, "endedAtMs").as_int64())},
                              {"agentId", field(s, "agentId")},
                              {"data", std::move(data)}});
}

// call.ended for `state` with `status` and `why`, and its agent.call_ended
// delivery, appended together.
std::vector<Event> end_events(const CallState& state, const std::string& status, const char* why,
                              std::int64_t now_ms) {
  // Billed and shown in whole seconds, rounded up; the event keeps the milliseconds.
  const std::int64_t talked_ms = state.answered_at_ms >= 0 ? now_ms - state.answered_at_ms : 0;
  json::object ended{
      {"callId", state.id},
      {"accountId", state.account_id},
      {"status", status},
      {"reason", why == nullptr ? json::value(nullptr) : json::value(why)},
      {"endedAtMs", now_ms},
      {"durationMs", talked_ms},
      {"durationSeconds", (talked_ms + 999) / 1000},
      {"mode", field(state.setup, "mode")},
      {"budgetMs", state.budget_ms >= 0 ? json::value(state.budget_ms) : json::value(nullptr)}};
  const std::string delivery_id = delivery_id_for("agent.call_ended", state.id);
  Event delivery = delivery_event(delivery_id, state.account_id, field(state.setup, "webhook"),
                                  field(state.setup, "agentId"), "agent.call_ended", "voice",
                                  nullptr, nullptr, call_ended_body(state, ended), now_ms);
  delivery.data["callId"] = state.id;
  return {Event{"call.ended", std::move(ended)}, std::move(delivery)};
}

// The greeting, spoken when the call is answered, and the timers of a live call.
void answered(const CallState& state, const std::string& account, const Context& context,
              Outcome& out) {
  const std::int64_t now_ms = context.now_ms;
  const std::string greeting = text_of(state.setup, "greeting");
  if (!greeting.empty()) {
    const std::string message_id = context.ids->new_id("msg_");
    out.events.push_back(
        Event{"call.turn_answered",
              {{"callId", state.id},
               {"accountId", account},
               {"turn", 0},
               {"lines", json::array{json::object{
                             {"text", greeting}, {"interim", false}, {"messageId", message_id}}}},
               {"digits", nullptr},
               {"error", nullptr},
               {"interrupted", false},
               {"statusAfter", "in-progress"},
               {"atMs", now_ms}}});
    out.events.push_back(voice_message(state, message_id, greeting, false, now_ms));
  }
  out.effects.push_back(timer(
      state, account, int_of(state.setup, "maxDurationMs", kDefaultMaxCallDurationMs), "duration"));
  out.effects.push_back(
      timer(state, account, int_of(state.setup, "maxSilenceMs", kDefaultMaxSilenceMs), "silence"));
  if (state.budget_ms >= 0) out.effects.push_back(timer(state, account, state.budget_ms, "budget"));
}

// Reads a "call.start" command into call.started data, or says what is wrong.
std::variant<json::object, DomainError> started_data(const CallState& state, const Command& command,
                                                     const Context& context) {
  const json::object& a = command.args;
  const std::string direction = text_of(a, "direction");
  const std::string mode = text_of(a, "mode");
  if ((direction != "inbound" && direction != "outbound") ||
      (mode != "webhook" && mode != "hosted") || text_of(a, "numberId").empty() ||
      text_of(a, "participant").empty()) {
    return validation_error(
        {{"", "call.start needs direction, mode, numberId and participant", "missing"}});
  }
  json::object variables;
  if (const json::value* v = a.if_contains("variables"); v != nullptr && v->is_object()) {
    variables = v->as_object();
  }
  auto filled = [&](const char* key) -> json::value {
    const json::value* v = a.if_contains(key);
    if (v == nullptr || !v->is_string()) return nullptr;
    return json::string(fill_variables(std::string(v->as_string()), variables));
  };
  const json::value* webhook = a.if_contains("webhook");
  return json::object{
      {"callId", state.id},
      {"accountId", command.account_id},
      {"direction", direction},
      {"numberId", text_of(a, "numberId")},
      {"phoneNumber", text_of(a, "phoneNumber")},
      {"participant", text_of(a, "participant")},
      {"agentId", field_or(a, "agentId", nullptr)},
      {"contact", field_or(a, "contact", nullptr)},
      {"mode", mode},
      {"webhook", webhook != nullptr && webhook->is_object() ? *webhook : json::value(nullptr)},
      {"systemPrompt", filled("systemPrompt")},
      {"greeting", filled("greeting")},
      {"voice", field_or(a, "voice", nullptr)},
      {"modelTier", text_of(a, "modelTier").empty() ? "balanced" : text_of(a, "modelTier")},
      {"maxSilenceMs", int_of(a, "maxSilenceMs", kDefaultMaxSilenceMs)},
      {"maxDurationMs", int_of(a, "maxDurationMs", kDefaultMaxCallDurationMs)},
      {"ringTimeoutMs", int_of(a, "ringTimeoutMs", kDefaultRingTimeoutMs)},
      {"conversationId", conversation_id_for(text_of(a, "numberId"), text_of(a, "participant"))},
      {"conversationState", field_or(a, "conversationState", nullptr)},
      {"history", field_or(a, "history", nullptr).is_array() ? field(a, "history")
                                                             : json::value(json::array())},
      {"status", direction == "inbound" ? "in-progress" : "ringing"},
      {"startedAtMs", context.now_ms},
      {"heldMicros", context.funds_micros ? json::value(*context.funds_micros) : json::value(0)},
      {"budgetMs", context.funds_micros
                       ? json::value(voice_seconds_affordable(rate_card_at(context.now_ms), mode,
                                                              *context.funds_micros) *
                                     1000)
                       : json::value(nullptr)}};
}

Decision decide_start(const CallState& state, const Command& command, const Context& context) {
  if (state.exists) {
    return make_error(ErrorKind::kConflict, "CALL_EXISTS", "Call " + state.id + " exists");
  }
  std::variant<json::object, DomainError> data = started_data(state, command, context);
  if (auto* error = std::get_if<DomainError>(&data)) return std::move(*error);
  const bool unfunded = context.funds_micros && *context.funds_micros == 0;
  if (unfunded && text_of(command.args, "direction") == "outbound") {
    return insufficient_balance("starting a call",
                                rate_card_at(context.now_ms).voice_minimum_micros);
  }
  // Decide the rest against the state the start event makes, as evolve will.
  CallState next = state;
  Event started{"call.started", std::get<json::object>(std::move(data))};
  evolve_call(next, started.type, started.data);
  Outcome out;
  out.events.push_back(std::move(started));
  const json::object& setup = next.setup;
  if (text_of(setup, "direction") == "outbound") {
    out.effects.push_back(Effect{"carrier.dial",
                                 {{"callId", state.id},
                                  {"accountId", command.account_id},
                                  {"from", field(setup, "phoneNumber")},
                                  {"to", field(setup, "participant")}}});
    out.effects.push_back(
        timer(next, command.account_id, field(setup, "ringTimeoutMs").as_int64(), "ring"));
    return out;
  }
  if (unfunded) {
    // Nobody pays for the line: answered, then ended, free (0 ms of talk).
    for (Event& e : end_events(next, "failed", reason::kInsufficientBalance, context.now_ms)) {
      out.events.push_back(std::move(e));
    }
    return out;
  }
  if (text_of(setup, "mode") == "webhook" && field(setup, "webhook").is_null()) {
    // Answered, then ended: nobody can say anything for the agent.
    for (Event& e : end_events(next, "failed", reason::kWebhookUnavailable, context.now_ms)) {
      out.events.push_back(std::move(e));
    }
    return out;
  }
  answered(next, command.account_id, context, out);
  return out;
}

Decision decide_carrier(const CallState& state, const Command& command, const Context& context) {
  const std::string event = text_of(command.args, "event");
  if (event == "answered") {
    if (state.status != "ringing") return std::vector<Event>{};
    CallState next = state;
    Event answer{"call.answered",
                 {{"callId", state.id}, {"accountId", state.account_id}, {"atMs", context.now_ms}}};
    evolve_call(next, answer.type, answer.data);
    Outcome out;
    out.events.push_back(std::move(answer));
    answered(next, state.account_id, context, out);
    return out;
  }
  if (event == "dropped") {
    if (state.status != "in-progress") return std::vector<Event>{};
    return end_events(state, "completed", reason::kCarrierError, context.now_ms);
  }
  if (state.status != "ringing") return std::vector<Event>{};
  if (event == "busy") return end_events(state, "busy", reason::kBusy, context.now_ms);
  if (event == "no-answer")
    return end_events(state, "no-answer", reason::kNoAnswer, context.now_ms);
  if (event == "failed") return end_events(state, "failed", reason::kCarrierError, context.now_ms);
  return validation_error({{"event", "Unknown carrier event " + event, "literal_error"}});
}

Decision decide_say(const CallState& state, const Command& command, const Context& context) {
  if (state.status != "in-progress") return not_live(state);
  const json::value* text = command.args.if_contains("text");
  if (text == nullptr || !text->is_string() || text->as_string().empty()) {
    return validation_error({{"text", "text must be a non-empty string", "string_type"}});
  }
  if (code_points(text->as_string()) > kMaxUtteranceChars) {
    return validation_error(
        {{"text", "An utterance is at most " + std::to_string(kMaxUtteranceChars) + " characters",
          "string_too_long"}});
  }
  if (state.turns >= kMaxCallTurns) {
    return make_error(ErrorKind::kConflict, "CALL_TURN_LIMIT",
                      "A call has at most " + std::to_string(kMaxCallTurns) + " caller turns");
  }
  double confidence = 0.95;
  if (const json::value* c = command.args.if_contains("confidence");
      c != nullptr && c->is_number()) {
    confidence = std::clamp(c->to_number<double>(), 0.0, 1.0);
  }
  const int turn = state.turns + 1;
  const std::string message_id = context.ids->new_id("msg_");
  Outcome out;
  out.events.push_back(
      Event{"call.caller_spoke",
            {{"callId", state.id},
             {"accountId", state.account_id},
             {"turn", turn},
             {"messageId", message_id},
             {"text", *text},
             {"confidence", confidence},
             // A caller who speaks while the agent's answer is still coming talks over it.
             {"interrupts", state.open_turns.empty() ? json::value(nullptr)
                                                     : json::value(*state.open_turns.rbegin())},
             {"atMs", context.now_ms}}});
  out.events.push_back(
      voice_message(state, message_id, std::string(text->as_string()), true, context.now_ms));
  CallLine utterance{turn,  message_id, "user",        std::string(text->as_string()),
                     false, false,      context.now_ms};
  const json::object& s = state.setup;
  if (text_of(s, "mode") == "webhook") {
    out.effects.push_back(Effect{
        "voice.webhook",
        {{"callId", state.id},
         {"accountId", state.account_id},
         {"turn", turn},
         {"entity", field(field(s, "webhook"), "entity")},
         {"webhookId", field(field(s, "webhook"), "webhookId")},
         {"agentId", field(s, "agentId")},
         {"deliveryId", delivery_id_for("agent.message", state.id + "#" + std::to_string(turn))},
         {"body", voice_turn_body(state, utterance, confidence, context.now_ms)}}});
  } else {
    json::array transcript;
    for (const CallLine& line : state.lines) {
      if (!line.interrupted) {
        transcript.push_back(json::object{{"role", line.role}, {"content", line.text}});
      }
    }
    out.effects.push_back(Effect{"voice.hosted",
                                 {{"callId", state.id},
                                  {"accountId", state.account_id},
                                  {"turn", turn},
                                  {"systemPrompt", field(s, "systemPrompt")},
                                  {"modelTier", field_or(s, "modelTier", "balanced")},
                                  {"utterance", *text},
                                  {"transcript", std::move(transcript)}}});
  }
  out.effects.push_back(
      timer(state, state.account_id, int_of(s, "maxSilenceMs", kDefaultMaxSilenceMs), "silence"));
  return out;
}

// The lines of an answer that can be spoken ({text, interim, messageId}):
// objects with a non-empty text, at most kMaxSpokenLinesPerTurn of them, each
// cut to kMaxSpokenLineChars. `heard` lines get a conversation message id
// (null otherwise); `all_interim` marks every line interim (early lines).
json::array spoken_lines(const json::object& args, bool heard, bool all_interim,
                         const Context& context) {
  json::array lines;
  const json::value* given = args.if_contains("lines");
  if (given == nullptr || !given->is_array()) return lines;
  for (const json::value& line : given->as_array()) {
    if (lines.size() == kMaxSpokenLinesPerTurn) break;
    if (!line.is_object()) continue;
    std::string text = text_of(line.as_object(), "text");
    if (text.empty()) continue;
    if (code_points(text) > kMaxSpokenLineChars) {
      text = std::string(utf8_prefix(text, kMaxSpokenLineChars));
    }
    const json::value* interim = line.as_object().if_contains("interim");
    const bool is_interim =
        all_interim || (interim != nullptr && interim->is_bool() && interim->as_bool());
    lines.push_back(json::object{
        {"text", std::move(text)},
        {"interim", is_interim},
        {"messageId", heard ? json::value(context.ids->new_id("msg_")) : json::value(nullptr)}});
  }
  return lines;
}

Decision decide_answer(const CallState& state, const Command& command, const Context& context) {
  const json::object& a = command.args;
  const int turn = static_cast<int>(int_of(a, "turn", -1));
  // Late (the call ended) or repeated: the answer is dropped, never spoken
  // into a call that is over.
  if (state.status != "in-progress" || state.open_turns.count(turn) == 0) {
    return std::vector<Event>{};
  }
  // The caller spoke again before this answer came: it was never heard.
  const bool interrupted = turn < state.turns;
  // Only what was heard enters the conversation.
  json::array lines = spoken_lines(a, !interrupted, false, context);
  const json::value* hangup = a.if_contains("hangup");
  const std::string action = text_of(a, "action");
  const char* ends = nullptr;
  if (!interrupted) {
    if (action == "transfer") {
      ends = reason::kTransfer;
    } else if (action == "hangup" ||
               (hangup != nullptr && hangup->is_bool() && hangup->as_bool())) {
      ends = reason::kAgentHangup;
    }
  }
  Outcome out;
  out.events.push_back(Event{"call.turn_answered",
                             {{"callId", state.id},
                              {"accountId", state.account_id},
                              {"turn", turn},
                              {"lines", std::move(lines)},
                              {"digits", field_or(a, "digits", nullptr)},
                              {"error", field_or(a, "error", nullptr)},
                              {"interrupted", interrupted},
                              {"statusAfter", ends != nullptr ? "completed" : "in-progress"},
                              {"atMs", context.now_ms}}});
  if (!interrupted) {
    for (const json::value& line : field(out.events.front().data, "lines").as_array()) {
      out.events.push_back(voice_message(state, std::string(field(line, "messageId").as_string()),
                                         std::string(field(line, "text").as_string()), false,
                                         context.now_ms));
    }
  }
  if (ends != nullptr) {
    CallState next = state;
    evolve_call(next, out.events.front().type, out.events.front().data);
    for (Event& e : end_events(next, "completed", ends, context.now_ms)) {
      out.events.push_back(std::move(e));
    }
  } else if (!interrupted) {
    out.effects.push_back(timer(state, state.account_id,
                                int_of(state.setup, "maxSilenceMs", kDefaultMaxSilenceMs),
                                "silence"));
  }
  return out;
}

// Lines of an answer still arriving (NDJSON interim lines, a model's first
// sentences): spoken at once, the turn stays open.
Decision decide_speak(const CallState& state, const Command& command, const Context& context) {
  const json::object& a = command.args;
  const int turn = static_cast<int>(int_of(a, "turn", -1));
  // Only into the newest open turn: once the caller spoke again, the rest of
  // an older answer is never heard.
  if (state.status != "in-progress" || state.open_turns.count(turn) == 0 || turn < state.turns) {
    return std::vector<Event>{};
  }
  json::array lines = spoken_lines(a, true, true, context);
  if (lines.empty()) return std::vector<Event>{};
  Outcome out;
  for (const json::value& line : lines) {
    out.events.push_back(voice_message(state, std::string(field(line, "messageId").as_string()),
                                       std::string(field(line, "text").as_string()), false,
                                       context.now_ms));
  }
  out.events.insert(out.events.begin(), Event{"call.turn_progress",
                                              {{"callId", state.id},
                                               {"accountId", state.account_id},
                                               {"turn", turn},
                                               {"lines", std::move(lines)},
                                               {"atMs", context.now_ms}}});
  out.effects.push_back(timer(state, state.account_id,
                              int_of(state.setup, "maxSilenceMs", kDefaultMaxSilenceMs),
                              "silence"));
  return out;
}

Decision decide_timeout(const CallState& state, const Command& command, const Context& context) {
  const std::string kind = text_of(command.args, "kind");
  const json::object& s = state.setup;
  const std::int64_t now = context.now_ms;
  if (kind == "ring") {
    if (state.status != "ringing") return std::vector<Event>{};
    if (now - field(s, "startedAtMs").as_int64() < field(s, "ringTimeoutMs").as_int64()) {
      return std::vector<Event>{};
    }
    return end_events(state, "no-answer", reason::kNoAnswer, now);
  }
  if (state.status != "in-progress") return std::vector<Event>{};
  if (kind == "silence") {
    // Timers are not cancelled: each line armed its own, and only the one
    // after the last line finds the silence long enough.
    if (now - state.last_activity_ms < int_of(s, "maxSilenceMs", kDefaultMaxSilenceMs)) {
      return std::vector<Event>{};
    }
    return end_events(state, "completed", reason::kSilenceTimeout, now);
  }
  if (kind == "duration") {
    if (now - state.answered_at_ms < int_of(s, "maxDurationMs", kDefaultMaxCallDurationMs)) {
      return std::vector<Event>{};
    }
    return end_events(state, "completed", reason::kMaxDuration, now);
  }
  if (kind == "budget") {
    const std::int64_t talked_ms = now - state.answered_at_ms;
    Outcome out;
    if (state.budget_ms < 0) return out;
    if (talked_ms < state.budget_ms) {
      // An earlier reservation's timer, or one the budget has outgrown.
      out.effects.push_back(timer(state, state.account_id, state.budget_ms - talked_ms, "budget"));
      return out;
    }
    out.effects.push_back(Effect{"billing.extend",
                                 {{"callId", state.id},
                                  {"accountId", state.account_id},
                                  {"mode", field(s, "mode")},
                                  {"startedAtMs", field(s, "startedAtMs")},
                                  {"heldMicros", state.held_micros},
                                  {"budgetMs", state.budget_ms}}});
    return out;
  }
  return validation_error({{"kind", "Unknown timer " + kind, "literal_error"}});
}

// "call.extend_budget": the host reserved `grantedMicros` more for a call
// whose budget ran out; none ends it.
Decision decide_extend_budget(const CallState& state, const Command& command,
                              const Context& context) {
  if (state.status != "in-progress" || state.budget_ms < 0) return std::vector<Event>{};
  const std::int64_t granted = int_of(command.args, "grantedMicros", 0);
  if (granted <= 0) {
    return end_events(state, "completed", reason::kInsufficientBalance, context.now_ms);
  }
  const std::int64_t held = state.held_micros + granted;
  const RateCard& card = rate_card_at(field(state.setup, "startedAtMs").as_int64());
  const std::int64_t budget_ms =
      voice_seconds_affordable(card, text_of(state.setup, "mode"), held) * 1000;
  Outcome out;
  out.events.push_back(Event{"call.budget_extended",
                             {{"callId", state.id},
                              {"accountId", state.account_id},
                              {"heldMicros", held},
                              {"budgetMs", budget_ms},
                              {"atMs", context.now_ms}}});
  const std::int64_t talked_ms = context.now_ms - state.answered_at_ms;
  out.effects.push_back(timer(state, state.account_id, budget_ms - talked_ms, "budget"));
  return out;
}

}  // namespace

bool call_is_live(const std::string& status) {
  return status == "ringing" || status == "in-progress";
}

std::string fill_variables(const std::string& text, const json::object& variables) {
  std::string out;
  std::size_t at = 0;
  // Bounded: each round consumes at least the "{{" it found.
  while (at < text.size()) {
    const std::size_t open = text.find("{{", at);
    const std::size_t close = open == std::string::npos ? open : text.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(text, at, open - at);
    std::string name = text.substr(open + 2, close - open - 2);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (const json::value* v = variables.if_contains(name); v != nullptr && v->is_string()) {
      out.append(v->as_string());
    }
    at = close + 2;
  }
  out.append(text, std::min(at, text.size()));
  return out;
}

Decision decide_call(const CallState& state, const Command& command, const Context& context) {
  if (command.type == "call.start") return decide_start(state, command, context);
  if (!state.exists || state.account_id != command.account_id) return not_found("Call not found");
  if (command.type == "call.carrier") return decide_carrier(state, command, context);
  if (command.type == "call.say") return decide_say(state, command, context);
  if (command.type == "call.answer") return decide_answer(state, command, context);
  if (command.type == "call.speak") return decide_speak(state, command, context);
  if (command.type == "call.timeout") return decide_timeout(state, command, context);
  if (command.type == "call.extend_budget") return decide_extend_budget(state, command, context);
  if (command.type == "call.hangup") {
    if (!call_is_live(state.status)) return not_live(state);
    const bool by_caller = text_of(command.args, "by") == "caller";
    const char* why = by_caller ? reason::kUserHangup : reason::kAgentHangup;
    return end_events(state, state.status == "ringing" ? "canceled" : "completed", why,
                      context.now_ms);
  }
  if (command.type == "call.reconcile") {
    if (!call_is_live(state.status)) return std::vector<Event>{};
    // Nobody was on the line after the platform stopped: a call that was
    // talking ended at its last activity, and is billed to there, not for
    // the time the platform was down.
    const std::int64_t ended_ms =
        state.status == "in-progress"
            ? std::min(context.now_ms, std::max(state.last_activity_ms, state.answered_at_ms))
            : context.now_ms;
    return end_events(state, state.status == "ringing" ? "failed" : "completed",
                      reason::kPlatformRestart, ended_ms);
  }
  return unknown_command(command.type);
}

void evolve_call(CallState& state, const std::string& type, const json::object& data) {
  if (type == "call.started") {
    state.exists = true;
    state.account_id = text_of(data, "accountId");
    state.setup = data;
    state.status = text_of(data, "status");
    const std::int64_t at = field(data, "startedAtMs").as_int64();
    state.last_activity_ms = at;
    if (state.status == "in-progress") state.answered_at_ms = at;
    const json::value* budget = data.if_contains("budgetMs");
    state.budget_ms = budget != nullptr && budget->is_int64() ? budget->as_int64() : -1;
    state.held_micros = int_of(data, "heldMicros", 0);
  } else if (type == "call.budget_extended") {
    state.budget_ms = field(data, "budgetMs").as_int64();
    state.held_micros = field(data, "heldMicros").as_int64();
  } else if (type == "call.answered") {
    state.status = "in-progress";
    state.answered_at_ms = field(data, "atMs").as_int64();
    state.last_activity_ms = state.answered_at_ms;
  } else if (type == "call.caller_spoke") {
    const int turn = static_cast<int>(field(data, "turn").as_int64());
    const std::int64_t at = field(data, "atMs").as_int64();
    state.turns = turn;
    state.open_turns.insert(turn);
    state.last_activity_ms = at;
    state.lines.push_back(CallLine{turn, text_of(data, "messageId"), "user", text_of(data, "text"),
                                   false, false, at});
  } else if (type == "call.turn_answered") {
    const int turn = static_cast<int>(field(data, "turn").as_int64());
    const std::int64_t at = field(data, "atMs").as_int64();
    const bool interrupted = field(data, "interrupted").as_bool();
    state.open_turns.erase(turn);
    if (!interrupted) state.last_activity_ms = at;
    for (const json::value& line : field(data, "lines").as_array()) {
      const json::object& l = line.as_object();
      state.lines.push_back(CallLine{turn, text_of(l, "messageId"), "agent", text_of(l, "text"),
                                     field(l, "interim").as_bool(), interrupted, at});
    }
  } else if (type == "call.turn_progress") {
    const int turn = static_cast<int>(field(data, "turn").as_int64());
    const std::int64_t at = field(data, "atMs").as_int64();
    state.last_activity_ms = at;
    for (const json::value& line : field(data, "lines").as_array()) {
      const json::object& l = line.as_object();
      state.lines.push_back(
          CallLine{turn, text_of(l, "messageId"), "agent", text_of(l, "text"), true, false, at});
    }
  } else if (type == "call.ended") {
    state.status = text_of(data, "status");
    state.open_turns.clear();
  }
}

json::object call_snapshot(const CallState& state) {
  json::array lines;
  for (const CallLine& l : state.lines) {
    lines.push_back(json::array{l.turn, json::string(l.role), json::string(l.text), l.interim,
                                l.interrupted, l.at_ms, json::string(l.message_id)});
  }
  json::array open;
  for (int turn : state.open_turns) open.push_back(turn);
  return {{"exists", state.exists},
          {"accountId", state.account_id},
          {"setup", state.setup},
          {"status", state.status},
          {"answeredAtMs", state.answered_at_ms},
          {"lastActivityMs", state.last_activity_ms},
          {"turns", state.turns},
          {"openTurns", std::move(open)},
          {"lines", std::move(lines)},
          {"budgetMs", state.budget_ms},
          {"heldMicros", state.held_micros}};
}

void restore_call(CallState& state, const json::object& o) {
  state.exists = field(o, "exists").as_bool();
  state.account_id = std::string(field(o, "accountId").as_string());
  state.setup = field(o, "setup").as_object();
  state.status = std::string(field(o, "status").as_string());
  state.answered_at_ms = field(o, "answeredAtMs").as_int64();
  state.last_activity_ms = field(o, "lastActivityMs").as_int64();
  state.budget_ms = int_of(o, "budgetMs", -1);
  state.held_micros = int_of(o, "heldMicros", 0);
  state.turns = static_cast<int>(field(o, "turns").as_int64());
  for (const json::value& turn : field(o, "openTurns").as_array()) {
    state.open_turns.insert(static_cast<int>(turn.as_int64()));
  }
  for (const json::value& line : field(o, "lines").as_array()) {
    const json::array& l = line.as_array();
    state.lines.push_back(
        CallLine{static_cast<int>(element(l, 0).as_int64()), std::string(element(l, 6).as_string()),
                 std::string(element(l, 1).as_string()), std::string(element(l, 2).as_string()),
                 element(l, 3).as_bool(), element(l, 4).as_bool(), element(l, 5).as_int64()});
  }
}

std::string voice_turn_body(const CallState& state, const CallLine& utterance, double confidence,
                            std::int64_t now_ms) {
  const json::object& s = state.setup;
  const bool inbound = text_of(s, "direction") == "inbound";
  const std::string ours = text_of(s, "phoneNumber");
  const std::string other = text_of(s, "participant");
  // The conversation's history as a text webhook gets it: what was said
  // before this call (from call.started), then this call's lines, newest
  // last, at most contextLimit in all.
  const std::int64_t limit = std::clamp<std::int64_t>(
      field(s, "webhook").is_object() ? int_of(field(s, "webhook").as_object(), "contextLimit", 10)
                                      : 10,
      0, kMaxContextLimit);
  json::array all;
  if (const json::value* before = s.if_contains("history");
      before != nullptr && before->is_array()) {
    all = before->as_array();
  }
  for (const CallLine& line : state.lines) {
    if (line.interrupted) continue;
    all.push_back(json::object{{"messageId", line.message_id},
                               {"content", line.text},
                               {"direction", line.role == "user" ? "inbound" : "outbound"},
                               {"channel", "voice"},
                               {"at", iso8601(line.at_ms)}});
  }
  // The utterance itself comes last, as a text webhook's message does.
  all.push_back(json::object{{"messageId", utterance.message_id},
                             {"content", utterance.text},
                             {"direction", "inbound"},
                             {"channel", "voice"},
                             {"at", iso8601(utterance.at_ms)}});
  const std::size_t first = all.size() - std::min<std::size_t>(all.size(), limit);
  json::array history(all.begin() + static_cast<std::ptrdiff_t>(first), all.end());
  json::object data{{"callId", state.id},
                    {"numberId", field(s, "numberId")},
                    {"from", inbound ? other : ours},
                    {"to", inbound ? ours : other},
                    {"status", "in-progress"},
                    {"transcript", utterance.text},
                    {"confidence", confidence},
                    {"direction", field(s, "direction")}};
  return to_json(json::object{{"event", "agent.message"},
                              {"channel", "voice"},
                              {"timestamp", iso8601(now_ms)},
                              {"agentId", field(s, "agentId")},
                              {"data", std::move(data)},
                              {"conversationState", field_or(s, "conversationState", nullptr)},
                              {"recentHistory", std::move(history)}});
}

namespace {

// Reads one answer object into the outputs; false when it is not an object.
bool read_answer(const json::value& value, json::array* lines, bool* hangup, json::value* action,
                 json::value* digits, bool ndjson) {
  if (!value.is_object()) return false;
  const json::object& o = value.as_object();
  const json::value* interim = o.if_contains("interim");
  const bool is_interim = ndjson && interim != nullptr && interim->is_bool() && interim->as_bool();
  if (const json::value* text = o.if_contains("text"); text != nullptr && text->is_string()) {
    lines->push_back(json::object{{"text", *text}, {"interim", is_interim}});
  }
  if (const json::value* h = o.if_contains("hangup");
      h != nullptr && h->is_bool() && h->as_bool()) {
    *hangup = true;
  }
  if (const json::value* a = o.if_contains("action"); a != nullptr && a->is_string()) *action = *a;
  for (const char* key : {"digits", "press_digit", "dtmf"}) {
    if (const json::value* d = o.if_contains(key); d != nullptr && d->is_string()) *digits = *d;
  }
  return true;
}

}  // namespace

std::string parse_turn_answer(const std::string& content_type, const std::string& body,
                              json::array* lines, bool* hangup, json::value* action,
                              json::value* digits) {
  *hangup = false;
  *action = nullptr;
  *digits = nullptr;
  boost::system::error_code ec;
  if (content_type.find("ndjson") == std::string::npos) {
    const json::value value = json::parse(body, ec);
    if (ec) return "The answer is not JSON: " + ec.message();
    if (!read_answer(value, lines, hangup, action, digits, false)) {
      return "The answer is not a JSON object";
    }
    return "";
  }
  std::size_t at = 0;
  // Bounded by the body: each round consumes one line.
  while (at < body.size()) {
    std::size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(at, end - at);
    at = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json::value value = json::parse(line, ec);
    if (ec || !read_answer(value, lines, hangup, action, digits, true)) {
      return lines->empty() ? "An NDJSON line is not a JSON object" : "";
    }
    const json::value* interim = value.as_object().if_contains("interim");
    if (interim == nullptr || !interim->is_bool() || !interim->as_bool()) return "";
  }
  return lines->empty() ? "The NDJSON answer has no line" : "";
}

}  // namespace ap::domain
