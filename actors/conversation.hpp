// Conversation aggregate: the thread between one of our numbers and one
// other party (contract B.4). Inbound and outbound messages both land here.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "actors/domain.hpp"

namespace ap::domain {

constexpr std::size_t kMaxMetadataBytes = 16 * 1024;
// Messages a conversation remembers for webhook history (the largest contextLimit).
constexpr std::size_t kMaxRecentMessages = 50;

// One message as webhook history shows it (contract C.3 HistoryItem).
struct HistoryItem {
  std::string message_id, content, direction, channel, at;
};
constexpr std::size_t kMaxBodyChars = 1600;

struct ConversationState {
  std::string id;
  bool exists = false;
  std::string account_id;
  std::string number_id;
  std::string phone_number;  // Ours.
  std::string participant;   // The other party, E.164.
  json::value agent_id;      // The number's agent when the thread started, or null.
  json::value metadata;      // Object or null.
  std::int64_t message_count = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t last_message_at_ms = 0;  // Message times strictly increase.
  // Outbound messages the carrier has not finished with: id -> "queued" | "sent".
  std::map<std::string, std::string> pending;
  // The newest kMaxRecentMessages messages, oldest first.
  std::deque<HistoryItem> recent;
};

// The id of the conversation between number `number_id` and `participant`:
// derived, so that both directions find the same thread without a lookup.
std::string conversation_id_for(std::string_view number_id, std::string_view participant);

// Commands:
//   "conversation.send"     args {numberId, phoneNumber, participant, agentId|null,
//                                 body, mediaUrls[], segments}   (outbound, queued;
//                           effect "carrier.send_sms" with the message.queued data)
//   "conversation.receive"  same args (inbound), plus webhook: {entity, webhookId,
//                           contextLimit} | null — the webhook the message goes to.
//                           The agent.message delivery is created in the same
//                           append (webhook.delivery_created, or _skipped when null).
//   "conversation.update"   args {metadata: object|null}
//   "conversation.status"   args {messageId, status: "sent"|"delivered"|"failed",
//                                 errorCode?, errorMessage?}   (a carrier report)
// Carrier reports move an outbound message queued -> sent -> delivered | failed
// (queued may also end directly); repeated, late or unknown reports change
// nothing, because carriers repeat themselves and reports can arrive after a
// restart resubmitted the message.
// Message ids come from context.ids ("msg_").
// A call appends "message.voice" events (one per line said either way) to
// its conversation's stream in its own appends; the first starts the
// conversation, so SMS and voice share one thread and one history.
Decision decide_conversation(const ConversationState& state, const Command& command,
                             const Context& context);
void evolve_conversation(ConversationState& state, const std::string& type,
                         const json::object& data);

}  // namespace ap::domain
