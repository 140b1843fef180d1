// Messaging: what happens to a message before its conversation decides. One
// place for the three decisions every path shares — the REST routes, the
// sandbox's /sim/sms, the simulator and a future carrier adapter:
//   - which of our numbers sends an outbound message (resolve_sender),
//   - where an inbound message goes: its account, number, agent and webhook
//     (route_inbound),
//   - the conversation command that records it (message_command).
// They read the read model (projections/core_view.hpp) for numbers, agents,
// conversations and webhooks; the conversation aggregate then decides.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <variant>

#include "actors/domain.hpp"
#include "actors/runtime.hpp"
#include "projections/core_view.hpp"

namespace ap::actors {

// One of our numbers, as a message sees it.
struct SenderNumber {
  std::string account;
  std::string number_id;
  std::string phone_number;     // E.164.
  boost::json::value agent_id;  // The number's agent, or null.
};

// The number that sends for `account`: `number_id` if given, else the active
// number `from_number` (any US/CA format), else the first number of
// `agent_id`. Errors: 404 PHONE_NUMBER_NOT_FOUND / NOT_FOUND for unknown or
// foreign ids, 400 AGENT_HAS_NO_NUMBER, 400 NUMBER_RELEASED.
std::variant<SenderNumber, domain::DomainError> resolve_sender(const projections::CoreView& view,
                                                               const std::string& account,
                                                               const std::string& number_id,
                                                               const std::string& from_number,
                                                               const std::string& agent_id);

// The webhook {entity, webhookId, contextLimit} that events of `agent_id`
// (a string, or null for none) go to: the agent's own, else the project's of
// `account`; null when neither is configured.
boost::json::value webhook_route(const projections::CoreView& view, const std::string& account,
                                 const boost::json::value& agent_id);

// Where an inbound SMS to our number `to` goes.
struct InboundRoute {
  SenderNumber number;
  // {entity, webhookId, contextLimit} of the webhook it is delivered to — the
  // conversation's agent's (the number's agent for a new conversation), else
  // the project's — or null when none is configured.
  boost::json::value webhook;
  // The account's contact with the sender's number ({id, name, email,
  // phoneNumber}), or null.
  boost::json::value contact;
};

// Routes an inbound message to `to` (E.164). A number nobody holds, or one
// that was released, is 404 PHONE_NUMBER_NOT_FOUND: it leaves no trace in
// any account.
std::variant<InboundRoute, domain::DomainError> route_inbound(const projections::CoreView& view,
                                                              const std::string& from,
                                                              const std::string& to);

// The "conversation.send" (outbound) or "conversation.receive" command that
// records `message` ({body, mediaUrls, webhook?, contact?}) between `number` and
// `participant`, with its conversation id and SMS segment count.
struct MessageCommand {
  std::string conversation_id;
  domain::Command command;
};
MessageCommand message_command(const SenderNumber& number, const std::string& participant,
                               boost::json::object message, bool outbound);

}  // namespace ap::actors
