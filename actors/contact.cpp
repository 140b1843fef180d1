#include "actors/contact.hpp"

#include <cctype>

#include "actors/invariant.hpp"
#include "actors/sms.hpp"

namespace ap::domain {

namespace {

std::string too_long_message(std::size_t max_chars) {
  return "String should have at most " + std::to_string(max_chars) + " characters";
}

// The fields of `body` that a create or update sets, validated. `creating`
// makes phoneNumber and name required; in an update their null means "not
// sent". email and notes: null or "" clear them.
json::object contact_fields(const json::object& body, bool creating,
                            std::vector<FieldError>& errors) {
  json::object fields;
  auto text_field = [&](const char* key, std::size_t max_chars, bool required) {
    const json::value* value = body.if_contains(key);
    if (value == nullptr || value->is_null()) {
      if (required) errors.push_back({key, "Field required", "missing"});
      return;
    }
    if (!value->is_string()) {
      errors.push_back({key, "Input should be a valid string", "string_type"});
      return;
    }
    const std::string_view text = value->as_string();
    if (code_points(text) > max_chars) {
      errors.push_back({key, too_long_message(max_chars), "string_too_long"});
      return;
    }
    fields[key] = *value;
  };
  text_field("phoneNumber", 32, creating);
  text_field("name", kMaxContactNameChars, creating);
  if (const json::value* phone = fields.if_contains("phoneNumber")) {
    const std::string e164 = normalize_contact_phone(phone->as_string());
    if (e164.empty()) {
      errors.push_back({"phoneNumber",
                        "phoneNumber must be a phone number in E.164 form, e.g. +14155551234",
                        "value_error"});
    }
    fields["phoneNumber"] = e164;
  }
  if (const json::value* name = fields.if_contains("name"); name && name->as_string().empty()) {
    errors.push_back({"name", "String should have at least 1 character", "string_too_short"});
  }
  for (const auto& [key, max_chars] :
       {std::pair<const char*, std::size_t>{"email", kMaxContactEmailChars},
        {"notes", kMaxContactNotesChars}}) {
    const json::value* value = body.if_contains(key);
    if (value == nullptr) continue;
    if (value->is_null() || (value->is_string() && value->as_string().empty())) {
      fields[key] = nullptr;
      continue;
    }
    text_field(key, max_chars, false);
  }
  if (const json::value* email = fields.if_contains("email");
      email && email->is_string() && !plausible_email(email->as_string())) {
    errors.push_back({"email", "value is not a valid email address", "value_error"});
  }
  return fields;
}

DomainError contact_not_found() {
  return not_found("Contact not found");
}

DomainError phone_taken(const std::string& phone, const std::string& holder) {
  return make_error(ErrorKind::kConflict, "CONTACT_EXISTS",
                    "A contact with phone number " + phone + " already exists (" + holder + ")");
}

// The contactId of an update or delete, or "" when it is missing.
std::string contact_id_arg(const Command& command) {
  const json::value* id = command.args.if_contains("contactId");
  return id != nullptr && id->is_string() ? std::string(id->as_string()) : std::string();
}

}  // namespace

Decision decide_contacts(const ContactBookState& state, const Command& command,
                         const Context& context) {
  // The book's id is its account's: no other account reaches it.
  AP_ASSERT(state.id == command.account_id, "a contact book is addressed by its own account");
  if (command.type == "contact.create") {
    std::vector<FieldError> errors;
    json::object fields = contact_fields(command.args, true, errors);
    if (!errors.empty()) return validation_error(std::move(errors));
    const std::string phone(field(fields, "phoneNumber").as_string());
    if (auto held = state.by_phone.find(phone); held != state.by_phone.end()) {
      return phone_taken(phone, held->second);
    }
    if (state.contacts.size() >= kMaxContacts) {
      return make_error(ErrorKind::kBadRequest, "CONTACT_LIMIT",
                        "An account holds at most " + std::to_string(kMaxContacts) +
                            " contacts; delete some before adding more");
    }
    const json::value* email = fields.if_contains("email");
    const json::value* notes = fields.if_contains("notes");
    return std::vector<Event>{Event{"contact.created",
                                    {{"contactId", context.ids->new_id("contact_")},
                                     {"accountId", state.id},
                                     {"phoneNumber", phone},
                                     {"name", field(fields, "name")},
                                     {"email", email != nullptr ? *email : json::value(nullptr)},
                                     {"notes", notes != nullptr ? *notes : json::value(nullptr)},
                                     {"atMs", context.now_ms}}}};
  }

  const std::string contact_id = contact_id_arg(command);
  auto found = state.contacts.find(contact_id);
  if (found == state.contacts.end()) {
    return command.type == "contact.update" || command.type == "contact.delete"
               ? contact_not_found()
               : unknown_command(command.type);
  }
  const Contact& contact = found->second;
  if (command.type == "contact.delete") {
    return std::vector<Event>{Event{"contact.deleted",
                                    {{"contactId", contact_id},
                                     {"accountId", state.id},
                                     {"phoneNumber", contact.phone_number}}}};
  }
  if (command.type != "contact.update") return unknown_command(command.type);

  std::vector<FieldError> errors;
  json::object fields = contact_fields(command.args, false, errors);
  if (!errors.empty()) return validation_error(std::move(errors));
  if (const json::value* phone = fields.if_contains("phoneNumber")) {
    auto held = state.by_phone.find(std::string(phone->as_string()));
    if (held != state.by_phone.end() && held->second != contact_id) {
      return phone_taken(held->first, held->second);
    }
  }
  const json::object current{{"phoneNumber", contact.phone_number},
                             {"name", contact.name},
                             {"email", contact.email},
                             {"notes", contact.notes}};
  // Only fields whose value actually changes are recorded.
  json::object changes;
  for (const auto& [key, value] : fields) {
    if (field(current, key) != value) changes[key] = value;
  }
  if (changes.empty()) return std::vector<Event>{};
  return std::vector<Event>{Event{"contact.updated",
                                  {{"contactId", contact_id},
                                   {"accountId", state.id},
                                   {"changes", std::move(changes)},
                                   {"previousPhoneNumber", contact.phone_number},
                                   {"atMs", context.now_ms}}}};
}

void evolve_contacts(ContactBookState& state, const std::string& type, const json::object& data) {
  const std::string contact_id(field(data, "contactId").as_string());
  state.exists = true;
  if (type == "contact.created") {
    Contact contact;
    contact.phone_number = std::string(field(data, "phoneNumber").as_string());
    contact.name = std::string(field(data, "name").as_string());
    contact.email = field(data, "email");
    contact.notes = field(data, "notes");
    contact.created_at_ms = field(data, "atMs").as_int64();
    contact.updated_at_ms = contact.created_at_ms;
    state.by_phone[contact.phone_number] = contact_id;
    state.contacts[contact_id] = std::move(contact);
  } else if (type == "contact.updated") {
    auto found = state.contacts.find(contact_id);
    AP_ASSERT(found != state.contacts.end(), "an updated contact existed");
    Contact& contact = found->second;
    const json::object& changes = field(data, "changes").as_object();
    if (const json::value* phone = changes.if_contains("phoneNumber")) {
      state.by_phone.erase(contact.phone_number);
      contact.phone_number = std::string(phone->as_string());
      state.by_phone[contact.phone_number] = contact_id;
    }
    if (const json::value* name = changes.if_contains("name")) {
      contact.name = std::string(name->as_string());
    }
    if (const json::value* email = changes.if_contains("email")) contact.email = *email;
    if (const json::value* notes = changes.if_contains("notes")) contact.notes = *notes;
    contact.updated_at_ms = field(data, "atMs").as_int64();
  } else if (type == "contact.deleted") {
    auto found = state.contacts.find(contact_id);
    AP_ASSERT(found != state.contacts.end(), "a deleted contact existed");
    state.by_phone.erase(found->second.phone_number);
    state.contacts.erase(found);
  }
}

json::object contacts_snapshot(const ContactBookState& state) {
  json::array contacts;
  contacts.reserve(state.contacts.size());
  for (const auto& [id, c] : state.contacts) {
    contacts.push_back(json::array{json::string(id), json::string(c.phone_number),
                                   json::string(c.name), c.email, c.notes, c.created_at_ms,
                                   c.updated_at_ms});
  }
  return {{"exists", state.exists}, {"contacts", std::move(contacts)}};
}

void restore_contacts(ContactBookState& state, const json::object& snapshot) {
  state.exists = field(snapshot, "exists").as_bool();
  for (const json::value& row : field(snapshot, "contacts").as_array()) {
    const json::array& r = row.as_array();
    Contact contact;
    contact.phone_number = std::string(element(r, 1).as_string());
    contact.name = std::string(element(r, 2).as_string());
    contact.email = element(r, 3);
    contact.notes = element(r, 4);
    contact.created_at_ms = element(r, 5).as_int64();
    contact.updated_at_ms = element(r, 6).as_int64();
    const std::string id(element(r, 0).as_string());
    state.by_phone[contact.phone_number] = id;
    state.contacts[id] = std::move(contact);
  }
}

std::string contacts_stream(std::string_view account_id) {
  return "contacts-" + std::string(account_id);
}

std::string normalize_contact_phone(std::string_view text) {
  std::string nanp = normalize_nanp(text);
  if (!nanp.empty()) return nanp;
  if (text.empty() || text.front() != '+') return "";
  std::string e164 = "+";
  for (const char c : text.substr(1)) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      e164.push_back(c);
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return "";
    }
  }
  // A +1 number that normalize_nanp refused is not a valid NANP number.
  const std::size_t digits = e164.size() - 1;
  if (digits < 8 || digits > 15 || e164[1] == '0' || e164[1] == '1') return "";
  return e164;
}

json::object contact_to_wire(const std::string& contact_id, const Contact& contact) {
  return {{"id", contact_id},
          {"phoneNumber", contact.phone_number},
          {"name", contact.name},
          {"email", contact.email},
          {"notes", contact.notes},
          {"createdAt", iso8601(contact.created_at_ms)},
          {"updatedAt", iso8601(contact.updated_at_ms)}};
}

}  // namespace ap::domain
