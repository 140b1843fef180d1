// Agent self-sign-up end to end, against the real binary: POST
// /v0/agent/sign-up mails a 6-digit code (the sandbox mail port writes it to
// <data>/outbox) and provisions nothing; POST /v0/agent/verify with that code
// creates the account, its US number and a hosted agent, once; wrong codes
// lock a verification, old codes expire, sign-ups are rate limited per email
// and per client address, a kill -9 between sign-up and verify loses nothing,
// and `agentphone sim mail` prints the newest mail.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/api_fixture.hpp"

namespace ap::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSignUp = "/v0/agent/sign-up";
constexpr const char* kVerify = "/v0/agent/verify";

// Asserts that `r` is a 422 in FastAPI's shape (a list of field errors under
// "detail", one of them located at `field`) with the contract's envelope.
void expect_invalid(const HttpResult& r, const std::string& field) {
  EXPECT_EQ(r.status, 422) << r.body;
  json::error_code ec;
  const json::value body = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << r.body;
  ASSERT_TRUE(body.is_object()) << r.body;
  const json::value* detail = body.as_object().if_contains("detail");
  ASSERT_TRUE(detail != nullptr && detail->is_array() && !detail->as_array().empty()) << r.body;
  bool named = false;
  for (const json::value& item : detail->as_array()) {
    const json::value* loc = item.is_object() ? item.as_object().if_contains("loc") : nullptr;
    if (loc != nullptr && loc->is_array() && !loc->as_array().empty() &&
        loc->as_array().back().is_string() && loc->as_array().back().as_string() == field) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << "no error located at " << field << ": " << r.body;
  const json::value* error = body.as_object().if_contains("error");
  ASSERT_TRUE(error != nullptr && error->is_object()) << r.body;
  EXPECT_EQ(error->at("code"), "VALIDATION_ERROR") << r.body;
}

// The error.message of a contract error; empty when there is none.
std::string error_message(const HttpResult& r) {
  json::error_code ec;
  const json::value body = json::parse(r.body, ec);
  if (ec || !body.is_object()) return "";
  const json::value* error = body.as_object().if_contains("error");
  if (error == nullptr || !error->is_object()) return "";
  const json::value* message = error->as_object().if_contains("message");
  return message != nullptr && message->is_string() ? std::string(message->as_string()) : "";
}

// The value of response header `name` (case-insensitive), if it was sent.
std::optional<std::string> header(const HttpResult& r, const std::string& name) {
  std::string lower = r.headers;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string wanted = "\r\n" + name + ":";
  const std::size_t at = lower.find(wanted);
  if (at == std::string::npos) return std::nullopt;
  std::size_t begin = at + wanted.size();
  const std::size_t end = r.headers.find("\r\n", begin);
  while (begin < r.headers.size() && r.headers[begin] == ' ') ++begin;
  return r.headers.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// Asserts that `r` is a 429 RATE_LIMITED whose Retry-After is a whole number
// of seconds within the hour the limits count.
void expect_rate_limited(const HttpResult& r) {
  expect_error(r, 429, "RATE_LIMITED");
  const std::optional<std::string> retry = header(r, "retry-after");
  ASSERT_TRUE(retry.has_value()) << r.headers;
  ASSERT_TRUE(std::regex_match(*retry, std::regex("[0-9]+"))) << *retry;
  EXPECT_GE(std::stoll(*retry), 1) << *retry;
  EXPECT_LE(std::stoll(*retry), 3600) << *retry;
}

// The code line of a sign-up mail; empty when `text` has none.
std::string code_in(const std::string& text) {
  static const std::regex kCodeLine("Your AgentPhone verification code is ([0-9]{6})");
  std::smatch match;
  return std::regex_search(text, match, kCodeLine) ? match[1].str() : "";
}

// The value of a mail's To header, lower-cased; empty when it has none.
std::string mail_to(const std::string& text) {
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // The headers end at the first blank line.
    if (line.rfind("To:", 0) == 0) {
      for (char& c : line) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return line.substr(3);
    }
    begin = end + 1;
  }
  return "";
}

std::string read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Six digits that are not `code`.
std::string wrong_code(const std::string& code) {
  std::string wrong = code;
  wrong.back() = static_cast<char>('0' + (wrong.back() - '0' + 1) % 10);
  return wrong;
}

// Polls `done` every 20 ms for up to ~10 s; answers whether it came true.

// One sign-up: what it answered and the code it mailed.
struct SignUp {
  std::string id;
  std::string email;  // As the server answered it (lower-cased).
  std::string code;
  json::object answer;
};

class SignupTest : public ApiTest {
 protected:
  // The sign-up routes take no key.
  HttpResult post(const std::string& target, const std::string& body) {
    HttpClient client(server_->port());
    return client.request("POST", target, body);
  }

  HttpResult sign_up_raw(const std::string& body) { return post(kSignUp, body); }

  // Signs `email` up, waits for its mail and returns both; `agent_name` is
  // sent when not empty.
  SignUp sign_up(const std::string& email, const std::string& agent_name = "") {
    json::object body{{"human_email", email}};
    if (!agent_name.empty()) body["agent_name"] = agent_name;
    const HttpResult r = sign_up_raw(json::serialize(body));
    SignUp out;
    if (r.status != 200) {
      ADD_FAILURE() << "sign-up of " << email << " -> " << r.status << " " << r.body;
      return out;
    }
    out.answer = json::parse(r.body).as_object();
    out.id = std::string(out.answer.at("verification_id").as_string());
    out.email = std::string(out.answer.at("human_email").as_string());
    const std::string mail = next_mail();
    EXPECT_NE(mail_to(mail).find(out.email), std::string::npos) << mail;
    out.code = code_in(mail);
    return out;
  }

  HttpResult verify_raw(const std::string& id, const std::string& code,
                        const std::string& source = "") {
    json::object body{{"verification_id", id}, {"otp_code", code}};
    if (!source.empty()) body["source"] = source;
    return post(kVerify, json::serialize(body));
  }

  // Verifies `s` with its own code, expecting 200, and returns the new
  // account (its id and API key) with the whole answer in `answer`.
  Account verify(const SignUp& s, json::object* answer = nullptr) {
    const HttpResult r = verify_raw(s.id, s.code);
    Account account;
    if (r.status != 200) {
      ADD_FAILURE() << "verify of " << s.email << " -> " << r.status << " " << r.body;
      return account;
    }
    const json::object body = json::parse(r.body).as_object();
    account.id = std::string(body.at("account_id").as_string());
    account.key = std::string(body.at("api_key").as_string());
    if (answer != nullptr) *answer = body;
    return account;
  }

  // The mails in the outbox, oldest first: their names sort by time. A file
  // still being written (*.tmp) is no mail yet.
  std::vector<std::filesystem::path> mails() const {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(data_ + "/outbox", ec)) {
      if (entry.path().extension() != ".tmp") out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.filename() < b.filename(); });
    return out;
  }

  // The text of the newest mail in the outbox; empty when there is none.
  std::string newest_mail() const {
    const std::vector<std::filesystem::path> all = mails();
    return all.empty() ? "" : read_whole(all.back());
  }

  // Waits for a mail this test has not read yet and returns its text. Mails
  // go out after the sign-up was answered, so they may lag it; and a new file
  // is told by its name, not by its place, since two sign-ups may share a
  // millisecond.
  std::string next_mail() {
    std::string text;
    const bool arrived = eventually([&] {
      for (const std::filesystem::path& p : mails()) {
        if (read_.count(p.filename().string()) != 0) continue;
        text = read_whole(p);
        // A mail port that writes in place could show a partial file.
        if (code_in(text).empty()) continue;
        read_.insert(p.filename().string());
        return true;
      }
      return false;
    });
    if (!arrived) ADD_FAILURE() << "no new mail in " << data_ << "/outbox";
    return text;
  }

  std::set<std::string> read_;  // File names of the mails next_mail() returned.
};

// The code expires one second after sign-up, so that the expiry test is short.
class SignupExpiryTest : public SignupTest {
 protected:
  std::vector<std::string> server_flags() const override { return {"--signup-otp-ttl-s", "1"}; }
};

// Five sign-ups per client address an hour, so that the limit is reached
// with a few requests (every test client is 127.0.0.1).
class SignupRateLimitTest : public SignupTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--signup-per-ip-per-hour", "5"};
  }
};

TEST_F(SignupTest, SignUpMailsACodeAndVerifyCreatesTheAccountNumberAndHostedAgent) {
  const std::uint64_t before = log_head();
  const SignUp s = sign_up("Dana@Example.COM", "Ada");
  EXPECT_EQ(s.id.rfind("ver_", 0), 0u) << s.id;
  EXPECT_EQ(s.email, "dana@example.com");
  ASSERT_EQ(s.code.size(), 6u);
  EXPECT_TRUE(std::regex_match(
      std::string(s.answer.at("expires_at").as_string()),
      std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))")))
      << json::serialize(s.answer);
  EXPECT_FALSE(s.answer.at("message").as_string().empty());
  // A sign-up logs its own start (and at most a note of its mail): no
  // account, number or agent, which would take several events.
  const std::uint64_t signed_up = log_head();
  EXPECT_GE(signed_up - before, 1u);
  EXPECT_LE(signed_up - before, 2u);
  // Nor does it claim the address: another sign-up for it is still welcome.
  EXPECT_EQ(sign_up_raw(R"({"human_email":"dana@example.com"})").status, 200);
  next_mail();

  const std::uint64_t before_verify = log_head();
  json::object done;
  const Account dana = verify(s, &done);
  ASSERT_FALSE(dana.key.empty());
  EXPECT_EQ(dana.id.rfind("acct_", 0), 0u) << json::serialize(done);
  EXPECT_EQ(dana.key.rfind("sk_live_", 0), 0u) << json::serialize(done);
  const std::string agent(done.at("agent_id").as_string());
  const std::string number(done.at("number_id").as_string());
  const std::string phone(done.at("phone_number").as_string());
  EXPECT_EQ(agent.rfind("agt_", 0), 0u) << agent;
  EXPECT_EQ(number.rfind("num_", 0), 0u) << number;
  EXPECT_EQ(phone.rfind("+1", 0), 0u) << phone;
  EXPECT_GE(log_head() - before_verify, 3u);

  // The key works at once: one hosted agent named as asked, with the number.
  const json::object agents = call_json(dana, "GET", "/v1/agents").as_object();
  EXPECT_EQ(agents.at("total"), 1);
  ASSERT_EQ(agents.at("data").as_array().size(), 1u);
  const json::object& the_agent = agents.at("data").at(0).as_object();
  EXPECT_EQ(the_agent.at("id"), agent.c_str());
  EXPECT_EQ(the_agent.at("voiceMode"), "hosted");
  EXPECT_EQ(the_agent.at("name"), "Ada");
  bool attached = false;
  for (const json::value& n : the_agent.at("numbers").as_array()) {
    if (n.at("id") == number.c_str()) attached = true;
  }
  EXPECT_TRUE(attached) << json::serialize(the_agent);

  const json::object numbers = call_json(dana, "GET", "/v1/numbers").as_object();
  EXPECT_EQ(numbers.at("total"), 1);
  ASSERT_EQ(numbers.at("data").as_array().size(), 1u);
  EXPECT_EQ(numbers.at("data").at(0).at("id"), number.c_str());
  EXPECT_EQ(numbers.at("data").at(0).at("phoneNumber"), phone.c_str());
  EXPECT_EQ(numbers.at("data").at(0).at("country"), "US");

  // The $5.00 sign-up credit paid $3.00 for that number; $2.00 buys no other.
  expect_error(call(dana, "POST", "/v1/numbers", "{}"), 402, "INSUFFICIENT_BALANCE");
  // Other accounts are untouched.
  EXPECT_EQ(call_json(alice_, "GET", "/v1/agents").at("total"), 0);
}

TEST_F(SignupTest, SignUpRefusesBadInputAndWritesNothing) {
  std::string long_email = std::string(64, 'a') + "@" + std::string(63, 'b') + "." +
                           std::string(63, 'c') + "." + std::string(57, 'd') + ".com";
  ASSERT_EQ(long_email.size(), 254u);
  const std::string too_long_email = "a" + long_email;
  const std::uint64_t before = log_head();
  expect_invalid(sign_up_raw(R"({"human_email":"nope"})"), "human_email");
  expect_invalid(sign_up_raw(R"({"human_email":"a@b"})"), "human_email");
  expect_invalid(sign_up_raw(R"({"human_email":""})"), "human_email");
  expect_invalid(sign_up_raw(R"({})"), "human_email");
  expect_invalid(sign_up_raw(R"({"agent_name":"Ada"})"), "human_email");
  expect_invalid(sign_up_raw(R"({"human_email":42})"), "human_email");
  expect_invalid(sign_up_raw(R"({"human_email":["ann@example.com"]})"), "human_email");
  expect_invalid(sign_up_raw("{\"human_email\":\"" + too_long_email + "\"}"), "human_email");
  expect_invalid(sign_up_raw(R"({"human_email":"ann@example.com","agent_name":7})"), "agent_name");
  expect_invalid(sign_up_raw("{\"human_email\":\"ann@example.com\",\"agent_name\":\"" +
                             std::string(101, 'n') + "\"}"),
                 "agent_name");
  EXPECT_EQ(log_head(), before);

  // The limits themselves are allowed: a 254-byte address, a 100-character name.
  EXPECT_EQ(sign_up(long_email).email, long_email);
  sign_up("ann@example.com", std::string(100, 'n'));
  // Only those two were mailed.
  EXPECT_EQ(mails().size(), 2u);
}

TEST_F(SignupTest, SignUpRefusesARegisteredEmailInAnyCase) {
  const std::uint64_t before = log_head();
  expect_error(sign_up_raw(R"({"human_email":"alice@example.com"})"), 409,
               "EMAIL_ALREADY_REGISTERED");
  expect_error(sign_up_raw(R"({"human_email":"ALICE@Example.com"})"), 409,
               "EMAIL_ALREADY_REGISTERED");
  expect_error(sign_up_raw(R"({"human_email":"Bob@EXAMPLE.COM","agent_name":"Bo"})"), 409,
               "EMAIL_ALREADY_REGISTERED");
  EXPECT_EQ(log_head(), before);
  EXPECT_TRUE(mails().empty());
}

// Three sign-ups per address an hour (the default), counted whatever the
// case it is written in; other addresses keep their own count.
TEST_F(SignupTest, SignUpsPerEmailAreRateLimited) {
  sign_up("gina@example.com");
  sign_up("gina@example.com");
  sign_up("Gina@Example.com");
  const std::uint64_t before = log_head();
  expect_rate_limited(sign_up_raw(R"({"human_email":"gina@example.com"})"));
  expect_rate_limited(sign_up_raw(R"({"human_email":"GINA@example.com"})"));
  EXPECT_EQ(log_head(), before);
  EXPECT_EQ(sign_up("hank@example.com").email, "hank@example.com");
  EXPECT_EQ(mails().size(), 4u);
}

// Sign-ups, not verifies, are limited: a code mailed before the limit was
// reached still works.
TEST_F(SignupRateLimitTest, SignUpsPerClientAddressAreRateLimited) {
  std::vector<SignUp> made;
  for (int i = 0; i < 5; ++i) made.push_back(sign_up("user" + std::to_string(i) + "@example.com"));
  const std::uint64_t before = log_head();
  expect_rate_limited(sign_up_raw(R"({"human_email":"late@example.com"})"));
  EXPECT_EQ(log_head(), before);
  const Account first = verify(made.front());
  EXPECT_EQ(call_json(first, "GET", "/v1/agents").at("total"), 1);
}

TEST_F(SignupTest, VerifyRefusesBadInputAndUnknownIds) {
  const SignUp s = sign_up("ivan@example.com");
  const std::uint64_t before = log_head();
  const std::string id = "\"verification_id\":\"" + s.id + "\"";
  expect_invalid(post(kVerify, "{}"), "verification_id");
  expect_invalid(post(kVerify, "{" + id + "}"), "otp_code");
  expect_invalid(post(kVerify, "{\"otp_code\":\"" + s.code + "\"}"), "verification_id");
  for (const char* otp :
       {R"("12345")", R"("1234567")", R"("12a456")", R"(" 12345")", R"("")", "123456", "null"}) {
    expect_invalid(post(kVerify, "{" + id + ",\"otp_code\":" + otp + "}"), "otp_code");
  }
  expect_invalid(post(kVerify, "{\"verification_id\":7,\"otp_code\":\"" + s.code + "\"}"),
                 "verification_id");
  const HttpResult unknown = verify_raw("ver_doesnotexist", s.code);
  expect_error(unknown, 404, "");
  EXPECT_EQ(log_head(), before);
  // None of those counted as a try: the code still works.
  verify(s);
}

TEST_F(SignupTest, WrongCodesCountDownThenLockTheVerification) {
  const SignUp s = sign_up("erin@example.com");
  const std::string wrong = wrong_code(s.code);
  for (int tries = 1; tries <= 4; ++tries) {
    const HttpResult r = verify_raw(s.id, wrong);
    expect_error(r, 400, "INVALID_OTP");
    EXPECT_NE(error_message(r).find(std::to_string(5 - tries)), std::string::npos)
        << "try " << tries << ": " << r.body;
  }
  // The fifth wrong code is refused; whether it already says LOCKED is the
  // server's choice, but from then on nothing gets through.
  const HttpResult fifth = verify_raw(s.id, wrong);
  expect_error(fifth, 400, "");
  EXPECT_TRUE(fifth.body.find("\"INVALID_OTP\"") != std::string::npos ||
              fifth.body.find("\"VERIFICATION_LOCKED\"") != std::string::npos)
      << fifth.body;
  expect_error(verify_raw(s.id, s.code), 400, "VERIFICATION_LOCKED");
  expect_error(verify_raw(s.id, wrong), 400, "VERIFICATION_LOCKED");
  expect_error(verify_raw(s.id, s.code), 400, "VERIFICATION_LOCKED");

  // No account was made: the address is still free, and a new sign-up's code works.
  const SignUp again = sign_up("erin@example.com");
  const Account erin = verify(again);
  EXPECT_EQ(call_json(erin, "GET", "/v1/agents").at("total"), 1);
}

TEST_F(SignupExpiryTest, AnExpiredCodeIsRefused) {
  const SignUp s = sign_up("fay@example.com");
  std::this_thread::sleep_for(1500ms);
  expect_error(verify_raw(s.id, s.code), 400, "VERIFICATION_EXPIRED");
  // Expired is not registered: the address can sign up again.
  EXPECT_EQ(sign_up_raw(R"({"human_email":"fay@example.com"})").status, 200);
}

TEST_F(SignupTest, ASecondVerifyIsRefusedAndCreatesNothing) {
  const SignUp s = sign_up("jade@example.com");
  const Account jade = verify(s);
  ASSERT_FALSE(jade.key.empty());
  const std::uint64_t before = log_head();
  expect_error(verify_raw(s.id, s.code), 409, "VERIFICATION_ALREADY_USED");
  expect_error(verify_raw(s.id, s.code, "another-agent"), 409, "VERIFICATION_ALREADY_USED");
  EXPECT_EQ(log_head(), before);
  EXPECT_EQ(call_json(jade, "GET", "/v1/agents").at("total"), 1);
  EXPECT_EQ(call_json(jade, "GET", "/v1/numbers").at("total"), 1);
  // The address is taken now.
  expect_error(sign_up_raw(R"({"human_email":"jade@example.com"})"), 409,
               "EMAIL_ALREADY_REGISTERED");
}

TEST_F(SignupTest, ConcurrentVerifiesOfOneSignUpCreateOneAccount) {
  const SignUp s = sign_up("kai@example.com");
  const std::string body =
      json::serialize(json::object{{"verification_id", s.id}, {"otp_code", s.code}});
  constexpr int kThreads = 8;
  std::vector<HttpResult> results(kThreads);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      try {
        HttpClient client(server_->port());
        results[i] = client.request("POST", kVerify, body);
      } catch (const std::exception&) {
        // Status 0 stays, and fails below.
      }
    });
  }
  go = true;
  for (std::thread& t : threads) t.join();

  std::optional<Account> kai;
  for (const HttpResult& r : results) {
    if (r.status == 200) {
      EXPECT_FALSE(kai.has_value()) << "a second verify succeeded: " << r.body;
      const json::object done = json::parse(r.body).as_object();
      kai = Account{std::string(done.at("account_id").as_string()),
                    std::string(done.at("api_key").as_string())};
    } else {
      expect_error(r, 409, "VERIFICATION_ALREADY_USED");
    }
  }
  ASSERT_TRUE(kai.has_value());
  EXPECT_EQ(call_json(*kai, "GET", "/v1/agents").at("total"), 1);
  EXPECT_EQ(call_json(*kai, "GET", "/v1/numbers").at("total"), 1);
  expect_error(sign_up_raw(R"({"human_email":"kai@example.com"})"), 409,
               "EMAIL_ALREADY_REGISTERED");
}

// Two pending sign-ups of one address: whichever verifies first has it.
TEST_F(SignupTest, TwoSignUpsOfOneEmailMakeOneAccount) {
  const SignUp first = sign_up("lea@example.com");
  const SignUp second = sign_up("LEA@example.com");
  ASSERT_NE(first.id, second.id);
  const Account lea = verify(first);
  ASSERT_FALSE(lea.key.empty());
  expect_error(verify_raw(second.id, second.code), 409, "EMAIL_ALREADY_REGISTERED");
  EXPECT_EQ(call_json(lea, "GET", "/v1/agents").at("total"), 1);
  // The losing sign-up stays refused; it never makes a second account.
  expect_error(verify_raw(second.id, second.code), 409, "");
}

// The sign-up is logged before it is answered, so a kill -9 between sign-up
// and verify loses nothing; the completed verification survives one too.
TEST_F(SignupTest, ASignUpSurvivesKillNine) {
  const SignUp s = sign_up("max@example.com", "Durable");
  ASSERT_EQ(s.code.size(), 6u);  // The mail is on disk before the kill.
  server_->stop(SIGKILL);
  server_->start();
  const Account max = verify(s);
  ASSERT_FALSE(max.key.empty());
  EXPECT_EQ(call_json(max, "GET", "/v1/agents").at("data").at(0).at("name"), "Durable");

  server_->stop(SIGKILL);
  server_->start();
  EXPECT_EQ(call_json(max, "GET", "/v1/agents").at("total"), 1);
  expect_error(verify_raw(s.id, s.code), 409, "VERIFICATION_ALREADY_USED");
}

TEST_F(SignupTest, SimMailPrintsTheNewestMail) {
  const SignUp older = sign_up("nia@example.com");
  // Mail file names carry the millisecond they were sent; a pause keeps the
  // two apart, so that "newest" means the second.
  std::this_thread::sleep_for(20ms);
  const SignUp newer = sign_up("omar@example.com");
  EXPECT_EQ(code_in(newest_mail()), newer.code);

  const std::string command = std::string(AP_BINARY) + " sim mail --data-dir " + data_ + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char chunk[4096];
  while (fgets(chunk, sizeof chunk, pipe) != nullptr) out += chunk;
  EXPECT_EQ(WEXITSTATUS(pclose(pipe)), 0) << out;
  EXPECT_NE(out.find("Your AgentPhone verification code is " + newer.code), std::string::npos)
      << out;
  EXPECT_NE(out.find("omar@example.com"), std::string::npos) << out;
  if (older.code != newer.code) {
    EXPECT_EQ(out.find("code is " + older.code), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace ap::test
