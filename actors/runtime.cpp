// The only translation unit that includes CAF.
#include "actors/runtime.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <unordered_map>
#include <variant>

#include "actors/account.hpp"
#include "actors/agent.hpp"
#include "actors/number.hpp"

namespace ap::actors {

namespace json = boost::json;

namespace {

struct CommandMsg {
  EntityKind kind;
  std::string id;
  domain::Command command;
  ResultFn done;
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

// ---- Aggregate plumbing: one place that knows each kind's decider and
// stream, so the actor below is the same for every kind.

using AnyState = std::variant<domain::AccountState, domain::AgentState, domain::NumberState>;

AnyState empty_state(EntityKind kind, const std::string& id) {
  switch (kind) {
    case EntityKind::kAccount: {
      domain::AccountState s;
      s.id = id;
      return s;
    }
    case EntityKind::kAgent: {
      domain::AgentState s;
      s.id = id;
      return s;
    }
    case EntityKind::kNumber: {
      domain::NumberState s;
      s.id = id;
      return s;
    }
  }
  return domain::AccountState{};
}

std::string stream_of(EntityKind kind, const std::string& id) {
  switch (kind) {
    case EntityKind::kAccount:
      return domain::account_stream(id);
    case EntityKind::kAgent:
      return domain::agent_stream(id);
    case EntityKind::kNumber:
      return domain::number_stream(id);
  }
  return "";
}

domain::Decision decide(const AnyState& state, const domain::Command& command,
                        const domain::Context& context) {
  return std::visit(
      [&](const auto& s) -> domain::Decision {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, domain::AccountState>) {
          return domain::decide_account(s, command, context);
        } else if constexpr (std::is_same_v<T, domain::AgentState>) {
          return domain::decide_agent(s, command, context);
        } else {
          return domain::decide_number(s, command, context);
        }
      },
      state);
}

void evolve(AnyState& state, const std::string& type, const json::object& data) {
  std::visit(
      [&](auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, domain::AccountState>) {
          domain::evolve_account(s, type, data);
        } else if constexpr (std::is_same_v<T, domain::AgentState>) {
          domain::evolve_agent(s, type, data);
        } else {
          domain::evolve_number(s, type, data);
        }
      },
      state);
}

// A snapshot is the aggregate's state as JSON, tagged with its stream version.
json::object snapshot_of(const AnyState& state) {
  return std::visit(
      [](const auto& s) -> json::object {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, domain::AccountState>) {
          json::object keys;
          for (const auto& [id, key] : s.keys) {
            keys[id] = json::object{{"prefix", key.prefix},
                                    {"sha256", key.sha256},
                                    {"createdAtMs", key.created_at_ms},
                                    {"revoked", key.revoked}};
          }
          return {{"exists", s.exists},
                  {"email", s.email},
                  {"balanceMicros", s.balance_micros},
                  {"activeNumbers", s.active_numbers},
                  {"keys", keys}};
        } else if constexpr (std::is_same_v<T, domain::AgentState>) {
          return {{"exists", s.exists},
                  {"deleted", s.deleted},
                  {"accountId", s.account_id},
                  {"createdAtMs", s.created_at_ms},
                  {"config", s.config}};
        } else {
          return {{"exists", s.exists},
                  {"accountId", s.account_id},
                  {"phoneNumber", s.phone_number},
                  {"country", s.country},
                  {"status", s.status},
                  {"agentId", s.agent_id},
                  {"createdAtMs", s.created_at_ms}};
        }
      },
      state);
}

void restore_snapshot(AnyState& state, const json::object& o) {
  auto str = [&](const char* k) { return std::string(o.at(k).as_string()); };
  std::visit(
      [&](auto& s) {
        using T = std::decay_t<decltype(s)>;
        s.exists = o.at("exists").as_bool();
        if constexpr (std::is_same_v<T, domain::AccountState>) {
          s.email = str("email");
          s.balance_micros = o.at("balanceMicros").as_int64();
          s.active_numbers = static_cast<int>(o.at("activeNumbers").as_int64());
          for (const auto& [id, k] : o.at("keys").as_object()) {
            const json::object& key = k.as_object();
            s.keys[std::string(id)] =
                domain::ApiKeyState{std::string(key.at("prefix").as_string()),
                                    std::string(key.at("sha256").as_string()),
                                    key.at("createdAtMs").as_int64(), key.at("revoked").as_bool()};
          }
        } else if constexpr (std::is_same_v<T, domain::AgentState>) {
          s.deleted = o.at("deleted").as_bool();
          s.account_id = str("accountId");
          s.created_at_ms = o.at("createdAtMs").as_int64();
          s.config = o.at("config").as_object();
        } else {
          s.account_id = str("accountId");
          s.phone_number = str("phoneNumber");
          s.country = str("country");
          s.status = str("status");
          s.agent_id = str("agentId");
          s.created_at_ms = o.at("createdAtMs").as_int64();
        }
      },
      state);
}

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
  EntityKind kind{};
  std::string id;
  std::string stream;
  bool loaded = false;
  AnyState aggregate;
  std::uint64_t version = 0;  // Last stream version applied.
  std::uint64_t last_snapshot_version = 0;
  std::deque<CommandMsg> queue;  // Commands waiting while one is in flight.
  bool busy = false;
  int conflict_retries = 0;
  std::uint64_t handled = 0;  // Commands completed, for passivation.
  std::chrono::steady_clock::time_point last_active;
  bool idle_timer = false;
  std::vector<domain::Event> in_flight;  // Events of the command being appended.
  static inline const char* name = "entity";
};

using EntityActor = caf::stateful_actor<EntityState>;

// Loads the aggregate from its snapshot and the stream tail after it.
void rehydrate(EntityState& st, Runtime::Impl* env) {
  st.aggregate = empty_state(st.kind, st.id);
  st.version = 0;
  std::optional<es::Snapshot> snapshot;
  if (env->store.load_snapshot(st.stream, &snapshot).ok() && snapshot) {
    restore_snapshot(st.aggregate, json::parse(snapshot->bytes).as_object());
    st.version = snapshot->version;
    st.last_snapshot_version = snapshot->version;
  }
  std::vector<es::RecordedEvent> tail;
  for (;;) {
    env->store.read_stream(st.stream, st.version + 1, 1000, &tail);
    if (tail.empty()) break;
    for (const es::RecordedEvent& event : tail) {
      evolve(st.aggregate, event.type, json::parse(event.payload).as_object());
      st.version = event.version;
    }
  }
  st.loaded = true;
}

void finish(EntityActor* self, CommandResult result) {
  EntityState& st = self->state;
  CommandMsg msg = std::move(st.queue.front());
  st.queue.pop_front();
  st.busy = false;
  st.conflict_retries = 0;
  ++st.handled;
  msg.done(std::move(result));
}

void process_next(EntityActor* self, Runtime::Impl* env) {
  EntityState& st = self->state;
  while (!st.busy && !st.queue.empty()) {
    if (!st.loaded) rehydrate(st, env);
    const CommandMsg& msg = st.queue.front();
    domain::Context context;
    context.now_ms = env->options.clock_ms();
    context.ids = &env->ids;
    if (msg.command.type == "number.provision") {
      const json::object& args = msg.command.args;
      const json::value* area = args.if_contains("areaCode");
      domain::NumberOffer offer = env->carrier.offer_number(
          std::string(args.at("country").as_string()),
          area != nullptr && area->is_string() ? std::string(area->as_string()) : "");
      if (!offer.ok) {
        CommandResult result;
        result.error.kind =
            offer.status == 409 ? domain::ErrorKind::kConflict : domain::ErrorKind::kBadRequest;
        result.error.code = offer.code;
        result.error.message = offer.message;
        finish(self, std::move(result));
        continue;
      }
      context.port_answer = {{"numberId", env->ids.new_id("num_")},
                             {"phoneNumber", offer.phone_number}};
    }
    domain::Decision decision = decide(st.aggregate, msg.command, context);
    if (auto* error = std::get_if<domain::DomainError>(&decision)) {
      CommandResult result;
      result.error = std::move(*error);
      finish(self, std::move(result));
      continue;
    }
    std::vector<domain::Event>& events = std::get<std::vector<domain::Event>>(decision);
    if (events.empty()) {
      CommandResult result;
      result.ok = true;
      finish(self, std::move(result));
      continue;
    }
    // Group the events by stream; this aggregate's stream names the version
    // it expects, streams created here must not exist yet.
    std::vector<es::StreamAppend> parts;
    auto part_for = [&](const std::string& stream,
                        es::ExpectedVersion expected) -> es::StreamAppend& {
      for (es::StreamAppend& p : parts) {
        if (p.stream == stream) return p;
      }
      parts.push_back(es::StreamAppend{stream, expected, {}});
      return parts.back();
    };
    for (const domain::Event& event : events) {
      const bool own = event.stream.empty();
      es::StreamAppend& part =
          own ? part_for(st.stream, st.version == 0 ? es::ExpectedVersion::no_stream()
                                                    : es::ExpectedVersion::exact(st.version))
              : part_for(event.stream, event.new_stream ? es::ExpectedVersion::no_stream()
                                                        : es::ExpectedVersion::any());
      part.events.push_back(es::NewEvent{event.type, json::serialize(event.data)});
    }
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
      st.conflict_retries < kMaxConflictRetries) {
    // Another writer (e.g. a number releasing itself on the account stream,
    // or a competing claim of the same phone number) got there first: reload
    // and decide again against the fresh state.
    ++st.conflict_retries;
    st.loaded = false;
    st.busy = false;
    st.in_flight.clear();
    const int retries = st.conflict_retries;
    process_next(self, env);
    st.conflict_retries = st.busy ? retries : 0;
    return;
  }
  CommandResult result;
  if (!done.status.ok()) {
    // The state may no longer match the log; reload before the next command.
    st.loaded = false;
    result.error.kind = domain::ErrorKind::kUnavailable;
    result.error.code = "LOG_UNAVAILABLE";
    result.error.message = "The event log refused the write: " + done.status.message();
  } else {
    for (const domain::Event& event : st.in_flight) {
      if (!event.stream.empty()) continue;
      evolve(st.aggregate, event.type, event.data);
      ++st.version;
    }
    result.ok = true;
    result.last_position = done.result.last_position;
    result.events = st.in_flight;
    if (st.version - st.last_snapshot_version >= env->options.snapshot_every) {
      env->store.save_snapshot(
          st.stream, es::Snapshot{st.version, json::serialize(snapshot_of(st.aggregate))});
      st.last_snapshot_version = st.version;
    }
  }
  st.in_flight.clear();
  finish(self, std::move(result));
  process_next(self, env);
}

void arm_idle_timer(EntityActor* self, Runtime::Impl* env) {
  if (self->state.idle_timer) return;
  self->state.idle_timer = true;
  self->delayed_send(self, std::chrono::milliseconds(env->options.idle_timeout_ms),
                     idle_atom::value);
}

caf::behavior entity_actor(EntityActor* self, Runtime::Impl* env, EntityKind kind, std::string id,
                           caf::actor registry) {
  self->state.kind = kind;
  self->state.id = id;
  self->state.stream = stream_of(kind, id);
  self->state.aggregate = empty_state(kind, id);
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
        if (!st.busy && st.queue.empty() &&
            idle >= std::chrono::milliseconds(env->options.idle_timeout_ms)) {
          // Ask the registry; it agrees only if it forwarded nothing we have
          // not handled yet, so no command can be lost to passivation.
          self->send(registry, passivate_atom::value, st.stream, st.handled);
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
        const std::string stream = stream_of(msg.kind, msg.id);
        auto it = self->state.entries.find(stream);
        if (it == self->state.entries.end()) {
          // Linked, so that stopping the registry at shutdown stops every entity.
          caf::actor actor = self->spawn<caf::linked>(entity_actor, env, msg.kind, msg.id,
                                                      caf::actor_cast<caf::actor>(self));
          it = self->state.entries.emplace(stream, RegistryState::Entry{actor, 0}).first;
        }
        ++it->second.forwarded;
        self->send(it->second.actor, std::move(msg));
      },
      [=](passivate_atom, const std::string& stream, std::uint64_t handled) {
        auto it = self->state.entries.find(stream);
        if (it == self->state.entries.end() || it->second.forwarded != handled) return;
        self->send(it->second.actor, stop_atom::value);
        self->state.entries.erase(it);
      },
  };
}

std::int64_t system_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Runtime::Runtime(es::EventStore& store, domain::IdSource& ids, domain::CarrierPort& carrier,
                 RuntimeOptions options)
    : impl_(std::make_unique<Impl>(store, ids, carrier, std::move(options))) {
  if (!impl_->options.clock_ms) impl_->options.clock_ms = system_clock_ms;
  impl_->config.set("scheduler.max-threads", impl_->options.scheduler_threads);
  impl_->config.set("logger.verbosity", caf::atom("quiet"));
  impl_->system = std::make_unique<caf::actor_system>(impl_->config);
  impl_->registry = impl_->system->spawn(registry_actor, impl_.get());
}

Runtime::~Runtime() {
  caf::anon_send_exit(impl_->registry, caf::exit_reason::user_shutdown);
  impl_->registry = nullptr;
  impl_->system.reset();
}

void Runtime::send(EntityKind kind, const std::string& id, domain::Command command, ResultFn done) {
  caf::anon_send(impl_->registry, CommandMsg{kind, id, std::move(command), std::move(done)});
}

std::int64_t Runtime::live_actors() const {
  return impl_->live.load();
}

}  // namespace ap::actors
