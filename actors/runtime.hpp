// Runtime: hosts one CAF actor per entity (account, agent, number,
// conversation, webhook, delivery). Each actor is a thin shell around an
// EntityHost (actors/entity_host.hpp); CAF stays behind this header.
//
// send() routes a command to the entity's actor (spawning it when needed).
// Idle actors passivate after `idle_timeout_ms` by the injected clock, with
// their timers on the injected Timers port. Nothing here blocks the caller.
//
// Two schedulers: CAF's work-sharing pool on `scheduler_threads` threads (the
// server), or CAF's deterministic test coordinator (the simulator): one
// thread, FIFO, nothing runs until run_ready() is called, and every append
// completion and timer must then be delivered on that same thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "actors/entity_host.hpp"

namespace ap::actors {

struct RuntimeOptions {
  int scheduler_threads = 2;
  bool deterministic = false;  // CAF's test coordinator instead of the thread pool.
  std::int64_t idle_timeout_ms = 60'000;
  // Webhook deliveries hear from the engine once per attempt, seconds to
  // minutes apart; they passivate after this instead (at most idle_timeout_ms).
  std::int64_t delivery_idle_timeout_ms = 2'000;
  // Calls are busy while live and never hear from anyone once ended; they
  // passivate after this (at most idle_timeout_ms), so ended calls do not
  // pile up in memory.
  std::int64_t call_idle_timeout_ms = 10'000;
  std::uint64_t snapshot_every = 50;           // Save a snapshot every N events of a stream.
  std::size_t max_queued_per_entity = 10'000;  // HostEnv::max_queued.
  // Reserves what commands spend (the node's ledger); null = funds unchecked.
  domain::Wallet* wallet = nullptr;
};

class Runtime {
 public:
  // `effects` runs what deciders ask of the world (may be null when no
  // decider the node uses returns effects).
  Runtime(es::EventStore& store, domain::IdSource& ids, domain::Entropy& entropy,
          domain::CarrierPort& carrier, const domain::Clock& clock, domain::Timers& timers,
          EffectPort* effects, RuntimeOptions options);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Sends `command` to entity (kind, id). `done` runs exactly once, on an actor
  // thread; it must not block. With a `claim` whose stream exists already the
  // command fails with IDEMPOTENCY_KEY_IN_USE (a conflict) and writes nothing.
  void send(EntityKind kind, const std::string& id, domain::Command command, ResultFn done,
            std::optional<IdempotencyClaim> claim = std::nullopt);

  // Deterministic mode only: runs every ready actor job, FIFO, until none is
  // left. Returns how many ran.
  std::size_t run_ready();
  // Deterministic mode only: runs the next ready actor job, if any.
  bool run_one();

  // A simulated crash: from now on every command is refused undecided, so
  // a node that is being torn down writes, draws and sends nothing.
  void abandon();

  // Entity actors currently alive (not passivated).
  std::int64_t live_actors() const;
  // Commands failed by an entity fault since start.
  std::uint64_t entity_faults() const;
  // Commands refused because their entity held max_queued_per_entity already.
  std::uint64_t entity_commands_refused() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::actors
