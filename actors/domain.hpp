// Vocabulary shared by every aggregate: commands in, events or an error out.
//
// A decider is a pure function decide(state, command, context) -> Decision
// (events and effects, or an error) and evolve(state, event) -> state. Nothing in a decider reads a
// clock, draws a random number or does I/O: the Context hands in the time and fresh ids, so the
// simulator can run the same code under a virtual clock and seeded ids.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ap::domain {

namespace json = boost::json;

enum class ErrorKind {
  kValidation,           // Field-level problems: the FastAPI 422 list.
  kBadRequest,           // A request that is well-formed but not allowed (400).
  kNotFound,             // Unknown id, or an id of another account (404).
  kConflict,             // State conflict, e.g. duplicate (409).
  kInsufficientBalance,  // Not enough credit (402).
  kUnavailable,          // A port (carrier, log) refused; retry later (503).
};

struct FieldError {
  std::string field;  // Request field name; "" for the body as a whole.
  std::string message;
  std::string type;  // FastAPI error type, e.g. "missing", "string_type".
};

struct DomainError {
  ErrorKind kind = ErrorKind::kBadRequest;
  std::string code;  // Contract code, e.g. "VALIDATION_ERROR_NUMBER_LIMIT".
  std::string message;
  std::vector<FieldError> fields;
};

DomainError make_error(ErrorKind kind, std::string code, std::string message);
DomainError validation_error(std::vector<FieldError> fields);
DomainError not_found(std::string what);
// The answer to a command type a decider does not know.
DomainError unknown_command(const std::string& type);

// An event as a decider emits it. `stream` empty means the deciding
// aggregate's own stream; otherwise the event goes to that stream, which must
// not exist yet when `new_stream` is set (used to create and claim).
struct Event {
  std::string type;
  json::object data;
  std::string stream;
  bool new_stream = false;
};

struct Command {
  std::string type;        // e.g. "agent.create".
  std::string account_id;  // The caller's account; aggregates refuse others.
  json::object args;
};

// Fresh identifiers and secrets, from OpenSSL in production and a seeded
// generator under the simulator.
class IdSource {
 public:
  virtual ~IdSource() = default;
  // Returns prefix + a unique, time-ordered, URL-safe suffix.
  virtual std::string new_id(std::string_view prefix) = 0;
};

class Entropy;  // actors/ports.hpp

struct Context {
  std::int64_t now_ms = 0;
  IdSource* ids = nullptr;     // Never null while deciding.
  Entropy* entropy = nullptr;  // Secrets; never null while deciding.
  // Filled by the host before deciding when the command needs a port's answer
  // (the phone number the carrier offers for "number.provision").
  json::object port_answer;
  // Money the host reserved for this command from the account's available
  // balance (actors/billing.hpp, funds_needed): 0 when not enough was
  // available. Unset when the host checks no funds (a decider test, or a
  // command that spends nothing).
  std::optional<std::int64_t> funds_micros;
};

// Work a decision asks of the outside world, done by the host through a port
// only once the decision's events are durable (so nothing is sent for a
// decision the log refused). Its outcome comes back as a later command
// (e.g. a carrier's status report becomes "conversation.status").
struct Effect {
  std::string type;  // e.g. "carrier.send_sms".
  json::object data;
};

// What a decider decided: events to append, and effects to run after them.
struct Outcome {
  std::vector<Event> events;
  std::vector<Effect> effects;

  Outcome() = default;
  // Implicit, so that a decider that only records events returns them as they are.
  Outcome(std::vector<Event> e) : events(std::move(e)) {}  // NOLINT(google-explicit-constructor)
};

using Decision = std::variant<Outcome, DomainError>;

// Stream names of the aggregates.
std::string account_stream(std::string_view account_id);
std::string agent_stream(std::string_view agent_id);
std::string number_stream(std::string_view number_id);
std::string conversation_stream(std::string_view conversation_id);
std::string phone_stream(std::string_view e164);

// Formats milliseconds since the epoch as ISO-8601 UTC with milliseconds.
std::string iso8601(std::int64_t ms);

// The field `key` of `o`, which the code relies on being there: an event's
// payload as its type defines it, a snapshot or read-model row the code itself
// wrote, or a command body already validated. Its absence is a broken
// invariant (InvariantViolation, actors/invariant.hpp) that names the field
// and the caller's line, where json::object::at() would only say "out of range".
// The caller's file and line come from __builtin_FILE/__builtin_LINE rather
// than std::source_location, which clang 14 (the fuzz build) lacks with
// libstdc++ 12.
const json::value& field(const json::object& o, std::string_view key,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE());
json::value& field(json::object& o, std::string_view key, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE());
// As above for a value that the code relies on being an object.
const json::value& field(const json::value& v, std::string_view key,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE());
// The field `key` of `o`, or `fallback` when `o` has none: for fields that
// are optional by definition (added to an event type later, or left out).
json::value field_or(const json::object& o, std::string_view key, json::value fallback);
// Optional fields of a command's arguments or a stored object: the string,
// integer or boolean field `key` of `o`, or the fallback when it is absent or
// of another type ("" for text).
std::string text_of(const json::object& o, std::string_view key);
std::int64_t int_of(const json::object& o, std::string_view key, std::int64_t fallback);
bool bool_of(const json::object& o, std::string_view key, bool fallback);
// The element `index` of the array `v`, which the code relies on being there
// (a row in a fixed layout the code itself wrote).
const json::value& element(const json::value& v, std::size_t index,
                           const char* file = __builtin_FILE(), int line = __builtin_LINE());

// Compact JSON text of `value`. Unlike boost::json::serialize, doubles are
// written in plain decimal as Python clients do (1.0, 0.8, 66.67), never
// in exponent form such as 1E0; everything else is the same.
std::string to_json(const json::value& value);
// Parses ISO-8601 (Z or +hh:mm offset, optional fraction) into ms; false on error.
bool parse_iso8601(std::string_view text, std::int64_t* ms);

// Whether `email` has the usual shape of an address: local@domain.tld, no
// spaces, at most 254 bytes, a local part of at most 64, domain labels of
// letters, digits and hyphens, and a top-level domain of two letters or more.
bool plausible_email(std::string_view email);

// Returns the E.164 form of a US/CA number written as +1XXXXXXXXXX, 1XXXXXXXXXX
// or XXXXXXXXXX (spaces, dashes, dots and parentheses allowed), or "" when it
// is not a valid NANP number.
std::string normalize_nanp(std::string_view text);

// Money is integer micro-dollars; prices are in actors/billing.hpp.
constexpr std::int64_t kMicrosPerDollar = 1'000'000;
constexpr int kSelfServeNumberLimit = 10;

}  // namespace ap::domain
