// Verification aggregate: agent self-sign-up (contract B.13), from the
// emailed one-time code to the account it creates. Nothing is provisioned
// until the code is verified; then the account (with its sign-up credit and
// API key), a US number (charged as everywhere), a starter hosted agent and
// the email's claim are written in ONE append, decided by the account, number
// and agent deciders themselves, so the rules are theirs and the result
// happens exactly once.
//
// The code is drawn from the entropy port and mailed as an effect; the log
// keeps only a salted SHA-256 of it, compared in constant time. A code
// expires (ttlMs, default 10 minutes) and five wrong tries lock it.
#pragma once

#include <cstdint>
#include <string>

#include "actors/domain.hpp"

namespace ap::domain {

constexpr int kMaxOtpTries = 5;
constexpr std::int64_t kDefaultOtpTtlMs = 10 * 60 * 1000;

struct VerificationState {
  std::string id;  // "ver_…"
  bool exists = false;
  std::string email;  // Normalized.
  std::string agent_name;
  std::string salt;
  std::string otp_sha256;  // sha256_hex(salt + code).
  std::int64_t expires_at_ms = 0;
  int tries = 0;        // Wrong codes so far.
  std::string status;   // "pending", "verified" or "locked".
  json::object result;  // The verification.completed data, once verified.
};

// Commands:
//   "verification.start"  args {email (normalized), agentName|null, ttlMs}
//                         -> verification.started; effect "mail.send" {to, subject, text}
//   "verification.verify" args {otp, source|null, keyPrefix, keySha256};
//                         context.port_answer {phoneNumber} from the carrier
//     a wrong code  -> verification.attempt_failed {tries, locked} (the caller
//                      answers INVALID_OTP or VERIFICATION_LOCKED from it)
//     the right one -> account.created, account.api_key_created, email.claimed,
//                      account.number_charged, number.provisioned, phone.claimed,
//                      agent.created and verification.completed, in one append
//   Errors: 404 unknown; 409 VERIFICATION_ALREADY_USED; 400 VERIFICATION_LOCKED,
//   VERIFICATION_EXPIRED.
Decision decide_verification(const VerificationState& state, const Command& command,
                             const Context& context);
void evolve_verification(VerificationState& state, const std::string& type,
                         const json::object& data);
json::object verification_snapshot(const VerificationState& state);
void restore_verification(VerificationState& state, const json::object& snapshot);

std::string verification_stream(std::string_view verification_id);

}  // namespace ap::domain
