// Api: the REST surface (contract sections A, B.1–B.4). It authenticates,
// validates wire JSON, turns requests into commands for the actor runtime or
// queries of the projections, and writes wire JSON back. Domain rules live in
// actors/; this layer only translates.
#pragma once

#include <memory>

#include "actors/node.hpp"
#include "http/server.hpp"

namespace ap::http {

class Api {
 public:
  // Sandbox mode enables the local simulator surface (/sim/…), answered only
  // to loopback peers; production mode has no such routes and applies the
  // production webhook URL rules.
  Api(actors::Node& node, bool sandbox);
  ~Api();

  // Handles one request; `reply` may run later, on another thread.
  void handle(Request request, Reply reply);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::http
