#include "actors/conversation.hpp"

#include <boost/json/serialize.hpp>

#include "actors/secrets.hpp"

namespace ap::domain {

std::string conversation_id_for(std::string_view number_id, std::string_view participant) {
  std::string key(number_id);
  key.push_back('|');
  key.append(participant);
  return "conv_" + sha256_hex(key).substr(0, 24);
}

Decision decide_conversation(const ConversationState& state, const Command& command,
                             const Context& context) {
  if (state.exists && state.account_id != command.account_id) {
    return not_found("Conversation not found");
  }
  if (command.type == "conversation.update") {
    if (!state.exists) return not_found("Conversation not found");
    const json::value& metadata = command.args.at("metadata");
    if (!metadata.is_null() && !metadata.is_object()) {
      return validation_error({{"metadata", "Input should be a valid dictionary", "dict_type"}});
    }
    const std::size_t bytes = json::serialize(metadata).size();
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
  const bool outbound = command.type == "conversation.send";
  if (!outbound && command.type != "conversation.receive") return unknown_command(command.type);

  const json::object& a = command.args;
  std::vector<Event> events;
  if (!state.exists) {
    events.push_back(Event{"conversation.started",
                           {{"conversationId", state.id},
                            {"accountId", command.account_id},
                            {"numberId", a.at("numberId")},
                            {"phoneNumber", a.at("phoneNumber")},
                            {"participant", a.at("participant")},
                            {"agentId", a.at("agentId")},
                            {"createdAtMs", context.now_ms}}});
  }
  const json::value& ours = a.at("phoneNumber");
  const json::value& theirs = a.at("participant");
  const json::array& media = a.at("mediaUrls").as_array();
  events.push_back(Event{outbound ? "message.queued" : "message.received",
                         {{"messageId", context.ids->new_id("msg_")},
                          {"conversationId", state.id},
                          {"accountId", command.account_id},
                          {"numberId", a.at("numberId")},
                          {"agentId", state.exists ? state.agent_id : a.at("agentId")},
                          {"direction", outbound ? "outbound" : "inbound"},
                          {"from", outbound ? ours : theirs},
                          {"to", outbound ? theirs : ours},
                          {"body", a.at("body")},
                          {"mediaUrls", media},
                          {"channel", media.empty() ? "sms" : "mms"},
                          {"segments", a.at("segments")},
                          {"status", outbound ? "queued" : "received"},
                          {"atMs", context.now_ms}}});
  return events;
}

void evolve_conversation(ConversationState& state, const std::string& type,
                         const json::object& data) {
  if (type == "conversation.started") {
    state.exists = true;
    state.account_id = std::string(data.at("accountId").as_string());
    state.number_id = std::string(data.at("numberId").as_string());
    state.phone_number = std::string(data.at("phoneNumber").as_string());
    state.participant = std::string(data.at("participant").as_string());
    state.agent_id = data.at("agentId");
    state.created_at_ms = data.at("createdAtMs").as_int64();
  } else if (type == "message.queued" || type == "message.received") {
    ++state.message_count;
  } else if (type == "conversation.metadata_updated") {
    state.metadata = data.at("metadata");
  }
}

}  // namespace ap::domain
