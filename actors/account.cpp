#include "actors/account.hpp"

#include <cctype>

#include "actors/secrets.hpp"

namespace ap::domain {

namespace {

std::string arg(const Command& command, const char* name) {
  const json::value* value = command.args.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

Event key_created(const AccountState& state, const Command& command, const Context& context) {
  return Event{"account.api_key_created",
               {{"accountId", state.id},
                {"keyId", context.ids->new_id("key_")},
                {"prefix", arg(command, "keyPrefix")},
                {"sha256", arg(command, "keySha256")},
                {"createdAtMs", context.now_ms}}};
}

}  // namespace

std::string normalize_email(std::string_view email) {
  std::string out;
  out.reserve(email.size());
  for (unsigned char c : email) out.push_back(static_cast<char>(std::tolower(c)));
  return out;
}

std::string email_stream(std::string_view normalized_email) {
  return "email-" + sha256_hex(normalized_email);
}

Decision decide_account(const AccountState& state, const Command& command, const Context& context) {
  if (command.type == "account.create") {
    if (state.exists) {
      return make_error(ErrorKind::kConflict, "CONFLICT",
                        "Account " + state.id + " already exists");
    }
    const std::string email = arg(command, "email");
    const auto at = email.find('@');
    if (at == std::string::npos || at == 0 || at + 1 >= email.size() || email.size() > 254) {
      return validation_error({{"email", "A valid email address is required", "value_error"}});
    }
    // One account per email address, ever: the claim's stream must not exist.
    const std::string normalized = normalize_email(email);
    return std::vector<Event>{Event{"account.created",
                                    {{"accountId", state.id},
                                     {"email", email},
                                     {"creditMicros", kSignupCreditMicros},
                                     {"createdAtMs", context.now_ms}}},
                              key_created(state, command, context),
                              Event{"email.claimed",
                                    {{"email", normalized}, {"accountId", state.id}},
                                    email_stream(normalized),
                                    true}};
  }

  if (!state.exists || command.account_id != state.id) return not_found("Account not found");

  if (command.type == "account.create_key") {
    return std::vector<Event>{key_created(state, command, context)};
  }
  if (command.type == "account.revoke_key") {
    auto it = state.keys.find(arg(command, "keyId"));
    if (it == state.keys.end() || it->second.revoked) return not_found("API key not found");
    return std::vector<Event>{
        Event{"account.api_key_revoked",
              {{"accountId", state.id}, {"keyId", it->first}, {"sha256", it->second.sha256}}}};
  }
  if (command.type == "number.provision") {
    if (state.active_numbers >= kSelfServeNumberLimit) {
      return make_error(ErrorKind::kBadRequest, "VALIDATION_ERROR_NUMBER_LIMIT",
                        "Number limit reached: self-serve accounts can hold up to " +
                            std::to_string(kSelfServeNumberLimit) +
                            " active numbers. Release a number or contact us for more.");
    }
    if (state.balance_micros < kNumberMonthlyMicros) {
      return make_error(ErrorKind::kInsufficientBalance, "INSUFFICIENT_BALANCE",
                        "Insufficient balance: provisioning a number needs $3.00 of credit");
    }
    const json::object& offer = context.port_answer;
    const std::string number_id = context.ids->new_id("num_");
    const std::string phone(offer.at("phoneNumber").as_string());
    const json::value* agent = command.args.if_contains("agentId");
    json::value agent_id = agent != nullptr ? *agent : json::value(nullptr);
    return std::vector<Event>{
        Event{"account.number_charged",
              {{"accountId", state.id},
               {"numberId", number_id},
               {"phoneNumber", phone},
               {"amountMicros", kNumberMonthlyMicros},
               {"reason", "number_first_month"}}},
        Event{"number.provisioned",
              {{"numberId", number_id},
               {"accountId", state.id},
               {"phoneNumber", phone},
               {"country", command.args.at("country")},
               {"agentId", agent_id},
               {"createdAtMs", context.now_ms}},
              number_stream(number_id),
              true},
        Event{"phone.claimed",
              {{"phoneNumber", phone}, {"numberId", number_id}, {"accountId", state.id}},
              phone_stream(phone),
              true}};
  }
  return unknown_command(command.type);
}

void evolve_account(AccountState& state, const std::string& type, const json::object& data) {
  if (type == "account.created") {
    state.exists = true;
    state.email = std::string(data.at("email").as_string());
    state.balance_micros = data.at("creditMicros").as_int64();
  } else if (type == "account.api_key_created") {
    ApiKeyState key;
    key.prefix = std::string(data.at("prefix").as_string());
    key.sha256 = std::string(data.at("sha256").as_string());
    key.created_at_ms = data.at("createdAtMs").as_int64();
    state.keys[std::string(data.at("keyId").as_string())] = key;
  } else if (type == "account.api_key_revoked") {
    state.keys[std::string(data.at("keyId").as_string())].revoked = true;
  } else if (type == "account.number_charged") {
    state.balance_micros -= data.at("amountMicros").as_int64();
    ++state.active_numbers;
  } else if (type == "account.number_released") {
    --state.active_numbers;
  }
}

}  // namespace ap::domain
