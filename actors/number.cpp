#include "actors/number.hpp"

namespace ap::domain {

Decision decide_number(const NumberState& state, const Command& command, const Context&) {
  if (!state.exists || state.account_id != command.account_id) {
    return make_error(ErrorKind::kNotFound, "PHONE_NUMBER_NOT_FOUND", "Phone number not found");
  }
  const json::value* agent = command.args.if_contains("agentId");
  const std::string agent_id =
      agent != nullptr && agent->is_string() ? std::string(agent->as_string()) : "";
  auto released_error = [&] {
    return make_error(ErrorKind::kBadRequest, "NUMBER_RELEASED",
                      "Phone number " + state.id + " has been released");
  };

  if (command.type == "number.attach") {
    if (state.status != "active") return released_error();
    if (state.agent_id == agent_id) return std::vector<Event>{};
    return std::vector<Event>{
        Event{"number.agent_attached",
              {{"numberId", state.id},
               {"accountId", state.account_id},
               {"agentId", agent_id},
               {"previousAgentId",
                state.agent_id.empty() ? json::value(nullptr) : json::value(state.agent_id)}}}};
  }
  if (command.type == "number.detach") {
    if (state.status != "active" || state.agent_id != agent_id) {
      return not_found("Phone number " + state.id + " is not attached to agent " + agent_id);
    }
    return std::vector<Event>{
        Event{"number.agent_detached",
              {{"numberId", state.id}, {"accountId", state.account_id}, {"agentId", agent_id}}}};
  }
  if (command.type == "number.release") {
    if (state.status != "active") return released_error();
    return std::vector<Event>{
        Event{"number.released",
              {{"numberId", state.id},
               {"accountId", state.account_id},
               {"phoneNumber", state.phone_number},
               {"agentId",
                state.agent_id.empty() ? json::value(nullptr) : json::value(state.agent_id)}}},
        Event{"account.number_released",
              {{"accountId", state.account_id}, {"numberId", state.id}},
              account_stream(state.account_id),
              false}};
  }
  return unknown_command(command.type);
}

void evolve_number(NumberState& state, const std::string& type, const json::object& data) {
  if (type == "number.provisioned") {
    state.exists = true;
    state.account_id = std::string(data.at("accountId").as_string());
    state.phone_number = std::string(data.at("phoneNumber").as_string());
    state.country = std::string(data.at("country").as_string());
    state.status = "active";
    const json::value& agent = data.at("agentId");
    state.agent_id = agent.is_string() ? std::string(agent.as_string()) : "";
    state.created_at_ms = data.at("createdAtMs").as_int64();
  } else if (type == "number.agent_attached") {
    state.agent_id = std::string(data.at("agentId").as_string());
  } else if (type == "number.agent_detached") {
    state.agent_id.clear();
  } else if (type == "number.released") {
    state.status = "released";
    state.agent_id.clear();
  }
}

}  // namespace ap::domain
