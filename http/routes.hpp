// The catalog of every route this server answers: method, path template,
// who may call it and what it does. GET /openapi.json and GET /llms.txt are
// generated from it, and a test sends a request to every entry and checks the
// router answers it (not "unknown route"), so the catalog and the router
// cannot drift apart silently.
#pragma once

#include <string>
#include <vector>

namespace ap::http {

struct RouteDoc {
  const char* method;   // "GET", "POST", …
  const char* path;     // OpenAPI template, e.g. "/v1/agents/{agent_id}".
  const char* auth;     // "bearer", "none", "loopback" (sandbox only) or "admin".
  const char* tag;      // OpenAPI tag.
  const char* summary;  // One line.
  bool extension;       // Ours, not the hosted service's (x-agentphone-extension).
};

// Every route, in a stable order.
const std::vector<RouteDoc>& route_catalog();

// The OpenAPI 3.1 document of the catalog, served at `base_url`.
std::string openapi_json(const std::string& base_url, bool sandbox);

// A short plain-text guide for agents (llms.txt): base URL, auth, the sign-up
// flow, the sandbox, and the routes.
std::string llms_txt(const std::string& base_url, bool sandbox);

}  // namespace ap::http
