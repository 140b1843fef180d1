// Calling: what happens to a call before its aggregate decides. One place
// for the two ways a call begins — a person dials one of our numbers (the
// sandbox's /sim/calls, the simulator, a future carrier adapter) and an
// agent calls out (POST /v1/calls) — each turned into the "call.start"
// command that carries everything the call needs: its parties, its mode
// (fixed for the whole call, so switching an agent's voiceMode never drops a
// live call), its prompts, its limits and the webhook its events go to.
// They read the read model (projections/core_view.hpp) for numbers, agents
// and webhooks.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <variant>

#include "actors/domain.hpp"
#include "projections/core_view.hpp"

namespace ap::actors {

struct CallStart {
  std::string call_id;
  domain::Command command;  // "call.start".
};

// A call from `from` (any US/CA format) to our number `to`. Errors: 422 for
// an invalid `from`, 404 PHONE_NUMBER_NOT_FOUND when nobody holds `to`.
std::variant<CallStart, domain::DomainError> inbound_call(const projections::CoreView& view,
                                                          domain::IdSource& ids,
                                                          const std::string& from,
                                                          const std::string& to);

// An outbound call of `account` from the POST /v1/calls body (contract B.5):
// agentId, toNumber (US/CA only; emergency and N11 numbers refused),
// fromNumberId (one of the agent's numbers; default its first),
// initialGreeting, voice, systemPrompt (hosted for this call), modelTier,
// variables; waitForCompletion and maxWaitSeconds are the route's. Errors:
// 422 field errors, 404 for an unknown or foreign agent or number, 400
// AGENT_HAS_NO_NUMBER / NUMBER_NOT_ON_AGENT / NUMBER_RELEASED.
std::variant<CallStart, domain::DomainError> outbound_call(const projections::CoreView& view,
                                                           domain::IdSource& ids,
                                                           const std::string& account,
                                                           const boost::json::object& body);

}  // namespace ap::actors
