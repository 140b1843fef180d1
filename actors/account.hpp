// Account aggregate: identity, API keys, the count of active numbers (it owns
// provisioning because the cap and the first charge are its rules), and money
// in: credits from payments and auto-recharge settings. The balance itself is
// the ledger's (projections/ledger_view.cpp); a command that spends is decided
// against what the host reserved from it (Context::funds_micros).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "actors/domain.hpp"

namespace ap::domain {

// One credit is between $1 and $10,000.
constexpr std::int64_t kMinCreditMicros = 1'000'000;
constexpr std::int64_t kMaxCreditMicros = 10'000 * kMicrosPerDollar;

struct ApiKeyState {
  std::string prefix;  // First characters of the key, safe to show.
  std::string sha256;  // Hex SHA-256 of the whole key; the key itself is never stored.
  std::int64_t created_at_ms = 0;
  bool revoked = false;
};

struct AccountState {
  std::string id;
  bool exists = false;
  std::string email;
  int active_numbers = 0;
  std::map<std::string, ApiKeyState> keys;  // By key id.
};

// The form of an email address that identifies an account (lower case).
std::string normalize_email(std::string_view email);
// The stream that claims `normalized_email` for one account, ever.
std::string email_stream(std::string_view normalized_email);

// Commands:
//   "account.create"      args {email, keyPrefix, keySha256}; claims the email
//                         (email.claimed, on its own stream, which must not exist)
//   "account.create_key"  args {keyPrefix, keySha256}
//   "account.revoke_key"  args {keyId}
//   "number.provision"    args {country, areaCode|null, agentId|null};
//                         context.port_answer {phoneNumber} from the carrier
//   "account.credit"      args {amountMicros, reason: top_up|auto_recharge|adjustment,
//                         paymentId, note?}; with payment.claimed on "payment-<sha256>"
//   "account.payment_declined" args {amountMicros, reason, paymentId, code, message}
//   "account.set_auto_recharge" args {enabled, thresholdMicros, amountMicros}
// New key and number ids come from context.ids.
Decision decide_account(const AccountState& state, const Command& command, const Context& context);
void evolve_account(AccountState& state, const std::string& type, const json::object& data);

}  // namespace ap::domain
