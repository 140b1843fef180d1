// The contact rows of CoreView (see core_view.hpp for their layout).
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>

#include "actors/contact.hpp"
#include "actors/domain.hpp"
#include "actors/invariant.hpp"
#include "projections/core_view.hpp"

namespace ap::projections {

namespace {

std::string contact_key(const std::string& account, const std::string& contact_id) {
  return "K/" + account + "/" + contact_id;
}

std::string phone_key(const std::string& account, const std::string& e164) {
  return "Kp/" + account + "/" + e164;
}

// The Contact of webhook payloads (contract C.2): {id, name, email, phoneNumber}.
std::string payload_contact(const json::object& contact) {
  return domain::to_json(json::object{{"id", domain::field(contact, "id")},
                                      {"name", domain::field(contact, "name")},
                                      {"email", domain::field(contact, "email")},
                                      {"phoneNumber", domain::field(contact, "phoneNumber")}});
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string digits_of(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

// Whether `contact` matches the search `needle` (lowercased): a substring of
// its name, email or phone number, or, for a needle of digits and phone
// punctuation only, a run of its phone number's digits, so that "(415) 555"
// finds +14155551234.
bool matches(const json::object& contact, const std::string& needle) {
  const std::string phone(domain::field(contact, "phoneNumber").as_string());
  if (phone.find(needle) != std::string::npos) return true;
  if (lowercase(domain::field(contact, "name").as_string()).find(needle) != std::string::npos)
    return true;
  const json::value& email = domain::field(contact, "email");
  if (email.is_string() && lowercase(email.as_string()).find(needle) != std::string::npos) {
    return true;
  }
  const bool phone_like = std::all_of(needle.begin(), needle.end(), [](unsigned char c) {
    return std::isdigit(c) || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+';
  });
  const std::string digits = digits_of(needle);
  return phone_like && !digits.empty() && digits_of(phone).find(digits) != std::string::npos;
}

}  // namespace

void CoreView::apply_contact(const std::string& type, const json::object& data,
                             es::ViewBatch& batch) const {
  const std::string account = domain::text_of(data, "accountId");
  const std::string contact_id = domain::text_of(data, "contactId");
  const std::string key = contact_key(account, contact_id);
  const std::string count_key = "Kc/" + account;
  if (type == "contact.created") {
    domain::Contact contact;
    contact.phone_number = domain::text_of(data, "phoneNumber");
    contact.name = domain::text_of(data, "name");
    contact.email = domain::field(data, "email");
    contact.notes = domain::field(data, "notes");
    contact.created_at_ms = domain::field(data, "atMs").as_int64();
    contact.updated_at_ms = contact.created_at_ms;
    const json::object wire = domain::contact_to_wire(contact_id, contact);
    batch.put(key, domain::to_json(wire));
    batch.put(phone_key(account, contact.phone_number), payload_contact(wire));
    batch.put(count_key, std::to_string(counter(batch, count_key) + 1));
    return;
  }
  std::optional<json::object> contact = row(batch, key);
  // contact.updated and contact.deleted follow contact.created; a log that
  // says otherwise is left as it is rather than stop the read model.
  if (!contact) return;
  const std::string phone(domain::field(*contact, "phoneNumber").as_string());
  if (type == "contact.deleted") {
    batch.erase(key);
    batch.erase(phone_key(account, phone));
    batch.put(count_key, std::to_string(counter(batch, count_key) - 1));
    return;
  }
  AP_ASSERT(type == "contact.updated", "contact events are created, updated or deleted");
  for (const auto& [field, value] : domain::field(data, "changes").as_object())
    (*contact)[field] = value;
  (*contact)["updatedAt"] = domain::iso8601(domain::field(data, "atMs").as_int64());
  batch.put(key, domain::to_json(*contact));
  const std::string now_phone(domain::field(*contact, "phoneNumber").as_string());
  if (now_phone != phone) batch.erase(phone_key(account, phone));
  batch.put(phone_key(account, now_phone), payload_contact(*contact));
}

std::optional<std::string> CoreView::contact(const std::string& account,
                                             const std::string& contact_id) const {
  if (contact_id.find('/') != std::string::npos) return std::nullopt;
  return raw_row(contact_key(account, contact_id));
}

json::value CoreView::contact_by_phone(const std::string& account, const std::string& e164) const {
  std::optional<std::string> contact = raw_row(phone_key(account, e164));
  if (!contact) return nullptr;
  return json::parse(*contact);
}

Page CoreView::contacts(const std::string& account, const std::string& search, std::uint64_t offset,
                        std::uint64_t limit) const {
  const std::string prefix = "K/" + account + "/";
  if (search.empty()) {
    return offset_page(
        prefix, "Kc/" + account, offset, limit,
        [](std::string_view, std::string_view value) { return std::optional<std::string>(value); });
  }
  // A search counts every match for `total`, so it reads the whole book
  // (at most domain::kMaxContacts rows).
  const std::string needle = lowercase(search);
  Page page;
  scan(prefix, "", [&](std::string_view, std::string_view value) {
    if (!matches(json::parse(value).as_object(), needle)) return true;
    if (page.total++ < offset) return true;
    if (page.items.size() < limit) {
      page.items.emplace_back(value);
    } else {
      page.has_more = true;
    }
    return true;
  });
  return page;
}

}  // namespace ap::projections
