#include "actors/messaging.hpp"

#include <boost/json/parse.hpp>

#include "actors/conversation.hpp"
#include "actors/invariant.hpp"
#include "actors/sms.hpp"
#include "actors/webhook.hpp"

namespace ap::actors {

namespace json = boost::json;
using domain::DomainError;
using domain::ErrorKind;

namespace {

DomainError number_not_found(std::string message = "Phone number not found") {
  return domain::make_error(ErrorKind::kNotFound, "PHONE_NUMBER_NOT_FOUND", std::move(message));
}

// The number `number_id` of `account` as the view holds it.
std::variant<SenderNumber, DomainError> number_of(const projections::CoreView& view,
                                                  const std::string& account,
                                                  const std::string& number_id) {
  std::optional<std::string> raw = view.number(account, number_id);
  if (!raw) return number_not_found();
  const json::object number = json::parse(*raw).as_object();
  AP_ASSERT(number.contains("status") && number.contains("phoneNumber"),
            "a number row has its status and phone number");
  if (domain::field(number, "status") != "active") {
    return domain::make_error(ErrorKind::kBadRequest, "NUMBER_RELEASED",
                              "Phone number " + number_id + " has been released");
  }
  return SenderNumber{account, number_id,
                      std::string(domain::field(number, "phoneNumber").as_string()),
                      domain::field(number, "agentId")};
}

}  // namespace

json::value webhook_route(const projections::CoreView& view, const std::string& account,
                          const json::value& agent_id) {
  std::optional<std::string> webhook;
  std::string entity;
  if (agent_id.is_string()) {
    entity = domain::agent_webhook_entity(agent_id.as_string());
    webhook = view.webhook(account, entity);
  }
  if (!webhook) {
    entity = domain::project_webhook_entity(account);
    webhook = view.webhook(account, entity);
  }
  if (!webhook) return nullptr;
  const json::object config = json::parse(*webhook).as_object();
  return json::object{{"entity", entity},
                      {"webhookId", domain::field(config, "id")},
                      {"contextLimit", domain::field(config, "contextLimit")}};
}

std::variant<SenderNumber, DomainError> resolve_sender(const projections::CoreView& view,
                                                       const std::string& account,
                                                       const std::string& number_id,
                                                       const std::string& from_number,
                                                       const std::string& agent_id) {
  if (!number_id.empty()) return number_of(view, account, number_id);
  if (!from_number.empty()) {
    const std::string from = domain::normalize_nanp(from_number);
    std::optional<std::pair<std::string, std::string>> owner = view.number_by_phone(from);
    if (!owner || owner->first != account) return number_not_found();
    return number_of(view, account, owner->second);
  }
  std::optional<std::string> agent = view.agent(account, agent_id);
  if (!agent) return domain::not_found("Agent not found");
  const json::value parsed = json::parse(*agent);
  const json::array& numbers = domain::field(parsed, "numbers").as_array();
  if (numbers.empty()) {
    return domain::make_error(
        ErrorKind::kBadRequest, "AGENT_HAS_NO_NUMBER",
        "Agent " + agent_id + " has no phone number; attach one or pass number_id");
  }
  return number_of(view, account, std::string(domain::field(numbers.front(), "id").as_string()));
}

std::variant<InboundRoute, DomainError> route_inbound(const projections::CoreView& view,
                                                      const std::string& from,
                                                      const std::string& to) {
  std::optional<std::pair<std::string, std::string>> owner = view.number_by_phone(to);
  if (!owner) return number_not_found("No active number " + to + " on this carrier");
  std::variant<SenderNumber, DomainError> number = number_of(view, owner->first, owner->second);
  if (auto* error = std::get_if<DomainError>(&number)) return number_not_found(error->message);
  InboundRoute route{std::get<SenderNumber>(std::move(number)), nullptr, nullptr};
  const std::string& account = route.number.account;
  route.contact = view.contact_by_phone(account, from);
  // The webhook: that of the conversation's agent (the number's agent when
  // the conversation is new) if it has one, else the project's, else none.
  json::value agent = route.number.agent_id;
  const std::string conversation = domain::conversation_id_for(route.number.number_id, from);
  if (std::optional<std::string> summary = view.conversation(account, conversation)) {
    agent = domain::field(json::parse(*summary), "agentId");
  }
  route.webhook = webhook_route(view, account, agent);
  return route;
}

MessageCommand message_command(const SenderNumber& number, const std::string& participant,
                               json::object message, bool outbound) {
  MessageCommand out;
  out.conversation_id = domain::conversation_id_for(number.number_id, participant);
  const std::size_t segments =
      domain::count_segments(domain::field(message, "body").as_string()).segments;
  message["numberId"] = number.number_id;
  message["phoneNumber"] = number.phone_number;
  message["participant"] = participant;
  message["agentId"] = number.agent_id;
  message["segments"] = segments;
  out.command = domain::Command{outbound ? "conversation.send" : "conversation.receive",
                                number.account, std::move(message)};
  return out;
}

}  // namespace ap::actors
