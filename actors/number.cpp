#include "actors/number.hpp"

#include <algorithm>

#include "actors/billing.hpp"

namespace ap::domain {

namespace {

std::vector<Event> release_events(const NumberState& state, const char* reason) {
  return {Event{"number.released",
                {{"numberId", state.id},
                 {"accountId", state.account_id},
                 {"phoneNumber", state.phone_number},
                 {"agentId",
                  state.agent_id.empty() ? json::value(nullptr) : json::value(state.agent_id)},
                 {"reason", reason}}},
          Event{"account.number_released",
                {{"accountId", state.account_id}, {"numberId", state.id}},
                account_stream(state.account_id),
                false}};
}

// "number.renew" {dueAtMs}: the renewal timer fired. Without dueAtMs (a
// restart re-arming every number), or early, it only sets the timer again:
// the host reserves the period's price only for a renewal that is due.
Decision decide_renew(const NumberState& state, const Command& command, const Context& context) {
  const std::int64_t now = context.now_ms;
  if (state.status != "active") return std::vector<Event>{};
  Outcome out;
  const json::value* due = command.args.if_contains("dueAtMs");
  const std::int64_t next_ms = state.grace_until_ms == 0 ? state.paid_until_ms : now;
  if (due == nullptr || !due->is_int64() || due->as_int64() > now || now < state.paid_until_ms) {
    out.effects.push_back(
        renewal_timer(state.id, state.account_id, now, std::max<std::int64_t>(0, next_ms - now)));
    return out;
  }
  const RateCard& card = rate_card_at(state.paid_until_ms);
  if (!context.funds_micros || *context.funds_micros >= card.number_period_micros) {
    const std::int64_t paid_until = state.paid_until_ms + card.number_period_ms;
    out.events.push_back(Event{"number.renewed",
                               {{"numberId", state.id},
                                {"accountId", state.account_id},
                                {"phoneNumber", state.phone_number},
                                {"amountMicros", card.number_period_micros},
                                {"rateVersion", card.version},
                                {"periodStartMs", state.paid_until_ms},
                                {"paidUntilMs", paid_until},
                                {"atMs", now}}});
    out.effects.push_back(renewal_timer(state.id, state.account_id, now,
                                        std::max<std::int64_t>(0, paid_until - now)));
    return out;
  }
  std::int64_t grace_until = state.grace_until_ms;
  if (grace_until == 0) {
    grace_until = state.paid_until_ms + card.number_grace_ms;
    out.events.push_back(Event{"number.renewal_failed",
                               {{"numberId", state.id},
                                {"accountId", state.account_id},
                                {"phoneNumber", state.phone_number},
                                {"neededMicros", card.number_period_micros},
                                {"graceUntilMs", grace_until},
                                {"atMs", now}}});
  } else if (now >= grace_until) {
    return release_events(state, "unpaid");
  }
  // In grace: try again every day, and one last time when it ends.
  out.effects.push_back(
      renewal_timer(state.id, state.account_id, now, std::min(kDayMs, grace_until - now)));
  return out;
}

}  // namespace

Effect renewal_timer(const std::string& number_id, const std::string& account_id,
                     std::int64_t now_ms, std::int64_t delay_ms) {
  delay_ms = std::max<std::int64_t>(0, delay_ms);
  return Effect{
      "timer",
      {{"delayMs", delay_ms},
       {"entity", "number"},
       {"id", number_id},
       {"command", json::object{{"type", "number.renew"},
                                {"accountId", account_id},
                                {"args", json::object{{"dueAtMs", now_ms + delay_ms}}}}}}};
}

Decision decide_number(const NumberState& state, const Command& command, const Context& context) {
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
    return release_events(state, "released_by_owner");
  }
  if (command.type == "number.renew") return decide_renew(state, command, context);
  return unknown_command(command.type);
}

void evolve_number(NumberState& state, const std::string& type, const json::object& data) {
  if (type == "number.provisioned") {
    state.exists = true;
    state.account_id = std::string(field(data, "accountId").as_string());
    state.phone_number = std::string(field(data, "phoneNumber").as_string());
    state.country = std::string(field(data, "country").as_string());
    state.status = "active";
    const json::value& agent = field(data, "agentId");
    state.agent_id = agent.is_string() ? std::string(agent.as_string()) : "";
    state.created_at_ms = field(data, "createdAtMs").as_int64();
    // Logs written before billing renewals count from provisioning.
    const json::value* paid = data.if_contains("paidUntilMs");
    state.paid_until_ms =
        paid != nullptr ? paid->as_int64() : state.created_at_ms + rate_card_at(0).number_period_ms;
  } else if (type == "number.renewed") {
    state.paid_until_ms = field(data, "paidUntilMs").as_int64();
    state.grace_until_ms = 0;
  } else if (type == "number.renewal_failed") {
    state.grace_until_ms = field(data, "graceUntilMs").as_int64();
  } else if (type == "number.agent_attached") {
    state.agent_id = std::string(field(data, "agentId").as_string());
  } else if (type == "number.agent_detached") {
    state.agent_id.clear();
  } else if (type == "number.released") {
    state.status = "released";
    state.agent_id.clear();
  }
}

}  // namespace ap::domain
