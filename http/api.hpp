// Api: the REST surface (contract sections A, B.1–B.4). It authenticates,
// validates wire JSON, turns requests into commands for the actor runtime or
// queries of the projections, and writes wire JSON back. Domain rules live in
// actors/; this layer only translates.
#pragma once

#include <memory>

#include "actors/runtime.hpp"
#include "eventstore/event_store.hpp"
#include "http/server.hpp"
#include "http/webhook_dispatch.hpp"
#include "projections/core_view.hpp"
#include "sim/carrier.hpp"

namespace ap::http {

class Api {
 public:
  // A non-null `simulator` (sandbox mode) enables the local simulator surface
  // (/sim/…), answered only to loopback peers; production mode has no such routes.
  // Production mode (no simulator) also applies the production webhook URL rules.
  Api(es::EventStore& store, actors::Runtime& runtime, projections::CoreView& view,
      domain::IdSource& ids, sim::SimCarrier* simulator, WebhookDispatch& webhooks);
  ~Api();

  // Handles one request; `reply` may run later, on another thread.
  void handle(Request request, Reply reply);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::http
