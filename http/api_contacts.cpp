// The address book (contract B.8): /v1/contacts and /v1/contacts/capabilities.
#include "actors/contact.hpp"
#include "actors/sms.hpp"
#include "http/api_internal.hpp"

namespace ap::http {

namespace {

constexpr std::size_t kMaxSearchChars = 200;

Response contact_or_404(std::optional<std::string> contact, int status = 200) {
  if (!contact) return not_found_response("Contact not found");
  Response response = raw_json_response(std::move(*contact));
  response.status = status;
  return response;
}

// GET /v1/contacts/capabilities?phone_number=: what a number can receive
// here. This server speaks SMS to US/CA numbers and has no iMessage, so the
// answer needs no carrier lookup (docs: README, "Contacts").
Response capabilities(const Query& query, std::int64_t now_ms) {
  const std::string* phone = query.get("phone_number");
  if (phone == nullptr || phone->empty()) {
    return validation_response({{"phone_number", "Field required", "missing"}}, "query");
  }
  const std::string e164 = domain::normalize_contact_phone(*phone);
  if (e164.empty()) {
    return validation_response({{"phone_number",
                                 "phone_number must be a phone number in E.164 form, e.g. "
                                 "+14155551234 (URL-encode + as %2B)",
                                 "value_error"}},
                               "query");
  }
  const bool nanp = !domain::normalize_nanp(e164).empty();
  return json_response(json::object{{"phoneNumber", e164},
                                    {"capabilities", {{"imessage", false}, {"sms", nanp}}},
                                    {"checkedAt", domain::iso8601(now_ms)}});
}

}  // namespace

// /v1/contacts, /v1/contacts/capabilities, /v1/contacts/{id}
void Api::Impl::route_contacts(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const std::string& account = call.account;
  const Responder& reply = call.reply;
  if (p.size() > 3) return call.unknown_route();

  if (p.size() == 2) {
    *call.route_label = "/v1/contacts";
    if (method == "GET") {
      std::vector<FieldError> errors;
      const std::string* search = call.query.get("search");
      if (search != nullptr && domain::code_points(*search) > kMaxSearchChars) {
        errors.push_back(
            {"search",
             "String should have at most " + std::to_string(kMaxSearchChars) + " characters",
             "string_too_long"});
      }
      std::int64_t offset = 0, limit = 0;
      if (!call.paging(&offset, &limit, 50, std::move(errors))) return;
      std::string needle = search != nullptr ? *search : std::string();
      return after_own_writes(account, [this, account, needle, offset, limit, reply] {
        list_page(view.contacts(account, needle, offset, limit), true, reply);
      });
    }
    if (method != "POST") return call.method_not_allowed();
    json::object body;
    if (!call.body_object(&body)) return;
    return command(
        EntityKind::kContacts, account, {"contact.create", account, std::move(body)}, reply,
        [this, account](const CommandResult& result) {
          const std::string id(domain::field(result.events.front().data, "contactId").as_string());
          return contact_or_404(view.contact(account, id), 201);
        });
  }

  if (p[2] == "capabilities") {
    *call.route_label = "/v1/contacts/capabilities";
    if (method != "GET") return call.method_not_allowed();
    return reply(capabilities(call.query, clock.now_ms()));
  }

  *call.route_label = "/v1/contacts/{id}";
  const std::string contact_id = p[2];
  if (method == "GET") {
    return after_own_writes(account, [this, account, contact_id, reply] {
      reply(contact_or_404(view.contact(account, contact_id)));
    });
  }
  if (method == "PATCH") {
    json::object body;
    if (!call.body_object(&body)) return;
    body["contactId"] = contact_id;
    return command(EntityKind::kContacts, account, {"contact.update", account, std::move(body)},
                   reply, [this, account, contact_id](const CommandResult&) {
                     return contact_or_404(view.contact(account, contact_id));
                   });
  }
  if (method != "DELETE") return call.method_not_allowed();
  return command(EntityKind::kContacts, account,
                 {"contact.delete", account, {{"contactId", contact_id}}}, reply,
                 [](const CommandResult&) {
                   Response response;
                   response.status = 204;
                   response.content_type.clear();
                   return response;
                 });
}

}  // namespace ap::http
