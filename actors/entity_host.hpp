// EntityHost: everything one entity's actor does, without CAF. It queues the
// entity's commands, rehydrates the aggregate from snapshot + stream tail,
// decides one command at a time, appends the events with the expected stream
// version (retrying a lost race against fresh state), claims an
// Idempotency-Key atomically with them, and answers each command exactly once.
//
// The shell that hosts it (a CAF actor in actors/runtime.cpp) delivers
// commands and append completions one at a time, on the entity's own thread
// of control; the host never blocks and never starts a thread.
//
// An entity holds at most HostEnv::max_queued commands; more are refused
// undecided with ENTITY_BUSY (503), so one flooded entity cannot take the
// node's memory.
//
// A decider that throws, or an aggregate that cannot be rebuilt, fails the
// command with ENTITY_FAULT (503), counts the fault, and makes the host
// reload the entity from the log before its next command.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
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

struct PendingCommand {
  domain::Command command;
  ResultFn done;
  std::optional<IdempotencyClaim> claim;
  int conflicts = 0;  // Times this command lost an optimistic-concurrency race.
  // The money reserved for it (actors/billing.hpp), kept across retries.
  std::string hold;  // "" when nothing is reserved.
  std::int64_t held_micros = 0;
  bool hold_until_call_ends = false;
};

// Runs the effects of decisions once their events are durable (the node's
// carrier and, later, LLM and mail ports). Called on the entity's thread; it
// must not block.
class EffectPort {
 public:
  virtual ~EffectPort() = default;
  virtual void run(const domain::Effect& effect) = 0;
};

// What every host of a node shares.
struct HostEnv {
  es::EventStore& store;
  domain::IdSource& ids;
  domain::Entropy& entropy;
  domain::CarrierPort& carrier;
  const domain::Clock& clock;
  std::uint64_t snapshot_every = 50;     // Save a snapshot every N events of a stream.
  EffectPort* effects = nullptr;         // Required when a decider returns effects.
  domain::Wallet* wallet = nullptr;      // Null: no command's funds are checked.
  std::atomic<std::uint64_t> holds{0};   // Reservations made; names the next one.
  std::atomic<std::uint64_t> faults{0};  // Commands failed by an entity fault.
  // Commands one entity may hold waiting; past it a command is refused at
  // once with ENTITY_BUSY (503). Callers are bounded long before it (HTTP by
  // its in-flight limit per account, the engines by their own bounds), so
  // reaching it means something floods one entity.
  std::size_t max_queued = 10'000;
  std::atomic<std::uint64_t> refused_busy{0};  // Commands refused by max_queued.
  // The node is gone (a simulated crash): commands are refused undecided.
  std::atomic<bool> abandoned{false};
};

class EntityHost {
 public:
  // Appends `parts`; the shell must later call on_appended with the outcome,
  // on the entity's thread.
  using AppendFn = std::function<void(std::vector<es::StreamAppend> parts)>;

  static constexpr int kMaxConflictRetries = 3;

  EntityHost(HostEnv& env, EntityKind kind, std::string id, AppendFn append);

  // Queues `command` and decides what can be decided now.
  void on_command(PendingCommand command);
  // The outcome of the append that on_command or a previous completion asked for.
  void on_appended(const es::Status& status, const es::AppendResult& result);

  // No command queued or in flight.
  bool idle() const { return queue_.empty() && !busy_; }
  // Commands answered so far (the registry compares it with what it forwarded).
  std::uint64_t handled() const { return handled_; }
  // The clock's time when the last command arrived.
  std::int64_t last_active_ms() const { return last_active_ms_; }
  EntityKind kind() const { return aggregate_.kind; }
  const std::string& stream() const { return aggregate_.stream; }

 private:
  void process_next();
  void finish(CommandResult result);
  // Hands `result` to `done`, counting a callback that throws as a fault.
  void answer(const ResultFn& done, CommandResult result);
  // Reserves what the front command spends, once, and puts it in `context`.
  void reserve_funds(domain::Context& context);
  // Loads, asks the ports and decides the front command. Returns what was
  // decided, or an empty optional once the command has been answered.
  std::optional<domain::Outcome> decide_front();
  // Runs the front command's effects (its events, if any, are durable).
  void run_effects();

  HostEnv& env_;
  AppendFn append_;
  Aggregate aggregate_;
  bool loaded_ = false;                   // False until (re)loaded from the log.
  std::deque<PendingCommand> queue_;      // Front: the command deciding or appending.
  bool busy_ = false;                     // The front command's append is in flight.
  std::vector<domain::Event> in_flight_;  // Its events, applied once durable.
  std::vector<domain::Effect> effects_;   // Its effects, run once durable.
  std::uint64_t handled_ = 0;
  std::int64_t last_active_ms_ = 0;
};

}  // namespace ap::actors
