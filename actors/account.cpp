#include "actors/account.hpp"

#include <cctype>

#include "actors/billing.hpp"
#include "actors/number.hpp"
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

std::int64_t int_arg(const Command& command, const char* name) {
  return int_of(command.args, name, -1);
}

// "account.credit": money in, from a payment the processor accepted (or an
// operator's correction). One credit per payment id, ever: the host refuses a
// second one through the payment's claim stream.
Decision decide_credit(const AccountState& state, const Command& command, const Context& context) {
  const std::int64_t amount = int_arg(command, "amountMicros");
  const std::string reason = arg(command, "reason");
  if (amount < kMinCreditMicros || amount > kMaxCreditMicros) {
    return validation_error(
        {{"amountCents", "Input should be between 100 and 1000000", "value_error"}});
  }
  if (reason != "top_up" && reason != "auto_recharge" && reason != "adjustment") {
    return validation_error({{"reason", "Unknown credit reason " + reason, "literal_error"}});
  }
  const std::string payment = arg(command, "paymentId");
  if (payment.empty()) return validation_error({{"paymentId", "Field required", "missing"}});
  return std::vector<Event>{Event{"account.credited",
                                  {{"accountId", state.id},
                                   {"amountMicros", amount},
                                   {"reason", reason},
                                   {"paymentId", payment},
                                   {"note", arg(command, "note")},
                                   {"atMs", context.now_ms}}},
                            Event{"payment.claimed",
                                  {{"accountId", state.id}, {"paymentId", payment}},
                                  "payment-" + sha256_hex(payment),
                                  true}};
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
    return std::vector<Event>{
        Event{"account.created",
              {{"accountId", state.id},
               {"email", email},
               {"creditMicros", rate_card_at(context.now_ms).signup_credit_micros},
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
    const RateCard& card = rate_card_at(context.now_ms);
    if (context.funds_micros && *context.funds_micros < card.number_period_micros) {
      return insufficient_balance("provisioning a number", card.number_period_micros);
    }
    const json::object& offer = context.port_answer;
    const std::string number_id = context.ids->new_id("num_");
    const std::string phone(field(offer, "phoneNumber").as_string());
    const json::value* agent = command.args.if_contains("agentId");
    json::value agent_id = agent != nullptr ? *agent : json::value(nullptr);
    Outcome out;
    out.events = {Event{"account.number_charged",
                        {{"accountId", state.id},
                         {"numberId", number_id},
                         {"phoneNumber", phone},
                         {"amountMicros", card.number_period_micros},
                         {"rateVersion", card.version},
                         {"reason", "number_first_month"},
                         {"periodStartMs", context.now_ms},
                         {"paidUntilMs", context.now_ms + card.number_period_ms}}},
                  Event{"number.provisioned",
                        {{"numberId", number_id},
                         {"accountId", state.id},
                         {"phoneNumber", phone},
                         {"country", field(command.args, "country")},
                         {"agentId", agent_id},
                         {"createdAtMs", context.now_ms},
                         {"paidUntilMs", context.now_ms + card.number_period_ms}},
                        number_stream(number_id),
                        true},
                  Event{"phone.claimed",
                        {{"phoneNumber", phone}, {"numberId", number_id}, {"accountId", state.id}},
                        phone_stream(phone),
                        true}};
    out.effects.push_back(
        renewal_timer(number_id, state.id, context.now_ms, card.number_period_ms));
    return out;
  }
  if (command.type == "account.credit") return decide_credit(state, command, context);
  if (command.type == "account.payment_declined") {
    return std::vector<Event>{Event{"account.payment_declined",
                                    {{"accountId", state.id},
                                     {"amountMicros", int_arg(command, "amountMicros")},
                                     {"reason", arg(command, "reason")},
                                     {"paymentId", arg(command, "paymentId")},
                                     {"code", arg(command, "code")},
                                     {"message", arg(command, "message")},
                                     {"atMs", context.now_ms}}}};
  }
  if (command.type == "account.set_auto_recharge") {
    const bool enabled = bool_of(command.args, "enabled", false);
    const std::int64_t threshold = int_arg(command, "thresholdMicros");
    const std::int64_t amount = int_arg(command, "amountMicros");
    if (enabled && (threshold < 0 || threshold > kMaxCreditMicros || amount < kMinCreditMicros ||
                    amount > kMaxCreditMicros)) {
      return validation_error({{"amountCents", "Out of range", "value_error"}});
    }
    return std::vector<Event>{Event{"account.auto_recharge_configured",
                                    {{"accountId", state.id},
                                     {"enabled", enabled},
                                     {"thresholdMicros", enabled ? threshold : 0},
                                     {"amountMicros", enabled ? amount : 0},
                                     {"atMs", context.now_ms}}}};
  }
  return unknown_command(command.type);
}

void evolve_account(AccountState& state, const std::string& type, const json::object& data) {
  if (type == "account.created") {
    state.exists = true;
    state.email = std::string(field(data, "email").as_string());
  } else if (type == "account.api_key_created") {
    ApiKeyState key;
    key.prefix = std::string(field(data, "prefix").as_string());
    key.sha256 = std::string(field(data, "sha256").as_string());
    key.created_at_ms = field(data, "createdAtMs").as_int64();
    state.keys[std::string(field(data, "keyId").as_string())] = key;
  } else if (type == "account.api_key_revoked") {
    state.keys[std::string(field(data, "keyId").as_string())].revoked = true;
  } else if (type == "account.number_charged") {
    ++state.active_numbers;
  } else if (type == "account.number_released") {
    --state.active_numbers;
  }
}

}  // namespace ap::domain
