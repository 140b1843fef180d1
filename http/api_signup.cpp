// Agent self-sign-up (contract B.13, docs/signup.md): POST /v0/agent/sign-up
// mails a one-time code; POST /v0/agent/verify with it creates the account,
// its number, a starter agent and an API key in one append. No API key is
// needed (there is none yet); fields are snake_case.
#include <cctype>

#include "actors/account.hpp"
#include "actors/secrets.hpp"
#include "actors/sms.hpp"
#include "actors/verification.hpp"
#include "http/api_internal.hpp"

namespace ap::http {

namespace {

constexpr std::size_t kMaxAgentNameChars = 100;
constexpr std::size_t kMaxSourceChars = 100;

Response rate_limited(std::int64_t retry_ms, const std::string& what) {
  const std::int64_t seconds = std::max<std::int64_t>(1, (retry_ms + 999) / 1000);
  Response r = error_response(
      429, "Too many sign-ups " + what + "; try again in " + std::to_string(seconds) + " s",
      "RATE_LIMITED", "rate_limit_error");
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

// Reads optional string field `key` of at most `max_chars` characters.
std::string optional_text(const json::object& body, const char* key, std::size_t max_chars,
                          std::vector<FieldError>& errors) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return "";
  if (!v->is_string()) {
    errors.push_back({key, "Input should be a valid string", "string_type"});
    return "";
  }
  if (domain::code_points(v->as_string()) > max_chars) {
    errors.push_back({key,
                      "String should have at most " + std::to_string(max_chars) + " characters",
                      "string_too_long"});
    return "";
  }
  return std::string(v->as_string());
}

}  // namespace

void Api::Impl::route_signup(const Request& request, const std::string& step, const Reply& reply) {
  if (step != "sign-up" && step != "verify") return reply(not_found_response("Not Found"));
  if (request.method != "POST") {
    return reply(method_not_allowed_response());
  }
  if (step == "sign-up") return sign_up(request, reply);
  verify(request, reply);
}

void Api::Impl::sign_up(const Request& request, const Reply& reply) {
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  std::vector<FieldError> errors;
  const json::value* email_field = body.if_contains("human_email");
  std::string email;
  if (email_field == nullptr || email_field->is_null()) {
    errors.push_back({"human_email", "Field required", "missing"});
  } else if (!email_field->is_string()) {
    errors.push_back({"human_email", "Input should be a valid string", "string_type"});
  } else {
    email = domain::normalize_email(email_field->as_string());
    if (!domain::plausible_email(email)) {
      errors.push_back({"human_email", "value is not a valid email address", "value_error"});
    }
  }
  const std::string agent_name = optional_text(body, "agent_name", kMaxAgentNameChars, errors);
  if (!errors.empty()) return reply(validation_response(errors, "body"));
  if (view.account_for_email(email)) {
    return reply(error_response(409, "An account with this email already exists",
                                "EMAIL_ALREADY_REGISTERED", "conflict"));
  }
  if (std::int64_t retry = signups_per_ip.take(request.peer_address, signup.per_ip_per_hour)) {
    return reply(rate_limited(retry, "from this address"));
  }
  if (std::int64_t retry = signups_per_email.take(email, signup.per_email_per_hour)) {
    return reply(rate_limited(retry, "for this email"));
  }
  const std::string id = ids.new_id("ver_");
  runtime.send(EntityKind::kVerification, id,
               {"verification.start",
                "",
                {{"email", email},
                 {"agentName", agent_name.empty() ? json::value(nullptr) : json::value(agent_name)},
                 {"ttlMs", signup.otp_ttl_ms}}},
               [id, email, reply](CommandResult result) {
                 if (!result.ok) return reply(domain_error_response(result.error));
                 const std::int64_t expires =
                     domain::field(result.events.front().data, "expiresAtMs").as_int64();
                 reply(json_response(json::object{
                     {"verification_id", id},
                     {"human_email", email},
                     {"expires_at", domain::iso8601(expires)},
                     {"message", "We sent a 6-digit code to " + email +
                                     ". Ask your human for it, then POST /v0/agent/verify with "
                                     "verification_id and otp_code."}}));
               });
}

void Api::Impl::verify(const Request& request, const Reply& reply) {
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  std::vector<FieldError> errors;
  const json::value* id = body.if_contains("verification_id");
  const json::value* code = body.if_contains("otp_code");
  if (id == nullptr || !id->is_string() || id->as_string().empty()) {
    errors.push_back({"verification_id", "Field required: the id sign-up answered", "missing"});
  }
  const bool six_digits =
      code != nullptr && code->is_string() && code->as_string().size() == 6 &&
      std::all_of(code->as_string().begin(), code->as_string().end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  if (!six_digits) {
    errors.push_back(
        {"otp_code", "otp_code must be the 6-digit code from the mail", "value_error"});
  }
  const std::string source = optional_text(body, "source", kMaxSourceChars, errors);
  if (!errors.empty()) return reply(validation_response(errors, "body"));
  const std::string verification(id->as_string());
  if (verification.find('/') != std::string::npos || verification.rfind("ver_", 0) != 0) {
    return reply(domain_error_response(domain::not_found("Verification not found")));
  }
  // The key is drawn here, from the entropy port, so that only its hash
  // enters the log and the key itself goes back to the caller alone.
  const std::string key = domain::new_api_key(entropy);
  runtime.send(
      EntityKind::kVerification, verification,
      {"verification.verify",
       "",
       {{"otp", code->as_string()},
        {"source", source.empty() ? json::value(nullptr) : json::value(source)},
        {"keyPrefix", key.substr(0, 12)},
        {"keySha256", domain::sha256_hex(key)}}},
      [this, key, reply](CommandResult result) {
        if (!result.ok) {
          // A verification's appends race only on the email's claim (two
          // sign-ups of one address): the other one has the account.
          if (result.error.code == "CONFLICT") {
            return reply(error_response(409, "An account with this email already exists",
                                        "EMAIL_ALREADY_REGISTERED", "conflict"));
          }
          return reply(domain_error_response(result.error));
        }
        const domain::Event& last = result.events.back();
        if (last.type == "verification.attempt_failed") {
          const std::int64_t tries = domain::field(last.data, "tries").as_int64();
          if (domain::field(last.data, "locked").as_bool()) {
            return reply(error_response(
                400, "Wrong code, and too many of them: this verification is locked; sign up again",
                "VERIFICATION_LOCKED", "invalid_request_error"));
          }
          return reply(error_response(
              400, "Wrong code; " + std::to_string(domain::kMaxOtpTries - tries) + " tries left",
              "INVALID_OTP", "invalid_request_error"));
        }
        const json::object done = last.data;
        const std::string account(domain::field(done, "accountId").as_string());
        note_write(account, result.last_position);
        view.when_applied(result.last_position, [done, key, reply] {
          reply(json_response(json::object{{"account_id", domain::field(done, "accountId")},
                                           {"agent_id", domain::field(done, "agentId")},
                                           {"number_id", domain::field(done, "numberId")},
                                           {"phone_number", domain::field(done, "phoneNumber")},
                                           {"api_key", key}}));
        });
      });
}

}  // namespace ap::http
