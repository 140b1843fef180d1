// The sign-up decider without CAF: the mailed code, its hash in the log,
// tries, expiry, and the one append that creates everything.
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "actors/account.hpp"
#include "actors/secrets.hpp"
#include "actors/verification.hpp"
#include "sim/virtual_ports.hpp"
#include "tests/sequential_ids.hpp"

namespace ap::domain {
namespace {

using test::SequentialIds;

class SignUp : public ::testing::Test {
 protected:
  SignUp() {
    state.id = "ver_1";
    context.ids = &ids_;
    context.entropy = &entropy_;
    context.port_answer = {{"phoneNumber", "+14152000100"}};
  }

  Decision decide(std::int64_t at_ms, const std::string& type, json::object args) {
    context.now_ms = at_ms;
    Decision d = decide_verification(state, {type, "", std::move(args)}, context);
    if (auto* outcome = std::get_if<Outcome>(&d)) {
      for (const Event& e : outcome->events) {
        if (e.stream.empty()) evolve_verification(state, e.type, e.data);
      }
    }
    return d;
  }

  // Starts a sign-up at time 0 and returns the code it mailed.
  std::string start() {
    Decision d = decide(0, "verification.start",
                        {{"email", "ann@example.com"}, {"agentName", "Ada"}, {"ttlMs", 60'000}});
    const Outcome& out = std::get<Outcome>(d);
    EXPECT_EQ(out.effects.size(), 1u);
    const std::string text(out.effects.at(0).data.at("text").as_string());
    const std::size_t at = text.find("code is ") + 8;
    const std::string code = text.substr(at, 6);
    // The log keeps a salted hash, never the code.
    EXPECT_EQ(out.events.at(0).data.at("otpSha256").as_string(),
              sha256_hex(std::string(out.events.at(0).data.at("salt").as_string()) + code));
    EXPECT_EQ(serialize_events(out).find(code), std::string::npos);
    return code;
  }

  json::object verify_args(const std::string& code) {
    return {{"otp", code},
            {"source", nullptr},
            {"keyPrefix", "sk_live_abcd"},
            {"keySha256", sha256_hex("sk_live_abcd...")}};
  }

  static std::string serialize_events(const Outcome& out) {
    std::string all;
    for (const Event& e : out.events) all += to_json(e.data);
    return all;
  }

  VerificationState state;
  Context context;

 private:
  SequentialIds ids_;
  sim::SeededEntropy entropy_{3};
};

TEST_F(SignUp, TheRightCodeCreatesEverythingInOneDecision) {
  const std::string code = start();
  ASSERT_EQ(code.size(), 6u);
  Decision d = decide(1000, "verification.verify", verify_args(code));
  ASSERT_TRUE(std::holds_alternative<Outcome>(d));
  std::vector<std::pair<std::string, std::string>> written;  // (type, stream prefix)
  for (const Event& e : std::get<Outcome>(d).events) {
    written.emplace_back(e.type, e.stream.substr(0, e.stream.find('-')));
  }
  EXPECT_EQ(written, (std::vector<std::pair<std::string, std::string>>{
                         {"account.created", "account"},
                         {"account.api_key_created", "account"},
                         {"email.claimed", "email"},
                         {"agent.created", "agent"},
                         {"account.number_charged", "account"},
                         {"number.provisioned", "number"},
                         {"phone.claimed", "phone"},
                         {"verification.completed", ""}}));
  EXPECT_EQ(state.status, "verified");
  Decision again = decide(2000, "verification.verify", verify_args(code));
  ASSERT_TRUE(std::holds_alternative<DomainError>(again));
  EXPECT_EQ(std::get<DomainError>(again).code, "VERIFICATION_ALREADY_USED");
}

TEST_F(SignUp, FiveWrongCodesLockIt) {
  const std::string code = start();
  const std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 1; i <= kMaxOtpTries; ++i) {
    Decision d = decide(i, "verification.verify", verify_args(wrong));
    const Event& failed = std::get<Outcome>(d).events.at(0);
    EXPECT_EQ(failed.type, "verification.attempt_failed");
    EXPECT_EQ(failed.data.at("tries"), i);
    EXPECT_EQ(failed.data.at("locked"), i == kMaxOtpTries);
  }
  Decision d = decide(10, "verification.verify", verify_args(code));
  ASSERT_TRUE(std::holds_alternative<DomainError>(d));
  EXPECT_EQ(std::get<DomainError>(d).code, "VERIFICATION_LOCKED");
}

TEST_F(SignUp, ACodeExpires) {
  const std::string code = start();
  Decision d = decide(60'000, "verification.verify", verify_args(code));
  ASSERT_TRUE(std::holds_alternative<DomainError>(d));
  EXPECT_EQ(std::get<DomainError>(d).code, "VERIFICATION_EXPIRED");
  Decision unknown = decide_verification(VerificationState{"ver_9"},
                                         {"verification.verify", "", verify_args(code)}, context);
  EXPECT_EQ(std::get<DomainError>(unknown).kind, ErrorKind::kNotFound);
}

TEST_F(SignUp, ASnapshotRestoresTheSameVerification) {
  start();
  VerificationState restored;
  restore_verification(restored, json::parse(to_json(verification_snapshot(state))).as_object());
  EXPECT_EQ(to_json(verification_snapshot(restored)), to_json(verification_snapshot(state)));
}

TEST(AccountDecider, AnAccountClaimsItsEmailOnce) {
  SequentialIds ids;
  sim::SeededEntropy entropy(1);
  Context context;
  context.ids = &ids;
  context.entropy = &entropy;
  AccountState account;
  account.id = "acct_1";
  Decision d =
      decide_account(account,
                     {"account.create",
                      "acct_1",
                      {{"email", "Ann@Example.COM"}, {"keyPrefix", "p"}, {"keySha256", "h"}}},
                     context);
  const Event& claim = std::get<Outcome>(d).events.back();
  EXPECT_EQ(claim.type, "email.claimed");
  EXPECT_EQ(claim.data.at("email"), "ann@example.com");
  EXPECT_EQ(claim.stream, email_stream("ann@example.com"));
  EXPECT_TRUE(claim.new_stream);
}

}  // namespace
}  // namespace ap::domain
