// Ports: what the domain and its hosts need from the outside world. Time,
// randomness, timers and outbound I/O enter only through these interfaces, so
// the same code runs in the server (system clock, OpenSSL, threads) and in the
// simulator (a virtual clock, a seeded generator, one thread), and a
// simulation replays a seed exactly. Each port has an embedded default and may
// have real adapters later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/webhook.hpp"

namespace ap::domain {

// ---- Time, randomness, timers ------------------------------------------------

// The one source of time. now_ms() is Unix milliseconds; it never goes
// backwards within one clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() const = 0;
};

// The one source of randomness (ids, secrets, OTPs, jitter in the simulator).
// The distributions are ours, not std::*_distribution, whose results differ
// between standard libraries, so a seed means the same run everywhere.
class Entropy {
 public:
  virtual ~Entropy() = default;
  // Fills `bytes` bytes at `out` with random bytes.
  virtual void fill(void* out, std::size_t bytes) = 0;

  // A uniformly random 64-bit value.
  std::uint64_t next_u64();
  // A uniformly random value in [0, bound), bound >= 1 (rejection sampling,
  // so no value is more likely than another).
  std::uint64_t uniform(std::uint64_t bound);
  // True with probability per_million / 1'000'000.
  bool chance_ppm(std::uint64_t per_million);
};

// Runs work after a delay, on the host's timer thread (server) or the
// simulator's one thread. Timers are not cancelled: work that may have
// become moot checks its own state when it runs.
class Timers {
 public:
  virtual ~Timers() = default;
  // Runs `fn` once, `delay_ms` (>= 0) from now by the host's clock.
  virtual void after(std::int64_t delay_ms, std::function<void()> fn) = 0;
};

// ---- Money ---------------------------------------------------------------------

// Reservations against an account's balance, so that work the platform
// chooses to start never spends money the account does not have, however many
// commands run at once. The available balance is the ledger's balance less
// every live reservation of the account.
class Wallet {
 public:
  virtual ~Wallet() = default;
  // Reserves between `min_micros` and `want_micros` of `account`'s available
  // balance under `hold`, adding to what `hold` already has. Returns the amount
  // reserved now: 0 (and nothing reserved) when less than `min_micros` is available.
  virtual std::int64_t reserve(const std::string& account, const std::string& hold,
                               std::int64_t want_micros, std::int64_t min_micros) = 0;
  // Drops `hold` once the ledger has applied log position `after_position`
  // (at once when it has, or when the position is 0): by then the charge the
  // hold stood for is in the balance.
  virtual void release(const std::string& hold, std::uint64_t after_position) = 0;
};

// A payment processor (a simulated one by default; Stripe later). One charge
// per idempotency key: asking again with the same key returns the first answer.
struct PaymentResult {
  bool ok = false;
  std::string payment_id;  // The processor's id of the charge (also on a decline).
  std::string code;        // Why it was declined, e.g. "card_declined"; "" when ok.
  std::string message;
};
class PaymentPort {
 public:
  virtual ~PaymentPort() = default;
  // Charges `amount_micros` to `account`'s payment method; `done` runs once,
  // on any thread.
  virtual void charge(const std::string& account, std::int64_t amount_micros,
                      const std::string& idempotency_key,
                      std::function<void(PaymentResult)> done) = 0;
};

// ---- Webhook transport -------------------------------------------------------

struct WebhookRequest {
  WebhookUrl url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::int64_t timeout_ms = 30'000;  // For the whole exchange, the streamed body included.
  // When set, called on the transport's thread with each piece of a 2xx
  // response's body as it arrives, before `done` (which still gets the whole
  // body): a voice turn's NDJSON lines and a model's streamed answer are
  // spoken as they come.
  std::function<void(std::string_view piece)> on_body;
};

struct WebhookResult {
  int http_status = 0;  // 0 when no response arrived.
  std::string body;     // The response body (at most 64 KiB).
  std::string error;    // Why no response arrived, or "".
  std::int64_t duration_ms = 0;
  std::int64_t retry_after_ms = -1;  // From a Retry-After header, when present.
  std::string content_type;          // The response's Content-Type, or "".
};

// Sends webhook requests to customer endpoints. Every callback and every
// deferred function runs on the transport's one thread, so users need no
// locks for state they touch only from there.
class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  // Sends `request`; `done` runs once, on the transport's thread.
  virtual void send(WebhookRequest request, std::function<void(WebhookResult)> done) = 0;
  // Runs `fn` on the transport's thread, soon or after `delay_ms`.
  virtual void defer(std::function<void()> fn) = 0;
  virtual void defer_after(std::int64_t delay_ms, std::function<void()> fn) = 0;
};

// ---- Carrier -----------------------------------------------------------------

// Outcome of asking the carrier for a number.
struct NumberOffer {
  bool ok = false;
  std::string phone_number;  // E.164, when ok.
  int status = 0;            // HTTP-style status of the refusal, when !ok.
  std::string code;          // Contract error code, when !ok.
  std::string message;       // Human-readable refusal, when !ok.
};

// One outbound SMS/MMS handed to the carrier.
struct OutboundSms {
  std::string message_id;
  std::string conversation_id;
  std::string account_id;
  std::string from;  // Our number, E.164.
  std::string to;    // E.164.
  std::string body;
  std::vector<std::string> media_urls;
  std::int64_t segments = 1;
};

// A carrier's status callback for one message.
struct CarrierReport {
  std::string message_id;
  std::string conversation_id;
  std::string account_id;
  std::string status;         // "sent", "delivered" or "failed".
  std::string error_code;     // When failed, e.g. "CARRIER_ERROR".
  std::string error_message;  // When failed.
};

using CarrierReportFn = std::function<void(const CarrierReport&)>;

class CarrierPort {
 public:
  virtual ~CarrierPort() = default;
  // Offers the next free number for `country` ("US"/"CA") and optional
  // 3-digit `area_code` ("" = any). The offer is not reserved: the caller
  // claims it in the log, and asks again if someone else claimed it first.
  virtual NumberOffer offer_number(const std::string& country, const std::string& area_code) = 0;

  // Accepts `sms` for sending and returns at once; `report` is called later,
  // from the host's Timers, for each status change. Handing the same message
  // again while the carrier still holds it changes nothing, so callers may
  // resubmit after a restart.
  virtual void send_sms(const OutboundSms& sms, CarrierReportFn report) = 0;

  // Dials `to` from our number `from` for call `call_id` and returns at once;
  // `report` is called later, from the host's Timers, with "answered",
  // "busy", "no-answer" (the callee never picks up: the call's ring timer
  // ends it), "failed", or "dropped" (the line went dead after answering).
  virtual void place_call(const std::string& call_id, const std::string& from,
                          const std::string& to, std::function<void(std::string event)> report) = 0;
};

// ---- Mail (sign-up codes) ----------------------------------------------------

struct Mail {
  std::string to;
  std::string subject;
  std::string text;       // Plain text body.
  std::string reference;  // What it is about, e.g. a verification id.
};

// Sends mail. `done` gets "" or why the mail could not be handed over; it
// runs once, on any thread. send() must not block.
class MailPort {
 public:
  virtual ~MailPort() = default;
  virtual void send(const Mail& mail, std::function<void(std::string error)> done) = 0;
};

// ---- Language model (hosted voice mode) --------------------------------------

struct LlmRequest {
  std::string system_prompt;
  json::array transcript;  // [{role: "user"|"agent", content}], oldest first.
  std::string utterance;   // What the caller just said.
  std::string model_tier;  // "turbo", "balanced" or "max".
};

struct LlmReply {
  std::vector<std::string> lines;  // Sentences to speak, in order (after any given early).
  bool hangup = false;             // End the call after speaking.
  std::string error;               // Why there is no answer, or "".
};

// Answers a caller's turn for an agent in hosted mode. A streaming model
// hands each finished sentence to `early` as soon as it has it, so that the
// caller hears it before the whole answer exists; `done` then gets the rest.
// Both run on any thread, `done` exactly once, last; neither may block.
class LlmPort {
 public:
  virtual ~LlmPort() = default;
  virtual void complete(const LlmRequest& request, std::function<void(std::string)> early,
                        std::function<void(LlmReply)> done) = 0;
};

}  // namespace ap::domain
