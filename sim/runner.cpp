#include "sim/runner.hpp"

#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "actors/billing.hpp"
#include "actors/calling.hpp"
#include "actors/invariant.hpp"
#include "actors/messaging.hpp"
#include "actors/node.hpp"
#include "actors/secrets.hpp"
#include "eventstore/memory_backend.hpp"
#include "projections/audit.hpp"
#include "sim/endpoints.hpp"
#include "sim/virtual_ports.hpp"

namespace ap::sim {

namespace json = boost::json;
using actors::CommandResult;
using actors::EntityKind;

namespace {

// Wall time, for the report's events/s and the progress bar only: it never
// feeds the simulation, which sees nothing but the virtual clock.
double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr const char* kAreaCodes[] = {"415", "212", "646", "312", "617", "206", "305",
                                      "512", "303", "404", "213", "702", "503", "615",
                                      "214", "602", "619", "720", "801", "919"};
constexpr std::int64_t kPerAreaCode = 1000;

std::string text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// One simulated customer: an account with one number, one agent and the
// webhooks it configured.
struct Account {
  std::string id;
  std::string agent_id;
  std::string number_id;
  std::string phone;
  bool hosted = false;                     // The agent answers calls with the built-in responder.
  bool has_webhook = false;                // Some webhook (the agent's or the project's) is set.
  std::vector<std::string> extra_numbers;  // Bought during the run; some are released again.
};

// What a simulated person on a call does next.
struct CallerStep {
  std::string call_id;
  std::string account;
  int lines_left = 0;  // Lines still to say; then hang up or fall silent.
  bool hangs_up = true;
  bool hosted = false;  // The last line of a hosted call says goodbye.
};

class Simulation {
 public:
  explicit Simulation(const RunOptions& options)
      : options_(options),
        clock_(options.scenario.start_ms),
        timers_(clock_),
        node_entropy_(derive_seed(options.seed, "node")),
        arrivals_(derive_seed(options.seed, "arrivals")),
        endpoint_entropy_(derive_seed(options.seed, "endpoints")),
        world_(derive_seed(options.seed, "world")),
        money_(derive_seed(options.seed, "money")),
        endpoints_(clock_, timers_, endpoint_entropy_) {
    SeededEntropy option_entropy(derive_seed(options.seed, "options"));
    report_.options = resolve(options.scenario, option_entropy);
  }

  RunReport run();

 private:
  std::int64_t knob(const char* name) const { return knob_value(report_.options, name); }

  // ---- The node and its crashes ----
  void open_node();
  void crash();
  void reapply_world();

  // ---- Commands, with the shadow record of what was acknowledged ----
  void submit(EntityKind kind, const std::string& id, domain::Command command, const char* label,
              std::function<void(const CommandResult&)> on_ok = nullptr);
  void record_ack(const CommandResult& result);
  // Runs actor jobs and log commits until none is left, or a crash falls.
  // Returns true when a crash (and restart) happened.
  bool step_until_quiet();
  void run_quiet();

  // ---- The world ----
  void setup_accounts();
  void setup_world();
  std::string random_body();
  void inbound_arrival();
  void outbound_arrival();
  void inbound_call_arrival();
  void outbound_call_arrival();
  // Money and numbers, over the whole run (traffic and quiet phase alike).
  void top_up_arrival();
  void number_buy_arrival();
  void number_release_arrival();
  // Starts `start` and, once acknowledged, plans its caller's first line.
  void start_call(actors::CallStart start, const Account& account);
  void plan_next_line(CallerStep step);
  void caller_step(CallerStep step);

  // ---- Invariants ----
  void violation(std::string what, std::uint64_t position = 0);
  void check_log();
  void check_read_model();
  void check_final();
  void check_calls();
  void check_ledger();
  void check_renewals();
  void progress(bool last);

  const RunOptions& options_;
  ManualClock clock_;
  VirtualTimers timers_;  // The node's own: carrier, passivation, the webhook engine.
  SeededEntropy node_entropy_, arrivals_, endpoint_entropy_, world_, money_;
  SimEndpoints endpoints_;
  std::shared_ptr<es::MemoryBackend> memory_;
  std::string rocksdb_dir_;
  std::unique_ptr<actors::Node> node_;
  RunReport report_;

  std::vector<Account> accounts_;
  std::vector<std::string> participants_;
  std::map<std::string, std::string> carrier_faults_;  // Destination -> mode.
  std::map<std::string, std::string> entity_url_;      // Webhook entity -> URL.

  // Shadow record: every event a command was acknowledged for, and what each
  // acknowledged inbound message should have become.
  std::vector<std::pair<std::uint64_t, std::string>> acked_;  // (position, type)
  std::map<std::string, std::string> expected_entity_;        // messageId -> entity or "".
  // Every line a caller said that the call acknowledged, by call: what the
  // log's transcript must hold, in order.
  std::map<std::string, std::vector<std::string>> heard_;
  // The callers' next steps by virtual time; equal times keep their order.
  std::multimap<std::int64_t, CallerStep> callers_;

  struct PlannedCrash {
    std::int64_t at_ms;
    es::CrashKind kind;
  };
  std::vector<PlannedCrash> crashes_;
  std::size_t next_crash_ = 0;
  std::int64_t crash_steps_left_ = -1;  // >= 0 while a crash is armed.
  bool crashed_ = false;

  std::uint64_t steps_ = 0;
  std::uint64_t faults_before_ = 0;  // Entity faults of the nodes that crashed.
  double started_wall_ = 0, last_progress_wall_ = 0;
};

// ---- The node ------------------------------------------------------------------

void Simulation::open_node() {
  es::Options options;
  options.synchronous = true;
  options.clock_ms = [this] { return clock_.now_ms(); };
  std::unique_ptr<es::EventStore> store;
  es::Status status;
  if (options_.store == "rocksdb") {
    options.path = rocksdb_dir_;
    status = es::EventStore::open(options, &store);
  } else {
    status = es::EventStore::open(options, memory_, &store);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "agentphone sim: cannot open the log: %s\n", status.message().c_str());
    std::exit(1);
  }
  actors::NodeOptions node_options;
  node_options.carrier.per_area_code = kPerAreaCode;
  node_options.carrier.send_delay_ms = knob("carrier_send_delay_ms");
  node_options.carrier.deliver_delay_ms = knob("carrier_deliver_delay_ms");
  node_options.runtime.deterministic = true;
  node_options.runtime.idle_timeout_ms = knob("idle_timeout_ms");
  node_options.webhooks.production = true;
  node_options.webhooks.retry_base_ms = knob("retry_base_ms");
  node_options.webhooks.max_in_flight_per_endpoint =
      static_cast<int>(knob("webhook_max_in_flight"));
  node_options.webhooks.max_held = static_cast<std::size_t>(knob("webhook_max_held"));
  node_options.webhooks.max_held_per_account =
      static_cast<std::size_t>(knob("webhook_max_held_per_account"));
  node_options.webhooks.max_waiting_per_endpoint =
      static_cast<std::size_t>(knob("webhook_max_waiting"));
  if (options_.plant_bug == "drop-delivery") node_options.webhooks.bug_drop_nth_first_attempt = 3;
  node_ = std::make_unique<actors::Node>(
      std::move(store), actors::NodePorts{clock_, node_entropy_, timers_, endpoints_},
      node_options);
  reapply_world();
}

// The carrier's faults belong to the world, not to our process: they are set
// again on the carrier of every new node.
void Simulation::reapply_world() {
  for (const auto& [to, mode] : carrier_faults_) {
    node_->carrier().set_fault(SimFault{to, mode, 0});
  }
}

void Simulation::crash() {
  const PlannedCrash planned = crashes_[next_crash_++];
  crash_steps_left_ = -1;
  crashed_ = true;
  const bool power = planned.kind == es::CrashKind::kPowerLoss;
  ++report_.faults[power ? "crash: power loss" : "crash: process"];
  // Everything the process held in memory is gone at once: its timers, the
  // appends it had queued or written but not synced, its actors.
  timers_.clear();
  faults_before_ += node_->runtime().entity_faults();
  node_->abandon();
  node_.reset();
  timers_.clear();
  // Only now, with the dead node gone, does the crash take away what it
  // loses: nothing written during the teardown may survive it.
  if (memory_) memory_->crash(planned.kind);
  ++report_.restarts;
  open_node();
  check_log();
  if (options_.rebuild_check) check_read_model();
}

// ---- Commands ----------------------------------------------------------------------

void Simulation::record_ack(const CommandResult& result) {
  if (result.last_position == 0) return;
  // The events of one command are contiguous in the log and end at last_position.
  std::uint64_t position = result.last_position - result.events.size() + 1;
  for (const domain::Event& event : result.events) acked_.emplace_back(position++, event.type);
}

void Simulation::submit(EntityKind kind, const std::string& id, domain::Command command,
                        const char* label, std::function<void(const CommandResult&)> on_ok) {
  node_->runtime().send(kind, id, std::move(command),
                        [this, label, on_ok = std::move(on_ok)](CommandResult result) {
                          if (!result.ok) {
                            ++report_.commands[std::string(label) + " " + result.error.code];
                            return;
                          }
                          ++report_.commands[std::string(label) + " ok"];
                          record_ack(result);
                          if (on_ok) on_ok(result);
                        });
}

bool Simulation::step_until_quiet() {
  for (;;) {
    if (crash_steps_left_ == 0) {
      crash();
      return true;
    }
    bool progressed = node_->runtime().run_one();
    if (!progressed) progressed = node_->store().pump() > 0;
    if (!progressed) {
      if (crash_steps_left_ > 0) {
        crash();
        return true;
      }
      return false;
    }
    ++steps_;
    if (crash_steps_left_ > 0) --crash_steps_left_;
  }
}

void Simulation::run_quiet() {
  while (step_until_quiet()) {
  }
}

// ---- The world ------------------------------------------------------------------------

void Simulation::setup_accounts() {
  const std::int64_t count = knob("accounts");
  AP_ASSERT(count <= static_cast<std::int64_t>(std::size(kAreaCodes)) * kPerAreaCode,
            "the scenario asks for no more numbers than the area codes hold");
  for (std::int64_t i = 0; i < count; ++i) {
    Account account;
    account.id = node_->ids().new_id("acct_");
    const std::string key = domain::new_api_key(node_entropy_);
    submit(EntityKind::kAccount, account.id,
           {"account.create",
            account.id,
            {{"email", "sim" + std::to_string(i) + "@example.com"},
             {"keyPrefix", key.substr(0, 12)},
             {"keySha256", domain::sha256_hex(key)}}},
           "setup");
    account.agent_id = node_->ids().new_id("agt_");
    account.hosted = world_.uniform(100) < static_cast<std::uint64_t>(knob("hosted_pct"));
    json::object agent{{"name", "sim-agent-" + std::to_string(i)},
                       {"maxSilenceMs", knob("call_silence_ms")}};
    if (account.hosted) {
      agent["voiceMode"] = "hosted";
      agent["systemPrompt"] = "You answer the phone for simulated customer " + std::to_string(i);
      agent["beginMessage"] = "Hello, you are through to sim agent " + std::to_string(i) + ".";
    }
    submit(EntityKind::kAgent, account.agent_id, {"agent.create", account.id, std::move(agent)},
           "setup");
    run_quiet();
    submit(EntityKind::kAccount, account.id,
           {"number.provision",
            account.id,
            {{"country", "US"},
             {"areaCode", kAreaCodes[i % std::size(kAreaCodes)]},
             {"agentId", account.agent_id}}},
           "setup", [&account](const CommandResult& result) {
             for (const domain::Event& event : result.events) {
               if (event.type != "number.provisioned") continue;
               account.number_id = text(event.data, "numberId");
               account.phone = text(event.data, "phoneNumber");
             }
           });
    run_quiet();
    if (account.number_id.empty()) {
      violation("setup: account " + account.id + " got no number");
      return;
    }
    const bool no_webhook =
        world_.uniform(100) < static_cast<std::uint64_t>(knob("no_webhook_pct"));
    const bool agent_webhook =
        world_.uniform(100) < static_cast<std::uint64_t>(knob("agent_webhook_pct"));
    auto configure = [&](const std::string& entity, json::value agent_id) {
      const std::string url = "https://hooks-" + std::to_string(entity_url_.size()) +
                              ".example.com:443/agentphone/" + entity;
      entity_url_[entity] = url;
      EndpointBehaviour behaviour;
      behaviour.latency_ms_max =
          1 + static_cast<std::int64_t>(
                  world_.uniform(static_cast<std::uint64_t>(knob("endpoint_latency_ms_max"))));
      behaviour.latency_ms_min = std::max<std::int64_t>(1, behaviour.latency_ms_max / 10);
      behaviour.error_ppm = static_cast<std::uint64_t>(knob("endpoint_error_ppm"));
      behaviour.timeout_ppm = static_cast<std::uint64_t>(knob("endpoint_timeout_ppm"));
      // The endpoint checks signatures with the secret the decider drew.
      submit(EntityKind::kWebhook, entity,
             {"webhook.set",
              account.id,
              {{"webhookId", node_->ids().new_id("wh_")},
               {"agentId", agent_id},
               {"url", url},
               {"contextLimit", nullptr},
               {"timeout", knob("webhook_timeout_s")}}},
             "setup", [this, url, behaviour](const CommandResult& result) {
               AP_ASSERT(!result.events.empty(), "an accepted setup command recorded events");
               const json::object& config =
                   domain::field(result.events.front().data, "config").as_object();
               endpoints_.add(url, text(config, "secret"), behaviour);
             });
    };
    if (knob("auto_recharge_pct") > 0 &&
        money_.uniform(100) < static_cast<std::uint64_t>(knob("auto_recharge_pct"))) {
      submit(EntityKind::kAccount, account.id,
             {"account.set_auto_recharge",
              account.id,
              {{"enabled", true},
               {"thresholdMicros", 1'000'000},
               {"amountMicros",
                5'000'000 + static_cast<std::int64_t>(money_.uniform(16)) * 1'000'000}}},
             "setup");
    }
    account.has_webhook = !no_webhook;
    if (!no_webhook) {
      configure(domain::project_webhook_entity(account.id), nullptr);
      if (agent_webhook) {
        configure(domain::agent_webhook_entity(account.agent_id), json::value(account.agent_id));
      }
    }
    run_quiet();
    accounts_.push_back(std::move(account));
  }
}

void Simulation::setup_world() {
  // Participants: outside numbers in exchanges 300-999, never one of ours
  // (the carrier's are in exchanges 200-209).
  std::set<std::string> seen;
  const std::int64_t count = knob("participants");
  while (static_cast<std::int64_t>(participants_.size()) < count) {
    const std::string area = kAreaCodes[world_.uniform(std::size(kAreaCodes))];
    const std::uint64_t exchange = 300 + world_.uniform(700);
    const std::uint64_t line = world_.uniform(10'000);
    char phone[16];
    std::snprintf(phone, sizeof phone, "+1%s%03llu%04llu", area.c_str(),
                  static_cast<unsigned long long>(exchange), static_cast<unsigned long long>(line));
    if (seen.insert(phone).second) participants_.push_back(phone);
  }
  for (const std::string& p : participants_) {
    const std::uint64_t draw = world_.uniform(100);
    const auto unreachable = static_cast<std::uint64_t>(knob("unreachable_pct"));
    const auto reject = static_cast<std::uint64_t>(knob("reject_pct"));
    const auto busy = static_cast<std::uint64_t>(knob("busy_pct"));
    const auto no_answer = static_cast<std::uint64_t>(knob("no_answer_pct"));
    if (draw < unreachable) {
      carrier_faults_[p] = "unreachable";
    } else if (draw < unreachable + reject) {
      carrier_faults_[p] = "reject";
    } else if (draw < unreachable + reject + busy) {
      carrier_faults_[p] = "busy";
    } else if (draw < unreachable + reject + busy + no_answer) {
      carrier_faults_[p] = "no-answer";
    }
  }
  report_.faults["carrier: unreachable destinations"] = 0;
  report_.faults["carrier: reject destinations"] = 0;
  for (const auto& [to, mode] : carrier_faults_) {
    ++report_.faults["carrier: " + mode + " destinations"];
  }
  reapply_world();
}

std::string Simulation::random_body() {
  static constexpr char kGsm[] =
      "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,!?";
  const std::uint64_t length =
      1 + arrivals_.uniform(static_cast<std::uint64_t>(knob("body_chars_max")));
  std::string body;
  body.reserve(length + 2);
  for (std::uint64_t i = 0; i < length; ++i)
    body.push_back(kGsm[arrivals_.uniform(sizeof kGsm - 1)]);
  if (arrivals_.uniform(100) < static_cast<std::uint64_t>(knob("ucs2_pct"))) {
    body.back() = ' ';
    body += "\xc5\x82";  // "ł" is not in GSM-7: the message goes as UCS-2.
  }
  return body;
}

void Simulation::inbound_arrival() {
  const std::string& from = participants_[arrivals_.uniform(participants_.size())];
  const Account& to = accounts_[arrivals_.uniform(accounts_.size())];
  std::variant<actors::InboundRoute, domain::DomainError> route =
      actors::route_inbound(node_->view(), from, to.phone);
  if (auto* error = std::get_if<domain::DomainError>(&route)) {
    ++report_.commands["inbound " + error->code];
    return;
  }
  actors::InboundRoute& inbound = std::get<actors::InboundRoute>(route);
  // Where it must go, from the simulator's own record rather than from the
  // route: the agent's webhook if it has one (a number's agent never changes
  // here), else the project's, else nowhere.
  const std::string agent_entity = domain::agent_webhook_entity(to.agent_id);
  const std::string project_entity = domain::project_webhook_entity(to.id);
  const std::string entity = entity_url_.count(agent_entity) > 0     ? agent_entity
                             : entity_url_.count(project_entity) > 0 ? project_entity
                                                                     : "";
  actors::MessageCommand recorded = actors::message_command(inbound.number, from,
                                                            {{"body", random_body()},
                                                             {"mediaUrls", json::array()},
                                                             {"webhook", inbound.webhook},
                                                             {"contact", inbound.contact}},
                                                            false);
  submit(EntityKind::kConversation, recorded.conversation_id, std::move(recorded.command),
         "inbound", [this, entity](const CommandResult& result) {
           for (const domain::Event& event : result.events) {
             if (event.type == "message.received") {
               expected_entity_[text(event.data, "messageId")] = entity;
             }
           }
         });
}

void Simulation::outbound_arrival() {
  const Account& from = accounts_[arrivals_.uniform(accounts_.size())];
  const std::string& to = participants_[arrivals_.uniform(participants_.size())];
  std::variant<actors::SenderNumber, domain::DomainError> sender =
      actors::resolve_sender(node_->view(), from.id, from.number_id, "", "");
  if (auto* error = std::get_if<domain::DomainError>(&sender)) {
    ++report_.commands["outbound " + error->code];
    return;
  }
  actors::MessageCommand recorded =
      actors::message_command(std::get<actors::SenderNumber>(sender), to,
                              {{"body", random_body()}, {"mediaUrls", json::array()}}, true);
  submit(EntityKind::kConversation, recorded.conversation_id, std::move(recorded.command),
         "outbound");
}

void Simulation::top_up_arrival() {
  const Account& account = accounts_[money_.uniform(accounts_.size())];
  const std::int64_t cents = 100 + static_cast<std::int64_t>(money_.uniform(4'901));
  if (money_.uniform(100) < static_cast<std::uint64_t>(knob("decline_pct"))) {
    node_->sim_payments().decline_next(1);
  }
  node_->billing().top_up(account.id, cents * 10'000, node_->ids().new_id("topup_"), std::nullopt,
                          [this](CommandResult result, domain::PaymentResult paid) {
                            if (!result.ok) {
                              ++report_.commands["top-up " + result.error.code];
                              return;
                            }
                            ++report_.commands[paid.ok ? "top-up ok" : "top-up declined"];
                            record_ack(result);
                          });
}

void Simulation::number_buy_arrival() {
  const std::size_t index = money_.uniform(accounts_.size());
  const std::string area = kAreaCodes[money_.uniform(std::size(kAreaCodes))];
  submit(EntityKind::kAccount, accounts_[index].id,
         {"number.provision", accounts_[index].id, {{"country", "US"}, {"areaCode", area}}},
         "number buy", [this, index](const CommandResult& result) {
           for (const domain::Event& event : result.events) {
             if (event.type == "number.provisioned") {
               accounts_[index].extra_numbers.push_back(text(event.data, "numberId"));
             }
           }
         });
}

void Simulation::number_release_arrival() {
  Account& account = accounts_[money_.uniform(accounts_.size())];
  if (account.extra_numbers.empty()) return;
  const std::size_t which = money_.uniform(account.extra_numbers.size());
  const std::string number = account.extra_numbers[which];
  account.extra_numbers.erase(account.extra_numbers.begin() + static_cast<std::ptrdiff_t>(which));
  submit(EntityKind::kNumber, number, {"number.release", account.id, {}}, "number release");
}

void Simulation::inbound_call_arrival() {
  const std::string& from = participants_[arrivals_.uniform(participants_.size())];
  const Account& to = accounts_[arrivals_.uniform(accounts_.size())];
  std::variant<actors::CallStart, domain::DomainError> start =
      actors::inbound_call(node_->view(), node_->ids(), from, to.phone);
  if (auto* error = std::get_if<domain::DomainError>(&start)) {
    ++report_.commands["call in " + error->code];
    return;
  }
  start_call(std::get<actors::CallStart>(std::move(start)), to);
}

void Simulation::outbound_call_arrival() {
  const Account& from = accounts_[arrivals_.uniform(accounts_.size())];
  const std::string& to = participants_[arrivals_.uniform(participants_.size())];
  std::variant<actors::CallStart, domain::DomainError> start = actors::outbound_call(
      node_->view(), node_->ids(), from.id, {{"agentId", from.agent_id}, {"toNumber", to}});
  if (auto* error = std::get_if<domain::DomainError>(&start)) {
    ++report_.commands["call out " + error->code];
    return;
  }
  start_call(std::get<actors::CallStart>(std::move(start)), from);
}

void Simulation::start_call(actors::CallStart start, const Account& account) {
  CallerStep step;
  step.call_id = start.call_id;
  step.account = account.id;
  step.lines_left =
      1 + static_cast<int>(arrivals_.uniform(static_cast<std::uint64_t>(knob("call_turns_max"))));
  step.hangs_up = arrivals_.uniform(100) < static_cast<std::uint64_t>(knob("caller_hangup_pct"));
  step.hosted = account.hosted;
  const bool outbound = domain::field(start.command.args, "direction") == "outbound";
  submit(EntityKind::kCall, start.call_id, std::move(start.command),
         outbound ? "call out" : "call in",
         [this, step](const CommandResult&) { plan_next_line(step); });
}

void Simulation::plan_next_line(CallerStep step) {
  const auto think_max = static_cast<std::uint64_t>(knob("think_ms_max"));
  const std::int64_t think = 1 + static_cast<std::int64_t>(arrivals_.uniform(think_max));
  callers_.emplace(clock_.now_ms() + think, std::move(step));
}

void Simulation::caller_step(CallerStep step) {
  if (step.lines_left == 0) {
    // Done talking: hang up, or say nothing more and let the silence timer end it.
    if (!step.hangs_up) return;
    submit(EntityKind::kCall, step.call_id, {"call.hangup", step.account, {{"by", "caller"}}},
           "call hangup");
    return;
  }
  --step.lines_left;
  std::string line = "Line " + std::to_string(step.lines_left) + ": " + random_body();
  if (step.hosted && step.lines_left == 0 && !step.hangs_up) line = "Thanks, goodbye";
  submit(EntityKind::kCall, step.call_id, {"call.say", step.account, {{"text", line}}}, "call say",
         [this, step, line](const CommandResult&) {
           heard_[step.call_id].push_back(line);
           plan_next_line(step);
         });
}

// ---- Invariants ---------------------------------------------------------------------

void Simulation::violation(std::string what, std::uint64_t position) {
  if (report_.violations.empty()) report_.first_bad_position = position;
  report_.violations.push_back(std::move(what));
}

// The chain verifies from the first event to the head (so positions are
// dense), and every acknowledged event is still there, with its type.
void Simulation::check_log() {
  es::EventStore& store = node_->store();
  const es::VerifyReport chain = store.verify_chain();
  if (!chain.ok) {
    violation("the hash chain does not verify at position " + std::to_string(chain.first_bad) +
                  ": " + chain.problem,
              chain.first_bad);
  }
  std::vector<es::RecordedEvent> one;
  for (const auto& [position, type] : acked_) {
    if (!store.read_all(position, 1, &one).ok() || one.empty() || one.front().type != type) {
      violation("acknowledged event " + type + " at position " + std::to_string(position) +
                    " is missing after restart " + std::to_string(report_.restarts),
                position);
      return;
    }
  }
}

// A read model rebuilt from the log alone equals the live one, row for row.
void Simulation::check_read_model() {
  es::EventStore& store = node_->store();
  projections::CoreView rebuilt(store, "rebuilt");
  rebuilt.erase_rows();
  rebuilt.start();
  while (rebuilt.checkpoint() < store.head_position() && store.pump() > 0) {
  }
  std::vector<std::pair<std::string, std::string>> live, fresh;
  node_->view().each_row([&](std::string_view k, std::string_view v) { live.emplace_back(k, v); });
  rebuilt.each_row([&](std::string_view k, std::string_view v) { fresh.emplace_back(k, v); });
  for (std::size_t i = 0; i < std::max(live.size(), fresh.size()); ++i) {
    const bool same = i < live.size() && i < fresh.size() && live[i] == fresh[i];
    if (same) continue;
    const std::string key = i < live.size() ? live[i].first : fresh[i].first;
    violation("the live read model differs from one rebuilt from the log at row '" + key + "'" +
              (i < live.size() ? "" : " (missing in the live one)"));
    break;
  }
  rebuilt.erase_rows();
}

// After the fault-free phase: every inbound message has exactly one delivery
// (or a skip, when no webhook was configured), sent only to its webhook;
// nothing is left pending; latencies and event counts for the report.
void Simulation::check_final() {
  es::EventStore& store = node_->store();
  struct Delivery {
    std::string id, entity, status;
    std::int64_t created_ms = 0;
    std::uint64_t position = 0;
    int count = 0;
  };
  std::map<std::string, Delivery> by_message;               // messageId -> delivery.
  std::map<std::string, std::string> entity_of_delivery;    // deliveryId -> entity.
  std::map<std::string, std::string*> status_of_delivery;   // deliveryId -> status.
  std::map<std::string, std::int64_t> created_of_delivery;  // deliveryId -> time.
  std::map<std::string, std::int64_t> queued_at;            // messageId -> time.
  std::vector<es::RecordedEvent> batch;
  for (std::uint64_t next = 1; next <= store.head_position(); next += batch.size()) {
    if (!store.read_all(next, 10'000, &batch).ok() || batch.empty()) {
      violation("the log cannot be read at position " + std::to_string(next), next);
      return;
    }
    for (const es::RecordedEvent& event : batch) {
      ++report_.events[event.type];
      const std::string& type = event.type;
      const bool wanted = type == "message.queued" || type == "message.status_updated" ||
                          type == "webhook.delivery_created" ||
                          type == "webhook.delivery_skipped" ||
                          type == "webhook.delivery_attempted";
      if (!wanted) continue;
      const json::object data = json::parse(event.payload).as_object();
      if (type == "message.queued") {
        queued_at[text(data, "messageId")] = event.time_ms;
      } else if (type == "message.status_updated") {
        auto it = queued_at.find(text(data, "messageId"));
        if (text(data, "status") == "delivered" && it != queued_at.end()) {
          report_.outbound_delivery_ms.push_back(event.time_ms - it->second);
        }
      } else if (type == "webhook.delivery_attempted") {
        const std::string id = text(data, "deliveryId");
        auto it = status_of_delivery.find(id);
        if (it != status_of_delivery.end()) *it->second = text(data, "status");
        if (text(data, "status") == "delivered") {
          report_.webhook_delivery_ms.push_back(event.time_ms - created_of_delivery[id]);
        }
      } else {
        Delivery& d = by_message[text(data, "messageId")];
        ++d.count;
        d.id = text(data, "deliveryId");
        d.entity = type == "webhook.delivery_created" ? text(data, "entity") : "";
        d.status = type == "webhook.delivery_created" ? "pending" : "skipped";
        d.position = event.position;
        d.created_ms = event.time_ms;
        entity_of_delivery[d.id] = d.entity;
        status_of_delivery[d.id] = &d.status;
        created_of_delivery[d.id] = event.time_ms;
      }
    }
  }
  for (const auto& [message_id, entity] : expected_entity_) {
    auto it = by_message.find(message_id);
    if (it == by_message.end()) {
      violation("acknowledged inbound message " + message_id + " has no delivery and no skip");
      return;
    }
    const Delivery& d = it->second;
    if (d.count != 1) {
      violation("inbound message " + message_id + " has " + std::to_string(d.count) + " deliveries",
                d.position);
      return;
    }
    if (d.entity != entity) {
      violation("inbound message " + message_id + " was routed to '" + d.entity + "' instead of '" +
                    entity + "'",
                d.position);
      return;
    }
    if (d.status == "pending") {
      violation("delivery " + d.id + " of inbound message " + message_id +
                    " is still pending after the fault-free phase",
                d.position);
      return;
    }
  }
  for (const auto& [delivery_id, log] : endpoints_.deliveries()) {
    auto it = entity_of_delivery.find(delivery_id);
    // A voice turn is recorded after its answer; a crash in between leaves
    // none, which is no loss (the turn itself is in the call's events).
    if (it == entity_of_delivery.end() && log.voice_turn) continue;
    if (it == entity_of_delivery.end()) {
      violation("endpoint received delivery id '" + delivery_id + "', which the log never created");
      return;
    }
    for (const std::string& url : log.urls) {
      if (url != entity_url_[it->second]) {
        violation("delivery " + delivery_id + " was sent to " + url + " instead of " +
                  entity_url_[it->second]);
        return;
      }
    }
    if (log.answered_2xx > 1) ++report_.duplicate_deliveries;
  }
  if (report_.duplicate_deliveries > 0 && report_.restarts == 0) {
    violation(std::to_string(report_.duplicate_deliveries) +
              " deliveries were answered 2xx twice although no crash fell between an answer and "
              "its record");
  }
  if (endpoints_.bad_signatures() > 0) {
    violation(std::to_string(endpoints_.bad_signatures()) +
              " webhook requests had a bad signature");
  }
  if (!node_->view().pending_outbound().empty()) {
    violation(std::to_string(node_->view().pending_outbound().size()) +
              " outbound messages are still unfinished after the fault-free phase");
  }
  if (!node_->view().pending_deliveries().empty()) {
    violation(std::to_string(node_->view().pending_deliveries().size()) +
              " webhook deliveries are still pending after the fault-free phase");
  }
}

// Every call that started ended exactly once, with exactly one
// agent.call_ended delivery (or skip); nothing was said or answered into a
// call after its end; the transcript in the log holds exactly the lines the
// callers were told were heard, in order; no call is left live.
void Simulation::check_calls() {
  struct CallRecord {
    bool started = false;
    int ended = 0;
    int reports = 0;  // agent.call_ended deliveries and skips.
    std::uint64_t first_position = 0;
    std::vector<std::string> said;
    std::map<std::int64_t, std::int64_t> spoke_at;  // turn -> time.
  };
  std::map<std::string, CallRecord> calls;
  es::EventStore& store = node_->store();
  std::vector<es::RecordedEvent> batch;
  for (std::uint64_t next = 1; next <= store.head_position(); next += batch.size()) {
    if (!store.read_all(next, 10'000, &batch).ok() || batch.empty()) {
      violation("the log cannot be read at position " + std::to_string(next), next);
      return;
    }
    for (const es::RecordedEvent& event : batch) {
      const std::string& type = event.type;
      const bool call_event = type.rfind("call.", 0) == 0;
      const bool report =
          (type == "webhook.delivery_created" || type == "webhook.delivery_skipped") &&
          event.payload.find("\"agent.call_ended\"") != std::string::npos;
      if (!call_event && !report) continue;
      const json::object data = json::parse(event.payload).as_object();
      CallRecord& call = calls[text(data, "callId")];
      if (call.first_position == 0) call.first_position = event.position;
      if (report) {
        if (text(data, "eventType") == "agent.call_ended") ++call.reports;
        continue;
      }
      if (type == "call.started") {
        call.started = true;
        continue;
      }
      if (call.ended > 0 && type != "call.ended") {
        violation("call " + text(data, "callId") + " has " + type + " after it ended",
                  event.position);
        return;
      }
      if (type == "call.ended") {
        ++call.ended;
        ++report_.faults["calls ended: " + text(data, "reason")];
      } else if (type == "call.caller_spoke") {
        call.said.push_back(text(data, "text"));
        call.spoke_at[domain::field(data, "turn").as_int64()] = event.time_ms;
      } else if (type == "call.turn_answered") {
        auto spoke = call.spoke_at.find(domain::field(data, "turn").as_int64());
        if (spoke != call.spoke_at.end() && !domain::field(data, "interrupted").as_bool()) {
          report_.voice_turn_ms.push_back(event.time_ms - spoke->second);
        }
      }
    }
  }
  for (const auto& [id, call] : calls) {
    if (!call.started) {
      violation("call " + id + " has events but never started", call.first_position);
      return;
    }
    if (call.ended != 1 || call.reports != 1) {
      violation("call " + id + " ended " + std::to_string(call.ended) + " times with " +
                    std::to_string(call.reports) + " agent.call_ended deliveries (want 1 and 1)",
                call.first_position);
      return;
    }
    // Every line the caller was told was heard is in the transcript, in
    // order; a line whose answer a crash swallowed may be there too.
    auto heard = heard_.find(id);
    std::size_t matched = 0;
    if (heard != heard_.end()) {
      for (const std::string& line : call.said) {
        if (matched < heard->second.size() && line == heard->second[matched]) ++matched;
      }
    }
    const std::size_t acknowledged = heard == heard_.end() ? 0 : heard->second.size();
    if (matched != acknowledged || (call.said.size() != acknowledged && report_.restarts == 0)) {
      violation("the transcript of call " + id + " differs from what its caller was told was heard",
                call.first_position);
      return;
    }
  }
  for (const auto& [id, lines] : heard_) {
    if (calls.count(id) == 0) violation("acknowledged lines of call " + id + " are not in the log");
  }
  if (!node_->view().live_calls().empty()) {
    violation(std::to_string(node_->view().live_calls().size()) +
              " calls are still live after the fault-free phase");
  }
}

// Every account's ledger, recomputed from the raw events by the audit, equals
// the projection entry by entry, and no balance went below zero.
void Simulation::check_ledger() {
  es::EventStore& store = node_->store();
  const std::vector<projections::AuditEntry> entries =
      projections::replay_ledger(store, "", nullptr);
  std::map<std::string, std::int64_t> balances;
  for (const projections::AuditEntry& e : entries) {
    const std::int64_t balance = balances[e.account] += e.amount_micros;
    if (balance < 0) {
      violation("the balance of " + e.account + " went below zero at position " +
                    std::to_string(e.position),
                e.position);
      return;
    }
  }
  for (const auto& [account, balance] : balances) {
    for (const std::string& difference :
         projections::diff_with_projection(store, account, entries)) {
      violation("ledger of " + account + ": " + difference);
      return;
    }
    const std::int64_t projected =
        domain::field(node_->view().billing(account), "balanceMicros").as_int64();
    if (projected != balance) {
      violation("ledger of " + account + ": the projection's balance " + std::to_string(projected) +
                " is not the sum of its entries " + std::to_string(balance));
    }
  }
}

// Every number's life follows the renewal rules by the virtual clock: each
// period is renewed when it ends (never early, never twice), or a failed
// renewal starts exactly one grace period of the rate card's length, which
// ends in a renewal or, once it is over, in a release for non-payment; and at
// the end no active number is past its paid period or its grace.
void Simulation::check_renewals() {
  struct Life {
    std::int64_t paid_until_ms = 0;
    std::int64_t grace_until_ms = 0;  // 0: not in grace.
    bool active = false;
  };
  // Timers fire at their due time; a restart re-arms them at once. A step
  // that is due is allowed this long to happen.
  constexpr std::int64_t kSlackMs = 60'000;
  const domain::RateCard& card = domain::rate_card_at(options_.scenario.start_ms);
  std::map<std::string, Life> numbers;
  std::string problem;
  std::uint64_t where = 0;
  auto fail = [&](std::uint64_t position, const std::string& number, std::string what) {
    if (!problem.empty()) return;
    problem = "number " + number + ": " + what;
    where = position;
  };
  std::uint64_t renewals = 0, failures = 0, releases = 0;
  es::Status status =
      node_->store().scan(1, es::ReadPattern::kWholeLog, [&](const es::RecordView& e) {
        if (e.type.substr(0, 7) != "number.") return true;
        const json::object data = json::parse(e.payload).as_object();
        const std::string id = text(data, "numberId");
        Life& life = numbers[id];
        const std::int64_t at = e.time_ms;
        if (e.type == "number.provisioned") {
          life.active = true;
          life.paid_until_ms = domain::field(data, "paidUntilMs").as_int64();
          if (std::abs(life.paid_until_ms - (at + card.number_period_ms)) > kSlackMs) {
            fail(e.position, id, "its first period does not last the rate card's 30 days");
          }
        } else if (e.type == "number.renewed") {
          ++renewals;
          if (domain::field(data, "periodStartMs").as_int64() != life.paid_until_ms ||
              domain::field(data, "paidUntilMs").as_int64() !=
                  life.paid_until_ms + card.number_period_ms) {
            fail(e.position, id, "a renewal does not continue the paid period");
          }
          if (at < life.paid_until_ms) fail(e.position, id, "renewed before its period ended");
          if (life.grace_until_ms == 0 && at > life.paid_until_ms + kSlackMs) {
            fail(e.position, id, "renewed late without a grace period");
          }
          if (life.grace_until_ms != 0 && at > life.grace_until_ms + kSlackMs) {
            fail(e.position, id, "renewed after its grace period ended");
          }
          life.paid_until_ms += card.number_period_ms;
          life.grace_until_ms = 0;
        } else if (e.type == "number.renewal_failed") {
          ++failures;
          if (life.grace_until_ms != 0)
            fail(e.position, id, "a second grace period for one period");
          if (at < life.paid_until_ms || at > life.paid_until_ms + kSlackMs) {
            fail(e.position, id, "its renewal failed at another time than its period's end");
          }
          life.grace_until_ms = domain::field(data, "graceUntilMs").as_int64();
          if (life.grace_until_ms != life.paid_until_ms + card.number_grace_ms) {
            fail(e.position, id, "its grace period does not last the rate card's 30 days");
          }
        } else if (e.type == "number.released") {
          life.active = false;
          if (text(data, "reason") == "unpaid") {
            ++releases;
            if (life.grace_until_ms == 0) fail(e.position, id, "released as unpaid outside grace");
            if (at < life.grace_until_ms || at > life.grace_until_ms + kSlackMs) {
              fail(e.position, id, "released as unpaid at another time than its grace's end");
            }
          }
        }
        return problem.empty();
      });
  if (!status.ok()) return violation("the log cannot be read: " + status.message());
  const std::int64_t now = clock_.now_ms();
  for (const auto& [id, life] : numbers) {
    if (!problem.empty()) break;
    const std::int64_t due = life.grace_until_ms != 0 ? life.grace_until_ms : life.paid_until_ms;
    if (life.active && due + kSlackMs < now) {
      fail(0, id,
           "still active " + std::to_string((now - due) / 1000) + " s past its " +
               (life.grace_until_ms != 0 ? "grace period" : "paid period"));
    }
  }
  report_.faults["numbers renewed"] = renewals;
  report_.faults["numbers in grace"] = failures;
  report_.faults["numbers released unpaid"] = releases;
  if (!problem.empty()) violation(problem, where);
}

void Simulation::progress(bool last) {
  if (!options_.progress) return;
  const double now = wall_seconds();
  if (!last && now - last_progress_wall_ < 0.2) return;
  last_progress_wall_ = now;
  const std::int64_t total_ms = (knob("duration_s") + knob("quiet_s")) * 1000;
  const std::int64_t done_ms = clock_.now_ms() - options_.scenario.start_ms;
  const int percent =
      last ? 100 : static_cast<int>(std::min<std::int64_t>(99, done_ms * 100 / total_ms));
  char bar[31];
  for (int i = 0; i < 30; ++i) bar[i] = i < percent * 30 / 100 ? '=' : ' ';
  bar[30] = '\0';
  std::fprintf(stderr, "\r  [%s] %3d%%  virtual %llds  events %llu  restarts %llu%s", bar, percent,
               static_cast<long long>(done_ms / 1000),
               static_cast<unsigned long long>(node_->store().head_position()),
               static_cast<unsigned long long>(report_.restarts), last ? "\n" : "");
}

// ---- The loop -------------------------------------------------------------------------

RunReport Simulation::run() {
  started_wall_ = wall_seconds();
  if (options_.store == "rocksdb") {
    rocksdb_dir_ = options_.data_dir;
    if (!rocksdb_dir_.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(rocksdb_dir_, ec);
    } else {
      char pattern[] = "/tmp/agentphone-sim-XXXXXX";
      const char* made = mkdtemp(pattern);
      if (made == nullptr) {
        std::fprintf(stderr, "agentphone sim: cannot create a temporary folder\n");
        std::exit(1);
      }
      rocksdb_dir_ = made;
    }
  } else {
    memory_ =
        std::make_shared<es::MemoryBackend>(static_cast<std::size_t>(knob("memtable_kib")) * 1024);
  }
  open_node();
  setup_accounts();
  if (!report_.violations.empty() || accounts_.empty()) {
    if (report_.violations.empty()) violation("setup created no account");
    node_.reset();
    report_.wall_s = wall_seconds() - started_wall_;
    return std::move(report_);
  }
  setup_world();

  const std::int64_t start = options_.scenario.start_ms;
  const std::int64_t traffic_end = start + knob("duration_s") * 1000;
  const std::int64_t end = traffic_end + knob("quiet_s") * 1000;
  SeededEntropy crash_entropy(derive_seed(options_.seed, "crashes"));
  for (std::int64_t i = 0; i < knob("process_crashes") + knob("power_losses"); ++i) {
    const auto at = start + static_cast<std::int64_t>(crash_entropy.uniform(
                                static_cast<std::uint64_t>(traffic_end - start)));
    crashes_.push_back(
        {at, i < knob("process_crashes") ? es::CrashKind::kProcess : es::CrashKind::kPowerLoss});
  }
  std::sort(crashes_.begin(), crashes_.end(),
            [](const PlannedCrash& a, const PlannedCrash& b) { return a.at_ms < b.at_ms; });
  // Outages: windows in which one endpoint refuses connections.
  if (!entity_url_.empty()) {
    SeededEntropy outage_entropy(derive_seed(options_.seed, "outages"));
    std::vector<std::string> urls;
    for (const auto& [entity, url] : entity_url_) urls.push_back(url);
    std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> windows;
    for (std::int64_t i = 0; i < knob("endpoint_outages"); ++i) {
      const std::string& url = urls[outage_entropy.uniform(urls.size())];
      const auto from = start + static_cast<std::int64_t>(outage_entropy.uniform(
                                    static_cast<std::uint64_t>(traffic_end - start)));
      const auto length_ms =
          1000 + static_cast<std::int64_t>(outage_entropy.uniform(
                     static_cast<std::uint64_t>(knob("endpoint_outage_s_max")) * 1000));
      windows[url].emplace_back(from, from + length_ms);
    }
    report_.faults["endpoint outages"] = static_cast<std::uint64_t>(knob("endpoint_outages"));
    for (auto& [url, list] : windows) endpoints_.set_outages(url, list);
  }

  // Arrivals are timed in microseconds, so that rates above 1000/s keep
  // their spacing; each gap is uniform in [0, 2 × mean].
  auto gap_us = [this](std::int64_t per_s) -> std::int64_t {
    return static_cast<std::int64_t>(
        arrivals_.uniform(static_cast<std::uint64_t>(2'000'000 / per_s) + 1));
  };
  const std::int64_t inbound_rate = knob("inbound_per_s"), outbound_rate = knob("outbound_per_s");
  const std::int64_t never = std::numeric_limits<std::int64_t>::max();
  std::int64_t next_inbound_us = inbound_rate > 0 ? start * 1000 + gap_us(inbound_rate) : never;
  std::int64_t next_outbound_us = outbound_rate > 0 ? start * 1000 + gap_us(outbound_rate) : never;
  const std::int64_t in_call_rate = knob("inbound_calls_per_s");
  const std::int64_t out_call_rate = knob("outbound_calls_per_s");
  std::int64_t next_in_call_us = in_call_rate > 0 ? start * 1000 + gap_us(in_call_rate) : never;
  std::int64_t next_out_call_us = out_call_rate > 0 ? start * 1000 + gap_us(out_call_rate) : never;
  // Money and number arrivals are per virtual day and go on in the quiet
  // phase, so that renewals, grace periods and releases meet top-ups.
  auto day_gap_ms = [this](std::int64_t per_day) -> std::int64_t {
    return static_cast<std::int64_t>(
        money_.uniform(static_cast<std::uint64_t>(2 * domain::kDayMs / per_day) + 1));
  };
  const std::int64_t top_up_rate = knob("top_ups_per_day");
  const std::int64_t buy_rate = knob("number_buys_per_day");
  const std::int64_t release_rate = knob("number_releases_per_day");
  std::int64_t next_top_up = top_up_rate > 0 ? start + day_gap_ms(top_up_rate) : never;
  std::int64_t next_buy = buy_rate > 0 ? start + day_gap_ms(buy_rate) : never;
  std::int64_t next_release = release_rate > 0 ? start + day_gap_ms(release_rate) : never;
  std::int64_t next_checkpoint = start;
  bool traffic = true;

  for (;;) {
    run_quiet();
    progress(false);
    const std::int64_t now = clock_.now_ms();
    if (now >= next_checkpoint) {
      report_.checkpoints.push_back(
          {now, node_->store().head_position(), node_->store().head_hash()});
      next_checkpoint = now + options_.checkpoint_every_s * 1000;
    }
    if (traffic && now >= traffic_end) {
      // The fault-free phase: no new traffic, no endpoint faults; crashes all
      // fell during the traffic.
      traffic = false;
      endpoints_.set_faults(false);
    }
    if (next_crash_ < crashes_.size() && crash_steps_left_ < 0 &&
        crashes_[next_crash_].at_ms <= now) {
      crash_steps_left_ = static_cast<std::int64_t>(
          crash_entropy.uniform(static_cast<std::uint64_t>(knob("crash_steps_max")) + 1));
    }
    // Runs every arrival of one stream that is due by now; `due` is the
    // next one's time in units of 1/`per_ms` ms, and only arrivals before
    // `until` happen (traffic stops at traffic_end, money and numbers at end).
    bool arrived = false;
    auto drain = [&arrived, now](std::int64_t& due, std::int64_t per_ms, std::int64_t until,
                                 auto gap, auto arrive) {
      while (due / per_ms <= now && due < until) {
        arrive();
        due += gap();
        arrived = true;
      }
    };
    const std::int64_t traffic_until = traffic ? never : 0;
    drain(
        next_inbound_us, 1000, traffic_until, [&] { return gap_us(inbound_rate); },
        [&] { inbound_arrival(); });
    drain(
        next_outbound_us, 1000, traffic_until, [&] { return gap_us(outbound_rate); },
        [&] { outbound_arrival(); });
    drain(
        next_in_call_us, 1000, traffic_until, [&] { return gap_us(in_call_rate); },
        [&] { inbound_call_arrival(); });
    drain(
        next_out_call_us, 1000, traffic_until, [&] { return gap_us(out_call_rate); },
        [&] { outbound_call_arrival(); });
    drain(
        next_top_up, 1, end, [&] { return day_gap_ms(top_up_rate); }, [&] { top_up_arrival(); });
    drain(
        next_buy, 1, end, [&] { return day_gap_ms(buy_rate); }, [&] { number_buy_arrival(); });
    drain(
        next_release, 1, end, [&] { return day_gap_ms(release_rate); },
        [&] { number_release_arrival(); });
    // Callers keep talking into the quiet phase: their calls must end too.
    while (!callers_.empty() && callers_.begin()->first <= now) {
      CallerStep step = std::move(callers_.begin()->second);
      callers_.erase(callers_.begin());
      caller_step(std::move(step));
      arrived = true;
    }
    if (timers_.run_due() > 0 || arrived || crash_steps_left_ >= 0) continue;
    // Nothing left at this instant: move to the next one.
    std::int64_t next =
        traffic ? std::min({next_inbound_us / 1000, next_outbound_us / 1000, next_in_call_us / 1000,
                            next_out_call_us / 1000, traffic_end, next_checkpoint})
                : next_checkpoint;
    next = std::min({next, next_top_up, next_buy, next_release});
    if (!timers_.empty()) next = std::min(next, timers_.next_due_ms());
    if (!callers_.empty()) next = std::min(next, callers_.begin()->first);
    if (next_crash_ < crashes_.size()) next = std::min(next, crashes_[next_crash_].at_ms);
    if (!traffic && timers_.empty() && callers_.empty() &&
        std::min({next_top_up, next_buy, next_release}) >= end) {
      break;  // Everything has settled.
    }
    if (next >= end) break;
    clock_.advance_to(next);
  }
  run_quiet();
  progress(true);
  report_.virtual_ms = clock_.now_ms() - start;
  check_log();
  if (options_.rebuild_check) check_read_model();
  check_final();
  check_calls();
  check_ledger();
  check_renewals();
  for (const auto& [outcome, count] : endpoints_.outcomes()) {
    report_.faults["endpoint answers: " + outcome] = count;
  }
  report_.faults["entity faults"] = faults_before_ + node_->runtime().entity_faults();
  report_.head_position = node_->store().head_position();
  report_.head_hash = node_->store().head_hash();
  report_.checkpoints.push_back({clock_.now_ms(), report_.head_position, report_.head_hash});
  if (memory_) report_.store_bytes = memory_->bytes();
  timers_.clear();
  node_.reset();
  if (options_.store == "rocksdb" && options_.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(rocksdb_dir_, ec);
  }
  report_.wall_s = wall_seconds() - started_wall_;
  return std::move(report_);
}

}  // namespace

RunReport run_simulation(const RunOptions& options) {
  Simulation simulation(options);
  return simulation.run();
}

}  // namespace ap::sim
