#include "http/mcp_tools.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <cstdio>
#include <initializer_list>
#include <regex>
#include <unordered_map>
#include <utility>

#include "actors/domain.hpp"

namespace ap::http::mcp {

namespace json = boost::json;

namespace {

// ---- Schema builders: the tools' JSON Schemas read like their tables in D.2.

json::object str(const char* description) {
  return {{"type", "string"}, {"description", description}};
}

json::object pattern(const char* regex, const char* description) {
  json::object s = str(description);
  s["pattern"] = regex;
  return s;
}

json::object uri(const char* description) {
  json::object s = str(description);
  s["format"] = "uri";
  return s;
}

json::object email(const char* description) {
  json::object s = str(description);
  s["format"] = "email";
  return s;
}

json::object number(double min, double max, std::optional<double> fallback,
                    const char* description) {
  json::object s{{"type", "number"}, {"minimum", min}, {"description", description}};
  if (max > min) s["maximum"] = max;
  if (fallback) s["default"] = *fallback;
  return s;
}

json::object boolean(std::optional<bool> fallback, const char* description) {
  json::object s{{"type", "boolean"}, {"description", description}};
  if (fallback) s["default"] = *fallback;
  return s;
}

json::object one_of(std::initializer_list<const char*> values, const char* description) {
  json::array e;
  for (const char* v : values) e.emplace_back(v);
  return {{"type", "string"}, {"enum", std::move(e)}, {"description", description}};
}

json::object schema(json::object properties, std::initializer_list<const char*> required = {}) {
  json::object s{{"type", "object"}, {"properties", std::move(properties)}};
  if (required.size() > 0) {
    json::array r;
    for (const char* name : required) r.emplace_back(name);
    s["required"] = std::move(r);
  }
  return s;
}

constexpr const char* kE164 = "^\\+[1-9]\\d{1,14}$";

// The compiled form of a schema's `pattern`: compiling a regex costs more
// than the rest of a tool call, and the patterns are a handful of constants.
const std::regex& compiled(const std::string& pattern) {
  thread_local std::unordered_map<std::string, std::regex> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) it = cache.emplace(pattern, std::regex(pattern)).first;
  return it->second;
}

json::object paging(double max_limit, double default_limit) {
  return {{"limit", number(1, max_limit, default_limit, "How many to return")},
          {"offset", number(0, 0, 0, "How many to skip")}};
}

json::object merged(json::object a, const json::object& b) {
  for (const auto& [k, v] : b) a[k] = v;
  return a;
}

// The agent fields create_agent and update_agent share, by their MCP names.
json::object agent_fields() {
  return {
      {"description", str("What the agent is for")},
      {"system_prompt", str("Instructions for the hosted voice model")},
      {"begin_message", str("What the agent says first on a call")},
      {"voice", str("Voice id (list_voices)")},
      {"transfer_number", str("Number calls are transferred to")},
      {"voicemail_message", str("Message left on voicemail")},
      {"language", str("Language, e.g. en-US")},
      {"voice_mode", one_of({"webhook", "hosted"}, "Who answers calls: your webhook or us")},
      {"model_tier", one_of({"turbo", "balanced", "max"}, "Hosted model tier")},
      {"voice_speed", number(0.5, 2, std::nullopt, "Speaking speed")},
      {"interruption_sensitivity", number(0, 1, std::nullopt, "How easily a caller interrupts")},
      {"enable_backchannel", boolean(std::nullopt, "Say \"mm-hm\" while listening")},
      {"enable_messaging", boolean(std::nullopt, "The agent handles SMS too")},
      {"stt_mode", one_of({"fast", "accurate"}, "Speech recognition mode")},
      {"ambient_sound", one_of({"none", "office", "coffee-shop", "outdoor"}, "Background sound")},
      {"denoising_mode",
       one_of({"noise-cancellation", "noise-and-background-speech-cancellation"}, "Denoising")},
      {"max_silence_ms", number(10'000, 3'600'000, std::nullopt, "End a call after this silence")}};
}

// ---- Reading arguments and building requests.

std::string text(const json::object& args, const char* key) {
  const json::value* v = args.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A boolean argument, or `fallback` when it is absent or not a boolean.
bool flag(const json::object& args, const char* key, bool fallback) {
  const json::value* v = args.if_contains(key);
  return v != nullptr && v->is_bool() ? v->get_bool() : fallback;
}

bool has(const json::object& args, const char* key) {
  const json::value* v = args.if_contains(key);
  return v != nullptr && !v->is_null();
}

// A number argument as the integer a query string wants ("20", not "20.0").
std::string integer(const json::object& args, const char* key, long long fallback) {
  const json::value* v = args.if_contains(key);
  if (v == nullptr || v->is_null()) return std::to_string(fallback);
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  if (v->is_double()) {
    const double d = v->as_double();
    if (d == static_cast<double>(static_cast<long long>(d))) {
      return std::to_string(static_cast<long long>(d));
    }
    char out[32];
    std::snprintf(out, sizeof out, "%g", d);  // The REST route refuses it with 422.
    return out;
  }
  return std::to_string(fallback);
}

// Percent-encodes `s` for a path segment or a query value.
std::string encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// `path` with the query `params` whose values are not empty.
std::string target(std::string path,
                   std::initializer_list<std::pair<const char*, std::string>> params) {
  char sep = '?';
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    path += sep;
    path += k;
    path += '=';
    path += encode(v);
    sep = '&';
  }
  return path;
}

ToolPlan one(std::string method, std::string target_path, std::string body = "") {
  ToolPlan plan;
  plan.calls.push_back({std::move(method), std::move(target_path), std::move(body)});
  return plan;
}

ToolPlan refuse(std::string why) {
  ToolPlan plan;
  plan.refusal = std::move(why);
  return plan;
}

// snake_case -> camelCase.
std::string camel(const std::string& snake) {
  std::string out;
  bool up = false;
  for (char c : snake) {
    if (c == '_') {
      up = true;
    } else {
      out.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
      up = false;
    }
  }
  return out;
}

// The agent body of create_agent / update_agent: the given fields, camelCased.
json::object agent_body(const json::object& args) {
  json::object body;
  static const json::object fields = agent_fields();
  for (const auto& [k, v] : args) {
    if (k == "name" || fields.contains(k)) body[camel(std::string(k))] = v;
  }
  return body;
}

std::string agent_path(const json::object& args) {
  return "/v1/agents/" + encode(text(args, "agent_id"));
}

// The webhook route: the agent's when agent_id is given, else the project's.
std::string webhook_path(const json::object& args, const char* rest = "") {
  return has(args, "agent_id") ? agent_path(args) + "/webhook" + rest
                               : std::string("/v1/webhooks") + rest;
}

constexpr const char* kAiDisclosure = "Hello, this is an AI assistant calling. ";
constexpr const char* kConversationPrompt =
    "You are an AI assistant making a phone call on behalf of your user. Say that you are an AI "
    "if asked, stay on the topic below, be brief and polite, and end the call when the topic is "
    "done.\n\nTopic: ";

std::vector<Tool> build_tools() {
  std::vector<Tool> t;
  auto add = [&t](Tool tool) { t.push_back(std::move(tool)); };
  // Reading tools are read-only and idempotent.
  auto reading = [](Tool tool) {
    tool.read_only = true;
    tool.idempotent = true;
    return tool;
  };
  // Tools whose result holds a webhook secret.
  auto masking = [](Tool tool) {
    tool.masks_secret = true;
    return tool;
  };

  add(reading({"account_overview", "Account Overview",
               "One-shot summary of the account: agents, numbers, the project webhook and usage.",
               schema({}), false, false, false, false, +[](const json::object&) {
                 ToolPlan plan;
                 plan.calls = {{"GET", "/v1/agents?limit=100&offset=0", ""},
                               {"GET", "/v1/numbers?limit=100&offset=0", ""},
                               {"GET", "/v1/webhooks", ""},
                               {"GET", "/v1/usage", ""}};
                 plan.names = {"agents", "numbers", "webhook", "usage"};
                 return plan;
               }}));
  add(reading({"list_numbers", "List Phone Numbers", "List the account's phone numbers.",
               schema(paging(100, 20)), false, false, false, false, +[](const json::object& a) {
                 return one("GET", target("/v1/numbers", {{"limit", integer(a, "limit", 20)},
                                                          {"offset", integer(a, "offset", 0)}}));
               }}));
  add({"buy_number", "Buy Phone Number",
       "Buy a phone number ($3.00 per 30 days). Nothing is bought unless confirm is true.",
       schema({{"country", pattern("^[A-Z]{2}$", "Two-letter country code (US or CA)")},
               {"area_code", pattern("^\\d{3}$", "Three-digit area code")},
               {"agent_id", str("Agent to attach the number to")},
               {"confirm", boolean(false, "Set true to buy; false only explains the cost")}}),
       false, true, false, true, +[](const json::object& a) {
         if (!flag(a, "confirm", false)) {
           ToolPlan plan;
           plan.notice =
               "Nothing was bought. A number costs $3.00 now and every 30 days after; call "
               "buy_number again with confirm: true to buy it.";
           return plan;
         }
         json::object body{{"country", has(a, "country") ? text(a, "country") : "US"}};
         if (has(a, "area_code")) body["areaCode"] = text(a, "area_code");
         if (has(a, "agent_id")) body["agentId"] = text(a, "agent_id");
         return one("POST", "/v1/numbers", json::serialize(body));
       }});
  add({"send_message", "Send Message",
       "Send an SMS from one of your numbers (give agent_id, number_id or from_number).",
       schema({{"to_number", str("Recipient, E.164 (+14155550123)")},
               {"body", str("Message text")},
               {"agent_id", str("Send from this agent's number")},
               {"number_id", str("Send from this number")},
               {"from_number", str("Send from this number, E.164")},
               {"media_url", uri("A public media URL")},
               {"media_urls", json::object{{"type", "array"},
                                           {"items", uri("A public media URL")},
                                           {"description", "Public media URLs"}}},
               {"reply_to_message_id", str("Reply to this message (iMessage)")},
               {"send_style",
                one_of({"celebration", "fireworks", "lasers", "love", "confetti", "balloons",
                        "spotlight", "echo", "invisible", "gentle", "loud", "slam"},
                       "iMessage effect")}},
              {"to_number", "body"}),
       false, false, false, true, +[](const json::object& a) {
         if (!has(a, "agent_id") && !has(a, "number_id") && !has(a, "from_number")) {
           return refuse("Give one of agent_id, number_id or from_number to send from.");
         }
         const std::string to = text(a, "to_number");
         if (!to.empty() && to[0] == '+' && !std::regex_match(to, compiled(kE164))) {
           return refuse("to_number must be E.164, e.g. +14155550123.");
         }
         json::object body;
         for (const char* k : {"to_number", "body", "agent_id", "number_id", "from_number",
                               "media_url", "media_urls", "reply_to_message_id", "send_style"}) {
           if (has(a, k)) body[k] = *a.if_contains(k);
         }
         return one("POST", "/v1/messages", json::serialize(body));
       }});
  add(reading({"get_messages", "Get Messages", "Messages of one number, newest first.",
               schema(merged({{"number_id", str("The number")}}, paging(200, 50)), {"number_id"}),
               false, false, false, false, +[](const json::object& a) {
                 return one("GET",
                            target("/v1/numbers/" + encode(text(a, "number_id")) + "/messages",
                                   {{"limit", integer(a, "limit", 50)},
                                    {"offset",
                                     has(a, "offset") ? integer(a, "offset", 0) : std::string()}}));
               }}));
  add(reading(
      {"list_calls", "List Calls",
       "List calls: all of them (with filters), or one agent's or one number's.",
       schema(merged({{"agent_id", str("Only this agent's calls")},
                      {"number_id", str("Only this number's calls")},
                      {"status", str("Only calls with this status")},
                      {"direction", one_of({"inbound", "outbound"}, "Only this direction")},
                      {"search", str("Only calls whose numbers contain this")}},
                     paging(100, 20))),
       false, false, false, false, +[](const json::object& a) {
         const std::string limit = integer(a, "limit", 20), offset = integer(a, "offset", 0);
         const bool filtered = has(a, "status") || has(a, "direction") || has(a, "search");
         if (has(a, "agent_id") && has(a, "number_id")) {
           return refuse("Give agent_id or number_id, not both.");
         }
         if ((has(a, "agent_id") || has(a, "number_id")) && filtered) {
           return refuse("status, direction and search filter all calls; drop agent_id/number_id.");
         }
         if (has(a, "number_id")) {
           return one("GET", target("/v1/numbers/" + encode(text(a, "number_id")) + "/calls",
                                    {{"limit", limit}, {"offset", offset}}));
         }
         if (has(a, "agent_id")) {
           return one("GET",
                      target(agent_path(a) + "/calls", {{"limit", limit}, {"offset", offset}}));
         }
         return one("GET", target("/v1/calls", {{"limit", limit},
                                                {"offset", offset},
                                                {"status", text(a, "status")},
                                                {"direction", text(a, "direction")},
                                                {"search", text(a, "search")}}));
       }}));
  add(reading({"get_call", "Get Call",
               "A call with its transcript; wait: true waits for the call to end.",
               schema({{"call_id", str("The call")},
                       {"wait", boolean(false, "Wait until the call ends")},
                       {"timeout", number(10, 300, 120, "Longest wait, in seconds")}},
                      {"call_id"}),
               false, false, false, false, +[](const json::object& a) {
                 const bool wait = flag(a, "wait", false);
                 return one("GET", target("/v1/calls/" + encode(text(a, "call_id")),
                                          {{"wait", wait ? "true" : ""},
                                           {"timeout", wait ? integer(a, "timeout", 120) : ""}}));
               }}));
  add({"make_call", "Make Call", "Place an outbound call answered by the agent's webhook.",
       schema({{"agent_id", str("The agent making the call")},
               {"to_number", pattern(kE164, "Who to call, E.164")},
               {"initial_greeting", str("What to say first")},
               {"from_number_id", str("Call from this number")},
               {"voice", str("Voice id")}},
              {"agent_id", "to_number"}),
       false, false, false, true, +[](const json::object& a) {
         json::object body{{"agentId", text(a, "agent_id")}, {"toNumber", text(a, "to_number")}};
         body["initialGreeting"] = std::string(kAiDisclosure) + text(a, "initial_greeting");
         if (has(a, "from_number_id")) body["fromNumberId"] = text(a, "from_number_id");
         if (has(a, "voice")) body["voice"] = text(a, "voice");
         return one("POST", "/v1/calls", json::serialize(body));
       }});
  add({"make_conversation_call", "Make Conversation Call",
       "Place a call an AI holds on its own about a topic; by default waits for it to end and "
       "returns the transcript.",
       schema({{"agent_id", str("The agent making the call")},
               {"to_number", pattern(kE164, "Who to call, E.164")},
               {"topic", str("What the call is about")},
               {"initial_greeting", str("What to say first")},
               {"wait", boolean(true, "Wait for the call to end")},
               {"max_wait_seconds", number(10, 600, 300, "Longest wait, in seconds")},
               {"from_number_id", str("Call from this number")},
               {"voice", str("Voice id")}},
              {"agent_id", "to_number", "topic"}),
       false, false, false, true, +[](const json::object& a) {
         const bool wait = flag(a, "wait", true);
         json::object body{{"agentId", text(a, "agent_id")},
                           {"toNumber", text(a, "to_number")},
                           {"systemPrompt", std::string(kConversationPrompt) + text(a, "topic")},
                           {"waitForCompletion", wait}};
         if (has(a, "initial_greeting")) {
           body["initialGreeting"] = std::string(kAiDisclosure) + text(a, "initial_greeting");
         }
         if (wait) body["maxWaitSeconds"] = std::stoll(integer(a, "max_wait_seconds", 300));
         if (has(a, "from_number_id")) body["fromNumberId"] = text(a, "from_number_id");
         if (has(a, "voice")) body["voice"] = text(a, "voice");
         return one("POST", "/v1/calls", json::serialize(body));
       }});
  add(reading({"list_agents", "List Agents", "List the account's agents.", schema(paging(100, 20)),
               false, false, false, false, +[](const json::object& a) {
                 return one("GET", target("/v1/agents", {{"limit", integer(a, "limit", 20)},
                                                         {"offset", integer(a, "offset", 0)}}));
               }}));
  add({"create_agent", "Create Agent", "Create an agent.",
       schema(merged({{"name", str("The agent's name")}}, agent_fields()), {"name"}), false, false,
       false, false, +[](const json::object& a) {
         return one("POST", "/v1/agents", json::serialize(agent_body(a)));
       }});
  add({"update_agent", "Update Agent", "Change an agent's settings; give only what changes.",
       schema(merged({{"agent_id", str("The agent")}, {"name", str("The agent's name")}},
                     agent_fields()),
              {"agent_id"}),
       false, false, true, false, +[](const json::object& a) {
         return one("PATCH", agent_path(a), json::serialize(agent_body(a)));
       }});
  add({"delete_agent", "Delete Agent", "Delete an agent; its numbers stay, unassigned.",
       schema({{"agent_id", str("The agent")}}, {"agent_id"}), false, true, true, false,
       +[](const json::object& a) { return one("DELETE", agent_path(a)); }});
  add(reading({"get_agent", "Get Agent", "An agent with its numbers.",
               schema({{"agent_id", str("The agent")}}, {"agent_id"}), false, false, false, false,
               +[](const json::object& a) { return one("GET", agent_path(a)); }}));
  add({"attach_number", "Attach Number", "Assign a number to an agent.",
       schema({{"agent_id", str("The agent")}, {"number_id", str("The number")}},
              {"agent_id", "number_id"}),
       false, false, true, false, +[](const json::object& a) {
         return one("POST", agent_path(a) + "/numbers",
                    json::serialize(json::object{{"numberId", text(a, "number_id")}}));
       }});
  add({"detach_number", "Detach Number", "Unassign a number from an agent.",
       schema({{"agent_id", str("The agent")}, {"number_id", str("The number")}},
              {"agent_id", "number_id"}),
       false, false, true, false, +[](const json::object& a) {
         return one("DELETE", agent_path(a) + "/numbers/" + encode(text(a, "number_id")));
       }});
  add(reading({"list_voices", "List Voices", "The voices agents can speak with.", schema({}), false,
               false, false, false,
               +[](const json::object&) { return one("GET", "/v1/agents/voices"); }}));
  add(reading(
      {"list_conversations", "List Conversations",
       "Conversation threads, newest first: all, or one agent's.",
       schema(merged({{"agent_id", str("Only this agent's conversations")}}, paging(100, 20))),
       false, false, false, false, +[](const json::object& a) {
         const std::string path =
             has(a, "agent_id") ? agent_path(a) + "/conversations" : "/v1/conversations";
         return one("GET", target(path, {{"limit", integer(a, "limit", 20)},
                                         {"offset", integer(a, "offset", 0)}}));
       }}));
  add(reading({"get_conversation", "Get Conversation", "A conversation with its latest messages.",
               schema({{"conversation_id", str("The conversation")},
                       {"message_limit", number(1, 100, 50, "How many messages")}},
                      {"conversation_id"}),
               false, false, false, false, +[](const json::object& a) {
                 return one("GET", target("/v1/conversations/" + encode(text(a, "conversation_id")),
                                          {{"message_limit", integer(a, "message_limit", 50)}}));
               }}));
  add({"update_conversation", "Update Conversation",
       "Set a conversation's metadata (an object), or clear it (null).",
       schema({{"conversation_id", str("The conversation")},
               {"metadata", json::object{{"type", json::array{"object", "null"}},
                                         {"description", "Metadata, or null to clear it"}}}},
              {"conversation_id", "metadata"}),
       false, false, true, false, +[](const json::object& a) {
         return one("PATCH", "/v1/conversations/" + encode(text(a, "conversation_id")),
                    json::serialize(json::object{{"metadata", domain::field(a, "metadata")}}));
       }});
  add(reading(
      {"list_contacts", "List Contacts",
       "The address book, oldest first; search matches name, email or phone number.",
       schema(merged({{"search", str("Only contacts whose name, email or number has this")}},
                     paging(100, 50))),
       false, false, false, false, +[](const json::object& a) {
         return one("GET", target("/v1/contacts", {{"limit", integer(a, "limit", 50)},
                                                   {"offset", integer(a, "offset", 0)},
                                                   {"search", text(a, "search")}}));
       }}));
  add({"manage_contact", "Manage Contact",
       "Create a contact (phone_number and name), or update or delete one (contact_id).",
       schema({{"action", one_of({"create", "update", "delete"}, "What to do")},
               {"contact_id", str("The contact (update, delete)")},
               {"phone_number", pattern(kE164, "Phone number in E.164, e.g. +14155551234")},
               {"name", str("The contact's name")},
               {"email", email("The contact's email address")},
               {"notes", str("Free-form notes")}},
              {"action"}),
       false, true, false, false, +[](const json::object& a) {
         const std::string action = text(a, "action");
         json::object body;
         for (const char* key : {"phone_number", "name", "email", "notes"}) {
           if (const json::value* value = a.if_contains(key)) body[camel(key)] = *value;
         }
         if (action == "create") {
           if (!has(a, "phone_number") || !has(a, "name")) {
             return refuse("create needs phone_number and name");
           }
           return one("POST", "/v1/contacts", json::serialize(body));
         }
         if (!has(a, "contact_id")) return refuse(action + " needs contact_id");
         const std::string path = "/v1/contacts/" + encode(text(a, "contact_id"));
         if (action == "delete") return one("DELETE", path);
         if (body.empty()) return refuse("update needs a field to change");
         return one("PATCH", path, json::serialize(body));
       }});
  add(reading(
      {"get_usage", "Get Usage", "Usage: a summary, or daily or monthly points.",
       schema({{"breakdown", json::object{{"type", "string"},
                                          {"enum", json::array{"summary", "daily", "monthly"}},
                                          {"default", "summary"},
                                          {"description", "What to return"}}},
               {"days", number(1, 365, 30, "Days of daily points")},
               {"months", number(1, 24, 12, "Months of monthly points")}}),
       false, false, false, false, +[](const json::object& a) {
         const std::string breakdown = has(a, "breakdown") ? text(a, "breakdown") : "summary";
         if (breakdown == "daily") {
           return one("GET", target("/v1/usage/daily", {{"days", integer(a, "days", 30)}}));
         }
         if (breakdown == "monthly") {
           return one("GET", target("/v1/usage/monthly", {{"months", integer(a, "months", 12)}}));
         }
         return one("GET", "/v1/usage");
       }}));
  add(masking(reading({"get_webhook", "Get Webhook",
                       "The webhook: an agent's, or the project's. The secret is masked unless "
                       "reveal_secret is true.",
                       schema({{"agent_id", str("This agent's webhook")},
                               {"reveal_secret", boolean(false, "Show the signing secret")}}),
                       false, false, false, false,
                       +[](const json::object& a) { return one("GET", webhook_path(a)); }})));
  add(masking(
      {"set_webhook", "Set Webhook",
       "Send this account's (or one agent's) events to a URL. The secret is masked unless "
       "reveal_secret is true.",
       schema({{"url", uri("HTTPS URL that receives the events")},
               {"agent_id", str("Only this agent's events")},
               {"context_limit", number(0, 50, std::nullopt, "Messages of history per event")},
               {"timeout", number(5, 120, std::nullopt, "Seconds to wait for an answer")},
               {"reveal_secret", boolean(false, "Show the signing secret")}},
              {"url"}),
       false, false, true, false, +[](const json::object& a) {
         json::object body{{"url", text(a, "url")}};
         if (has(a, "context_limit")) body["contextLimit"] = domain::field(a, "context_limit");
         if (has(a, "timeout")) body["timeout"] = domain::field(a, "timeout");
         return one("POST", webhook_path(a), json::serialize(body));
       }}));
  add({"delete_webhook", "Delete Webhook", "Stop sending events (an agent's, or the project's).",
       schema({{"agent_id", str("This agent's webhook")}}), false, true, true, false,
       +[](const json::object& a) { return one("DELETE", webhook_path(a)); }});
  add({"test_webhook", "Test Webhook", "Send a signed test event to the webhook.",
       schema({{"agent_id", str("This agent's webhook")}}), false, false, false, true,
       +[](const json::object& a) { return one("POST", webhook_path(a, "/test")); }});
  add(reading({"list_webhook_deliveries", "List Webhook Deliveries",
               "Recent webhook deliveries with their outcome.",
               schema({{"agent_id", str("This agent's deliveries")},
                       {"limit", number(1, 100, 20, "How many to return")},
                       {"hours", number(1, 0, std::nullopt, "Only the last this many hours")}}),
               false, false, false, false, +[](const json::object& a) {
                 return one(
                     "GET",
                     target(webhook_path(a, "/deliveries"),
                            {{"limit", integer(a, "limit", 20)},
                             {"hours", has(a, "hours") ? integer(a, "hours", 1) : std::string()}}));
               }}));
  return t;
}

// ---- Argument validation.

// A bound as people write it: "100", not "1E2".
std::string bound(const json::value& v) {
  const double d = v.to_number<double>();
  if (d == static_cast<double>(static_cast<long long>(d))) {
    return std::to_string(static_cast<long long>(d));
  }
  return json::serialize(v);
}

bool is_type(const json::value& v, std::string_view type) {
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return v.is_int64() || v.is_uint64();
  if (type == "boolean") return v.is_bool();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return false;
}

std::string check(const json::object& s, const json::value& v, const std::string& name) {
  if (const json::value* type = s.if_contains("type")) {
    bool ok = false;
    std::string expected;
    if (type->is_string()) {
      ok = is_type(v, type->as_string());
      expected = std::string(type->as_string());
    } else {
      for (const json::value& t : type->as_array()) {
        ok = ok || is_type(v, t.as_string());
        expected += (expected.empty() ? "" : " or ") + std::string(t.as_string());
      }
    }
    if (!ok) return name + " must be " + expected;
  }
  if (const json::value* e = s.if_contains("enum")) {
    bool found = false;
    for (const json::value& option : e->as_array()) found = found || option == v;
    if (!found) return name + " must be one of " + json::serialize(*e);
  }
  if (v.is_number()) {
    const double d = v.to_number<double>();
    if (const json::value* min = s.if_contains("minimum"); min && d < min->to_number<double>()) {
      return name + " must be at least " + bound(*min);
    }
    if (const json::value* max = s.if_contains("maximum"); max && d > max->to_number<double>()) {
      return name + " must be at most " + bound(*max);
    }
  }
  if (v.is_string()) {
    const std::string text(v.as_string());
    if (const json::value* p = s.if_contains("pattern");
        p && !std::regex_search(text, compiled(std::string(p->as_string())))) {
      return name + " must match " + std::string(p->as_string());
    }
    if (const json::value* f = s.if_contains("format"); f && f->as_string() == "uri" &&
                                                        text.rfind("https://", 0) != 0 &&
                                                        text.rfind("http://", 0) != 0) {
      return name + " must be an http(s) URL";
    }
    if (const json::value* f = s.if_contains("format");
        f && f->as_string() == "email" && text.find('@') == std::string::npos) {
      return name + " must be an email address";
    }
  }
  if (v.is_array()) {
    if (const json::value* items = s.if_contains("items")) {
      const json::array& list = v.as_array();
      for (std::size_t i = 0; i < list.size(); ++i) {
        std::string problem =
            check(items->as_object(), list[i], name + "[" + std::to_string(i) + "]");
        if (!problem.empty()) return problem;
      }
    }
  }
  return "";
}

}  // namespace

const std::vector<Tool>& tools() {
  static const std::vector<Tool> kTools = build_tools();
  return kTools;
}

const Tool* find_tool(const std::string& name) {
  for (const Tool& tool : tools()) {
    if (name == tool.name) return &tool;
  }
  return nullptr;
}

std::string validate_arguments(const json::object& schema_object, const json::object& args) {
  if (const json::value* required = schema_object.if_contains("required")) {
    for (const json::value& name : required->as_array()) {
      if (!args.contains(name.as_string())) {
        return "Missing required argument " + std::string(name.as_string());
      }
    }
  }
  const json::object& properties = domain::field(schema_object, "properties").as_object();
  for (const auto& [name, value] : args) {
    const json::value* s = properties.if_contains(name);
    if (s == nullptr) continue;  // Unknown arguments are ignored, as the official server does.
    std::string problem = check(s->as_object(), value, std::string(name));
    if (!problem.empty()) return problem;
  }
  return "";
}

json::object describe(const Tool& tool) {
  return {{"name", tool.name},
          {"title", tool.title},
          {"description", tool.description},
          {"inputSchema", tool.input_schema},
          {"annotations", json::object{{"title", tool.title},
                                       {"readOnlyHint", tool.read_only},
                                       {"destructiveHint", tool.destructive},
                                       {"idempotentHint", tool.idempotent},
                                       {"openWorldHint", tool.open_world}}}};
}

}  // namespace ap::http::mcp
