#include "actors/verification.hpp"

#include <cstdio>

#include "actors/account.hpp"
#include "actors/agent.hpp"
#include "actors/billing.hpp"
#include "actors/ports.hpp"
#include "actors/secrets.hpp"

namespace ap::domain {

namespace {

// Appends `decided` (a decision that must have succeeded) to `out`, each
// own-stream event moved to `stream` (the first one creating it when `create`).
void take(Decision decided, const std::string& stream, bool create, std::vector<Event>& out,
          std::vector<Effect>* effects = nullptr) {
  if (auto* error = std::get_if<DomainError>(&decided)) {
    // The composed deciders refuse nothing a fresh sign-up can send them; a
    // refusal here is a bug, answered as an entity fault by the host.
    throw std::logic_error("sign-up: a composed decision was refused: " + error->message);
  }
  bool first = true;
  for (Event& e : std::get<Outcome>(decided).events) {
    if (e.stream.empty()) {
      e.stream = stream;
      e.new_stream = create && first;
      first = false;
    }
    out.push_back(std::move(e));
  }
  if (effects != nullptr) {
    for (Effect& effect : std::get<Outcome>(decided).effects) effects->push_back(std::move(effect));
  }
}

Decision decide_start(const VerificationState& state, const Command& command,
                      const Context& context) {
  if (state.exists) {
    return make_error(ErrorKind::kConflict, "CONFLICT", "Verification " + state.id + " exists");
  }
  const json::object& a = command.args;
  const std::string email = text_of(a, "email");
  if (email.empty()) return validation_error({{"human_email", "Field required", "missing"}});
  // Six digits, uniform (rejection sampling in the entropy port).
  char code[8];
  std::snprintf(code, sizeof code, "%06llu",
                static_cast<unsigned long long>(context.entropy->uniform(1'000'000)));
  const std::string salt = random_hex(*context.entropy, 16);
  const std::int64_t ttl_ms = int_of(a, "ttlMs", kDefaultOtpTtlMs);
  Outcome out;
  out.events.push_back(Event{"verification.started",
                             {{"verificationId", state.id},
                              {"email", email},
                              {"agentName", text_of(a, "agentName")},
                              {"salt", salt},
                              {"otpSha256", sha256_hex(salt + code)},
                              {"expiresAtMs", context.now_ms + ttl_ms},
                              {"createdAtMs", context.now_ms}}});
  // The code leaves only in the mail; the log never holds it.
  out.effects.push_back(
      Effect{"mail.send",
             {{"to", email},
              {"subject", "Your AgentPhone verification code"},
              {"text", std::string("Your AgentPhone verification code is ") + code +
                           ".\n\nGive it to the agent that is signing up for you. It expires in " +
                           std::to_string(ttl_ms / 60'000) +
                           " minutes.\nIf you did not ask for it, ignore this mail.\n"},
              {"reference", state.id}}});
  return out;
}

Decision decide_verify(const VerificationState& state, const Command& command,
                       const Context& context) {
  if (!state.exists) return not_found("Verification not found");
  if (state.status == "verified") {
    return make_error(ErrorKind::kConflict, "VERIFICATION_ALREADY_USED",
                      "This verification was completed already; its account exists");
  }
  if (state.status == "locked") {
    return make_error(ErrorKind::kBadRequest, "VERIFICATION_LOCKED",
                      "Too many wrong codes: this verification is locked; sign up again");
  }
  if (context.now_ms >= state.expires_at_ms) {
    return make_error(ErrorKind::kBadRequest, "VERIFICATION_EXPIRED",
                      "The code has expired; sign up again for a new one");
  }
  const json::object& a = command.args;
  if (!constant_time_equal(sha256_hex(state.salt + text_of(a, "otp")), state.otp_sha256)) {
    const int tries = state.tries + 1;
    return std::vector<Event>{Event{"verification.attempt_failed",
                                    {{"verificationId", state.id},
                                     {"tries", tries},
                                     {"locked", tries >= kMaxOtpTries},
                                     {"atMs", context.now_ms}}}};
  }
  // The account, then its number and its agent, each decided by its own rules.
  const std::string account_id = context.ids->new_id("acct_");
  const std::string agent_id = context.ids->new_id("agt_");
  std::vector<Event> events;
  AccountState account;
  account.id = account_id;
  take(decide_account(account,
                      {"account.create",
                       account_id,
                       {{"email", state.email},
                        {"keyPrefix", field(a, "keyPrefix")},
                        {"keySha256", field(a, "keySha256")}}},
                      context),
       account_stream(account_id), true, events);
  for (const Event& e : events) {
    if (e.stream == account_stream(account_id)) evolve_account(account, e.type, e.data);
  }
  // The number is paid from the sign-up credit made in this same append.
  Context funded = context;
  funded.funds_micros = rate_card_at(context.now_ms).signup_credit_micros;
  std::vector<Event> number;
  std::vector<Effect> effects;
  take(decide_account(account,
                      {"number.provision", account_id, {{"country", "US"}, {"agentId", agent_id}}},
                      funded),
       account_stream(account_id), false, number, &effects);
  const std::string name = state.agent_name.empty() ? "My agent" : state.agent_name;
  AgentState agent;
  agent.id = agent_id;
  take(decide_agent(agent,
                    {"agent.create",
                     account_id,
                     {{"name", name},
                      {"voiceMode", "hosted"},
                      {"systemPrompt", "You are " + name +
                                           ", an AI agent with a phone number. Be brief, "
                                           "friendly and helpful."},
                      {"beginMessage", "Hi, this is " + name + ". How can I help?"}}},
                    context),
       agent_stream(agent_id), true, events);
  std::string number_id, phone;
  for (Event& e : number) {
    if (e.type == "number.provisioned") {
      number_id = text_of(e.data, "numberId");
      phone = text_of(e.data, "phoneNumber");
    }
    events.push_back(std::move(e));
  }
  events.push_back(Event{"verification.completed",
                         {{"verificationId", state.id},
                          {"accountId", account_id},
                          {"agentId", agent_id},
                          {"numberId", number_id},
                          {"phoneNumber", phone},
                          {"source", field_or(a, "source", nullptr)},
                          {"atMs", context.now_ms}}});
  Outcome out(std::move(events));
  out.effects = std::move(effects);
  return out;
}

}  // namespace

std::string verification_stream(std::string_view verification_id) {
  return "verification-" + std::string(verification_id);
}

Decision decide_verification(const VerificationState& state, const Command& command,
                             const Context& context) {
  if (command.type == "verification.start") return decide_start(state, command, context);
  if (command.type == "verification.verify") return decide_verify(state, command, context);
  return unknown_command(command.type);
}

void evolve_verification(VerificationState& state, const std::string& type,
                         const json::object& data) {
  if (type == "verification.started") {
    state.exists = true;
    state.email = text_of(data, "email");
    state.agent_name = text_of(data, "agentName");
    state.salt = text_of(data, "salt");
    state.otp_sha256 = text_of(data, "otpSha256");
    state.expires_at_ms = field(data, "expiresAtMs").as_int64();
    state.status = "pending";
  } else if (type == "verification.attempt_failed") {
    state.tries = static_cast<int>(field(data, "tries").as_int64());
    if (field(data, "locked").as_bool()) state.status = "locked";
  } else if (type == "verification.completed") {
    state.status = "verified";
    state.result = data;
  }
}

json::object verification_snapshot(const VerificationState& state) {
  return {{"exists", state.exists},        {"email", state.email},
          {"agentName", state.agent_name}, {"salt", state.salt},
          {"otpSha256", state.otp_sha256}, {"expiresAtMs", state.expires_at_ms},
          {"tries", state.tries},          {"status", state.status},
          {"result", state.result}};
}

void restore_verification(VerificationState& state, const json::object& o) {
  state.exists = field(o, "exists").as_bool();
  state.email = text_of(o, "email");
  state.agent_name = text_of(o, "agentName");
  state.salt = text_of(o, "salt");
  state.otp_sha256 = text_of(o, "otpSha256");
  state.expires_at_ms = field(o, "expiresAtMs").as_int64();
  state.tries = static_cast<int>(field(o, "tries").as_int64());
  state.status = text_of(o, "status");
  state.result = field(o, "result").as_object();
}

}  // namespace ap::domain
