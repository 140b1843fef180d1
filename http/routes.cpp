#include "http/routes.hpp"

#include <boost/json.hpp>

#include <map>
#include <regex>

namespace ap::http {

namespace json = boost::json;

const std::vector<RouteDoc>& route_catalog() {
  static const std::vector<RouteDoc> kRoutes = {
      {"GET", "/v1/agents", "bearer", "agents", "List agents", false},
      {"POST", "/v1/agents", "bearer", "agents", "Create an agent", false},
      {"GET", "/v1/agents/voices", "bearer", "agents", "List the TTS voices", false},
      {"GET", "/v1/agents/{agent_id}", "bearer", "agents", "Get an agent with its numbers", false},
      {"PATCH", "/v1/agents/{agent_id}", "bearer", "agents", "Update an agent", false},
      {"DELETE", "/v1/agents/{agent_id}", "bearer", "agents", "Delete an agent", false},
      {"POST", "/v1/agents/{agent_id}/numbers", "bearer", "agents", "Attach a number", false},
      {"DELETE", "/v1/agents/{agent_id}/numbers/{number_id}", "bearer", "agents", "Detach a number",
       false},
      {"GET", "/v1/agents/{agent_id}/conversations", "bearer", "agents",
       "List an agent's conversations", false},
      {"GET", "/v1/agents/{agent_id}/calls", "bearer", "agents", "List an agent's calls", false},
      {"GET", "/v1/agents/{agent_id}/webhook", "bearer", "webhooks", "Get an agent's webhook",
       false},
      {"POST", "/v1/agents/{agent_id}/webhook", "bearer", "webhooks",
       "Create or update an agent's webhook", false},
      {"DELETE", "/v1/agents/{agent_id}/webhook", "bearer", "webhooks", "Remove an agent's webhook",
       false},
      {"GET", "/v1/agents/{agent_id}/webhook/deliveries", "bearer", "webhooks",
       "An agent webhook's delivery history", false},
      {"POST", "/v1/agents/{agent_id}/webhook/test", "bearer", "webhooks",
       "Send a test to an agent's webhook", false},
      {"GET", "/v1/numbers", "bearer", "numbers", "List active numbers", false},
      {"POST", "/v1/numbers", "bearer", "numbers", "Provision a number", false},
      {"GET", "/v1/numbers/{number_id}", "bearer", "numbers", "Get a number", false},
      {"DELETE", "/v1/numbers/{number_id}", "bearer", "numbers", "Release a number", false},
      {"GET", "/v1/numbers/{number_id}/messages", "bearer", "numbers", "A number's messages",
       false},
      {"GET", "/v1/numbers/{number_id}/calls", "bearer", "numbers", "A number's calls", false},
      {"POST", "/v1/messages", "bearer", "messages", "Send an SMS", false},
      {"GET", "/v1/conversations", "bearer", "conversations", "List conversations", false},
      {"GET", "/v1/conversations/{conversation_id}", "bearer", "conversations",
       "Get a conversation with its messages", false},
      {"PATCH", "/v1/conversations/{conversation_id}", "bearer", "conversations",
       "Update a conversation's metadata", false},
      {"GET", "/v1/conversations/{conversation_id}/messages", "bearer", "conversations",
       "A conversation's messages", false},
      {"GET", "/v1/webhooks", "bearer", "webhooks", "Get the project webhook", false},
      {"POST", "/v1/webhooks", "bearer", "webhooks", "Create or update the project webhook", false},
      {"DELETE", "/v1/webhooks", "bearer", "webhooks", "Remove the project webhook", false},
      {"GET", "/v1/webhooks/deliveries", "bearer", "webhooks", "Delivery history", false},
      {"GET", "/v1/webhooks/deliveries/stats", "bearer", "webhooks", "Delivery statistics", false},
      {"GET", "/v1/webhooks/deliveries/all-time", "bearer", "webhooks", "All-time delivery counts",
       false},
      {"POST", "/v1/webhooks/test", "bearer", "webhooks", "Send a test to the project webhook",
       false},
      {"GET", "/v1/contacts", "bearer", "contacts", "List or search contacts", false},
      {"POST", "/v1/contacts", "bearer", "contacts", "Create a contact", false},
      {"GET", "/v1/contacts/capabilities", "bearer", "contacts",
       "What a phone number can receive (SMS; no iMessage)", false},
      {"GET", "/v1/contacts/{contact_id}", "bearer", "contacts", "Get a contact", false},
      {"PATCH", "/v1/contacts/{contact_id}", "bearer", "contacts", "Update a contact", false},
      {"DELETE", "/v1/contacts/{contact_id}", "bearer", "contacts", "Delete a contact", false},
      {"GET", "/v1/calls", "bearer", "calls", "List calls", false},
      {"POST", "/v1/calls", "bearer", "calls", "Place an outbound call", false},
      {"GET", "/v1/calls/{call_id}", "bearer", "calls",
       "Get a call with its transcript (?wait=true long-polls)", false},
      {"POST", "/v1/calls/{call_id}/end", "bearer", "calls", "End a live call", false},
      {"GET", "/v1/calls/{call_id}/transcript", "bearer", "calls", "A call's transcript", false},
      {"GET", "/v1/calls/{call_id}/transcript/stream", "bearer", "calls",
       "A call's transcript as server-sent events", false},
      {"GET", "/v1/calls/{call_id}/recording", "none", "calls",
       "A call's recording (none are kept: 404)", false},
      {"GET", "/v1/usage", "bearer", "usage", "Plan, number limits and usage counters", false},
      {"GET", "/v1/usage/daily", "bearer", "usage", "Usage per UTC day (?days=30, at most 365)",
       false},
      {"GET", "/v1/usage/monthly", "bearer", "usage", "Usage per UTC month (?months=6, at most 24)",
       false},
      {"GET", "/v1/usage/by-number", "bearer", "usage", "Messages and calls per number", false},
      {"GET", "/v1/usage/by-agent", "bearer", "usage",
       "Usage per agent in this calendar week, month or year (?period=, ?tz=)", false},
      {"GET", "/v1/billing/balance", "bearer", "billing",
       "Balance, reservations, auto-recharge and the rate card", true},
      {"GET", "/v1/billing/ledger", "bearer", "billing",
       "Ledger entries, oldest first (?after=<seq>, ?limit=, at most 500)", true},
      {"POST", "/v1/billing/top-up", "bearer", "billing",
       "Add credit through the payment processor", true},
      {"GET", "/v1/billing/auto-recharge", "bearer", "billing", "The auto-recharge setting", true},
      {"PUT", "/v1/billing/auto-recharge", "bearer", "billing", "Set auto-recharge", true},
      {"POST", "/v1/billing/auto-recharge", "bearer", "billing", "Set auto-recharge", true},
      {"GET", "/v1/billing/audit", "bearer", "billing",
       "Replay this account's ledger from the raw log, diff it with the ledger and verify the "
       "hash chain (?verify=false skips the chain)",
       true},
      {"GET", "/v1/billing/statement", "bearer", "billing",
       "Line items, opening and closing balance and the last event's hash over [from, to) "
       "(?from=, ?to=, ?format=json|csv)",
       true},
      {"POST", "/mcp", "bearer", "mcp",
       "MCP over Streamable HTTP: JSON-RPC requests, notifications and batches (docs/mcp.md)",
       false},
      {"GET", "/mcp", "bearer", "mcp", "MCP: an idle event stream with keep-alives", false},
      {"DELETE", "/mcp", "bearer", "mcp", "MCP: end the session named by Mcp-Session-Id", false},
      {"GET", "/.well-known/mcp/server-card.json", "none", "mcp", "The MCP server card", false},
      {"POST", "/v0/agent/sign-up", "none", "sign-up", "Start an agent's self-sign-up", false},
      {"POST", "/v0/agent/verify", "none", "sign-up",
       "Verify the mailed code: account, number, agent and key", false},
      {"GET", "/healthz", "none", "operations", "Liveness and log head", true},
      {"GET", "/metrics", "none", "operations", "Prometheus metrics", true},
      {"GET", "/openapi.json", "none", "operations", "This document", true},
      {"GET", "/llms.txt", "none", "operations", "A short guide for agents", true},
      {"POST", "/admin/command", "admin", "operations",
       "Operator commands (agentphone admin), from this machine with the token in admin.json",
       true},
      {"POST", "/sim/sms", "loopback", "sandbox", "A person texts one of our numbers", true},
      {"GET", "/sim/outbox", "loopback", "sandbox", "What agents sent, newest first", true},
      {"GET", "/sim/faults", "loopback", "sandbox", "The simulated carrier's faults", true},
      {"POST", "/sim/faults", "loopback", "sandbox", "Make a destination fail or lag", true},
      {"DELETE", "/sim/faults", "loopback", "sandbox", "Clear every fault", true},
      {"GET", "/sim/payments", "loopback", "sandbox", "How the simulated processor answers", true},
      {"POST", "/sim/payments", "loopback", "sandbox",
       "Make the simulated processor decline (all, or the next N)", true},
      {"POST", "/sim/calls", "loopback", "sandbox", "A person calls one of our numbers", true},
      {"GET", "/sim/calls/{call_id}", "loopback", "sandbox",
       "A call as the simulated carrier carried it", true},
      {"POST", "/sim/calls/{call_id}/say", "loopback", "sandbox",
       "The caller says something; answers with the agent's turn", true},
      {"POST", "/sim/calls/{call_id}/hangup", "loopback", "sandbox", "The caller hangs up", true},
  };
  return kRoutes;
}

std::string openapi_json(const std::string& base_url, bool sandbox) {
  json::object paths;
  static const std::regex kParam(R"(\{([a-z_]+)\})");
  for (const RouteDoc& r : route_catalog()) {
    const std::string auth = r.auth;
    if (!sandbox && auth == "loopback") continue;
    json::array parameters;
    const std::string path = r.path;
    for (auto it = std::sregex_iterator(path.begin(), path.end(), kParam);
         it != std::sregex_iterator(); ++it) {
      parameters.push_back(json::object{{"name", (*it)[1].str()},
                                        {"in", "path"},
                                        {"required", true},
                                        {"schema", json::object{{"type", "string"}}}});
    }
    json::object operation{
        {"summary", r.summary},
        {"tags", json::array{json::string(r.tag)}},
        {"responses",
         json::object{
             {"200", json::object{{"description", "Success"}}},
             {"4XX",
              json::object{{"description", "An error: {detail, error: {message, code, type}}"}}}}}};
    if (!parameters.empty()) operation["parameters"] = std::move(parameters);
    if (auth == "bearer") {
      operation["security"] = json::array{json::object{{"HTTPBearer", json::array()}}};
    } else {
      operation["security"] = json::array();
    }
    if (r.extension) operation["x-agentphone-extension"] = true;
    if (auth == "loopback") operation["x-agentphone-sandbox-only"] = true;
    std::string method = r.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json::value& item = paths[path];
    if (!item.is_object()) item = json::object();
    item.as_object()[method] = std::move(operation);
  }
  json::object doc{
      {"openapi", "3.1.0"},
      {"info",
       json::object{{"title", "AgentPhone (self-hosted)"},
                    {"version", AP_VERSION},
                    {"description",
                     "Phone numbers, SMS and voice calls for AI agents. Wire-compatible with the "
                     "hosted AgentPhone API; operations marked x-agentphone-extension are ours."}}},
      {"servers", json::array{json::object{{"url", base_url}}}},
      {"components",
       json::object{
           {"securitySchemes",
            json::object{{"HTTPBearer", json::object{{"type", "http"}, {"scheme", "bearer"}}}}}}},
      {"paths", std::move(paths)}};
  return json::serialize(doc);
}

std::string llms_txt(const std::string& base_url, bool sandbox) {
  std::string out =
      "# AgentPhone (self-hosted)\n\n"
      "> Phone numbers, SMS and voice calls for AI agents, wire-compatible with the hosted "
      "AgentPhone API.\n\n"
      "Base URL: " +
      base_url +
      "\n"
      "Auth: every /v1 request sends `Authorization: Bearer <api key>`.\n"
      "OpenAPI: " +
      base_url +
      "/openapi.json\n\n"
      "## Get an API key (agents sign themselves up)\n\n"
      "1. POST /v0/agent/sign-up {\"human_email\": \"...\", \"agent_name\": \"...\"} -> "
      "verification_id; a 6-digit code is mailed to the human.\n"
      "2. Ask your human for the code.\n"
      "3. POST /v0/agent/verify {\"verification_id\": \"...\", \"otp_code\": \"...\"} -> "
      "account_id, agent_id, number_id, phone_number, api_key (shown once).\n\n";
  if (sandbox) {
    out +=
        "## Sandbox\n\n"
        "This server runs a simulated carrier: mail is written to the data folder's outbox "
        "(`agentphone sim mail` prints the code), and from this machine /sim/sms and /sim/calls "
        "let you text and call your own numbers.\n\n";
  }
  out += "## Routes\n\n";
  for (const RouteDoc& r : route_catalog()) {
    if (!sandbox && std::string(r.auth) == "loopback") continue;
    out += "- " + std::string(r.method) + " " + r.path + " — " + r.summary + "\n";
  }
  return out;
}

}  // namespace ap::http
