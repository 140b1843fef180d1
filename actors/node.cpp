#include "actors/node.hpp"
#include "actors/invariant.hpp"

#include <boost/json/object.hpp>

#include <cstdio>
#include <stdexcept>

namespace ap::actors {

Node::Node(std::unique_ptr<es::EventStore> store, NodePorts ports, NodeOptions options)
    : ports_(ports),
      options_(std::move(options)),
      store_(std::move(store)),
      ids_(ports.clock, ports.entropy) {
  AP_ASSERT(store_ != nullptr, "a node has an event store");
  // A number whose phone stream exists was claimed once and never returns.
  // One whose stream cannot be read counts as claimed: the carrier offers
  // another rather than risk handing out a number twice.
  carrier_ = std::make_unique<sim::SimCarrier>(
      [store = store_.get()](const std::string& e164) {
        std::uint64_t version = 0;
        return !store->stream_version(domain::phone_stream(e164), &version).ok() || version > 0;
      },
      ports_.timers, options_.carrier);
  view_ = std::make_unique<projections::CoreView>(*store_);
  view_->start();
  catch_up();
  // Commands that spend reserve from the ledger's balance.
  options_.runtime.wallet = view_.get();
  runtime_ =
      std::make_unique<Runtime>(*store_, ids_, ports_.entropy, *carrier_, ports_.clock,
                                ports_.timers, static_cast<EffectPort*>(this), options_.runtime);
  webhooks_ = std::make_unique<WebhookDispatch>(*runtime_, *view_, ports_.webhooks, ports_.clock,
                                                ports_.entropy, options_.webhooks);
  dispatch_ = std::make_unique<CarrierDispatch>(*runtime_, *carrier_);
  calls_ = std::make_unique<CallDispatch>(
      *runtime_, *view_, ports_.webhooks, ports_.llm != nullptr ? *ports_.llm : responder_,
      *carrier_, ports_.clock, ports_.timers, options_.webhooks.production);
  billing_ = std::make_unique<BillingDispatch>(
      *runtime_, *store_, *view_, ports_.payments != nullptr ? *ports_.payments : sim_payments_,
      ports_.clock);

  // Outbound messages reach the carrier as the effect of their decision,
  // once "message.queued" is durable; those still pending from before this
  // start are handed over again (the carrier ignores one it already holds).
  // Webhook deliveries are sent from applied events, and resumed here.
  view_->set_listener(
      [this](const std::string& type, const std::string& payload, std::uint64_t position) {
        webhooks_->on_event(type, payload, position);
        calls_->on_event(type, payload);
        billing_->on_event(type, payload);
      });
  view_->set_shortfall_listener(
      [this](const std::string& account) { billing_->on_shortfall(account); });
  const std::size_t deliveries = webhooks_->resume();
  const std::vector<boost::json::object> pending = view_->pending_outbound();
  for (const boost::json::object& queued : pending) dispatch_->submit(queued);
  const std::vector<std::pair<std::string, std::string>> live = view_->live_calls();
  for (const auto& [call, account] : live) {
    runtime_->send(EntityKind::kCall, call, {"call.reconcile", account, {}}, [](CommandResult) {});
  }
  // Timers are not durable: each number's renewal is armed again (early, the
  // command only sets its timer).
  for (const auto& [number, account] : view_->active_numbers()) {
    runtime_->send(EntityKind::kNumber, number, {"number.renew", account, {}},
                   [](CommandResult) {});
  }
  // The simulator restarts often and prints its own report.
  if (!deterministic() && deliveries > 0) {
    std::fprintf(stderr, "agentphone: webhooks: %zu deliveries pending\n", deliveries);
  }
  if (!deterministic() && !pending.empty()) {
    std::fprintf(stderr, "agentphone: resubmitted %zu pending outbound messages\n", pending.size());
  }
  if (!deterministic() && !live.empty()) {
    std::fprintf(stderr, "agentphone: ended %zu calls that were live before the restart\n",
                 live.size());
  }
}

Node::~Node() {
  // The carrier's reports stop first; then the log drains queued appends,
  // whose completions still reach live actors; then the actors stop. The
  // projection's listener is cleared before the dispatchers go away.
  carrier_->stop();
  view_->set_listener(nullptr);
  store_->close();
  if (deterministic()) run_until_quiet();
  runtime_.reset();
  // The view goes before the engines its listener called: destroying it joins
  // the projection thread, so no listener call can still be running.
  view_.reset();
  billing_.reset();
  calls_.reset();
  dispatch_.reset();
  webhooks_.reset();
}

void Node::run(const domain::Effect& effect) {
  if (effect.type == "carrier.send_sms") return dispatch_->submit(effect.data);
  if (effect.type == "timer") return after(effect.data);
  if (billing_->run(effect)) return;
  if (effect.type == "mail.send") {
    if (ports_.mail == nullptr) throw std::logic_error("this node has no mail port");
    const auto text = [&](const char* key) {
      return std::string(domain::field(effect.data, key).as_string());
    };
    return ports_.mail->send({text("to"), text("subject"), text("text"), text("reference")},
                             [reference = text("reference")](const std::string& error) {
                               if (!error.empty()) {
                                 std::fprintf(stderr, "agentphone: mail for %s not sent: %s\n",
                                              reference.c_str(), error.c_str());
                               }
                             });
  }
  if (calls_->run(effect)) return;
  // A decider asked for an effect this node has no port for: a bug.
  AP_ASSERT(false, "unknown effect");
  throw std::logic_error("unknown effect " + effect.type);
}

void Node::after(const boost::json::object& timer) {
  // Timers are not durable: what they guard is restored at the next start
  // instead (a live call is reconciled, a number's renewal armed again).
  const boost::json::object& command = domain::field(timer, "command").as_object();
  const EntityKind kind =
      domain::field(timer, "entity") == "number" ? EntityKind::kNumber : EntityKind::kCall;
  AP_ASSERT((kind == EntityKind::kNumber || domain::field(timer, "entity") == "call"),
            "only calls and numbers set timers");
  domain::Command cmd{std::string(domain::field(command, "type").as_string()),
                      std::string(domain::field(command, "accountId").as_string()),
                      domain::field(command, "args").as_object()};
  ports_.timers.after(
      domain::field(timer, "delayMs").as_int64(),
      [this, kind, id = std::string(domain::field(timer, "id").as_string()), cmd = std::move(cmd)] {
        runtime_->send(kind, id, cmd, [](CommandResult) {});
      });
}

void Node::catch_up() {
  // Serve only once the read model has caught up with the log, so that the
  // first request already sees every earlier write.
  if (deterministic()) {
    while (view_->checkpoint() < store_->head_position() && store_->pump() > 0) {
    }
    AP_ASSERT(view_->checkpoint() == store_->head_position(),
              "the read model caught up with the log before traffic");
    return;
  }
  while (!view_->wait_until(store_->head_position(), 1000)) {
    std::fprintf(stderr, "agentphone: catching up: projection at %llu of %llu\n",
                 static_cast<unsigned long long>(view_->checkpoint()),
                 static_cast<unsigned long long>(store_->head_position()));
  }
}

void Node::abandon() {
  store_->abandon();
  runtime_->abandon();
}

std::size_t Node::run_until_quiet() {
  AP_ASSERT(deterministic(), "only a deterministic node steps its runtime");
  std::size_t steps = 0;
  for (;;) {
    std::size_t ran = runtime_ ? runtime_->run_ready() : 0;
    ran += store_->pump();
    if (ran == 0) return steps;
    steps += ran;
  }
}

}  // namespace ap::actors
