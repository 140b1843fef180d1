// Call aggregate: one voice call between one of our numbers and another party
// (contract B.5, C.3, C.6). It decides the call's lifecycle, each turn of the
// transcript→response loop, and when the call ends; the host runs what it
// asks of the world (the carrier's dial, a webhook turn, the built-in
// responder, timers) and feeds the outcomes back as commands.
//
// Lifecycle: an outbound call starts "ringing" and becomes "in-progress" when
// the callee answers, or ends "busy", "no-answer" or "failed"; an inbound call
// is answered at once. A live call ends "completed" (or "canceled" while it
// was still ringing), with one of the disconnection reasons below. Ending
// appends the agent.call_ended delivery in the same append, so the webhook
// that reports the end is as durable as the end itself.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "actors/conversation.hpp"
#include "actors/domain.hpp"

namespace ap::domain {

constexpr std::int64_t kDefaultMaxCallDurationMs = 60 * 60 * 1000;
constexpr std::int64_t kDefaultRingTimeoutMs = 30'000;
constexpr std::int64_t kDefaultMaxSilenceMs = 600'000;
// A call's turns are bounded: a caller line every second for an hour.
constexpr int kMaxCallTurns = 3600;
constexpr std::size_t kMaxUtteranceChars = 4000;
constexpr std::size_t kMaxSpokenLinesPerTurn = 32;
constexpr std::size_t kMaxSpokenLineChars = 4000;

// Why a call ended (disconnectionReason), a fixed list documented in docs/calls.md.
namespace reason {
inline constexpr const char* kUserHangup = "user_hangup";
inline constexpr const char* kAgentHangup = "agent_hangup";
inline constexpr const char* kSilenceTimeout = "silence_timeout";
inline constexpr const char* kMaxDuration = "max_duration_reached";
inline constexpr const char* kWebhookUnavailable = "webhook_unavailable";
inline constexpr const char* kCarrierError = "carrier_error";
inline constexpr const char* kTransfer = "transfer";
inline constexpr const char* kPlatformRestart = "platform_restart";
inline constexpr const char* kBusy = "busy";
inline constexpr const char* kNoAnswer = "no_answer";
inline constexpr const char* kInsufficientBalance = "insufficient_balance";
}  // namespace reason

// One line of what was said, in order.
struct CallLine {
  int turn = 0;            // The caller turn it belongs to; 0 = the greeting.
  std::string message_id;  // Its message in the conversation; "" for an unheard line.
  std::string role;        // "user" (the other party) or "agent".
  std::string text;
  bool interim = false;      // An NDJSON interim line (spoken; the turn went on).
  bool interrupted = false;  // An agent reply the caller spoke over: never heard.
  std::int64_t at_ms = 0;
};

struct CallState {
  std::string id;  // "call_…"
  bool exists = false;
  std::string account_id;
  json::object setup;  // The call.started data: parties, mode, webhook, prompts, limits.
  std::string status;  // "ringing", "in-progress", or final (see above).
  std::int64_t answered_at_ms = -1;   // -1 until answered.
  std::int64_t last_activity_ms = 0;  // Last line either way (the silence clock).
  int turns = 0;                      // Caller turns so far.
  std::set<int> open_turns;           // Turns whose answer has not come back.
  std::vector<CallLine> lines;
  // Talk time the call's reservation pays for (actors/billing.hpp), and the
  // money reserved; budget_ms = -1 when funds are not checked.
  std::int64_t budget_ms = -1;
  std::int64_t held_micros = 0;
};

// Whether `status` is one a call can still change from.
bool call_is_live(const std::string& status);

// Fills each {{name}} in `text` from `variables` (string values); a
// placeholder without a value becomes "".
std::string fill_variables(const std::string& text, const json::object& variables);

// Commands:
//   "call.start"   args {direction: "inbound"|"outbound", numberId, phoneNumber (ours),
//                        participant (E.164), agentId|null, mode: "webhook"|"hosted",
//                        webhook: {entity, webhookId, contextLimit}|null, systemPrompt|null,
//                        greeting|null, voice, variables {}, maxSilenceMs,
//                        maxDurationMs?, ringTimeoutMs?}
//                  inbound: answered at once (a webhook-mode call with no webhook
//                  ends at once, failed, webhook_unavailable); outbound: ringing,
//                  with the effect "carrier.dial".
//                  The host reserves funds first (Context::funds_micros): with less
//                  than the minimum, an outbound call is refused (402) and an
//                  inbound one ends at once, failed, insufficient_balance; otherwise
//                  the call may talk for what was reserved (budgetMs), and asks for
//                  more (the effect "billing.extend") when that runs out.
//   "call.extend_budget" args {grantedMicros}  the host's answer to "billing.extend":
//                  0 ends the call, completed, insufficient_balance.
//   "call.carrier" args {event: "answered"|"busy"|"no-answer"|"failed"|"dropped"}
//   "call.say"     args {text, confidence?}   a caller utterance (409 CALL_NOT_LIVE
//                  unless in progress); effect "voice.webhook" or "voice.hosted".
//   "call.answer"  args {turn, lines: [{text, interim}], hangup, action|null,
//                        digits|null, error|null}   the agent's answer to a turn;
//                  one for a turn that is not open, or a call that ended, changes nothing.
//   "call.speak"   args {turn, lines: [{text}]}   lines of an answer still
//                  arriving, spoken at once as interim lines; the turn stays open.
//                  Only into the newest open turn; else nothing.
//   "call.hangup"  args {by: "caller"|"agent"}   (409 CALL_NOT_LIVE when ended)
//   "call.timeout" args {kind: "ring"|"silence"|"duration"}   a timer fired; it
//                  ends the call only if the deadline really passed.
//   "call.reconcile" args {}   at start: a call live in a previous run ends
//                  (platform_restart): nobody is on the line any more.
// Timers are effects "timer" {delayMs, entity: "call", id, command: {type, args}}.
// Every line said either way is also a "message.voice" event (channel
// "voice") in the conversation of the two parties, in the same append, so
// the conversation's history shows calls beside SMS. "call.start" may carry
// the conversation's `history` (HistoryItems, oldest first) and
// `conversationState` for the voice turns' webhook bodies.
Decision decide_call(const CallState& state, const Command& command, const Context& context);
void evolve_call(CallState& state, const std::string& type, const json::object& data);
json::object call_snapshot(const CallState& state);
void restore_call(CallState& state, const json::object& snapshot);

// The agent.message body of caller turn `turn` (channel "voice", contract C.3):
// `history` holds up to `context_limit` earlier lines of the call.
std::string voice_turn_body(const CallState& state, const CallLine& utterance, double confidence,
                            std::int64_t now_ms);

// Parses a webhook's answer to a voice turn (contract C.6): a JSON object, or
// NDJSON lines when `content_type` says so (interim lines first, the first
// non-interim line ends the turn). Sets *lines, *hangup, *action, *digits;
// returns "" or why the answer is silent.
std::string parse_turn_answer(const std::string& content_type, const std::string& body,
                              json::array* lines, bool* hangup, json::value* action,
                              json::value* digits);

}  // namespace ap::domain
