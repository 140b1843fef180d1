#include "actors/webhook.hpp"

#include <arpa/inet.h>
#include <openssl/hmac.h>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "actors/invariant.hpp"
#include "actors/secrets.hpp"

namespace ap::domain {

// ---- URL rules -----------------------------------------------------------

namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

bool is_localhost_name(const std::string& host) {
  return host == "localhost" || host.ends_with(".localhost") || host == "localhost.";
}

}  // namespace

std::string forbidden_address_reason(const std::string& ip, bool production) {
  unsigned char a[16];
  if (inet_pton(AF_INET, ip.c_str(), a) == 1) {
    if (a[0] == 169 && a[1] == 254) return ip + " is a link-local (cloud metadata) address";
    if (a[0] == 0) return ip + " is not a routable address";
    if (!production) return "";
    if (a[0] == 127) return ip + " is a loopback address";
    if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168)) {
      return ip + " is a private address";
    }
    if (a[0] == 100 && (a[1] & 0xc0) == 64) return ip + " is a carrier-grade NAT address";
    if ((a[0] == 192 && a[1] == 0 && a[2] == 0) || (a[0] == 198 && (a[1] & 0xfe) == 18)) {
      return ip + " is a reserved address";
    }
    if (a[0] >= 224) return ip + " is a multicast or reserved address";
    return "";
  }
  if (inet_pton(AF_INET6, ip.c_str(), a) == 1) {
    // Addresses that carry an IPv4 address are judged by it: IPv4-mapped
    // (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96)
    // and 6to4 (2002:AABB:CCDD::/48).
    auto embedded = [&](const unsigned char* v4_bytes) {
      char v4[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, v4_bytes, v4, sizeof v4);
      const std::string why = forbidden_address_reason(v4, production);
      return why.empty() ? why : ip + " carries " + why;
    };
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char kCompatible[12] = {};
    static const unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    const bool tiny = std::memcmp(a, kCompatible, 12) == 0 && a[12] == 0 && a[13] == 0 &&
                      a[14] == 0 && a[15] <= 1;  // :: and ::1 are not IPv4-compatible.
    if (std::memcmp(a, kMapped, 12) == 0 || std::memcmp(a, kNat64, 12) == 0 ||
        (std::memcmp(a, kCompatible, 12) == 0 && !tiny)) {
      return embedded(a + 12);
    }
    if (a[0] == 0x20 && a[1] == 0x02) return embedded(a + 2);
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return ip + " is a link-local address";
    if (a[0] == 0xfd && a[1] == 0x00 && a[2] == 0x0e && a[3] == 0xc2) {
      return ip + " is a cloud metadata address";
    }
    if (!production) return "";
    static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char kAny[16] = {};
    if (std::memcmp(a, kLoopback, 16) == 0) return ip + " is a loopback address";
    if (std::memcmp(a, kAny, 16) == 0) return ip + " is not a routable address";
    if ((a[0] & 0xfe) == 0xfc) return ip + " is a private (unique local) address";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return ip + " is a site-local address";
    if (a[0] == 0xff) return ip + " is a multicast address";
    return "";
  }
  return ip + " is not an IP address";
}

std::string parse_webhook_url(const std::string& text, bool production, WebhookUrl* out) {
  if (text.empty() || text.size() > kMaxWebhookUrlBytes) {
    return "url must be 1 to " + std::to_string(kMaxWebhookUrlBytes) + " characters";
  }
  for (const unsigned char c : text) {
    if (c <= 0x20 || c >= 0x7f) return "url must not contain spaces or non-ASCII characters";
  }
  WebhookUrl url;
  const std::size_t colon = text.find("://");
  if (colon == std::string::npos) return "url must be an absolute http(s) URL";
  url.scheme = text.substr(0, colon);
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(), ::tolower);
  if (url.scheme != "https" && url.scheme != "http") return "url must use https";
  if (url.scheme == "http" && production) return "url must use https";
  const std::size_t authority_start = colon + 3;
  const std::size_t path_start = text.find_first_of("/?#", authority_start);
  std::string authority = text.substr(authority_start, path_start - authority_start);
  if (authority.find('@') != std::string::npos) return "url must not contain credentials";
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) return "url has an unterminated IPv6 address";
    url.host = authority.substr(1, close - 1);
    const std::string rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "url has a malformed host";
      url.port = rest.substr(1);
    }
  } else {
    const std::size_t port_colon = authority.rfind(':');
    url.host = authority.substr(0, port_colon);
    if (port_colon != std::string::npos) url.port = authority.substr(port_colon + 1);
  }
  std::transform(url.host.begin(), url.host.end(), url.host.begin(), ::tolower);
  if (url.host.empty()) return "url must name a host";
  if (url.port.empty()) {
    url.port = url.scheme == "https" ? "443" : "80";
  } else if (url.port.size() > 5 || !std::all_of(url.port.begin(), url.port.end(), ::isdigit) ||
             std::stoi(url.port) < 1 || std::stoi(url.port) > 65535) {
    return "url has an invalid port";
  }
  if (path_start == std::string::npos) {
    url.target = "/";
  } else {
    url.target = text.substr(path_start);
    if (url.target.front() != '/') url.target.insert(0, "/");
    const std::size_t hash = url.target.find('#');
    if (hash != std::string::npos) url.target.resize(hash);
  }
  in_addr loose;
  if (!is_ip_literal(url.host) && inet_aton(url.host.c_str(), &loose) != 0) {
    // "2130706433", "0x7f.1" and "127.1" all mean 127.0.0.1 to a resolver.
    return "url host " + url.host + " must be written as a dotted-quad IPv4 address";
  }
  if (is_ip_literal(url.host)) {
    if (std::string why = forbidden_address_reason(url.host, production); !why.empty()) {
      return "url host " + why;
    }
  } else if (production && is_localhost_name(url.host)) {
    return "url host localhost is a loopback address";
  }
  *out = std::move(url);
  return "";
}

// ---- Configuration aggregate ---------------------------------------------

std::string project_webhook_entity(std::string_view account_id) {
  return "project-" + std::string(account_id);
}

std::string agent_webhook_entity(std::string_view agent_id) {
  return "agent-" + std::string(agent_id);
}

Decision decide_webhook(const WebhookState& state, const Command& command, const Context& context) {
  if (!state.account_id.empty() && state.account_id != command.account_id) {
    return not_found("Webhook not found");
  }
  const json::object& a = command.args;
  if (command.type == "webhook.delete") {
    if (!state.exists) return not_found("No webhook is configured");
    return std::vector<Event>{Event{
        "webhook.deleted",
        {{"accountId", state.account_id}, {"entity", state.id}, {"webhookId", state.webhook_id}}}};
  }
  if (command.type != "webhook.set") return unknown_command(command.type);
  std::int64_t context_limit = kDefaultContextLimit;
  std::int64_t timeout_s = kDefaultWebhookTimeoutS;
  std::vector<FieldError> errors;
  if (const json::value* v = a.if_contains("contextLimit"); v != nullptr && !v->is_null()) {
    if (!v->is_int64()) {
      errors.push_back({"contextLimit", "Input should be a valid integer", "int_type"});
    } else if (v->as_int64() < 0 || v->as_int64() > kMaxContextLimit) {
      errors.push_back({"contextLimit",
                        "contextLimit must be between 0 and " + std::to_string(kMaxContextLimit),
                        "value_error"});
    } else {
      context_limit = v->as_int64();
    }
  }
  if (const json::value* v = a.if_contains("timeout"); v != nullptr && !v->is_null()) {
    if (!v->is_int64()) {
      errors.push_back({"timeout", "Input should be a valid integer", "int_type"});
    } else if (v->as_int64() < kMinWebhookTimeoutS || v->as_int64() > kMaxWebhookTimeoutS) {
      errors.push_back({"timeout",
                        "timeout must be between " + std::to_string(kMinWebhookTimeoutS) + " and " +
                            std::to_string(kMaxWebhookTimeoutS) + " seconds",
                        "value_error"});
    } else {
      timeout_s = v->as_int64();
    }
  }
  if (!errors.empty()) return validation_error(std::move(errors));
  const json::value webhook_id =
      state.webhook_id.empty() ? field(a, "webhookId") : json::value(state.webhook_id);
  const json::value created_at =
      state.exists ? field(state.config, "createdAt") : json::value(iso8601(context.now_ms));
  json::object config{{"id", webhook_id},
                      {"url", field(a, "url")},
                      {"secret", "whsec_" + random_hex(*context.entropy, 24)},
                      {"status", "active"},
                      {"contextLimit", context_limit},
                      {"timeout", timeout_s},
                      {"createdAt", created_at}};
  return std::vector<Event>{Event{"webhook.configured",
                                  {{"accountId", command.account_id},
                                   {"entity", state.id},
                                   {"agentId", field(a, "agentId")},
                                   {"webhookId", webhook_id},
                                   {"config", std::move(config)}}}};
}

void evolve_webhook(WebhookState& state, const std::string& type, const json::object& data) {
  if (type == "webhook.configured") {
    state.exists = true;
    state.account_id = std::string(field(data, "accountId").as_string());
    state.webhook_id = std::string(field(data, "webhookId").as_string());
    state.config = field(data, "config").as_object();
  } else if (type == "webhook.deleted") {
    state.exists = false;
    state.config = {};
  }
}

json::object webhook_snapshot(const WebhookState& state) {
  return {{"exists", state.exists},
          {"accountId", state.account_id},
          {"webhookId", state.webhook_id},
          {"config", state.config}};
}

void restore_webhook(WebhookState& state, const json::object& o) {
  state.exists = field(o, "exists").as_bool();
  state.account_id = std::string(field(o, "accountId").as_string());
  state.webhook_id = std::string(field(o, "webhookId").as_string());
  state.config = field(o, "config").as_object();
}

// ---- Delivery aggregate ----------------------------------------------------

std::string delivery_id_for(std::string_view event_type, std::string_view subject) {
  std::string key(event_type);
  key.push_back('|');
  key.append(subject);
  return "whd_" + sha256_hex(key).substr(0, 24);
}

bool is_test_delivery(const json::object& created) {
  const json::value* test = created.if_contains("test");
  return test != nullptr && test->is_bool() && test->as_bool();
}

bool was_sent_when_recorded(const json::object& created) {
  const json::value* sent = created.if_contains("sent");
  // Test sends recorded before "sent" existed carry only "test".
  return is_test_delivery(created) || (sent != nullptr && sent->is_bool() && sent->as_bool());
}

std::string delivery_stream(std::string_view delivery_id) {
  return "delivery-" + std::string(delivery_id);
}

Event delivery_event(const std::string& delivery_id, const std::string& account,
                     const json::value& webhook, const json::value& agent_id,
                     const std::string& event_type, const json::value& channel,
                     const json::value& message_id, const json::value& conversation_id,
                     std::string body, std::int64_t now_ms) {
  json::object data{
      {"deliveryId", delivery_id}, {"accountId", account},    {"entity", nullptr},
      {"webhookId", nullptr},      {"agentId", agent_id},     {"eventType", event_type},
      {"channel", channel},        {"messageId", message_id}, {"conversationId", conversation_id},
      {"createdAtMs", now_ms}};
  if (webhook.is_null()) {
    data["reason"] = "No webhook is configured for this agent or project";
    return Event{"webhook.delivery_skipped", std::move(data), delivery_stream(delivery_id), true};
  }
  data["entity"] = field(webhook, "entity");
  data["webhookId"] = field(webhook, "webhookId");
  data["body"] = std::move(body);
  return Event{"webhook.delivery_created", std::move(data), delivery_stream(delivery_id), true};
}

namespace {

// `delay_ms` ±20 % jitter drawn from `seed`: delays of many deliveries spread
// out, and a replay of the log computes the same times.
std::int64_t jittered(std::int64_t delay_ms, const std::string& seed) {
  const std::string h = sha256_hex(seed);
  const int permille = static_cast<int>(std::stoul(h.substr(0, 4), nullptr, 16) % 400) - 200;
  return delay_ms + delay_ms * permille / 1000;
}

}  // namespace

std::int64_t retry_delay_ms(const std::string& delivery_id, int attempt, std::int64_t base_ms,
                            std::int64_t retry_after_ms) {
  std::int64_t delay = base_ms;
  for (int i = 1; i < attempt && delay < kMaxRetryDelayMs; ++i) delay *= 4;
  delay = std::max(jittered(delay, delivery_id + "#" + std::to_string(attempt)), retry_after_ms);
  return std::clamp<std::int64_t>(delay, 0, kMaxRetryDelayMs);
}

std::int64_t defer_delay_ms(const std::string& delivery_id, int deferrals, std::int64_t base_ms) {
  AP_ASSERT(deferrals >= 1, "a delivery is deferred at least once");
  std::int64_t delay = base_ms;
  for (int i = 1; i < deferrals && delay < kMaxDeferDelayMs; ++i) delay *= 2;
  delay = jittered(delay, delivery_id + "#deferred#" + std::to_string(deferrals));
  return std::clamp<std::int64_t>(delay, 0, kMaxDeferDelayMs);
}

namespace {

// Whether an attempt's outcome counts as delivered: a 2xx and no error.
bool delivered(const json::value& http_status, const json::value& error) {
  return http_status.is_int64() && http_status.as_int64() >= 200 && http_status.as_int64() < 300 &&
         error.is_null();
}

json::value stored_response_body(json::value body) {
  if (body.is_string() && body.as_string().size() > kMaxStoredResponseBytes) {
    body = std::string(body.as_string().subview(0, kMaxStoredResponseBytes));
  }
  return body;
}

// A request made before this command (a test send, a voice turn) becomes a
// finished delivery of its own.
Decision record_sent_delivery(const DeliveryState& state, const Command& command, bool test) {
  const json::object& a = command.args;
  if (state.exists) return std::vector<Event>{};  // Recorded already.
  const std::string& id = state.id;
  auto arg = [&](const char* key, json::value fallback) {
    const json::value* v = a.if_contains(key);
    return v != nullptr ? *v : fallback;
  };
  json::object created{{"deliveryId", id},
                       {"accountId", command.account_id},
                       {"entity", field(a, "entity")},
                       {"webhookId", field(a, "webhookId")},
                       {"agentId", field(a, "agentId")},
                       {"eventType", arg("eventType", "agent.message")},
                       {"channel", arg("channel", "sms")},
                       {"messageId", field(a, "messageId")},
                       {"conversationId", nullptr},
                       {"createdAtMs", field(a, "createdAtMs")},
                       {"body", field(a, "body")},
                       {"test", test},
                       {"sent", true}};
  if (const json::value* call = a.if_contains("callId")) created["callId"] = *call;
  json::object attempted{
      {"deliveryId", id},
      {"accountId", command.account_id},
      {"attempt", 1},
      {"httpStatus", field(a, "httpStatus")},
      {"error", field(a, "error")},
      {"responseBody", stored_response_body(field(a, "responseBody"))},
      {"durationMs", field(a, "durationMs")},
      {"atMs", field(a, "createdAtMs")},
      {"status", delivered(field(a, "httpStatus"), field(a, "error")) ? "delivered" : "failed"},
      {"nextRetryAtMs", nullptr}};
  return std::vector<Event>{Event{"webhook.delivery_created", std::move(created)},
                            Event{"webhook.delivery_attempted", std::move(attempted)}};
}

}  // namespace

Decision decide_delivery(const DeliveryState& state, const Command& command,
                         const Context& context) {
  const json::object& a = command.args;
  if (command.type == "delivery.record_test") return record_sent_delivery(state, command, true);
  if (command.type == "delivery.record_sent") return record_sent_delivery(state, command, false);
  if (command.type != "delivery.attempt" && command.type != "delivery.abandon" &&
      command.type != "delivery.defer") {
    return unknown_command(command.type);
  }
  if (!state.exists || state.account_id != command.account_id) {
    return not_found("Delivery not found");
  }
  if (state.status != "pending") return std::vector<Event>{};
  json::object data{{"deliveryId", state.id}, {"accountId", state.account_id}};
  if (command.type == "delivery.abandon") {
    data["attempt"] = state.attempts;
    data["httpStatus"] = nullptr;
    data["error"] = field(a, "reason");
    data["responseBody"] = nullptr;
    data["durationMs"] = 0;
    data["atMs"] = context.now_ms;
    data["status"] = "failed";
    data["nextRetryAtMs"] = nullptr;
    return std::vector<Event>{Event{"webhook.delivery_attempted", std::move(data)}};
  }
  const int attempt = static_cast<int>(field(a, "attempt").as_int64());
  if (attempt != state.attempts + 1) return std::vector<Event>{};  // Stale or repeated.
  if (command.type == "delivery.defer") {
    const int deferrals = state.deferrals + 1;
    data["attempt"] = attempt;
    data["reason"] = field(a, "reason");
    data["deferrals"] = deferrals;
    data["atMs"] = context.now_ms;
    data["untilMs"] =
        context.now_ms + defer_delay_ms(state.id, deferrals, field(a, "deferBaseMs").as_int64());
    return std::vector<Event>{Event{"webhook.delivery_deferred", std::move(data)}};
  }
  const json::value& http_status = field(a, "httpStatus");
  const bool ok = delivered(http_status, field(a, "error"));
  json::value next = nullptr;
  std::string status = ok ? "delivered" : "failed";
  if (!ok && attempt < kMaxDeliveryAttempts) {
    const json::value& retry_after = field(a, "retryAfterMs");
    next = context.now_ms + retry_delay_ms(state.id, attempt, field(a, "retryBaseMs").as_int64(),
                                           retry_after.is_int64() ? retry_after.as_int64() : 0);
    status = "pending";
  }
  data["attempt"] = attempt;
  data["httpStatus"] = http_status;
  data["error"] = field(a, "error");
  data["responseBody"] = stored_response_body(field(a, "responseBody"));
  data["durationMs"] = field(a, "durationMs");
  data["atMs"] = context.now_ms;
  data["status"] = status;
  data["nextRetryAtMs"] = next;
  return std::vector<Event>{Event{"webhook.delivery_attempted", std::move(data)}};
}

void evolve_delivery(DeliveryState& state, const std::string& type, const json::object& data) {
  if (type == "webhook.delivery_created" || type == "webhook.delivery_skipped") {
    state.exists = true;
    state.account_id = std::string(field(data, "accountId").as_string());
    state.status = type == "webhook.delivery_created" ? "pending" : "skipped";
  } else if (type == "webhook.delivery_attempted") {
    state.attempts = static_cast<int>(field(data, "attempt").as_int64());
    state.status = std::string(field(data, "status").as_string());
  } else if (type == "webhook.delivery_deferred") {
    state.deferrals = static_cast<int>(field(data, "deferrals").as_int64());
  }
}

json::object delivery_snapshot(const DeliveryState& state) {
  return {{"exists", state.exists},
          {"accountId", state.account_id},
          {"status", state.status},
          {"attempts", state.attempts},
          {"deferrals", state.deferrals}};
}

void restore_delivery(DeliveryState& state, const json::object& o) {
  state.exists = field(o, "exists").as_bool();
  state.account_id = std::string(field(o, "accountId").as_string());
  state.status = std::string(field(o, "status").as_string());
  state.attempts = static_cast<int>(field(o, "attempts").as_int64());
  // Snapshots written before deferrals existed have none.
  state.deferrals = static_cast<int>(int_of(o, "deferrals", 0));
}

// ---- Payload and signature ---------------------------------------------------

std::string agent_message_body(const json::object& message, const json::value& contact,
                               const json::value& state, const std::vector<HistoryItem>& history,
                               const std::string& timestamp) {
  const json::array& media = field(message, "mediaUrls").as_array();
  json::array recent;
  for (const HistoryItem& item : history) {
    recent.push_back(json::object{{"messageId", item.message_id},
                                  {"content", item.content},
                                  {"direction", item.direction},
                                  {"channel", item.channel},
                                  {"at", item.at}});
  }
  json::object data{{"messageId", field(message, "messageId")},
                    {"conversationId", field(message, "conversationId")},
                    {"numberId", field(message, "numberId")},
                    {"from", field(message, "from")},
                    {"to", field(message, "to")},
                    {"contact", contact},
                    {"message", field(message, "body")},
                    {"mediaUrl", media.empty() ? json::value(nullptr) : media.front()},
                    {"mediaUrls", media},
                    {"direction", field(message, "direction")},
                    {"receivedAt", iso8601(field(message, "atMs").as_int64())}};
  return to_json(json::object{{"event", "agent.message"},
                              {"channel", field(message, "channel")},
                              {"timestamp", timestamp},
                              {"agentId", field(message, "agentId")},
                              {"data", std::move(data)},
                              {"conversationState", state},
                              {"recentHistory", std::move(recent)}});
}

std::string webhook_signature(const std::string& secret, const std::string& timestamp,
                              const std::string& body) {
  const std::string signed_text = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac,
       &length);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xf]);
  }
  return out;
}

}  // namespace ap::domain
