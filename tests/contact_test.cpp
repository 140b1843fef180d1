// The contact book decider without CAF: E.164 normalisation, one contact per
// phone number, updates that record only what changes, the book's limit, and
// the snapshot round trip.
#include <gtest/gtest.h>

#include "actors/contact.hpp"
#include "actors/invariant.hpp"
#include "tests/sequential_ids.hpp"

namespace ap::domain {
namespace {

class ContactBook : public ::testing::Test {
 protected:
  ContactBook() {
    state.id = "acct_1";
    context.ids = &ids_;
  }

  // Decides `type` for acct_1 at `at_ms` and folds the events in.
  Decision decide(const std::string& type, json::object args, std::int64_t at_ms = 1000) {
    context.now_ms = at_ms;
    Decision d = decide_contacts(state, {type, "acct_1", std::move(args)}, context);
    if (auto* outcome = std::get_if<Outcome>(&d)) {
      for (const Event& e : outcome->events) evolve_contacts(state, e.type, e.data);
    }
    return d;
  }

  // Creates a contact and returns its id.
  std::string create(const std::string& phone, const std::string& name) {
    Decision d = decide("contact.create", {{"phoneNumber", phone}, {"name", name}});
    const Outcome& out = std::get<Outcome>(d);
    EXPECT_EQ(out.events.size(), 1u);
    return std::string(out.events.at(0).data.at("contactId").as_string());
  }

  static DomainError error_of(const Decision& d) { return std::get<DomainError>(d); }

  ContactBookState state;
  Context context;

 private:
  test::SequentialIds ids_;
};

TEST(ContactPhone, NormalisesUsNumbersAndKeepsOtherE164) {
  EXPECT_EQ(normalize_contact_phone("(415) 555-2671"), "+14155552671");
  EXPECT_EQ(normalize_contact_phone("+1 415.555.2671"), "+14155552671");
  EXPECT_EQ(normalize_contact_phone("+44 20 7946 0958"), "+442079460958");
  EXPECT_EQ(normalize_contact_phone("+1 011 555 2671"), "");  // Not a NANP number.
  EXPECT_EQ(normalize_contact_phone("442079460958"), "");     // Abroad needs its +.
  EXPECT_EQ(normalize_contact_phone("+44 20 x946"), "");
  EXPECT_EQ(normalize_contact_phone("+1234567"), "");  // Too short.
  EXPECT_EQ(normalize_contact_phone(""), "");
}

TEST_F(ContactBook, CreateNormalisesAndRecordsEveryField) {
  Decision d = decide("contact.create", {{"phoneNumber", "415-555-2671"},
                                         {"name", "Ada"},
                                         {"email", "ada@example.com"},
                                         {"notes", "met at the fair"}});
  const Event& e = std::get<Outcome>(d).events.at(0);
  EXPECT_EQ(e.type, "contact.created");
  EXPECT_EQ(e.data.at("phoneNumber"), "+14155552671");
  EXPECT_EQ(e.data.at("email"), "ada@example.com");
  EXPECT_EQ(e.data.at("atMs"), 1000);
  ASSERT_EQ(state.contacts.size(), 1u);
  EXPECT_EQ(state.by_phone.at("+14155552671"), e.data.at("contactId").as_string());
  const json::object wire = contact_to_wire("contact_1", state.contacts.at("contact_1"));
  EXPECT_EQ(wire.at("notes"), "met at the fair");
  EXPECT_EQ(wire.at("createdAt"), wire.at("updatedAt"));
}

TEST_F(ContactBook, BadFieldsAreNamedAndChangeNothing) {
  const DomainError missing = error_of(decide("contact.create", {{"email", 7}}));
  EXPECT_EQ(missing.kind, ErrorKind::kValidation);
  ASSERT_EQ(missing.fields.size(), 3u);
  EXPECT_EQ(missing.fields[0].field, "phoneNumber");
  EXPECT_EQ(missing.fields[1].field, "name");
  EXPECT_EQ(missing.fields[2].type, "string_type");
  EXPECT_EQ(
      error_of(decide("contact.create", {{"phoneNumber", "555"}, {"name", "A"}})).fields.at(0).type,
      "value_error");
  EXPECT_EQ(error_of(decide("contact.create", {{"phoneNumber", "+14155552671"}, {"name", ""}}))
                .fields.at(0)
                .type,
            "string_too_short");
  EXPECT_EQ(error_of(decide("contact.create",
                            {{"phoneNumber", "+14155552671"}, {"name", std::string(201, 'a')}}))
                .fields.at(0)
                .type,
            "string_too_long");
  EXPECT_EQ(error_of(decide("contact.create",
                            {{"phoneNumber", "+14155552671"}, {"name", "A"}, {"email", "nope"}}))
                .fields.at(0)
                .field,
            "email");
  EXPECT_TRUE(state.contacts.empty());
}

TEST_F(ContactBook, OnePhoneNumberNamesOneContact) {
  const std::string ada = create("+14155552671", "Ada");
  const std::string bob = create("+14155552672", "Bob");
  // However it is written.
  const DomainError dup =
      error_of(decide("contact.create", {{"phoneNumber", "(415) 555-2671"}, {"name", "Eve"}}));
  EXPECT_EQ(dup.kind, ErrorKind::kConflict);
  EXPECT_NE(dup.message.find(ada), std::string::npos);
  // An update onto another contact's number conflicts; onto its own it is a no-op.
  EXPECT_EQ(
      error_of(decide("contact.update", {{"contactId", bob}, {"phoneNumber", "+14155552671"}}))
          .kind,
      ErrorKind::kConflict);
  EXPECT_TRUE(std::get<Outcome>(
                  decide("contact.update", {{"contactId", bob}, {"phoneNumber", "+14155552672"}}))
                  .events.empty());
  // Deleting a contact frees its number.
  decide("contact.delete", {{"contactId", ada}});
  EXPECT_EQ(state.by_phone.count("+14155552671"), 0u);
  create("+14155552671", "Eve");
  EXPECT_EQ(state.contacts.size(), 2u);
}

TEST_F(ContactBook, UpdateRecordsOnlyWhatChanges) {
  const std::string ada = create("+14155552671", "Ada");
  Decision d = decide("contact.update",
                      {{"contactId", ada},
                       {"name", "Ada"},
                       {"phoneNumber", nullptr},
                       {"email", "ada@example.com"},
                       {"phone", "ignored"}},
                      2000);
  const Event& e = std::get<Outcome>(d).events.at(0);
  EXPECT_EQ(e.data.at("changes"), (json::object{{"email", "ada@example.com"}}));
  EXPECT_EQ(state.contacts.at(ada).updated_at_ms, 2000);
  // "" and null clear email and notes.
  decide("contact.update", {{"contactId", ada}, {"email", ""}});
  EXPECT_TRUE(state.contacts.at(ada).email.is_null());
  // A new number moves the index with it.
  decide("contact.update", {{"contactId", ada}, {"phoneNumber", "+14155550000"}});
  EXPECT_EQ(state.by_phone.count("+14155552671"), 0u);
  EXPECT_EQ(state.by_phone.at("+14155550000"), ada);
}

TEST_F(ContactBook, UnknownContactsAreNotFound) {
  EXPECT_EQ(error_of(decide("contact.update", {{"contactId", "contact_9"}, {"name", "X"}})).kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(error_of(decide("contact.delete", {{"contactId", "contact_9"}})).kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(error_of(decide("contact.delete", {})).kind, ErrorKind::kNotFound);
}

TEST_F(ContactBook, TheBookHoldsAtMostItsLimit) {
  for (std::size_t i = 0; i < kMaxContacts; ++i) {
    Contact c;
    c.phone_number = "+1415" + std::to_string(2000000 + i);
    c.name = "n";
    state.by_phone[c.phone_number] = "contact_x" + std::to_string(i);
    state.contacts["contact_x" + std::to_string(i)] = c;
  }
  const DomainError full =
      error_of(decide("contact.create", {{"phoneNumber", "+16505550100"}, {"name", "One more"}}));
  EXPECT_EQ(full.code, "CONTACT_LIMIT");
  EXPECT_EQ(state.contacts.size(), kMaxContacts);
}

TEST_F(ContactBook, SnapshotRestoresTheSameBook) {
  const std::string ada = create("+14155552671", "Ada");
  create("+442079460958", "Bea");
  decide("contact.update", {{"contactId", ada}, {"notes", "likes tea"}}, 5000);
  ContactBookState restored;
  restored.id = state.id;
  restore_contacts(restored, contacts_snapshot(state));
  EXPECT_EQ(restored.by_phone, state.by_phone);
  ASSERT_EQ(restored.contacts.size(), 2u);
  EXPECT_EQ(contact_to_wire(ada, restored.contacts.at(ada)),
            contact_to_wire(ada, state.contacts.at(ada)));
}

// Rebuilding state from an event that lacks a field its type promises is a
// broken invariant that names the field (the host answers ENTITY_FAULT).
TEST_F(ContactBook, AnEventMissingAFieldNamesIt) {
  try {
    evolve_contacts(state, "contact.created", {{"contactId", "contact_1"}, {"name", "Ada"}});
    FAIL() << "no invariant was checked";
  } catch (const InvariantViolation& e) {
    EXPECT_NE(std::string(e.what()).find("\"phoneNumber\" field"), std::string::npos) << e.what();
    // The message points at the decider's line that relied on the field.
    EXPECT_NE(std::string(e.what()).find("actors/contact.cpp:"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(state.contacts.empty());
}

}  // namespace
}  // namespace ap::domain
