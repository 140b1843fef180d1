#include "actors/calling.hpp"

#include <boost/json/parse.hpp>

#include "actors/call.hpp"
#include "actors/conversation.hpp"
#include "actors/messaging.hpp"
#include "actors/sms.hpp"

namespace ap::actors {

namespace json = boost::json;
using domain::DomainError;
using domain::ErrorKind;
using domain::FieldError;
using domain::text_of;

namespace {

constexpr std::size_t kMaxPromptChars = 20'000;
constexpr std::size_t kMaxGreetingChars = 4'000;
constexpr std::size_t kMaxVariables = 100;

// Puts the conversation's metadata and its newest messages (as many as the
// webhook's contextLimit) into args, so that voice turns see what was said
// before, by text or on earlier calls.
void add_conversation_context(const projections::CoreView& view, const SenderNumber& number,
                              const std::string& participant, json::object& args) {
  const std::string conversation = domain::conversation_id_for(number.number_id, participant);
  std::optional<std::string> summary = view.conversation(number.account, conversation);
  if (!summary) return;
  args["conversationState"] = domain::field(json::parse(*summary), "metadata");
  const json::value& webhook = domain::field(args, "webhook");
  const std::int64_t limit =
      webhook.is_object() ? domain::field(webhook, "contextLimit").to_number<std::int64_t>() : 0;
  if (limit <= 0) return;
  const projections::Page page =
      view.messages("m/" + conversation + "/", 0, 0, static_cast<std::uint64_t>(limit));
  json::array history;
  // The page is newest first; history is oldest first.
  for (auto it = page.items.rbegin(); it != page.items.rend(); ++it) {
    const json::object message = json::parse(*it).as_object();
    history.push_back(json::object{{"messageId", domain::field(message, "id")},
                                   {"content", domain::field(message, "body")},
                                   {"direction", domain::field(message, "direction")},
                                   {"channel", domain::field(message, "channel")},
                                   {"at", domain::field(message, "receivedAt")}});
  }
  args["history"] = std::move(history);
}

// The command for a call on `number` with `participant`, configured from the
// agent (AgentResponse JSON, or null when the number has no agent).
CallStart start_command(const projections::CoreView& view, domain::IdSource& ids,
                        const SenderNumber& number, const std::string& participant,
                        const json::value& agent, const char* direction) {
  CallStart start;
  start.call_id = ids.new_id("call_");
  json::object args{{"direction", direction},
                    {"numberId", number.number_id},
                    {"phoneNumber", number.phone_number},
                    {"participant", participant},
                    {"agentId", number.agent_id},
                    {"contact", view.contact_by_phone(number.account, participant)},
                    {"mode", "webhook"},
                    {"webhook", webhook_route(view, number.account, number.agent_id)},
                    {"systemPrompt", nullptr},
                    {"greeting", nullptr},
                    {"voice", nullptr},
                    {"variables", json::object()},
                    {"maxSilenceMs", domain::kDefaultMaxSilenceMs}};
  if (agent.is_object()) {
    const json::object& a = agent.as_object();
    args["mode"] = text_of(a, "voiceMode") == "hosted" ? "hosted" : "webhook";
    for (const char* key : {"systemPrompt", "voice", "modelTier"}) {
      if (const json::value* v = a.if_contains(key)) args[key] = *v;
    }
    if (const json::value* v = a.if_contains("beginMessage")) args["greeting"] = *v;
    if (const json::value* v = a.if_contains("maxSilenceMs"); v != nullptr && v->is_int64()) {
      args["maxSilenceMs"] = *v;
    }
  }
  add_conversation_context(view, number, participant, args);
  start.command = domain::Command{"call.start", number.account, std::move(args)};
  return start;
}

// Reads optional string field `key` of `body` (at most `max_chars`) into
// args[key]; a wrong type or length is a field error.
void optional_text(const json::object& body, const char* key, std::size_t max_chars,
                   json::object& args, std::vector<FieldError>& errors) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return;
  if (!v->is_string()) {
    errors.push_back({key, "Input should be a valid string", "string_type"});
  } else if (domain::code_points(v->as_string()) > max_chars) {
    errors.push_back({key,
                      "String should have at most " + std::to_string(max_chars) + " characters",
                      "string_too_long"});
  } else {
    args[key] = *v;
  }
}

}  // namespace

std::variant<CallStart, DomainError> inbound_call(const projections::CoreView& view,
                                                  domain::IdSource& ids, const std::string& from,
                                                  const std::string& to) {
  const std::string caller = domain::normalize_nanp(from);
  if (caller.empty()) {
    return domain::validation_error(
        {{"from", "from must be a US/CA phone number in E.164 form", "value_error"}});
  }
  std::variant<InboundRoute, DomainError> route = route_inbound(view, caller, to);
  if (auto* error = std::get_if<DomainError>(&route)) return std::move(*error);
  const SenderNumber& number = std::get<InboundRoute>(route).number;
  json::value agent = nullptr;
  if (number.agent_id.is_string()) {
    if (std::optional<std::string> row =
            view.agent(number.account, std::string(number.agent_id.as_string()))) {
      agent = json::parse(*row);
    }
  }
  return start_command(view, ids, number, caller, agent, "inbound");
}

std::variant<CallStart, DomainError> outbound_call(const projections::CoreView& view,
                                                   domain::IdSource& ids,
                                                   const std::string& account,
                                                   const json::object& body) {
  std::vector<FieldError> errors;
  const json::value* agent_id = body.if_contains("agentId");
  const json::value* to = body.if_contains("toNumber");
  if (agent_id == nullptr || !agent_id->is_string() || agent_id->as_string().empty()) {
    errors.push_back({"agentId", "Field required: the agent that makes the call", "missing"});
  }
  std::string destination;
  if (to == nullptr || !to->is_string()) {
    errors.push_back({"toNumber", "Field required: the number to call, in E.164 form", "missing"});
  } else {
    destination = domain::normalize_nanp(to->as_string());
    if (destination.empty()) {
      errors.push_back({"toNumber",
                        "toNumber must be a US or Canadian number (+1 and ten digits); emergency "
                        "and N11 service numbers cannot be called",
                        "value_error"});
    }
  }
  json::object extra;
  optional_text(body, "initialGreeting", kMaxGreetingChars, extra, errors);
  optional_text(body, "systemPrompt", kMaxPromptChars, extra, errors);
  optional_text(body, "voice", 100, extra, errors);
  optional_text(body, "fromNumberId", 100, extra, errors);
  if (const json::value* tier = body.if_contains("modelTier");
      tier != nullptr && !tier->is_null()) {
    if (!tier->is_string() || (tier->as_string() != "turbo" && tier->as_string() != "balanced" &&
                               tier->as_string() != "max")) {
      errors.push_back({"modelTier", "Input should be 'turbo', 'balanced' or 'max'", "enum"});
    }
  }
  json::object variables;
  if (const json::value* v = body.if_contains("variables"); v != nullptr && !v->is_null()) {
    if (!v->is_object() || v->as_object().size() > kMaxVariables) {
      errors.push_back(
          {"variables", "variables must be an object of at most 100 strings", "dict_type"});
    } else {
      for (const auto& [name, value] : v->as_object()) {
        if (!value.is_string()) {
          errors.push_back({"variables", "Every variable must be a string", "string_type"});
          break;
        }
      }
      variables = v->as_object();
    }
  }
  if (!errors.empty()) return domain::validation_error(std::move(errors));

  const std::string agent = std::string(agent_id->as_string());
  std::optional<std::string> agent_row = view.agent(account, agent);
  if (!agent_row) return domain::not_found("Agent not found");
  std::variant<SenderNumber, DomainError> sender =
      resolve_sender(view, account, text_of(extra, "fromNumberId"), "", agent);
  if (auto* error = std::get_if<DomainError>(&sender)) return std::move(*error);
  const SenderNumber& number = std::get<SenderNumber>(sender);
  if (number.agent_id != json::value(agent)) {
    return domain::make_error(ErrorKind::kBadRequest, "NUMBER_NOT_ON_AGENT",
                              "Phone number " + number.number_id + " is not attached to agent " +
                                  agent + "; attach it or pass one of the agent's numbers");
  }
  CallStart start =
      start_command(view, ids, number, destination, json::parse(*agent_row), "outbound");
  json::object& args = start.command.args;
  // The call's own greeting and voice win over the agent's; a system prompt
  // makes this one call hosted.
  if (extra.contains("initialGreeting")) args["greeting"] = domain::field(extra, "initialGreeting");
  if (extra.contains("voice")) args["voice"] = domain::field(extra, "voice");
  if (const json::value* tier = body.if_contains("modelTier");
      tier != nullptr && tier->is_string()) {
    args["modelTier"] = *tier;
  }
  if (extra.contains("systemPrompt")) {
    args["systemPrompt"] = domain::field(extra, "systemPrompt");
    args["mode"] = "hosted";
  }
  args["variables"] = std::move(variables);
  if (domain::field(args, "mode") == "webhook" && domain::field(args, "webhook").is_null()) {
    return domain::make_error(ErrorKind::kBadRequest, "WEBHOOK_NOT_CONFIGURED",
                              "Agent " + agent +
                                  " is in webhook mode but neither it nor the project has a "
                                  "webhook to answer the call's turns; set one, or pass "
                                  "systemPrompt to run this call hosted");
  }
  return start;
}

}  // namespace ap::actors
