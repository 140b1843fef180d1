// Contacts over a real socket (contract B.8): create (201), get, list with
// search and paging, update, delete (204), the 409s, bad input that writes
// nothing, one account never seeing another's, data.contact in the webhook
// of an inbound SMS, and contacts surviving kill -9.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <atomic>
#include <csignal>
#include <set>
#include <thread>

#include "tests/api_fixture.hpp"
#include "tests/webhook_receiver.hpp"

namespace ap::test {
namespace {

class ContactApiTest : public ApiTest {
 protected:
  json::object create(const Account& who, const std::string& phone, const std::string& name,
                      const std::string& extra = "") {
    return call_json(who, "POST", "/v1/contacts",
                     "{\"phoneNumber\":\"" + phone + "\",\"name\":\"" + name + "\"" + extra + "}",
                     201)
        .as_object();
  }
};

TEST_F(ContactApiTest, CreateGetUpdateDelete) {
  const json::object ada =
      create(alice_, "(415) 555-2671", "Ada Lovelace", R"(,"email":"ada@example.com")");
  const std::string id(ada.at("id").as_string());
  EXPECT_EQ(id.rfind("contact_", 0), 0u);
  EXPECT_EQ(ada.at("phoneNumber"), "+14155552671");
  EXPECT_EQ(ada.at("email"), "ada@example.com");
  EXPECT_TRUE(ada.at("notes").is_null());
  EXPECT_EQ(ada.at("createdAt"), ada.at("updatedAt"));
  EXPECT_EQ(call_json(alice_, "GET", "/v1/contacts/" + id), ada);

  const json::object patched =
      call_json(alice_, "PATCH", "/v1/contacts/" + id, R"({"notes":"analyst","email":null})")
          .as_object();
  EXPECT_EQ(patched.at("notes"), "analyst");
  EXPECT_TRUE(patched.at("email").is_null());
  EXPECT_EQ(patched.at("name"), "Ada Lovelace");
  EXPECT_EQ(patched.at("createdAt"), ada.at("createdAt"));

  HttpResult gone = call(alice_, "DELETE", "/v1/contacts/" + id);
  EXPECT_EQ(gone.status, 204);
  EXPECT_TRUE(gone.body.empty()) << gone.body;
  expect_error(call(alice_, "GET", "/v1/contacts/" + id), 404, "NOT_FOUND");
  expect_error(call(alice_, "DELETE", "/v1/contacts/" + id), 404, "NOT_FOUND");
  // Its number is free again.
  create(alice_, "+14155552671", "Ada again");
}

TEST_F(ContactApiTest, DuplicatePhoneNumbersAreConflictsAndWriteNothing) {
  create(alice_, "+14155552671", "Ada");
  const std::string bob_id(create(alice_, "+14155552672", "Bob").at("id").as_string());
  HttpResult dup =
      call(alice_, "POST", "/v1/contacts", R"({"phoneNumber":"4155552671","name":"X"})");
  expect_error(dup, 409, "CONTACT_EXISTS");
  expect_refused(alice_, "POST", "/v1/contacts", R"({"phoneNumber":"+14155552671","name":"X"})",
                 409);
  expect_refused(alice_, "PATCH", "/v1/contacts/" + bob_id, R"({"phoneNumber":"+14155552671"})",
                 409);
  // Another account has its own book: the same number is no conflict there.
  create(bob_, "+14155552671", "Ada (Bob's)");
}

TEST_F(ContactApiTest, BadInputIsRefusedAndWritesNothing) {
  const std::string id(create(alice_, "+14155552671", "Ada").at("id").as_string());
  expect_refused(alice_, "POST", "/v1/contacts", "{", 422);
  expect_refused(alice_, "POST", "/v1/contacts", "[]", 422);
  expect_refused(alice_, "POST", "/v1/contacts", R"({"name":"No phone"})", 422);
  expect_refused(alice_, "POST", "/v1/contacts", R"({"phoneNumber":"+14155550000"})", 422);
  expect_refused(alice_, "POST", "/v1/contacts", R"({"phoneNumber":12,"name":"A"})", 422);
  expect_refused(alice_, "POST", "/v1/contacts", R"({"phoneNumber":"call me","name":"A"})", 422);
  expect_refused(alice_, "POST", "/v1/contacts",
                 R"({"phoneNumber":"+14155550000","name":"A","email":"not-an-email"})", 422);
  expect_refused(alice_, "POST", "/v1/contacts",
                 "{\"phoneNumber\":\"+14155550000\",\"name\":\"" + std::string(201, 'n') + "\"}",
                 422);
  expect_refused(alice_, "PATCH", "/v1/contacts/" + id, R"({"name":""})", 422);
  expect_refused(alice_, "PATCH", "/v1/contacts/" + id, R"({"notes":["x"]})", 422);
  expect_refused(alice_, "PATCH", "/v1/contacts/contact_nope", R"({"name":"X"})", 404);
  expect_refused(alice_, "GET", "/v1/contacts?limit=0", "", 422);
  expect_refused(alice_, "GET", "/v1/contacts?limit=101", "", 422);
  expect_refused(alice_, "GET", "/v1/contacts?offset=-1", "", 422);
  expect_refused(alice_, "GET", "/v1/contacts?search=" + std::string(201, 's'), "", 422);
  expect_refused(alice_, "PUT", "/v1/contacts/" + id, "{}", 405);
  // A PATCH that changes nothing writes nothing and answers the contact.
  const std::uint64_t before = log_head();
  EXPECT_EQ(call_json(alice_, "PATCH", "/v1/contacts/" + id, R"({"name":"Ada"})").at("id"),
            id.c_str());
  EXPECT_EQ(log_head(), before);
}

TEST_F(ContactApiTest, AnotherAccountsContactsAreNotFound) {
  const std::string id(create(alice_, "+14155552671", "Ada").at("id").as_string());
  expect_error(call(bob_, "GET", "/v1/contacts/" + id), 404, "NOT_FOUND");
  expect_refused(bob_, "PATCH", "/v1/contacts/" + id, R"({"name":"Mallory"})", 404);
  expect_refused(bob_, "DELETE", "/v1/contacts/" + id, "", 404);
  const json::object page = call_json(bob_, "GET", "/v1/contacts").as_object();
  EXPECT_TRUE(page.at("data").as_array().empty());
  EXPECT_EQ(page.at("total"), 0);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/contacts/" + id).at("name"), "Ada");
}

TEST_F(ContactApiTest, ListsPageOldestFirstAndSearch) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    const std::string name = i % 2 == 0 ? "Even " + std::to_string(i) : "Odd " + std::to_string(i);
    ids.emplace_back(create(alice_, "+1415555200" + std::to_string(i), name).at("id").as_string());
  }
  // Offset paging sees every contact once, oldest first.
  std::vector<std::string> seen;
  for (int offset = 0; offset < 7; offset += 3) {
    const json::object page =
        call_json(alice_, "GET", "/v1/contacts?limit=3&offset=" + std::to_string(offset))
            .as_object();
    EXPECT_EQ(page.at("total"), 7);
    EXPECT_EQ(page.at("hasMore").as_bool(), offset + 3 < 7);
    for (const json::value& c : page.at("data").as_array())
      seen.emplace_back(c.at("id").as_string());
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/contacts").at("data").as_array().size(), 7u);

  // Search ignores case and phone punctuation, and total counts the matches.
  json::object odd = call_json(alice_, "GET", "/v1/contacts?search=ODD&limit=2").as_object();
  EXPECT_EQ(odd.at("total"), 3);
  EXPECT_TRUE(odd.at("hasMore").as_bool());
  EXPECT_EQ(odd.at("data").at(0).at("name"), "Odd 1");
  json::object by_phone =
      call_json(alice_, "GET", "/v1/contacts?search=%28415%29%20555-2004").as_object();
  ASSERT_EQ(by_phone.at("total"), 1);
  EXPECT_EQ(by_phone.at("data").at(0).at("id"), ids[4].c_str());
  EXPECT_EQ(call_json(alice_, "GET", "/v1/contacts?search=nobody").at("total"), 0);
}

TEST_F(ContactApiTest, OffsetPagingUnderConcurrentCreatesSeesEachContactOnce) {
  std::set<std::string> before;
  for (int i = 0; i < 10; ++i) {
    before.emplace(
        create(alice_, "+1650555" + std::to_string(1000 + i), "Before").at("id").as_string());
  }
  // Four writers add 40 contacts each while a reader pages by offset: a
  // book's ids grow in the order its one entity creates them, so a new
  // contact lands after every page already read.
  std::atomic<bool> writing{true};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([this, w] {
      for (int i = 0; i < 40; ++i) {
        HttpResult r = call(alice_, "POST", "/v1/contacts",
                            "{\"phoneNumber\":\"+1650556" + std::to_string(1000 + w * 100 + i) +
                                "\",\"name\":\"During\"}");
        EXPECT_EQ(r.status, 201) << r.body;
      }
    });
  }
  std::thread finished([&] {
    for (std::thread& t : writers) t.join();
    writing = false;
  });
  std::vector<std::string> seen;
  bool more = true;
  // Bounded: each round reads a page, and the book stops growing.
  for (int round = 0; round < 5000 && more; ++round) {
    const bool still_writing = writing.load();
    const json::object page =
        call_json(alice_, "GET", "/v1/contacts?limit=7&offset=" + std::to_string(seen.size()))
            .as_object();
    for (const json::value& c : page.at("data").as_array()) {
      seen.emplace_back(c.at("id").as_string());
    }
    more = page.at("hasMore").as_bool() || still_writing;
    if (!page.at("hasMore").as_bool()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  finished.join();
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size()) << "a repeat";
  EXPECT_EQ(seen.size(), 170u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  for (const std::string& id : before)
    EXPECT_NE(std::find(seen.begin(), seen.end(), id), seen.end());
}

TEST_F(ContactApiTest, CapabilitiesAreSmsForUsAndCanadaAndNeverIMessage) {
  const json::object us =
      call_json(alice_, "GET", "/v1/contacts/capabilities?phone_number=%2B14155552671").as_object();
  EXPECT_EQ(us.at("phoneNumber"), "+14155552671");
  EXPECT_EQ(us.at("capabilities"), (json::object{{"imessage", false}, {"sms", true}}));
  EXPECT_TRUE(us.at("checkedAt").is_string());
  EXPECT_EQ(call_json(alice_, "GET", "/v1/contacts/capabilities?phone_number=%2B442079460958")
                .at("capabilities")
                .at("sms"),
            false);
  expect_refused(alice_, "GET", "/v1/contacts/capabilities", "", 422);
  expect_refused(alice_, "GET", "/v1/contacts/capabilities?phone_number=hello", "", 422);
}

TEST_F(ContactApiTest, InboundWebhooksNameTheContact) {
  WebhookReceiver receiver;
  const std::string phone(
      call_json(alice_, "POST", "/v1/numbers", "{}").at("phoneNumber").as_string());
  call_json(alice_, "POST", "/v1/webhooks", "{\"url\":\"" + receiver.url() + "\"}");
  const std::string id(
      create(alice_, "+14155552671", "Ada", R"(,"email":"ada@example.com")").at("id").as_string());
  auto inbound = [&](const std::string& from) {
    HttpClient client(server_->port());
    HttpResult r = client.request(
        "POST", "/sim/sms",
        json::serialize(json::object{{"from", from}, {"to", phone}, {"body", "hi"}}));
    ASSERT_EQ(r.status, 200) << r.body;
  };
  inbound("+14155552671");
  inbound("+14155559999");
  std::vector<ReceivedRequest> got = receiver.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  std::map<std::string, json::value> contact_by_sender;
  for (const ReceivedRequest& r : got) {
    const json::object body = json::parse(r.body).as_object();
    contact_by_sender[std::string(body.at("data").at("from").as_string())] =
        body.at("data").at("contact");
  }
  EXPECT_EQ(contact_by_sender.at("+14155552671"), (json::object{{"id", id},
                                                                {"name", "Ada"},
                                                                {"email", "ada@example.com"},
                                                                {"phoneNumber", "+14155552671"}}));
  EXPECT_TRUE(contact_by_sender.at("+14155559999").is_null());
  // Renamed, the next message carries the new name.
  call_json(alice_, "PATCH", "/v1/contacts/" + id, R"({"name":"Countess"})");
  inbound("+14155552671");
  got = receiver.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(json::parse(got.back().body).at("data").at("contact").at("name"), "Countess");
}

TEST_F(ContactApiTest, AcknowledgedContactsSurviveKillNine) {
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.emplace(create(alice_, "+141555530" + std::to_string(i % 10) + std::to_string(i / 10),
                       "C" + std::to_string(i))
                    .at("id")
                    .as_string());
  }
  server_->stop(SIGKILL);
  server_ = std::make_unique<ServerProcess>(AP_BINARY, data_, flags());
  const json::object page = call_json(alice_, "GET", "/v1/contacts?limit=100").as_object();
  EXPECT_EQ(page.at("total"), 20);
  std::set<std::string> after;
  for (const json::value& c : page.at("data").as_array()) after.emplace(c.at("id").as_string());
  EXPECT_EQ(after, ids);
  // The book's uniqueness survives too: it is rebuilt from the log.
  expect_error(call(alice_, "POST", "/v1/contacts", R"({"phoneNumber":"+14155553000","name":"X"})"),
               409, "CONTACT_EXISTS");
}

}  // namespace
}  // namespace ap::test
