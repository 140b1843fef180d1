// Messages, conversations and the sandbox simulator surface (contract B.3, B.4).
#include <boost/json/parse.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>

#include "actors/conversation.hpp"
#include "actors/invariant.hpp"
#include "actors/sms.hpp"
#include "actors/webhook.hpp"
#include "http/api_internal.hpp"

namespace ap::http {

namespace {

Response conversation_or_404(std::optional<std::string> conversation) {
  return conversation ? raw_json_response(std::move(*conversation))
                      : not_found_response("Conversation not found");
}

Response message_page(const projections::Page& page) {
  return raw_json_response("{\"data\":" + json_array(page.items) +
                           ",\"hasMore\":" + (page.has_more ? "true}" : "false}"));
}

// Reads an ISO-8601 query cursor into ms (0 when absent).
bool query_time(const Query& q, const char* name, std::int64_t* ms,
                std::vector<FieldError>& errors) {
  *ms = 0;
  const std::string* text = q.get(name);
  if (text == nullptr || text->empty()) return true;
  if (!domain::parse_iso8601(*text, ms) || *ms <= 0) {
    errors.push_back(
        {name, "Input should be a valid datetime, e.g. 2025-01-15T12:00:00Z", "datetime_parsing"});
    return false;
  }
  return true;
}

Response not_on_sms(const char* field) {
  return error_response(
      400, std::string(field) + " is an iMessage feature and is not available on SMS numbers",
      "NOT_AVAILABLE_ON_SMS", "invalid_request_error");
}

// A SendMessageRequest validated into what the send needs.
struct OutboundMessage {
  std::string to;  // E.164.
  std::string body;
  json::array media_urls;
  std::string number_id, from_number, agent_id;  // The sender, as given.
};

// Validates the snake_case SendMessageRequest. Returns a response to send
// instead when the request is refused.
std::optional<Response> parse_outbound(const json::object& body, OutboundMessage* out) {
  for (const char* imessage : {"recipients", "send_style", "reply_to_message_id"}) {
    const json::value* v = body.if_contains(imessage);
    if (v != nullptr && !v->is_null()) return not_on_sms(imessage);
  }
  std::vector<FieldError> errors;
  auto string_field = [&](const char* name, std::string* target, bool required) {
    const json::value* v = body.if_contains(name);
    if (v == nullptr || v->is_null()) {
      if (required) errors.push_back({name, "Field required", "missing"});
      return;
    }
    if (!v->is_string()) {
      errors.push_back({name, "Input should be a valid string", "string_type"});
      return;
    }
    *target = std::string(v->as_string());
  };
  std::string to;
  string_field("body", &out->body, true);
  string_field("to_number", &to, true);
  string_field("number_id", &out->number_id, false);
  string_field("from_number", &out->from_number, false);
  string_field("agent_id", &out->agent_id, false);
  std::string media_url;
  string_field("media_url", &media_url, false);
  if (!media_url.empty()) out->media_urls.push_back(json::string(media_url));
  if (const json::value* list = body.if_contains("media_urls");
      list != nullptr && !list->is_null()) {
    if (!list->is_array()) {
      errors.push_back({"media_urls", "Input should be a valid list", "list_type"});
    } else {
      for (const json::value& url : list->as_array()) {
        if (!url.is_string()) {
          errors.push_back({"media_urls", "Input should be a list of strings", "string_type"});
          break;
        }
        out->media_urls.push_back(url);
      }
    }
  }
  for (const json::value& url : out->media_urls) {
    const std::string_view text = url.as_string();
    if (!text.starts_with("https://") && !text.starts_with("http://")) {
      errors.push_back({"media_urls", "Media URLs must be http(s) URLs", "url_scheme"});
      break;
    }
  }
  if (!to.empty()) {
    out->to = domain::normalize_nanp(to);
    if (out->to.empty()) {
      errors.push_back({"to_number",
                        "to_number must be a US or Canadian phone number, e.g. +14155551234",
                        "value_error"});
    }
  }
  if (domain::code_points(out->body) > domain::kMaxBodyChars) {
    errors.push_back(
        {"body",
         "String should have at most " + std::to_string(domain::kMaxBodyChars) + " characters",
         "string_too_long"});
  }
  if (errors.empty() && out->body.empty() && out->media_urls.empty()) {
    errors.push_back({"body", "body must not be empty unless media is attached", "value_error"});
  }
  if (!out->from_number.empty() && domain::normalize_nanp(out->from_number).empty()) {
    errors.push_back({"from_number",
                      "from_number must be a US or Canadian phone number, e.g. +14155551234",
                      "value_error"});
  }
  if (errors.empty() && out->number_id.empty() && out->from_number.empty() &&
      out->agent_id.empty()) {
    errors.push_back({"", "One of agent_id, number_id or from_number is required", "missing"});
  }
  if (!errors.empty()) return validation_response(errors, "body");
  return std::nullopt;
}

}  // namespace

void Api::Impl::deliver(const actors::SenderNumber& number, const std::string& participant,
                        json::object message, bool outbound, const Responder& reply) {
  actors::MessageCommand recorded =
      actors::message_command(number, participant, std::move(message), outbound);
  command(
      EntityKind::kConversation, recorded.conversation_id, std::move(recorded.command), reply,
      [outbound](const CommandResult& result) {
        // The message's event; an inbound one is followed by its delivery's.
        auto message_event =
            std::find_if(result.events.begin(), result.events.end(),
                         [](const domain::Event& e) { return e.type.rfind("message.", 0) == 0; });
        AP_ASSERT(message_event != result.events.end(), "a recorded message has its message event");
        const json::object& sent = message_event->data;
        if (!outbound) {
          return json_response(
              json::object{{"conversationId", domain::field(sent, "conversationId")},
                           {"messageId", domain::field(sent, "messageId")},
                           {"status", domain::field(sent, "status")}});
        }
        return json_response(
            json::object{{"id", domain::field(sent, "messageId")},
                         {"status", domain::field(sent, "status")},
                         {"channel", domain::field(sent, "channel")},
                         {"from_number", domain::field(sent, "from")},
                         {"to_number", domain::field(sent, "to")},
                         {"conversation_id", domain::field(sent, "conversationId")},
                         {"media_urls", domain::field(sent, "mediaUrls")},
                         {"reply_to_message_id", nullptr},
                         {"reply_parent_unresolved", nullptr}});
      });
}

// POST /v1/messages
void Api::Impl::route_messages(const Call& call) {
  if (call.parts.size() != 2) return call.unknown_route();
  *call.route_label = "/v1/messages";
  if (call.request.method != "POST") return call.method_not_allowed();
  json::object body;
  if (!call.body_object(&body)) return;
  OutboundMessage message;
  if (std::optional<Response> refusal = parse_outbound(body, &message)) return call.reply(*refusal);
  const std::string account = call.account;
  after_own_writes(account, [this, account, message = std::move(message), reply = call.reply] {
    std::variant<actors::SenderNumber, DomainError> sender = actors::resolve_sender(
        view, account, message.number_id, message.from_number, message.agent_id);
    if (auto* error = std::get_if<DomainError>(&sender)) {
      return reply(domain_error_response(*error));
    }
    deliver(std::get<actors::SenderNumber>(sender), message.to,
            {{"body", message.body}, {"mediaUrls", message.media_urls}}, true, reply);
  });
}

// /v1/conversations, /v1/conversations/{id}, /v1/conversations/{id}/messages
void Api::Impl::route_conversations(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const std::string& account = call.account;
  const Responder& reply = call.reply;
  if (p.size() == 2) {
    *call.route_label = "/v1/conversations";
    if (method != "GET") return call.method_not_allowed();
    std::int64_t offset, limit;
    if (!call.paging(&offset, &limit)) return;
    return after_own_writes(account, [this, account, offset, limit, reply] {
      list_page(view.conversations(account, "", offset, limit), true, reply);
    });
  }
  const std::string id = p[2];
  if (p.size() == 4 && p[3] == "messages") {
    *call.route_label = "/v1/conversations/{id}/messages";
    if (method != "GET") return call.method_not_allowed();
    return list_messages(call, "m/" + id + "/", [this, account, id] {
      return view.conversation(account, id) ? std::nullopt
                                            : std::optional(conversation_or_404(std::nullopt));
    });
  }
  if (p.size() != 3) return call.unknown_route();
  *call.route_label = "/v1/conversations/{id}";
  // ConversationDetail: the summary without its preview, plus the newest messages.
  auto detail = [this, account, id](std::int64_t message_limit) -> Response {
    std::optional<std::string> raw = view.conversation(account, id);
    if (!raw) return conversation_or_404(std::nullopt);
    json::object conversation = json::parse(*raw).as_object();
    conversation.erase("lastMessagePreview");
    json::array messages;
    for (const std::string& m : view.messages("m/" + id + "/", 0, 0, message_limit).items) {
      messages.push_back(json::parse(m));
    }
    conversation["messages"] = std::move(messages);
    return json_response(conversation);
  };
  if (method == "GET") {
    std::vector<FieldError> errors;
    std::int64_t message_limit = 50;
    query_int(call.query, "message_limit", 50, 1, 100, &message_limit, errors);
    if (!errors.empty()) return reply(validation_response(errors, "query"));
    return after_own_writes(account,
                            [detail, message_limit, reply] { reply(detail(message_limit)); });
  }
  if (method != "PATCH") return call.method_not_allowed();
  json::object body;
  if (!call.body_object(&body)) return;
  const json::value* metadata = body.if_contains("metadata");
  if (metadata == nullptr) {
    // Only included keys change; nothing to do, but the id must still exist.
    return after_own_writes(account, [detail, reply] { reply(detail(50)); });
  }
  if (!metadata->is_null() && !metadata->is_object()) {
    return reply(validation_response(
        {{"metadata", "Input should be a valid dictionary or null", "dict_type"}}, "body"));
  }
  after_own_writes(account, [this, account, id, detail, metadata = *metadata, reply] {
    if (!view.conversation(account, id)) return reply(conversation_or_404(std::nullopt));
    command(EntityKind::kConversation, id,
            {"conversation.update", account, {{"metadata", metadata}}}, reply,
            [detail](const CommandResult&) { return detail(50); });
  });
}

void Api::Impl::list_messages(const Call& call, const std::string& prefix,
                              std::function<std::optional<Response>()> guard) {
  std::vector<FieldError> errors;
  std::int64_t limit = 50, before_ms = 0, after_ms = 0;
  query_int(call.query, "limit", 50, 1, 200, &limit, errors);
  query_time(call.query, "before", &before_ms, errors);
  query_time(call.query, "after", &after_ms, errors);
  if (!errors.empty()) return call.reply(validation_response(errors, "query"));
  after_own_writes(call.account, [this, prefix, guard = std::move(guard), limit, before_ms,
                                  after_ms, reply = call.reply] {
    if (std::optional<Response> refusal = guard()) return reply(*refusal);
    reply(message_page(view.messages(prefix, before_ms, after_ms, limit)));
  });
}

// /sim/sms (POST), /sim/outbox (GET), /sim/faults (GET, POST, DELETE).
void Api::Impl::route_sim(const Request& request, const std::string& path, const Query& query,
                          const Reply& reply) {
  auto method_not_allowed = [&] { reply(method_not_allowed_response()); };
  if (path == "/sim/sms") {
    if (request.method != "POST") return method_not_allowed();
    return sim_inbound_sms(request, reply);
  }
  if (path == "/sim/outbox") {
    if (request.method != "GET") return method_not_allowed();
    std::vector<FieldError> errors;
    std::int64_t limit = 50;
    query_int(query, "limit", 50, 1, 1000, &limit, errors);
    if (!errors.empty()) return reply(validation_response(errors, "query"));
    const projections::Page page = view.outbound(static_cast<std::uint64_t>(limit));
    return reply(raw_json_response("{\"data\":" + json_array(page.items) +
                                   ",\"hasMore\":" + (page.has_more ? "true" : "false") +
                                   ",\"carrierAccepted\":" + std::to_string(simulator->accepted()) +
                                   "}"));
  }
  if (path == "/sim/faults") return sim_faults(request, reply);
  if (path == "/sim/payments") return sim_payments(request, reply);
  if (path == "/sim/calls" || path.rfind("/sim/calls/", 0) == 0) {
    return sim_calls(request, split_path(path), reply);
  }
  reply(not_found_response("Not Found"));
}

// GET lists the faults, POST {to, mode, delayMs?} sets one, DELETE clears all.
void Api::Impl::sim_faults(const Request& request, const Reply& reply) {
  auto listing = [this] {
    json::array faults;
    for (const sim::SimFault& f : simulator->faults()) {
      faults.push_back(json::object{{"to", f.to}, {"mode", f.mode}, {"delayMs", f.delay_ms}});
    }
    return json_response(json::object{{"data", faults}});
  };
  if (request.method == "GET") return reply(listing());
  if (request.method == "DELETE") {
    simulator->clear_faults();
    return reply(listing());
  }
  if (request.method != "POST") {
    return reply(method_not_allowed_response());
  }
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  sim::SimFault fault;
  std::vector<FieldError> errors;
  const json::value* to = body.if_contains("to");
  fault.to = to != nullptr && to->is_string() ? domain::normalize_nanp(to->as_string()) : "";
  if (fault.to.empty()) {
    errors.push_back({"to", "to must be a US or Canadian number", "value_error"});
  }
  const json::value* mode = body.if_contains("mode");
  if (mode == nullptr || !mode->is_string()) {
    errors.push_back({"mode", "mode must be unreachable, reject or delay", "literal_error"});
  } else {
    fault.mode = std::string(mode->as_string());
  }
  if (const json::value* delay = body.if_contains("delayMs"); delay != nullptr) {
    if (!delay->is_int64()) {
      errors.push_back({"delayMs", "Input should be a valid integer", "int_type"});
    } else {
      fault.delay_ms = delay->as_int64();
    }
  }
  if (!errors.empty()) return reply(validation_response(errors, "body"));
  if (std::string refusal = simulator->set_fault(fault); !refusal.empty()) {
    return reply(validation_response({{"", refusal, "value_error"}}, "body"));
  }
  reply(listing());
}

// POST /sim/sms {from, to, body}: an inbound SMS from the simulated carrier.
// A message to a number nobody holds is refused at the carrier edge and
// leaves no trace in any account.
void Api::Impl::sim_inbound_sms(const Request& request, const Reply& reply) {
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  auto text = [&](const char* name) {
    const json::value* v = body.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string from = domain::normalize_nanp(text("from"));
  const std::string to = domain::normalize_nanp(text("to"));
  const std::string message = text("body");
  std::vector<FieldError> errors;
  if (from.empty())
    errors.push_back({"from", "from must be a US or Canadian number", "value_error"});
  if (to.empty()) errors.push_back({"to", "to must be a US or Canadian number", "value_error"});
  if (message.empty() || domain::code_points(message) > domain::kMaxBodyChars) {
    errors.push_back({"body", "body must be 1 to 1600 characters", "value_error"});
  }
  if (!errors.empty()) return reply(validation_response(errors, "body"));
  std::variant<actors::InboundRoute, DomainError> route = actors::route_inbound(view, from, to);
  if (auto* error = std::get_if<DomainError>(&route)) return reply(domain_error_response(*error));
  actors::InboundRoute& inbound = std::get<actors::InboundRoute>(route);
  deliver(inbound.number, from,
          {{"body", message},
           {"mediaUrls", json::array()},
           {"webhook", inbound.webhook},
           {"contact", inbound.contact}},
          false, reply);
}

}  // namespace ap::http
