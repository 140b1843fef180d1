// Account aggregate: identity, API keys, credit balance and the count of
// active numbers (it owns provisioning because the cap and the charge are its
// rules).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "actors/domain.hpp"

namespace ap::domain {

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
  std::int64_t balance_micros = 0;
  int active_numbers = 0;
  std::map<std::string, ApiKeyState> keys;  // By key id.
};

// Commands:
//   "account.create"      args {email, keyPrefix, keySha256}
//   "account.create_key"  args {keyPrefix, keySha256}
//   "account.revoke_key"  args {keyId}
//   "number.provision"    args {country, areaCode|null, agentId|null};
//                         context.port_answer {phoneNumber} from the carrier
// New key and number ids come from context.ids.
Decision decide_account(const AccountState& state, const Command& command, const Context& context);
void evolve_account(AccountState& state, const std::string& type, const json::object& data);

}  // namespace ap::domain
