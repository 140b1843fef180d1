#include "actors/conversation.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

#include "actors/billing.hpp"
#include "actors/secrets.hpp"
#include "actors/webhook.hpp"

namespace ap::domain {

std::string conversation_id_for(std::string_view number_id, std::string_view participant) {
  std::string key(number_id);
  key.push_back('|');
  key.append(participant);
  return "conv_" + sha256_hex(key).substr(0, 24);
}

namespace {

Decision decide_status(const ConversationState& state, const Command& command,
                       const Context& context) {
  if (!state.exists) return not_found("Conversation not found");
  const json::object& a = command.args;
  const json::value* id = a.if_contains("messageId");
  const json::value* status = a.if_contains("status");
  if (id == nullptr || !id->is_string() || status == nullptr || !status->is_string()) {
    return validation_error({{"status", "A carrier report needs messageId and status", "missing"}});
  }
  const std::string_view next = status->as_string();
  if (next != "sent" && next != "delivered" && next != "failed") {
    return validation_error(
        {{"status", "status must be sent, delivered or failed", "literal_error"}});
  }
  auto current = state.pending.find(std::string(id->as_string()));
  if (current == state.pending.end()) return std::vector<Event>{};
  if (next == "sent" && current->second == "sent") return std::vector<Event>{};
  json::value error_code = nullptr, error_message = nullptr;
  if (next == "failed") {
    const json::value* code = a.if_contains("errorCode");
    const json::value* message = a.if_contains("errorMessage");
    error_code = code != nullptr && code->is_string() ? *code : json::value("CARRIER_ERROR");
    error_message = message != nullptr && message->is_string()
                        ? *message
                        : json::value("The carrier could not deliver the message");
  }
  return std::vector<Event>{Event{"message.status_updated",
                                  {{"messageId", *id},
                                   {"conversationId", state.id},
                                   {"accountId", state.account_id},
                                   {"numberId", state.number_id},
                                   {"status", *status},
                                   {"errorCode", error_code},
                                   {"errorMessage", error_message},
                                   {"atMs", context.now_ms}}}};
}

}  // namespace

namespace {

// The agent.message delivery of inbound `message` (a message.received's
// data), with recentHistory from the conversation's memory plus the message.
Event inbound_delivery(const ConversationState& state, const Command& command,
                       const json::object& message, const Context& context) {
  const json::value* webhook = command.args.if_contains("webhook");
  const json::value target = webhook != nullptr ? *webhook : json::value(nullptr);
  const std::string message_id(field(message, "messageId").as_string());
  std::string body;
  if (!target.is_null()) {
    const auto limit = static_cast<std::size_t>(field(target, "contextLimit").as_int64());
    std::vector<HistoryItem> history;
    const HistoryItem current{message_id, std::string(field(message, "body").as_string()),
                              "inbound", std::string(field(message, "channel").as_string()),
                              iso8601(field(message, "atMs").as_int64())};
    const std::size_t older = limit == 0 ? 0 : std::min(limit - 1, state.recent.size());
    history.assign(state.recent.end() - static_cast<std::ptrdiff_t>(older), state.recent.end());
    if (limit > 0) history.push_back(current);
    const json::value* contact = command.args.if_contains("contact");
    body = agent_message_body(message, contact != nullptr ? *contact : json::value(nullptr),
                              state.metadata, history, iso8601(context.now_ms));
  }
  return delivery_event(delivery_id_for("agent.message", message_id), command.account_id, target,
                        field(message, "agentId"), "agent.message", field(message, "channel"),
                        field(message, "messageId"), field(message, "conversationId"),
                        std::move(body), context.now_ms);
}

}  // namespace

Decision decide_conversation(const ConversationState& state, const Command& command,
                             const Context& context) {
  if (state.exists && state.account_id != command.account_id) {
    return not_found("Conversation not found");
  }
  if (command.type == "conversation.update") {
    if (!state.exists) return not_found("Conversation not found");
    const json::value& metadata = field(command.args, "metadata");
    if (!metadata.is_null() && !metadata.is_object()) {
      return validation_error({{"metadata", "Input should be a valid dictionary", "dict_type"}});
    }
    const std::size_t bytes = to_json(metadata).size();
    if (bytes > kMaxMetadataBytes) {
      return validation_error({{"metadata",
                                "metadata is " + std::to_string(bytes) + " bytes; the limit is " +
                                    std::to_string(kMaxMetadataBytes),
                                "too_long"}});
    }
    if (metadata == state.metadata) return std::vector<Event>{};
    return std::vector<Event>{Event{
        "conversation.metadata_updated",
        {{"conversationId", state.id}, {"accountId", state.account_id}, {"metadata", metadata}}}};
  }
  if (command.type == "conversation.status") return decide_status(state, command, context);
  const bool outbound = command.type == "conversation.send";
  if (!outbound && command.type != "conversation.receive") return unknown_command(command.type);
  if (outbound) {
    const std::int64_t price = rate_card_at(context.now_ms).sms_outbound_micros;
    if (context.funds_micros && *context.funds_micros < price) {
      return insufficient_balance("sending a message", price);
    }
  }

  const json::object& a = command.args;
  std::vector<Event> events;
  if (!state.exists) {
    events.push_back(Event{"conversation.started",
                           {{"conversationId", state.id},
                            {"accountId", command.account_id},
                            {"numberId", field(a, "numberId")},
                            {"phoneNumber", field(a, "phoneNumber")},
                            {"participant", field(a, "participant")},
                            {"agentId", field(a, "agentId")},
                            {"createdAtMs", context.now_ms}}});
  }
  // Message times strictly increase within a conversation (a message in the
  // same millisecond as the previous one is stamped a millisecond later), so
  // that the `before`/`after` time cursors never skip a message.
  const std::int64_t at_ms = std::max(context.now_ms, state.last_message_at_ms + 1);
  const json::value& ours = field(a, "phoneNumber");
  const json::value& theirs = field(a, "participant");
  const json::array& media = field(a, "mediaUrls").as_array();
  events.push_back(Event{outbound ? "message.queued" : "message.received",
                         {{"messageId", context.ids->new_id("msg_")},
                          {"conversationId", state.id},
                          {"accountId", command.account_id},
                          {"numberId", field(a, "numberId")},
                          {"agentId", state.exists ? state.agent_id : field(a, "agentId")},
                          {"direction", outbound ? "outbound" : "inbound"},
                          {"from", outbound ? ours : theirs},
                          {"to", outbound ? theirs : ours},
                          {"body", field(a, "body")},
                          {"mediaUrls", media},
                          {"channel", media.empty() ? "sms" : "mms"},
                          {"segments", field(a, "segments")},
                          {"status", outbound ? "queued" : "received"},
                          {"atMs", at_ms}}});
  if (!outbound) {
    events.push_back(inbound_delivery(state, command, events.back().data, context));
    return events;
  }
  // The carrier is asked to send once the message is in the log.
  Outcome outcome;
  outcome.effects.push_back(Effect{"carrier.send_sms", events.back().data});
  outcome.events = std::move(events);
  return outcome;
}

namespace {

// The parties of a new conversation, from conversation.started or the
// message.voice of a call that starts one.
void start(ConversationState& state, const json::object& data, std::int64_t created_ms) {
  state.exists = true;
  state.account_id = std::string(field(data, "accountId").as_string());
  state.number_id = std::string(field(data, "numberId").as_string());
  state.phone_number = std::string(field(data, "phoneNumber").as_string());
  state.participant = std::string(field(data, "participant").as_string());
  state.agent_id = field(data, "agentId");
  state.created_at_ms = created_ms;
}

}  // namespace

void evolve_conversation(ConversationState& state, const std::string& type,
                         const json::object& data) {
  if (type == "conversation.started") {
    start(state, data, field(data, "createdAtMs").as_int64());
  } else if (type == "message.queued" || type == "message.received") {
    ++state.message_count;
    state.last_message_at_ms = field(data, "atMs").as_int64();
    state.recent.push_back(HistoryItem{std::string(field(data, "messageId").as_string()),
                                       std::string(field(data, "body").as_string()),
                                       std::string(field(data, "direction").as_string()),
                                       std::string(field(data, "channel").as_string()),
                                       iso8601(field(data, "atMs").as_int64())});
    if (state.recent.size() > kMaxRecentMessages) state.recent.pop_front();
    if (type == "message.queued") {
      state.pending[std::string(field(data, "messageId").as_string())] = "queued";
    }
  } else if (type == "message.voice") {
    // A call's line: the call writes it, and the first one of a new pair of
    // parties starts the conversation.
    if (!state.exists) start(state, data, field(data, "atMs").as_int64());
    ++state.message_count;
    state.last_message_at_ms = std::max(state.last_message_at_ms, field(data, "atMs").as_int64());
    state.recent.push_back(HistoryItem{std::string(field(data, "messageId").as_string()),
                                       std::string(field(data, "body").as_string()),
                                       std::string(field(data, "direction").as_string()), "voice",
                                       iso8601(field(data, "atMs").as_int64())});
    if (state.recent.size() > kMaxRecentMessages) state.recent.pop_front();
  } else if (type == "message.status_updated") {
    const std::string id(field(data, "messageId").as_string());
    if (field(data, "status") == "sent") {
      state.pending[id] = "sent";
    } else {
      state.pending.erase(id);
    }
  } else if (type == "conversation.metadata_updated") {
    state.metadata = field(data, "metadata");
  }
}

}  // namespace ap::domain
