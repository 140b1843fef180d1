// The only translation unit that includes CAF.
#include "actors/runtime.hpp"
#include "actors/invariant.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <atomic>
#include <unordered_map>

namespace ap::actors {

namespace {

struct CommandMsg {
  EntityKind kind;
  std::string id;
  PendingCommand pending;
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

}  // namespace

struct Runtime::Impl {
  HostEnv env;
  domain::Timers& timers;
  RuntimeOptions options;
  std::atomic<std::int64_t> live{0};
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  caf::scheduler::test_coordinator* coordinator = nullptr;  // Deterministic mode only.
  caf::actor registry;

  Impl(es::EventStore& s, domain::IdSource& i, domain::Entropy& n, domain::CarrierPort& c,
       const domain::Clock& k, domain::Timers& t, EffectPort* e, RuntimeOptions o)
      : env{s, i, n, c, k, o.snapshot_every, e, o.wallet}, timers(t), options(o) {
    env.max_queued = o.max_queued_per_entity;
  }
};

namespace {

// ---- Entity actor: a shell around EntityHost --------------------------------

struct EntityState {
  std::optional<EntityHost> host;
  bool idle_timer = false;
  static inline const char* name = "entity";
};

using EntityActor = caf::stateful_actor<EntityState>;

std::int64_t idle_timeout_ms(EntityKind kind, const Runtime::Impl* env) {
  const RuntimeOptions& o = env->options;
  if (kind == EntityKind::kDelivery) return std::min(o.delivery_idle_timeout_ms, o.idle_timeout_ms);
  if (kind == EntityKind::kCall) return std::min(o.call_idle_timeout_ms, o.idle_timeout_ms);
  return o.idle_timeout_ms;
}

void arm_idle_timer(EntityActor* self, Runtime::Impl* env) {
  if (self->state.idle_timer) return;
  self->state.idle_timer = true;
  // A weak address: a passivated actor is not kept alive by its timer.
  env->timers.after(idle_timeout_ms(self->state.host->kind(), env), [addr = self->address()] {
    if (caf::actor me = caf::actor_cast<caf::actor>(addr)) {
      caf::anon_send(me, idle_atom::value);
    }
  });
}

caf::behavior entity_actor(EntityActor* self, Runtime::Impl* env, EntityKind kind, std::string id,
                           caf::actor registry) {
  // The host's appends complete on the log's thread; their outcome comes back
  // as a message, so the host sees it on this actor's turn. The handle is
  // weak for the same reason as the timer's.
  self->state.host.emplace(env->env, kind, std::move(id),
                           [env, addr = self->address()](std::vector<es::StreamAppend> parts) {
                             env->env.store.append(
                                 std::move(parts),
                                 [addr](const es::Status& status, const es::AppendResult& r) {
                                   if (caf::actor me = caf::actor_cast<caf::actor>(addr)) {
                                     caf::anon_send(me, AppendDone{status, r});
                                   }
                                 });
                           });
  env->live.fetch_add(1);
  self->attach_functor([env] { env->live.fetch_sub(1); });
  return {
      [=](CommandMsg& msg) {
        self->state.host->on_command(std::move(msg.pending));
        arm_idle_timer(self, env);
      },
      [=](AppendDone& done) { self->state.host->on_appended(done.status, done.result); },
      [=](idle_atom) {
        EntityState& st = self->state;
        st.idle_timer = false;
        const std::int64_t idle_ms = env->env.clock.now_ms() - st.host->last_active_ms();
        if (st.host->idle() && idle_ms >= idle_timeout_ms(st.host->kind(), env)) {
          // Ask the registry; it agrees only if it forwarded nothing we have
          // not handled yet, so no command can be lost to passivation.
          self->send(registry, passivate_atom::value, st.host->stream(), st.host->handled());
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

Runtime::Runtime(es::EventStore& store, domain::IdSource& ids, domain::Entropy& entropy,
                 domain::CarrierPort& carrier, const domain::Clock& clock, domain::Timers& timers,
                 EffectPort* effects, RuntimeOptions options)
    : impl_(std::make_unique<Impl>(store, ids, entropy, carrier, clock, timers, effects, options)) {
  if (options.deterministic) {
    impl_->config.set("scheduler.policy", caf::atom("testing"));
  } else {
    impl_->config.set("scheduler.max-threads", options.scheduler_threads);
    // Work sharing waits on a condition variable; work stealing polls with
    // short sleeps, which on two cores costs more in context switches than
    // it saves.
    impl_->config.set("scheduler.policy", caf::atom("sharing"));
  }
  impl_->config.set("logger.verbosity", caf::atom("quiet"));
  impl_->system = std::make_unique<caf::actor_system>(impl_->config);
  if (options.deterministic) {
    impl_->coordinator =
        dynamic_cast<caf::scheduler::test_coordinator*>(&impl_->system->scheduler());
    AP_ASSERT(impl_->coordinator != nullptr, "the deterministic runtime has its test coordinator");
  }
  impl_->registry = impl_->system->spawn(registry_actor, impl_.get());
}

Runtime::~Runtime() {
  // The registry stops every entity, then itself; the system's destructor
  // waits for all of them, so the deterministic scheduler must run them first.
  caf::anon_send(impl_->registry, stop_atom::value);
  impl_->registry = nullptr;
  if (impl_->coordinator != nullptr) run_ready();
  impl_->system.reset();
}

void Runtime::send(EntityKind kind, const std::string& id, domain::Command command, ResultFn done,
                   std::optional<IdempotencyClaim> claim) {
  caf::anon_send(impl_->registry, CommandMsg{kind, id,
                                             PendingCommand{std::move(command), std::move(done),
                                                            std::move(claim), 0}});
}

std::size_t Runtime::run_ready() {
  AP_ASSERT(impl_->coordinator != nullptr, "the deterministic runtime has its test coordinator");
  std::size_t ran = 0;
  while (impl_->coordinator->try_run_once()) ++ran;
  return ran;
}

void Runtime::abandon() {
  impl_->env.abandoned.store(true);
}

bool Runtime::run_one() {
  AP_ASSERT(impl_->coordinator != nullptr, "the deterministic runtime has its test coordinator");
  return impl_->coordinator->try_run_once();
}

std::int64_t Runtime::live_actors() const {
  return impl_->live.load();
}

std::uint64_t Runtime::entity_faults() const {
  return impl_->env.faults.load();
}

std::uint64_t Runtime::entity_commands_refused() const {
  return impl_->env.refused_busy.load();
}

}  // namespace ap::actors
