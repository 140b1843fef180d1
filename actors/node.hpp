// Node: one running AgentPhone, assembled the same way by `serve` and by the
// simulator: the log, the read model, the simulated carrier, the actor
// runtime, the carrier and webhook dispatchers, and the recovery that
// resubmits what a previous run left unfinished. A simulated crash and
// restart therefore runs exactly the production recovery path.
//
// The ports decide where it runs: the system clock, OpenSSL, a timer thread
// and the Beast webhook client in the server; the virtual clock, a seeded
// generator, virtual timers and in-process endpoints in the simulator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "actors/billing_dispatch.hpp"
#include "actors/call_dispatch.hpp"
#include "actors/carrier_dispatch.hpp"
#include "actors/ports.hpp"
#include "actors/responder.hpp"
#include "actors/runtime.hpp"
#include "actors/secrets.hpp"
#include "actors/webhook_dispatch.hpp"
#include "eventstore/event_store.hpp"
#include "projections/core_view.hpp"
#include "sim/carrier.hpp"
#include "sim/payments.hpp"

namespace ap::actors {

// The outside world of a node. All must outlive it; `timers` and `webhooks`
// must be stopped (or cleared) before the node is destroyed, so that no
// timer or response reaches a node that is gone.
struct NodePorts {
  const domain::Clock& clock;
  domain::Entropy& entropy;
  domain::Timers& timers;
  domain::WebhookTransport& webhooks;
  // Hosted voice mode's model; null = the built-in responder.
  domain::LlmPort* llm = nullptr;
  // Sign-up codes go out here; null = this node sends no mail (a decision
  // that asks for one is a bug there).
  domain::MailPort* mail = nullptr;
  // Top-ups and auto-recharge charge here; null = the node's own simulated
  // processor (payments()).
  domain::PaymentPort* payments = nullptr;
};

struct NodeOptions {
  sim::SimCarrierOptions carrier;
  RuntimeOptions runtime;  // runtime.deterministic also makes the log synchronous.
  WebhookDispatchOptions webhooks;
};

class Node final : private EffectPort {
 public:
  // Assembles a node over `store` (opened by the caller, owned from now on)
  // and recovers: the read model catches up with the log (printing progress
  // on a long catch-up), then outbound messages the carrier had not finished
  // and webhook deliveries not yet final are handed over again, calls
  // that were live end (nobody is on the line after a restart), and every
  // active number's renewal timer is set again.
  Node(std::unique_ptr<es::EventStore> store, NodePorts ports, NodeOptions options);
  // Stops the carrier, closes the log (its last completions still reach the
  // actors) and stops the actors.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  es::EventStore& store() { return *store_; }
  projections::CoreView& view() { return *view_; }
  Runtime& runtime() { return *runtime_; }
  sim::SimCarrier& carrier() { return *carrier_; }
  WebhookDispatch& webhooks() { return *webhooks_; }
  CallDispatch& calls() { return *calls_; }
  BillingDispatch& billing() { return *billing_; }
  // The embedded processor, used when NodePorts::payments is null.
  sim::SimPayments& sim_payments() { return sim_payments_; }
  domain::IdSource& ids() { return ids_; }
  const domain::Clock& clock() const { return ports_.clock; }
  domain::Entropy& entropy() { return ports_.entropy; }
  domain::Timers& timers() { return ports_.timers; }
  bool deterministic() const { return options_.runtime.deterministic; }

  // A simulated crash: the log drops what it had not acknowledged and the
  // actors decide nothing more. Destroy the node next.
  void abandon();

  // Deterministic mode: runs actor jobs and log commits until neither has
  // anything left to do. Returns how many steps ran.
  std::size_t run_until_quiet();

 private:
  void catch_up();
  // Effects of decisions: "timer" sends a command to an entity later,
  // "carrier.send_sms" hands a queued message to the carrier, "billing.extend"
  // goes to BillingDispatch and the call effects to CallDispatch.
  void run(const domain::Effect& effect) override;
  void after(const boost::json::object& timer);

  NodePorts ports_;
  NodeOptions options_;
  std::unique_ptr<es::EventStore> store_;
  domain::Ids ids_;
  std::unique_ptr<sim::SimCarrier> carrier_;
  std::unique_ptr<projections::CoreView> view_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<WebhookDispatch> webhooks_;
  std::unique_ptr<CarrierDispatch> dispatch_;
  domain::BuiltinResponder responder_;
  std::unique_ptr<CallDispatch> calls_;
  sim::SimPayments sim_payments_;
  std::unique_ptr<BillingDispatch> billing_;
};

}  // namespace ap::actors
