// Number aggregate: one provisioned phone number (contract B.2).
#pragma once

#include <cstdint>
#include <string>

#include "actors/domain.hpp"

namespace ap::domain {

struct NumberState {
  std::string id;
  bool exists = false;
  std::string account_id;
  std::string phone_number;
  std::string country;
  std::string status;    // "active" or "released".
  std::string agent_id;  // "" when unattached.
  std::int64_t created_at_ms = 0;
};

// Commands:
//   "number.attach"   args {agentId}  (the host has checked the agent is the caller's)
//   "number.detach"   args {agentId}
//   "number.release"  args {}
Decision decide_number(const NumberState& state, const Command& command, const Context& context);
void evolve_number(NumberState& state, const std::string& type, const json::object& data);

}  // namespace ap::domain
