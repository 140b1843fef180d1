// Aggregate: one entity's state, stream and version, and the plumbing every
// host needs around the pure deciders (load from snapshot + stream tail,
// decide, turn events into log appends, apply them, snapshot). The CAF actors
// and the operator commands both use it, so neither knows which decider
// belongs to which kind.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "actors/account.hpp"
#include "actors/agent.hpp"
#include "actors/call.hpp"
#include "actors/contact.hpp"
#include "actors/conversation.hpp"
#include "actors/number.hpp"
#include "actors/verification.hpp"
#include "actors/webhook.hpp"
#include "eventstore/event_store.hpp"

namespace ap::actors {

enum class EntityKind {
  kAccount,
  kAgent,
  kNumber,
  kConversation,
  kWebhook,
  kDelivery,
  kCall,
  kVerification,
  kContacts  // One per account: its contact book (id = the account id).
};

using AnyState =
    std::variant<domain::AccountState, domain::AgentState, domain::NumberState,
                 domain::ConversationState, domain::WebhookState, domain::DeliveryState,
                 domain::CallState, domain::VerificationState, domain::ContactBookState>;

struct Aggregate {
  EntityKind kind{};
  std::string id;
  std::string stream;
  AnyState state;
  std::uint64_t version = 0;           // Last stream version folded into `state`.
  std::uint64_t snapshot_version = 0;  // Version of the latest saved snapshot.
};

// The log stream of entity (kind, id), e.g. "agent-agt_…".
std::string stream_name(EntityKind kind, const std::string& id);

// Sets *out to the aggregate rebuilt from its latest snapshot and the events
// after it (an empty state at version 0 for a stream that does not exist).
// A failed or short read of the log is an error status: a partly read entity
// must never decide.
es::Status load_aggregate(const es::EventStore& store, EntityKind kind, const std::string& id,
                          Aggregate* out);

// Runs the kind's decider.
domain::Decision decide(const Aggregate& aggregate, const domain::Command& command,
                        const domain::Context& context);

// Groups `events` into one atomic append: the aggregate's own stream expects
// its current version, streams marked new_stream must not exist yet, others
// accept any version.
std::vector<es::StreamAppend> to_appends(const Aggregate& aggregate,
                                         const std::vector<domain::Event>& events);

// Folds the events for the aggregate's own stream into it, once they are durable.
void apply_own(Aggregate& aggregate, const std::vector<domain::Event>& events);

// Saves a snapshot when `every` or more events were applied since the last one.
void snapshot_if_due(es::EventStore& store, Aggregate& aggregate, std::uint64_t every);

}  // namespace ap::actors
