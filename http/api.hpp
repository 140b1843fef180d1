// Api: the REST surface (contract sections A, B.1–B.4). It authenticates,
// validates wire JSON, turns requests into commands for the actor runtime or
// queries of the projections, and writes wire JSON back. Domain rules live in
// actors/; this layer only translates.
#pragma once

#include <cstdint>
#include <memory>

#include "actors/node.hpp"
#include "http/server.hpp"

namespace ap::http {

// Agent self-sign-up (/v0/agent/…, docs/signup.md).
struct SignupOptions {
  int per_email_per_hour = 3;  // Sign-ups per email address per hour.
  int per_ip_per_hour = 20;    // Sign-ups per client address per hour.
  std::int64_t otp_ttl_ms = 10 * 60 * 1000;
};

// Requests per API key: a token bucket of `request_burst`, refilled at
// `requests_per_key_per_s` (0 = no limit); over it, 429 with Retry-After.
struct ApiLimits {
  double requests_per_key_per_s = 500;
  double request_burst = 1000;
  // Requests of one account being handled at once (0 = no limit): what one
  // account may have queued at its entities, so that a client that never
  // waits for its answers cannot grow their mailboxes without bound.
  int max_in_flight_per_account = 512;
};

class Api {
 public:
  // Sandbox mode enables the local simulator surface (/sim/…), answered only
  // to loopback peers; production mode has no such routes and applies the
  // production webhook URL rules.
  Api(actors::Node& node, bool sandbox, SignupOptions signup = {}, ApiLimits limits = {});

  // Accepts operator commands (POST /admin/command) from this machine that
  // carry `token`; none are accepted before this is called.
  void set_admin_token(std::string token);
  ~Api();

  // Handles one request; `reply` may run later, on another thread.
  void handle(Request request, Reply reply);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::http
