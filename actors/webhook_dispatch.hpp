// WebhookDispatch: the webhook engine. Deliveries are created in the log by
// the aggregate whose event triggers them, in the same append (an inbound
// message and its agent.message delivery commit together). The engine sends
// each attempt signed (contract C.4) and records every attempt as an event of
// the delivery's aggregate, which decides the retry schedule.
//
// Nothing to send is held only in memory: a delivery stays pending in the read
// model until it is final, and resume() schedules every pending one at start,
// so a restart, even after kill -9, loses none.
//
// At most WebhookDispatchOptions::max_held deliveries are held in memory,
// and only ones that can go now; the rest wait in the read model: first
// attempts in log order, taken up as the held ones finish, and retries by
// the time they fall due, taken up then, so a dead endpoint's retries take
// no room from anyone else's deliveries. One account holds at most its share
// of that room and one endpoint has a bounded queue; a delivery past either
// is deferred (webhook.delivery_deferred) and waits in the read model too.
//
// First attempts of one conversation go out in event order, one at a time;
// each endpoint has its own limit of requests in flight, so a slow or dead
// endpoint delays only its own deliveries.
//
// Requests go out through the WebhookTransport port (the Beast client in the
// server, in-process endpoints in the simulator); all of the engine's own
// state lives on the transport's thread.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/ports.hpp"
#include "actors/runtime.hpp"
#include "projections/core_view.hpp"

namespace ap::actors {

// What one request's outcome tells a delivery aggregate: {httpStatus|null,
// error|null, responseBody|null, durationMs}. `error` is null exactly when
// the endpoint answered 2xx, the one outcome that counts as delivered.
boost::json::object attempt_report(const domain::WebhookResult& result);

// The headers of one signed webhook request (contract C.4).
std::vector<std::pair<std::string, std::string>> signed_headers(std::int64_t now_ms,
                                                                const std::string& delivery_id,
                                                                const std::string& event_type,
                                                                const std::string& secret,
                                                                const std::string& body);

struct WebhookDispatchOptions {
  bool production = true;
  std::int64_t retry_base_ms = 1000;  // First retry after ~this; ×4 per attempt.
  int max_in_flight_per_endpoint = 8;
  // Deliveries held in memory at once: in flight, waiting for a free slot of
  // their endpoint, or queued behind an earlier one of their conversation.
  // Past it a delivery stays only in the read model's pending rows (it is
  // durable there), and is taken up again once the held ones drop to half,
  // so a flood of inbound messages cannot grow the engine's memory without
  // bound. A delivery waiting for its retry time is never held.
  std::size_t max_held = 10'000;
  // One account's share of max_held, and how many deliveries may wait for a
  // free slot of one endpoint. A delivery past either is deferred: the
  // delivery aggregate records that its attempt waits (defer_delay_ms from
  // defer_base_ms, doubling each time), and it leaves memory for the read
  // model's retry rows until then. So one account's flood, or one slow
  // endpoint, cannot take the room every other account's deliveries need.
  std::size_t max_held_per_account = 2'500;
  std::size_t max_waiting_per_endpoint = 1'000;
  std::int64_t defer_base_ms = 1000;
  // A planted bug, for the simulator's own test only (`sim run --plant-bug
  // drop-delivery`): the Nth first attempt is silently never made. 0 = off.
  int bug_drop_nth_first_attempt = 0;
};

class WebhookDispatch {
 public:
  WebhookDispatch(Runtime& runtime, projections::CoreView& view,
                  domain::WebhookTransport& transport, const domain::Clock& clock,
                  domain::Entropy& entropy, WebhookDispatchOptions options);
  ~WebhookDispatch();

  // Feeds an event the projection has just applied, at log `position` (any thread).
  void on_event(const std::string& type, const std::string& payload, std::uint64_t position);

  // Schedules every pending delivery. Call once at start, before traffic.
  // Returns how many there were.
  std::size_t resume();

  // Sends a fake agent.message to the webhook `entity` of `account` (POST
  // …/webhook/test). `done` gets the outcome {success, statusCode,
  // responseMs, error} and, when a request was made, the args of the
  // "delivery.record_test" command that records it (with its deliveryId),
  // else an empty object. The caller records it, so that the answer can wait
  // for the record like any write.
  using TestDone = std::function<void(boost::json::object outcome, boost::json::object record)>;
  void send_test(const std::string& account, const std::string& entity,
                 const boost::json::value& agent_id, TestDone done);

  // Counts since start, for /metrics.
  struct Stats {
    std::uint64_t attempts = 0;     // Requests answered or failed.
    std::uint64_t attempts_ok = 0;  // Of them, answered 2xx.
    std::int64_t in_flight = 0;     // Requests on the wire now.
    std::int64_t waiting = 0;       // Waiting for a free slot of their endpoint.
    std::int64_t held = 0;          // Held in memory (at most max_held).
    std::uint64_t spilled = 0;      // Left in the read model for want of room, then taken up.
    std::uint64_t deferred = 0;     // Put off past their account's share or endpoint's queue.
  };
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::actors
