// The host kernel without servers: the simulator's ports, the in-memory
// backend's crash models, the log's synchronous pump, the entity host's
// fault handling and the runtime on CAF's deterministic scheduler.
#include <gtest/gtest.h>

#include <set>

#include "actors/entity_host.hpp"
#include "actors/runtime.hpp"
#include "actors/secrets.hpp"
#include "eventstore/event_store.hpp"
#include "eventstore/memory_backend.hpp"
#include "projections/core_view.hpp"
#include "sim/carrier.hpp"
#include "sim/virtual_ports.hpp"

namespace ap {
namespace {

using es::Code;
using es::CrashKind;
using es::Durability;
using es::EventStore;
using es::ExpectedVersion;
using es::KvBatch;
using es::MemoryBackend;
using es::NewEvent;
using es::Status;

// ---- Seeded entropy and virtual timers -------------------------------------------

TEST(SeededEntropy, SameSeedSameBytesOtherSeedOtherBytes) {
  sim::SeededEntropy a(42), b(42), c(43);
  std::string x(64, '\0'), y(64, '\0'), z(64, '\0');
  a.fill(x.data(), x.size());
  b.fill(y.data(), y.size());
  c.fill(z.data(), z.size());
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(SeededEntropy, UniformStaysInBoundsAndReachesEveryValue) {
  sim::SeededEntropy entropy(7);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t v = entropy.uniform(10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(entropy.uniform(1), 0u);
}

TEST(SeededEntropy, SubsystemSeedsDiffer) {
  EXPECT_NE(sim::derive_seed(1, "arrivals"), sim::derive_seed(1, "endpoints"));
  EXPECT_NE(sim::derive_seed(1, "arrivals"), sim::derive_seed(2, "arrivals"));
  EXPECT_EQ(sim::derive_seed(1, "arrivals"), sim::derive_seed(1, "arrivals"));
}

TEST(VirtualTimers, RunInDueOrderThenFilingOrderAndOnlyWhenDue) {
  sim::ManualClock clock(1000);
  sim::VirtualTimers timers(clock);
  std::vector<int> ran;
  timers.after(20, [&] { ran.push_back(3); });
  timers.after(10, [&] { ran.push_back(1); });
  timers.after(10, [&] { ran.push_back(2); });
  EXPECT_EQ(timers.run_due(), 0u);
  EXPECT_EQ(timers.next_due_ms(), 1010);
  clock.advance_to(1010);
  // Work filed for the same instant while running runs in the same call.
  timers.after(0, [&] { timers.after(0, [&] { ran.push_back(0); }); });
  EXPECT_EQ(timers.run_due(), 4u);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 0}));
  clock.advance_to(5000);
  timers.run_due();
  EXPECT_EQ(ran.back(), 3);
  EXPECT_TRUE(timers.empty());
}

TEST(ManualClock, NeverGoesBack) {
  sim::ManualClock clock(500);
  clock.advance_to(400);
  EXPECT_EQ(clock.now_ms(), 500);
}

TEST(Ids, SeededIdsRepeatAndSortByCreation) {
  sim::ManualClock clock(1'767'225'600'000);
  sim::SeededEntropy e1(9), e2(9);
  domain::Ids a(clock, e1), b(clock, e2);
  const std::string first = a.new_id("msg_");
  EXPECT_EQ(first, b.new_id("msg_"));
  clock.advance_to(clock.now_ms() + 1);
  EXPECT_LT(first, a.new_id("msg_"));
}

// ---- The memory backend's crash models ------------------------------------------

std::string get(MemoryBackend& backend, const std::string& key) {
  std::string value;
  return backend.get(key, &value).ok() ? value : "<absent>";
}

void put(MemoryBackend& backend, const std::string& key, const std::string& value,
         Durability durability) {
  KvBatch batch;
  batch.put(key, value);
  ASSERT_TRUE(backend.write(std::move(batch), durability).ok());
}

TEST(MemoryBackend, ProcessCrashLosesUnloggedWritesSinceTheLastFlush) {
  MemoryBackend backend;
  put(backend, "Elog", "1", Durability::kLogged);
  put(backend, "Vview", "a", Durability::kUnlogged);
  ASSERT_TRUE(backend.flush().ok());
  put(backend, "Vview", "b", Durability::kUnlogged);
  put(backend, "Vnew", "c", Durability::kUnlogged);
  put(backend, "Elog2", "2", Durability::kLogged);
  backend.crash(CrashKind::kProcess);
  EXPECT_EQ(get(backend, "Vview"), "a");
  EXPECT_EQ(get(backend, "Vnew"), "<absent>");
  // Logged writes were in the WAL: a process crash keeps them, synced or not.
  EXPECT_EQ(get(backend, "Elog"), "1");
  EXPECT_EQ(get(backend, "Elog2"), "2");
}

TEST(MemoryBackend, PowerLossAlsoLosesLoggedWritesNotYetSynced) {
  MemoryBackend backend;
  put(backend, "Ea", "1", Durability::kLogged);
  ASSERT_TRUE(backend.sync().ok());
  put(backend, "Ea", "2", Durability::kLogged);
  put(backend, "Eb", "3", Durability::kLogged);
  backend.crash(CrashKind::kPowerLoss);
  EXPECT_EQ(get(backend, "Ea"), "1");
  EXPECT_EQ(get(backend, "Eb"), "<absent>");
}

TEST(MemoryBackend, InjectedReadFailuresAreIoErrorsNotNotFound) {
  MemoryBackend backend;
  put(backend, "k", "v", Durability::kLogged);
  backend.fail_next_reads(1);
  std::string value;
  EXPECT_EQ(backend.get("k", &value).code(), Code::kIoError);
  EXPECT_TRUE(backend.get("k", &value).ok());
}

// ---- The log's synchronous mode --------------------------------------------------

struct SyncStore {
  sim::ManualClock clock{1'767'225'600'000};
  std::shared_ptr<MemoryBackend> backend = std::make_shared<MemoryBackend>();
  std::unique_ptr<EventStore> store;

  void open() {
    es::Options options;
    options.synchronous = true;
    options.clock_ms = [this] { return clock.now_ms(); };
    ASSERT_TRUE(EventStore::open(options, backend, &store).ok());
  }
  // A simulated crash of `kind`: the store is abandoned and destroyed, the
  // backend loses what that crash loses, and a new store opens the rest.
  void crash_and_reopen(CrashKind kind) {
    store->abandon();
    store.reset();
    backend->crash(kind);
    open();
  }
  // Appends one event to `stream`; `acked` is set once the append is durable.
  void append(const std::string& stream, bool* acked) {
    store->append(stream, ExpectedVersion::any(), {NewEvent{"test.happened", "{}"}},
                  [acked](const Status& s, const es::AppendResult&) { *acked = s.ok(); });
  }
};

// The version check of an append reads the stream's head; if that read
// fails the append is refused whole, rather than checked against version 0.
TEST(SynchronousLog, AFailedHeadReadRefusesTheAppendAndWritesNothing) {
  SyncStore s;
  s.open();
  bool acked = false;
  s.append("a", &acked);
  while (s.store->pump() > 0) {
  }
  ASSERT_TRUE(acked);
  std::uint64_t version = 0;
  s.backend->fail_next_reads(1);
  EXPECT_EQ(s.store->stream_version("a", &version).code(), Code::kIoError);
  s.backend->fail_next_reads(1);
  Status refused;
  s.store->append("a", ExpectedVersion::no_stream(), {NewEvent{"test.happened", "{}"}},
                  [&refused](const Status& status, const es::AppendResult&) { refused = status; });
  while (s.store->pump() > 0) {
  }
  EXPECT_EQ(refused.code(), Code::kIoError) << refused.to_string();
  EXPECT_EQ(s.store->head_position(), 1u);
  ASSERT_TRUE(s.store->stream_version("a", &version).ok());
  EXPECT_EQ(version, 1u);
  std::uint64_t checkpoint = 0;
  s.backend->fail_next_reads(1);
  EXPECT_EQ(s.store->load_checkpoint("core", &checkpoint).code(), Code::kIoError);
}

// A read of the read model that fails is an error, never "absent": a
// lookup that would answer 404 (or let a decision see nothing) throws.
TEST(SynchronousLog, AFailedReadModelReadIsAStorageErrorNotAnAbsentRow) {
  SyncStore s;
  s.open();
  projections::CoreView view(*s.store);
  EXPECT_FALSE(view.webhook("acct_1", "project-acct_1").has_value());
  s.backend->fail_next_reads(1);
  EXPECT_THROW(view.webhook("acct_1", "project-acct_1"), es::StorageError);
  EXPECT_FALSE(view.webhook("acct_1", "project-acct_1").has_value());
}

TEST(SynchronousLog, AnAppendIsAcknowledgedOnlyByTheSecondPump) {
  SyncStore s;
  s.open();
  bool acked = false;
  s.append("a", &acked);
  EXPECT_FALSE(acked);
  EXPECT_GT(s.store->pump(), 0u);  // Written, not synced, not acknowledged.
  EXPECT_FALSE(acked);
  EXPECT_EQ(s.store->head_position(), 0u);
  EXPECT_GT(s.store->pump(), 0u);  // Synced, published, acknowledged.
  EXPECT_TRUE(acked);
  EXPECT_EQ(s.store->head_position(), 1u);
  EXPECT_EQ(s.store->pump(), 0u);
}

TEST(SynchronousLog, PowerLossBetweenWriteAndSyncLosesOnlyTheUnacknowledgedBatch) {
  SyncStore s;
  s.open();
  bool first = false, second = false;
  s.append("a", &first);
  s.store->pump();
  s.store->pump();
  ASSERT_TRUE(first);
  s.append("a", &second);
  s.store->pump();  // Written, not yet synced.
  s.crash_and_reopen(CrashKind::kPowerLoss);
  EXPECT_FALSE(second);
  EXPECT_EQ(s.store->head_position(), 1u);
  EXPECT_TRUE(s.store->verify_chain().ok);
}

TEST(SynchronousLog, ProcessCrashKeepsAWrittenBatchEvenUnacknowledged) {
  SyncStore s;
  s.open();
  bool acked = false;
  s.append("a", &acked);
  s.store->pump();
  s.crash_and_reopen(CrashKind::kProcess);
  EXPECT_FALSE(acked);
  EXPECT_EQ(s.store->head_position(), 1u);
}

TEST(SynchronousLog, SubscriptionsAreFedByPumpInOrder) {
  SyncStore s;
  s.open();
  std::vector<std::uint64_t> seen;
  auto subscription = s.store->subscribe(1, [&](const std::vector<es::RecordedEvent>& events) {
    for (const auto& e : events) seen.push_back(e.position);
  });
  bool a = false, b = false;
  s.append("x", &a);
  s.append("y", &b);
  while (s.store->pump() > 0) {
  }
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2}));
}

TEST(SynchronousLog, ReadsAfterAbandonAreRefusedNotCrashes) {
  SyncStore s;
  s.open();
  s.store->abandon();
  std::vector<es::RecordedEvent> events;
  EXPECT_EQ(s.store->read_all(1, 10, &events).code(), Code::kClosed);
  bool acked = true;
  s.store->append("a", ExpectedVersion::any(), {NewEvent{"t", "{}"}},
                  [&acked](const Status& st, const es::AppendResult&) { acked = st.ok(); });
  EXPECT_FALSE(acked);
}

// ---- The entity host -----------------------------------------------------------------

// Records effects, and whether the log held the events when each one ran.
struct RecordingEffects final : actors::EffectPort {
  EventStore* store = nullptr;
  std::vector<std::pair<std::string, std::uint64_t>> ran;  // (type, head when run)
  void run(const domain::Effect& effect) override {
    ran.emplace_back(effect.type, store->head_position());
  }
};

// An entity host of entity (kind, id) over a synchronous log, with the pump
// as its shell and the effects recorded.
struct HostFixture {
  SyncStore log;
  sim::VirtualTimers timers{log.clock};
  sim::SeededEntropy entropy{5};
  domain::Ids ids{log.clock, entropy};
  sim::SimCarrier carrier{[](const std::string&) { return false; }, timers};
  RecordingEffects effects;
  std::unique_ptr<actors::HostEnv> env;
  std::unique_ptr<actors::EntityHost> host;

  explicit HostFixture(actors::EntityKind kind = actors::EntityKind::kAccount,
                       std::string id = "acct_1") {
    log.open();
    effects.store = log.store.get();
    env.reset(new actors::HostEnv{*log.store, ids, entropy, carrier, log.clock, 50, &effects});
    host = std::make_unique<actors::EntityHost>(
        *env, kind, std::move(id), [this](std::vector<es::StreamAppend> parts) {
          log.store->append(std::move(parts), [this](const Status& s, const es::AppendResult& r) {
            host->on_appended(s, r);
          });
        });
  }
  actors::CommandResult run(domain::Command command) { return run_on(*host, std::move(command)); }
  // Runs `command` on `target` (a host sharing this fixture's log) to its answer.
  actors::CommandResult run_on(actors::EntityHost& target, domain::Command command) {
    actors::CommandResult out;
    bool done = false;
    target.on_command({std::move(command), [&](actors::CommandResult r) {
                         out = std::move(r);
                         done = true;
                       }});
    while (!done && log.store->pump() > 0) {
    }
    EXPECT_TRUE(done);
    return out;
  }
};

TEST(EntityHost, AFaultFailsTheCommandIsCountedAndTheEntityRecovers) {
  HostFixture f;
  actors::CommandResult created =
      f.run({"account.create",
             "acct_1",
             {{"email", "a@example.com"}, {"keyPrefix", "sk"}, {"keySha256", "x"}}});
  ASSERT_TRUE(created.ok) << created.error.message;
  // A provisioning command without a country cannot be decided: it must
  // fail with ENTITY_FAULT, not take the process down.
  actors::CommandResult broken = f.run({"number.provision", "acct_1", {}});
  EXPECT_FALSE(broken.ok);
  EXPECT_EQ(broken.error.code, "ENTITY_FAULT");
  EXPECT_EQ(f.env->faults.load(), 1u);
  // The next command is decided against state reloaded from the log.
  actors::CommandResult provisioned =
      f.run({"number.provision", "acct_1", {{"country", "US"}, {"areaCode", "415"}}});
  EXPECT_TRUE(provisioned.ok) << provisioned.error.message;
  EXPECT_TRUE(f.host->idle());
  EXPECT_EQ(f.host->handled(), 3u);
}

// A broken invariant (AP_ASSERT, on in every build) inside a decider is a
// fault of that command, named in its answer; the entity goes on.
TEST(EntityHost, ABrokenInvariantIsAnEntityFaultThatSaysWhatWasExpected) {
  HostFixture f(actors::EntityKind::kContacts, "acct_1");
  actors::CommandResult foreign =
      f.run({"contact.create", "acct_2", {{"phoneNumber", "+14155552671"}, {"name", "Mallory"}}});
  EXPECT_FALSE(foreign.ok);
  EXPECT_EQ(foreign.error.code, "ENTITY_FAULT");
  EXPECT_NE(foreign.error.message.find(
                "invariant failed: a contact book is addressed by its own account"),
            std::string::npos)
      << foreign.error.message;
  EXPECT_EQ(f.env->faults.load(), 1u);
  EXPECT_EQ(f.log.store->head_position(), 0u) << "nothing was written";
  actors::CommandResult own =
      f.run({"contact.create", "acct_1", {{"phoneNumber", "+14155552671"}, {"name", "Ada"}}});
  EXPECT_TRUE(own.ok) << own.error.message;
}

// A read of the log that fails is an error, never "no such entity": an
// entity that decided on an empty state would write a second version 1.
TEST(EntityHost, AFailedReadIsLogUnavailableAndWritesNothing) {
  HostFixture f;
  ASSERT_TRUE(f.run({"account.create",
                     "acct_1",
                     {{"email", "a@example.com"}, {"keyPrefix", "sk"}, {"keySha256", "x"}}})
                  .ok);
  const std::uint64_t head = f.log.store->head_position();
  std::uint64_t created = 0;
  ASSERT_TRUE(f.log.store->stream_version("account-acct_1", &created).ok());
  // A second host of the same account: it must load the account from the log.
  std::unique_ptr<actors::EntityHost> fresh;
  fresh = std::make_unique<actors::EntityHost>(
      *f.env, actors::EntityKind::kAccount, "acct_1", [&](std::vector<es::StreamAppend> parts) {
        f.log.store->append(std::move(parts), [&](const Status& s, const es::AppendResult& r) {
          fresh->on_appended(s, r);
        });
      });

  const domain::Command create_key{
      "account.create_key", "acct_1", {{"keyPrefix", "sk2"}, {"keySha256", "y"}}};
  f.log.backend->fail_next_reads(1);
  actors::CommandResult refused = f.run_on(*fresh, create_key);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.error.code, "LOG_UNAVAILABLE");
  EXPECT_EQ(f.log.store->head_position(), head);
  EXPECT_EQ(f.env->faults.load(), 0u);  // The log failed, not the entity.
  actors::CommandResult key = f.run_on(*fresh, create_key);
  EXPECT_TRUE(key.ok) << key.error.message;
  std::uint64_t version = 0;
  ASSERT_TRUE(f.log.store->stream_version("account-acct_1", &version).ok());
  EXPECT_EQ(version, created + 1);  // Exactly the one key.
}

// After a simulated crash the dying node must decide, write and draw nothing.
TEST(EntityHost, AnAbandonedNodeRefusesCommandsUndecided) {
  HostFixture f;
  f.env->abandoned.store(true);
  actors::CommandResult r =
      f.run({"account.create",
             "acct_1",
             {{"email", "a@example.com"}, {"keyPrefix", "sk"}, {"keySha256", "x"}}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.code, "LOG_UNAVAILABLE");
  EXPECT_EQ(f.log.store->head_position(), 0u);
}

// One entity holds a bounded number of commands: the ones past the bound are
// answered at once with ENTITY_BUSY and write nothing; the held ones are all
// decided, and the entity takes commands again once its queue drains.
TEST(EntityHost, CommandsPastTheQueueBoundAreRefusedBusyAndWriteNothing) {
  HostFixture f;
  f.env->max_queued = 3;
  ASSERT_TRUE(f.run({"account.create",
                     "acct_1",
                     {{"email", "a@example.com"}, {"keyPrefix", "sk"}, {"keySha256", "x"}}})
                  .ok);
  const std::uint64_t head = f.log.store->head_position();
  std::vector<actors::CommandResult> answers(6);
  std::vector<bool> answered(6, false);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    f.host->on_command(
        {{"account.create_key",
          "acct_1",
          {{"keyPrefix", "sk" + std::to_string(i)}, {"keySha256", "k" + std::to_string(i)}}},
         [&answers, &answered, i](actors::CommandResult r) {
           answers[i] = std::move(r);
           answered[i] = true;
         }});
  }
  // The refusals come before the log has done anything.
  for (std::size_t i = 3; i < answers.size(); ++i) {
    ASSERT_TRUE(answered[i]) << i;
    EXPECT_FALSE(answers[i].ok);
    EXPECT_EQ(answers[i].error.kind, domain::ErrorKind::kUnavailable);
    EXPECT_EQ(answers[i].error.code, "ENTITY_BUSY");
    EXPECT_NE(answers[i].error.message.find("account-acct_1"), std::string::npos);
  }
  while (f.log.store->pump() > 0) {
  }
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(answered[i] && answers[i].ok) << i;
  EXPECT_EQ(f.env->refused_busy.load(), 3u);
  EXPECT_EQ(f.host->handled(), 7u);  // Refusals are answers too: passivation waits for none.
  EXPECT_TRUE(f.host->idle());
  EXPECT_EQ(f.log.store->head_position(), head + 3);  // Only the three held keys.
  EXPECT_TRUE(
      f.run({"account.create_key", "acct_1", {{"keyPrefix", "sk9"}, {"keySha256", "k9"}}}).ok);
}

TEST(EntityHost, ALostVersionRaceIsDecidedAgainAgainstFreshState) {
  HostFixture f;
  ASSERT_TRUE(f.run({"account.create",
                     "acct_1",
                     {{"email", "a@example.com"}, {"keyPrefix", "sk"}, {"keySha256", "x"}}})
                  .ok);
  // Another writer appends to the account's stream behind the host's back.
  bool acked = false;
  f.log.store->append("account-acct_1", ExpectedVersion::any(),
                      {NewEvent{"account.api_key_revoked",
                                R"({"accountId":"acct_1","keyId":"none","sha256":"x"})"}},
                      [&acked](const Status& s, const es::AppendResult&) { acked = s.ok(); });
  while (f.log.store->pump() > 0) {
  }
  ASSERT_TRUE(acked);
  actors::CommandResult key =
      f.run({"account.create_key", "acct_1", {{"keyPrefix", "sk2"}, {"keySha256", "y"}}});
  EXPECT_TRUE(key.ok) << key.error.message;
  std::uint64_t version = 0;
  ASSERT_TRUE(f.log.store->stream_version("account-acct_1", &version).ok());
  EXPECT_EQ(version, 4u);
}

struct ConversationHost : HostFixture {
  ConversationHost() : HostFixture(actors::EntityKind::kConversation, "conv_1") {}
  domain::Command send() {
    return {"conversation.send",
            "acct_1",
            {{"numberId", "num_1"},
             {"phoneNumber", "+14152000100"},
             {"participant", "+14155550123"},
             {"agentId", nullptr},
             {"body", "hello"},
             {"mediaUrls", boost::json::array()},
             {"segments", 1}}};
  }
};

TEST(EntityHost, EffectsRunOnlyOnceTheirEventsAreDurable) {
  ConversationHost f;
  bool ok = false;
  f.host->on_command({f.send(), [&ok](actors::CommandResult r) { ok = r.ok; }});
  EXPECT_TRUE(f.effects.ran.empty());  // Decided, not yet durable.
  f.log.store->pump();
  EXPECT_TRUE(f.effects.ran.empty());  // Written, not yet synced.
  f.log.store->pump();
  ASSERT_EQ(f.effects.ran.size(), 1u);
  EXPECT_EQ(f.effects.ran[0].first, "carrier.send_sms");
  EXPECT_GE(f.effects.ran[0].second, 2u);  // conversation.started + message.queued in the log.
  EXPECT_TRUE(ok);
}

TEST(EntityHost, ARefusedAppendRunsNoEffect) {
  ConversationHost f;
  f.log.store->abandon();
  bool failed = false;
  f.host->on_command({f.send(), [&failed](actors::CommandResult r) { failed = !r.ok; }});
  EXPECT_TRUE(failed);
  EXPECT_TRUE(f.effects.ran.empty());
}

// ---- The runtime on CAF's deterministic scheduler -----------------------------------

TEST(DeterministicRuntime, RunsOnlyWhenAskedAndPassivatesByTheVirtualClock) {
  SyncStore log;
  log.open();
  sim::VirtualTimers timers(log.clock);
  sim::SeededEntropy entropy(3);
  domain::Ids ids(log.clock, entropy);
  sim::SimCarrier carrier([](const std::string&) { return false; }, timers);
  actors::RuntimeOptions options;
  options.deterministic = true;
  options.idle_timeout_ms = 1000;
  auto runtime = std::make_unique<actors::Runtime>(*log.store, ids, entropy, carrier, log.clock,
                                                   timers, nullptr, options);
  bool done = false;
  runtime->send(actors::EntityKind::kAccount, "acct_9",
                {"account.create",
                 "acct_9",
                 {{"email", "b@example.com"}, {"keyPrefix", "sk"}, {"keySha256", "z"}}},
                [&done](actors::CommandResult r) { done = r.ok; });
  EXPECT_FALSE(done);  // Nothing runs on its own.
  auto quiet = [&] {
    for (;;) {
      std::size_t ran = runtime->run_ready();
      ran += log.store->pump();
      if (ran == 0) return;
    }
  };
  quiet();
  EXPECT_TRUE(done);
  EXPECT_EQ(runtime->live_actors(), 1);
  log.clock.advance_to(log.clock.now_ms() + 999);
  timers.run_due();
  quiet();
  EXPECT_EQ(runtime->live_actors(), 1);
  log.clock.advance_to(log.clock.now_ms() + 2);
  timers.run_due();
  quiet();
  EXPECT_EQ(runtime->live_actors(), 0);
  timers.clear();
  runtime.reset();
}

}  // namespace
}  // namespace ap
