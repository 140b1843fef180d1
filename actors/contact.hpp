// Contact book aggregate: an account's address book (contract B.8). The whole
// book is one stream per account ("contacts-<account>"), so that the rule "a
// phone number names at most one contact of an account" is decided in one
// place, against every contact, with no race between two creates.
//
// A contact's phone number is stored in E.164: US/CA numbers in any common
// format are normalised (+1XXXXXXXXXX); other countries' numbers must already
// be E.164 (+ and 8 to 15 digits) and keep only their digits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "actors/domain.hpp"

namespace ap::domain {

// Limits of one account's book and of each field, in characters (code points).
constexpr std::size_t kMaxContacts = 10'000;
constexpr std::size_t kMaxContactNameChars = 200;
constexpr std::size_t kMaxContactEmailChars = 254;
constexpr std::size_t kMaxContactNotesChars = 2'000;

struct Contact {
  std::string phone_number;  // E.164.
  std::string name;          // Never empty.
  json::value email;         // String or null.
  json::value notes;         // String or null.
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

struct ContactBookState {
  std::string id;  // The account's id.
  bool exists = false;
  std::map<std::string, Contact> contacts;      // contact id -> contact
  std::map<std::string, std::string> by_phone;  // E.164 -> contact id
};

// Commands (every one names the account that owns the book):
//   "contact.create" args {phoneNumber, name, email?, notes?}
//                    -> contact.created {contactId, accountId, phoneNumber, name,
//                       email, notes, atMs}
//   "contact.update" args {contactId, phoneNumber?, name?, email?, notes?}: null or
//                    absent leaves phoneNumber and name as they are and clears
//                    email and notes -> contact.updated {contactId, accountId,
//                    changes (only fields that change), previousPhoneNumber, atMs},
//                    or nothing when nothing changes
//   "contact.delete" args {contactId} -> contact.deleted {contactId, accountId, phoneNumber}
// Errors: 422 for a missing or malformed field, 404 NOT_FOUND for an unknown
// contact, 409 CONTACT_EXISTS for a phone number another contact has, 400
// CONTACT_LIMIT when the book is full.
Decision decide_contacts(const ContactBookState& state, const Command& command,
                         const Context& context);
void evolve_contacts(ContactBookState& state, const std::string& type, const json::object& data);
json::object contacts_snapshot(const ContactBookState& state);
void restore_contacts(ContactBookState& state, const json::object& snapshot);

std::string contacts_stream(std::string_view account_id);

// The E.164 form of a contact's phone number as written, or "" when it is
// not one (see the rule at the top).
std::string normalize_contact_phone(std::string_view text);

// ContactResponse JSON of `contact` (contract B.8).
json::object contact_to_wire(const std::string& contact_id, const Contact& contact);

}  // namespace ap::domain
