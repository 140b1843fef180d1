// CallDispatch: runs what call decisions ask of the world, and tells
// waiting requests when a call has moved on.
//
// Effects (run once the decision's events are durable, on any thread):
//   "voice.webhook" — one synchronous agent.message turn: signed, sent to the
//                     call's webhook as configured now, never retried; its
//                     answer (or why there is none) becomes "call.answer",
//                     and the request is recorded as a finished delivery.
//   "voice.hosted"  — the LLM port answers the turn (hosted mode).
//   "carrier.dial"  — the carrier places an outbound call; its reports
//                     become "call.carrier".
// Waiters: a request that waits for a turn's answer or a call's end (the
// sandbox phone, GET /v1/calls/{id}?wait=true, POST /v1/calls with
// waitForCompletion) registers here and is answered from the projection's
// listener once the read model shows it, or when its timeout passes — never
// by blocking a thread.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/domain.hpp"
#include "actors/ports.hpp"
#include "actors/runtime.hpp"
#include "projections/core_view.hpp"

namespace ap::actors {

class CallDispatch {
 public:
  CallDispatch(Runtime& runtime, projections::CoreView& view, domain::WebhookTransport& transport,
               domain::LlmPort& llm, domain::CarrierPort& carrier, const domain::Clock& clock,
               domain::Timers& timers, bool production);
  ~CallDispatch();
  CallDispatch(const CallDispatch&) = delete;
  CallDispatch& operator=(const CallDispatch&) = delete;

  // Runs one of the effects above. Returns false for an effect it does not know.
  bool run(const domain::Effect& effect);

  // Feeds an event the projection has just applied (projection thread).
  void on_event(const std::string& type, const std::string& payload);

  // Runs done(turn row) once caller turn `turn` of `call_id` has its answer
  // in the read model (the call.turn_answered data), or done(nullopt) once the
  // call ended without one or `timeout_ms` passed.
  using TurnFn = std::function<void(std::optional<boost::json::object>)>;
  void when_turn_answered(const std::string& call_id, int turn, std::int64_t timeout_ms,
                          TurnFn done);
  // Runs done() once the read model shows `call_id` no longer ringing
  // (answered or ended), or after `timeout_ms`.
  void when_answered(const std::string& call_id, std::int64_t timeout_ms,
                     std::function<void()> done);
  // Runs done() once the read model shows `call_id` ended, or after `timeout_ms`.
  void when_ended(const std::string& call_id, std::int64_t timeout_ms, std::function<void()> done);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::actors
