// Agent aggregate: an AI agent's configuration (contract B.1).
#pragma once

#include <cstdint>
#include <string>

#include "actors/domain.hpp"

namespace ap::domain {

struct AgentState {
  std::string id;
  std::string account_id;
  std::int64_t created_at_ms = 0;
  json::object config;  // Every AgentResponse configuration field, defaults filled in.
  bool exists = false;
  bool deleted = false;
};

// Commands:
//   "agent.create"  args: the CreateAgentRequest body; args["id"] = new agent id
//   "agent.update"  args: the UpdateAgentRequest body (only sent keys change)
//   "agent.delete"  args: {}
Decision decide_agent(const AgentState& state, const Command& command, const Context& context);
void evolve_agent(AgentState& state, const std::string& type, const json::object& data);

// The built-in TTS voice catalogue ({voice_id, voice_name, provider, gender,
// accent, preview_audio_url}) and its default voice id.
const json::array& voice_catalogue();
const char* default_voice_id();

// The AgentResponse fields of `state` (without `numbers`).
json::object agent_to_wire(const AgentState& state);

}  // namespace ap::domain
