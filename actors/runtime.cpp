// The only translation unit that includes CAF.
#include "actors/runtime.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <unordered_map>

namespace ap::actors {

namespace json = boost::json;

namespace {

struct CommandMsg {
  EntityKind kind;
  std::string id;
  domain::Command command;
  ResultFn done;
  std::optional<IdempotencyClaim> claim;
  int conflicts = 0;  // Times this command lost an optimistic-concurrency race.
};

struct AppendDone {
  es::Status status;
  es::AppendResult result;
};

}  // namespace
}  // namespace ap::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ap::actors::CommandMsg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ap::actors::AppendDone)

namespace ap::actors {

namespace {

using idle_atom = caf::atom_constant<caf::atom("idle")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

constexpr int kMaxConflictRetries = 3;

}  // namespace

struct Runtime::Impl {
  es::EventStore& store;
  domain::IdSource& ids;
  domain::CarrierPort& carrier;
  RuntimeOptions options;
  std::atomic<std::int64_t> live{0};
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  caf::actor registry;

  Impl(es::EventStore& s, domain::IdSource& i, domain::CarrierPort& c, RuntimeOptions o)
      : store(s), ids(i), carrier(c), options(std::move(o)) {}
};

namespace {

// ---- Entity actor -------------------------------------------------------

struct EntityState {
  Aggregate aggregate;
  bool loaded = false;                   // False until (re)loaded from the log.
  std::deque<CommandMsg> queue;          // Front: the command deciding or appending.
  bool busy = false;                     // The front command's append is in flight.
  std::vector<domain::Event> in_flight;  // Its events, applied once durable.
  std::uint64_t handled = 0;             // Commands completed, for passivation.
  std::chrono::steady_clock::time_point last_active;
  bool idle_timer = false;
  static inline const char* name = "entity";
};

using EntityActor = caf::stateful_actor<EntityState>;

void finish(EntityActor* self, CommandResult result) {
  EntityState& st = self->state;
  CommandMsg msg = std::move(st.queue.front());
  st.queue.pop_front();
  st.busy = false;
  ++st.handled;
  msg.done(std::move(result));
}

CommandResult failure(domain::DomainError error) {
  CommandResult result;
  result.error = std::move(error);
  return result;
}

// Asks the ports what a command needs before it can be decided (the carrier's
// number for a provisioning command) and puts the answer in the context.
// Returns the port's refusal, if any.
std::optional<domain::DomainError> ask_ports(const domain::Command& command,
                                             domain::CarrierPort& carrier,
                                             domain::Context& context) {
  if (command.type != "number.provision") return std::nullopt;
  const json::value* area = command.args.if_contains("areaCode");
  domain::NumberOffer offer = carrier.offer_number(
      std::string(command.args.at("country").as_string()),
      area != nullptr && area->is_string() ? std::string(area->as_string()) : "");
  if (!offer.ok) {
    return domain::make_error(
        offer.status == 409 ? domain::ErrorKind::kConflict : domain::ErrorKind::kBadRequest,
        offer.code, offer.message);
  }
  context.port_answer = {{"phoneNumber", offer.phone_number}};
  return std::nullopt;
}

// Decides queued commands one at a time until one needs an append (which
// completes in on_appended) or the queue is empty.
void process_next(EntityActor* self, Runtime::Impl* env) {
  EntityState& st = self->state;
  while (!st.busy && !st.queue.empty()) {
    if (!st.loaded) {
      st.aggregate = load_aggregate(env->store, st.aggregate.kind, st.aggregate.id);
      st.loaded = true;
    }
    const domain::Command& command = st.queue.front().command;
    domain::Context context;
    context.now_ms = env->options.clock_ms();
    context.ids = &env->ids;
    if (auto refusal = ask_ports(command, env->carrier, context)) {
      finish(self, failure(std::move(*refusal)));
      continue;
    }
    domain::Decision decision = decide(st.aggregate, command, context);
    if (auto* error = std::get_if<domain::DomainError>(&decision)) {
      finish(self, failure(std::move(*error)));
      continue;
    }
    std::vector<domain::Event>& events = std::get<std::vector<domain::Event>>(decision);
    if (events.empty()) {
      CommandResult result;
      result.ok = true;
      finish(self, std::move(result));
      continue;
    }
    if (const std::optional<IdempotencyClaim>& claim = st.queue.front().claim) {
      if (env->store.stream_version(claim->stream) > 0) {
        finish(self, failure(domain::make_error(
                         domain::ErrorKind::kConflict, "IDEMPOTENCY_KEY_IN_USE",
                         "This Idempotency-Key was already used for a request that wrote")));
        continue;
      }
      events.push_back(domain::Event{"idempotency.claimed", claim->data, claim->stream, true});
    }
    std::vector<es::StreamAppend> parts = to_appends(st.aggregate, events);
    st.in_flight = std::move(events);
    st.busy = true;
    caf::actor me = caf::actor_cast<caf::actor>(self);
    env->store.append(std::move(parts), [me](const es::Status& status, const es::AppendResult& r) {
      caf::anon_send(me, AppendDone{status, r});
    });
  }
}

void on_appended(EntityActor* self, Runtime::Impl* env, const AppendDone& done) {
  EntityState& st = self->state;
  if (done.status.code() == es::Code::kWrongExpectedVersion &&
      st.queue.front().conflicts < kMaxConflictRetries) {
    // Another writer (e.g. a number releasing itself on the account stream,
    // or a competing claim of the same phone number) got there first: reload
    // and decide the same command again against the fresh state.
    ++st.queue.front().conflicts;
    st.loaded = false;
    st.busy = false;
    st.in_flight.clear();
    process_next(self, env);
    return;
  }
  CommandResult result;
  if (!done.status.ok()) {
    // The state may no longer match the log; reload before the next command.
    st.loaded = false;
    result.error = domain::make_error(domain::ErrorKind::kUnavailable, "LOG_UNAVAILABLE",
                                      "The event log refused the write: " + done.status.message());
  } else {
    apply_own(st.aggregate, st.in_flight);
    snapshot_if_due(env->store, st.aggregate, env->options.snapshot_every);
    result.ok = true;
    result.last_position = done.result.last_position;
    result.claimed = st.queue.front().claim.has_value();
    if (result.claimed) st.in_flight.pop_back();
    result.events = std::move(st.in_flight);
  }
  st.in_flight.clear();
  finish(self, std::move(result));
  process_next(self, env);
}

std::chrono::milliseconds idle_timeout(const EntityActor* self, const Runtime::Impl* env) {
  const std::int64_t ms =
      self->state.aggregate.kind == EntityKind::kDelivery
          ? std::min(env->options.delivery_idle_timeout_ms, env->options.idle_timeout_ms)
          : env->options.idle_timeout_ms;
  return std::chrono::milliseconds(ms);
}

void arm_idle_timer(EntityActor* self, Runtime::Impl* env) {
  if (self->state.idle_timer) return;
  self->state.idle_timer = true;
  self->delayed_send(self, idle_timeout(self, env), idle_atom::value);
}

caf::behavior entity_actor(EntityActor* self, Runtime::Impl* env, EntityKind kind, std::string id,
                           caf::actor registry) {
  self->state.aggregate.kind = kind;
  self->state.aggregate.id = id;
  self->state.aggregate.stream = stream_name(kind, id);
  env->live.fetch_add(1);
  self->attach_functor([env] { env->live.fetch_sub(1); });
  return {
      [=](CommandMsg& msg) {
        self->state.last_active = std::chrono::steady_clock::now();
        self->state.queue.push_back(std::move(msg));
        process_next(self, env);
        arm_idle_timer(self, env);
      },
      [=](AppendDone& done) { on_appended(self, env, done); },
      [=](idle_atom) {
        EntityState& st = self->state;
        st.idle_timer = false;
        const auto idle = std::chrono::steady_clock::now() - st.last_active;
        if (!st.busy && st.queue.empty() && idle >= idle_timeout(self, env)) {
          // Ask the registry; it agrees only if it forwarded nothing we have
          // not handled yet, so no command can be lost to passivation.
          self->send(registry, passivate_atom::value, st.aggregate.stream, st.handled);
        } else {
          arm_idle_timer(self, env);
        }
      },
      [=](stop_atom) { self->quit(); },
  };
}

// ---- Registry: finds or spawns the actor of an entity ----------------------

struct RegistryState {
  struct Entry {
    caf::actor actor;
    std::uint64_t forwarded = 0;
  };
  std::unordered_map<std::string, Entry> entries;  // By stream name.
  static inline const char* name = "registry";
};

caf::behavior registry_actor(caf::stateful_actor<RegistryState>* self, Runtime::Impl* env) {
  return {
      [=](CommandMsg& msg) {
        const std::string stream = stream_name(msg.kind, msg.id);
        auto it = self->state.entries.find(stream);
        if (it == self->state.entries.end()) {
          // Not linked: CAF 0.17 unlinks in time linear in the registry's link
          // count, which made passivating 100k actors quadratic. Shutdown
          // stops the entities explicitly instead (stop_atom below).
          caf::actor actor =
              self->spawn(entity_actor, env, msg.kind, msg.id, caf::actor_cast<caf::actor>(self));
          it = self->state.entries.emplace(stream, RegistryState::Entry{actor, 0}).first;
        }
        ++it->second.forwarded;
        self->send(it->second.actor, std::move(msg));
      },
      [=](stop_atom) {
        for (auto& [stream, entry] : self->state.entries) self->send(entry.actor, stop_atom::value);
        self->state.entries.clear();
        self->quit();
      },
      [=](passivate_atom, const std::string& stream, std::uint64_t handled) {
        auto it = self->state.entries.find(stream);
        if (it == self->state.entries.end() || it->second.forwarded != handled) return;
        self->send(it->second.actor, stop_atom::value);
        self->state.entries.erase(it);
      },
  };
}

}  // namespace

Runtime::Runtime(es::EventStore& store, domain::IdSource& ids, domain::CarrierPort& carrier,
                 RuntimeOptions options)
    : impl_(std::make_unique<Impl>(store, ids, carrier, std::move(options))) {
  if (!impl_->options.clock_ms) impl_->options.clock_ms = domain::wall_clock_ms;
  impl_->config.set("scheduler.max-threads", impl_->options.scheduler_threads);
  // Work sharing waits on a condition variable; work stealing polls with short
  // sleeps, which on two cores costs more in context switches than it saves.
  impl_->config.set("scheduler.policy", caf::atom("sharing"));
  impl_->config.set("logger.verbosity", caf::atom("quiet"));
  impl_->system = std::make_unique<caf::actor_system>(impl_->config);
  impl_->registry = impl_->system->spawn(registry_actor, impl_.get());
}

Runtime::~Runtime() {
  // The registry stops every entity, then itself; the system's destructor
  // waits for all of them.
  caf::anon_send(impl_->registry, stop_atom::value);
  impl_->registry = nullptr;
  impl_->system.reset();
}

void Runtime::send(EntityKind kind, const std::string& id, domain::Command command, ResultFn done,
                   std::optional<IdempotencyClaim> claim) {
  caf::anon_send(impl_->registry,
                 CommandMsg{kind, id, std::move(command), std::move(done), std::move(claim)});
}

std::int64_t Runtime::live_actors() const {
  return impl_->live.load();
}

}  // namespace ap::actors
