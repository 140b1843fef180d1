// Runtime: hosts one CAF actor per account, agent and number. CAF stays
// behind this header.
//
// send() routes a command to the entity's actor (spawning and rehydrating it
// from snapshot + stream tail when needed). The actor decides, appends with the
// expected stream version, and calls `done` once the append is durable. Idle
// actors passivate after `idle_timeout_ms`. Nothing here ever blocks the
// caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/aggregate.hpp"
#include "actors/domain.hpp"
#include "actors/ports.hpp"
#include "eventstore/event_store.hpp"

namespace ap::actors {

struct CommandResult {
  bool ok = false;
  domain::DomainError error;          // When !ok.
  std::uint64_t last_position = 0;    // Log position of the last event written; 0 if none.
  std::vector<domain::Event> events;  // The events written, in order (a claim excluded).
  bool claimed = false;               // An IdempotencyClaim was appended with them.
};

// An Idempotency-Key claim to append atomically with a command's events: the
// claim's stream must not exist yet, so the key's effect happens at most once,
// across restarts too. A command that writes nothing claims nothing.
struct IdempotencyClaim {
  std::string stream;        // e.g. "idem-<hash>".
  boost::json::object data;  // The "idempotency.claimed" event's payload.
};

using ResultFn = std::function<void(CommandResult)>;

struct RuntimeOptions {
  int scheduler_threads = 2;
  std::int64_t idle_timeout_ms = 60'000;
  // Webhook deliveries hear from the engine once per attempt, seconds to
  // minutes apart; they passivate after this instead (at most idle_timeout_ms).
  std::int64_t delivery_idle_timeout_ms = 2'000;
  std::uint64_t snapshot_every = 50;       // Save a snapshot every N events of a stream.
  std::function<std::int64_t()> clock_ms;  // System clock when empty.
};

class Runtime {
 public:
  Runtime(es::EventStore& store, domain::IdSource& ids, domain::CarrierPort& carrier,
          RuntimeOptions options);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Sends `command` to entity (kind, id). `done` runs exactly once, on an actor
  // thread; it must not block. With a `claim` whose stream exists already the
  // command fails with IDEMPOTENCY_KEY_IN_USE (a conflict) and writes nothing.
  void send(EntityKind kind, const std::string& id, domain::Command command, ResultFn done,
            std::optional<IdempotencyClaim> claim = std::nullopt);

  // Entity actors currently alive (not passivated).
  std::int64_t live_actors() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::actors
