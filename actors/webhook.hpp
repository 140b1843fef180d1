// Webhooks (contract B.6, B.7, C): the configuration aggregate, the delivery
// aggregate with its retry schedule, URL rules, the agent.message payload and
// the signature. All pure; the HTTP client and scheduling live in http/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/conversation.hpp"
#include "actors/domain.hpp"

namespace ap::domain {

// ---- URL rules -----------------------------------------------------------

struct WebhookUrl {
  std::string scheme;  // "http" or "https".
  std::string host;    // Lower-case; an IPv6 literal without brackets.
  std::string port;    // Decimal; the scheme's default when absent.
  std::string target;  // Path and query, at least "/".
};

constexpr std::size_t kMaxWebhookUrlBytes = 2083;

// Parses `text` into `out`. Returns "" or why the URL is refused. In
// production mode only https is allowed and hosts that are private, loopback,
// link-local, cloud-metadata or "localhost" are refused; in sandbox mode http
// and local hosts are allowed so that agents on this machine can receive.
// Link-local and metadata addresses are refused in both modes.
std::string parse_webhook_url(const std::string& text, bool production, WebhookUrl* out);

// Why the resolved address `ip` (IPv4 or IPv6 text) may not receive
// webhooks, or "" when it may. Applied after DNS resolution at delivery time,
// so a DNS answer cannot smuggle in what the URL check refused.
std::string forbidden_address_reason(const std::string& ip, bool production);

// ---- Configuration aggregate ---------------------------------------------

constexpr std::int64_t kDefaultContextLimit = 10;
constexpr std::int64_t kMaxContextLimit = 50;
constexpr std::int64_t kDefaultWebhookTimeoutS = 30;
constexpr std::int64_t kMinWebhookTimeoutS = 5;
constexpr std::int64_t kMaxWebhookTimeoutS = 120;

// One webhook: the project's (entity id "project-<account>") or an agent's
// (entity id "agent-<agent id>").
struct WebhookState {
  std::string id;       // Entity id.
  bool exists = false;  // Configured now (false again after delete).
  std::string account_id;
  std::string webhook_id;  // "wh_…", kept across updates and re-creation.
  json::object config;     // The WebhookResponse fields.
};

std::string project_webhook_entity(std::string_view account_id);
std::string agent_webhook_entity(std::string_view agent_id);

// Commands:
//   "webhook.set"    args {webhookId (used when new), agentId|null, url,
//                          contextLimit?, timeout?}  -> webhook.configured
//   "webhook.delete" args {}                         -> webhook.deleted
// `url` was checked by parse_webhook_url. Every set draws a fresh signing
// secret, "whsec_" + 48 hex digits, from context.entropy.
Decision decide_webhook(const WebhookState& state, const Command& command, const Context& context);
void evolve_webhook(WebhookState& state, const std::string& type, const json::object& data);
json::object webhook_snapshot(const WebhookState& state);
void restore_webhook(WebhookState& state, const json::object& snapshot);

// ---- Delivery aggregate ----------------------------------------------------

constexpr int kMaxDeliveryAttempts = 6;
constexpr std::int64_t kMaxRetryDelayMs = 3'600'000;
constexpr std::size_t kMaxStoredResponseBytes = 1024;

struct DeliveryState {
  std::string id;  // "whd_…"
  bool exists = false;
  std::string account_id;
  std::string status;  // "pending", "delivered", "failed" or "skipped".
  int attempts = 0;
  int deferrals = 0;  // Times its next attempt was put off for want of room.
};

// The delay before attempt `attempt + 1` after attempt `attempt` failed:
// base × 4^(attempt − 1), ±20 % jitter drawn from the delivery id (so a
// replay computes the same schedule), at least `retry_after_ms`, at most
// kMaxRetryDelayMs.
std::int64_t retry_delay_ms(const std::string& delivery_id, int attempt, std::int64_t base_ms,
                            std::int64_t retry_after_ms);

// The delay before a delivery's next attempt, put off for the `deferrals`-th
// time because its endpoint or account had no room in the webhook engine:
// base × 2^(deferrals − 1), ±20 % jitter drawn from the delivery id, at most
// kMaxDeferDelayMs.
constexpr std::int64_t kMaxDeferDelayMs = 60'000;
std::int64_t defer_delay_ms(const std::string& delivery_id, int deferrals, std::int64_t base_ms);

// The stream of delivery `delivery_id`.
std::string delivery_stream(std::string_view delivery_id);

// The event that creates delivery `delivery_id` of `event_type` for `account`,
// appended by the aggregate whose event triggers it, in the same append:
// webhook.delivery_created with the body to send, or webhook.delivery_skipped
// when `webhook` is null (nothing configured). `webhook` is {entity, webhookId}.
Event delivery_event(const std::string& delivery_id, const std::string& account,
                     const json::value& webhook, const json::value& agent_id,
                     const std::string& event_type, const json::value& channel,
                     const json::value& message_id, const json::value& conversation_id,
                     std::string body, std::int64_t now_ms);

// Commands:
//   "delivery.attempt" args {attempt, httpStatus|null, error|null, responseBody|null,
//                            durationMs, retryAfterMs|null, retryBaseMs}
//                      -> webhook.delivery_attempted {status, nextRetryAtMs|null}
//   "delivery.abandon" args {reason} -> webhook.delivery_attempted (failed, no request made)
//   "delivery.defer" args {attempt, reason, deferBaseMs}
//                      -> webhook.delivery_deferred {attempt, reason, deferrals, untilMs}:
//                         attempt `attempt` was not made for want of room and waits
//                         until untilMs (defer_delay_ms); still pending, no attempt spent
//   "delivery.record_test" args {entity, webhookId, agentId|null, messageId, body,
//                                createdAtMs, httpStatus|null, error|null,
//                                responseBody|null, durationMs}
//                      -> webhook.delivery_created {test: true} and its one final
//                         webhook.delivery_attempted, in one append: a test send
//                         is history like any delivery but is never sent again.
//   "delivery.record_sent" the same args plus eventType, channel and callId, with
//                         test false: a voice turn, sent synchronously during its call
//                         and never retried.
// An attempt report that is not the next attempt, or comes after the end, changes nothing.
Decision decide_delivery(const DeliveryState& state, const Command& command,
                         const Context& context);
void evolve_delivery(DeliveryState& state, const std::string& type, const json::object& data);
json::object delivery_snapshot(const DeliveryState& state);
void restore_delivery(DeliveryState& state, const json::object& snapshot);

// Whether webhook.delivery_created data `created` records a test send: one
// made before it was recorded, final at once and never sent again.
bool is_test_delivery(const json::object& created);
// Whether webhook.delivery_created data `created` records a request made
// before it was recorded (a test send or a voice turn): final at once.
bool was_sent_when_recorded(const json::object& created);

// The delivery id of the webhook event `event_type` about `subject` (a
// message or call id): derived, so that creating it twice is harmless.
std::string delivery_id_for(std::string_view event_type, std::string_view subject);

// ---- Payload and signature ---------------------------------------------------

// The agent.message body for an inbound message (contract C.3). `message` is
// the message.received event's data; `contact` the sender's contact
// ({id, name, email, phoneNumber}) or null; `history` is oldest first.
std::string agent_message_body(const json::object& message, const json::value& contact,
                               const json::value& state, const std::vector<HistoryItem>& history,
                               const std::string& timestamp);

// "sha256=" + lowercase hex HMAC-SHA256(secret, timestamp + "." + body) (contract C.4).
std::string webhook_signature(const std::string& secret, const std::string& timestamp,
                              const std::string& body);

}  // namespace ap::domain
