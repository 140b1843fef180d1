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
  std::int64_t paid_until_ms = 0;   // The end of the period paid for.
  std::int64_t grace_until_ms = 0;  // Unpaid: released at this time; 0 when paid up.
};

// Commands:
//   "number.attach"   args {agentId}  (the host has checked the agent is the caller's)
//   "number.detach"   args {agentId}
//   "number.release"  args {}
//   "number.renew"    args {dueAtMs}  a timer (or, without dueAtMs, the restart that re-arms
//   timers): at the
//                     end of the paid period, charges the next period from the funds the
//                     host reserved (number.renewed), or starts the grace period
//                     (number.renewal_failed); retried daily in grace, after which the
//                     number is released (number.released, reason "unpaid"). Early, it
//                     only sets the timer again.
Decision decide_number(const NumberState& state, const Command& command, const Context& context);
// The timer effect that sends "number.renew" {dueAtMs: now_ms + delay_ms} to
// `number_id` after `delay_ms`.
Effect renewal_timer(const std::string& number_id, const std::string& account_id,
                     std::int64_t now_ms, std::int64_t delay_ms);

void evolve_number(NumberState& state, const std::string& type, const json::object& data);

}  // namespace ap::domain
