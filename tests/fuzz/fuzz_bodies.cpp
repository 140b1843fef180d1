// Fuzzes the deciders with request bodies as a client may send them: the
// body of POST/PATCH /v1/agents, the webhook settings of POST /v1/webhooks,
// the metadata of PATCH /v1/conversations/{id} and POST/PATCH /v1/contacts.
// Every body is either
// accepted or refused with a DomainError; a throw would reach the caller as
// a 503 ENTITY_FAULT, so here it is a crash.
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>

#include "actors/agent.hpp"
#include "actors/contact.hpp"
#include "actors/conversation.hpp"
#include "actors/secrets.hpp"
#include "actors/webhook.hpp"

namespace {

namespace json = boost::json;
using namespace ap::domain;

struct FixedClock final : Clock {
  std::int64_t now_ms() const override { return 1'767'225'600'000; }
};

// Deterministic bytes: a fuzzer input must decide the same way every run.
struct CountingEntropy final : Entropy {
  std::uint64_t next = 0;
  void fill(void* out, std::size_t bytes) override {
    auto* p = static_cast<std::uint8_t*>(out);
    for (std::size_t i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(next++ * 131);
  }
};

// Applies an accepted decision's events, as the host would before the next command.
template <typename State, typename Evolve>
void apply(State& state, const Decision& decision, Evolve evolve) {
  if (const Outcome* outcome = std::get_if<Outcome>(&decision)) {
    for (const Event& event : outcome->events) evolve(state, event.type, event.data);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::system::error_code error;
  json::value parsed =
      json::parse(std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (error || !parsed.is_object()) return 0;
  const json::object& body = parsed.as_object();

  static FixedClock clock;
  CountingEntropy entropy;
  Ids ids(clock, entropy);
  Context context;
  context.now_ms = clock.now_ms();
  context.ids = &ids;
  context.entropy = &entropy;

  // An agent created from the body, then updated with it; and an agent
  // created plainly, updated with it.
  AgentState agent;
  agent.id = "agt_fuzz";
  json::object create = body;
  create["id"] = "agt_fuzz";
  apply(agent, decide_agent(agent, {"agent.create", "acct_1", create}, context), evolve_agent);
  apply(agent, decide_agent(agent, {"agent.update", "acct_1", body}, context), evolve_agent);
  AgentState plain;
  plain.id = "agt_plain";
  apply(plain,
        decide_agent(plain, {"agent.create", "acct_1", {{"name", "plain"}, {"id", "agt_plain"}}},
                     context),
        evolve_agent);
  apply(plain, decide_agent(plain, {"agent.update", "acct_1", body}, context), evolve_agent);

  // The webhook's optional settings come from the body as sent.
  WebhookState webhook;
  webhook.id = "project-acct_1";
  json::object settings{
      {"webhookId", "wh_fuzz"},
      {"agentId", nullptr},
      {"url", "https://hooks.example.com/in"},
      {"contextLimit",
       body.contains("contextLimit") ? body.at("contextLimit") : json::value(nullptr)},
      {"timeout", body.contains("timeout") ? body.at("timeout") : json::value(nullptr)}};
  (void)decide_webhook(webhook, {"webhook.set", "acct_1", settings}, context);

  // Metadata replaces a conversation's; any JSON value may be sent (here
  // the body's first member's value).
  ConversationState conversation;
  conversation.id = "conv_fuzz";
  conversation.exists = true;
  conversation.account_id = "acct_1";
  if (!body.empty()) {
    (void)decide_conversation(
        conversation, {"conversation.update", "acct_1", {{"metadata", body.begin()->value()}}},
        context);
  }

  // A contact created from the body, and one created plainly, each updated
  // with the body: the book keeps one contact per number.
  ContactBookState book;
  book.id = "acct_1";
  apply(book, decide_contacts(book, {"contact.create", "acct_1", body}, context), evolve_contacts);
  apply(
      book,
      decide_contacts(
          book, {"contact.create", "acct_1", {{"phoneNumber", "+14155550100"}, {"name", "plain"}}},
          context),
      evolve_contacts);
  for (const auto& [id, contact] : std::map(book.contacts)) {
    json::object update = body;
    update["contactId"] = id;
    apply(book, decide_contacts(book, {"contact.update", "acct_1", update}, context),
          evolve_contacts);
  }
  if (book.by_phone.size() != book.contacts.size()) std::abort();
  return 0;
}
