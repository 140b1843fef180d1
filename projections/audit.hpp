// The audit: what an outsider runs against a stopped server's folder or a
// backup (`agentphone audit verify|replay|statement`).
//
//   verify     walks the whole log, recomputes every hash link and checks that
//              positions and each stream's versions are dense; prints the head hash.
//   replay     recomputes every ledger entry from the raw events alone and diffs
//              it with the ledger projection, entry by entry.
//   statement  an account's line items over a time range, with its opening and
//              closing balance and the hash of the last event it covers.
//
// The replay prices events with code of its own: it shares nothing with the
// ledger projection (projections/ledger_view.cpp) and the billing rules
// (actors/billing.cpp) beyond the versioned rate card, so that a pricing bug
// in either shows up as a difference.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "eventstore/event_store.hpp"

namespace ap::projections {

// One recomputed charge or credit.
// The string_view fields name static strings (rules, event types, rate
// versions, modes): a whole-log replay holds nearly one entry per event.
struct AuditEntry {
  std::string account;
  std::string cause_key;  // The same key the ledger uses: one entry per cause.
  std::string_view rule;  // e.g. "sms_outbound", "voice_hosted_per_second".
  std::string_view rate_version;
  std::int64_t amount_micros = 0;  // Negative: a charge.
  std::int64_t quantity = 0;       // Messages, periods, billable seconds, ...
  std::uint64_t position = 0;      // Of the event that caused it.
  std::string_view cause_type;
  std::int64_t at_ms = 0;  // The cause's log time.
  // Calls only: the raw facts the amount came from.
  std::string call_id;
  std::string_view mode;
  std::int64_t started_ms = 0, answered_ms = -1, ended_ms = 0, talked_ms = 0, billed_ms = 0;
};

struct VerifyOutcome {
  bool ok = true;
  std::uint64_t events = 0;
  std::uint64_t streams = 0;
  std::uint64_t first_bad = 0;  // First position that failed, 0 when ok.
  std::string problem;
  std::string head_hash;
};

// Reports (done, total) now and then during a long walk.
using Progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Verifies every hash link, position and stream version of the log as it
// stands when the walk starts. `running`: a server is writing to `store`
// meanwhile, so a stream's head may be ahead of the walk (appends written
// and waiting for their sync, or made since).
VerifyOutcome verify_log(const es::EventStore& store, const Progress& progress,
                         bool running = false);

// Recomputes the ledger of `account` ("" = every account) from the log, in log order.
std::vector<AuditEntry> replay_ledger(const es::EventStore& store, const std::string& account,
                                      const Progress& progress);

// The differences between recomputed `entries` and the ledger projection's
// rows of `account`, as printable lines ("" when they agree). `entries`
// cover the log through position `through`; entries and rows caused after
// it or after the projection's checkpoint are not compared, so that a
// running server's later writes are not taken for differences. Sets
// *compared_through, when given, to the position compared through: the
// lesser of `through` and the checkpoint (0 when it cannot be read).
std::vector<std::string> diff_with_projection(const es::EventStore& store,
                                              const std::string& account,
                                              const std::vector<AuditEntry>& entries,
                                              std::uint64_t through = UINT64_MAX,
                                              std::uint64_t* compared_through = nullptr);

// One account's replay beside its ledger projection.
struct AccountAudit {
  std::size_t entries = 0;               // Recomputed entries.
  std::int64_t sum_micros = 0;           // Their sum: the closing balance from an opening of 0.
  std::vector<std::string> differences;  // diff_with_projection's lines.
  std::uint64_t compared_through = 0;    // The projection's checkpoint.
};

// Replays `account` (non-empty) and diffs it with the projection.
AccountAudit audit_account(const es::EventStore& store, const std::string& account,
                           const Progress& progress);

// An account's statement over [from_ms, to_ms).
struct Statement {
  std::string account;
  std::int64_t from_ms = 0, to_ms = 0;
  std::int64_t opening_micros = 0;  // Every entry caused before from_ms.
  std::int64_t closing_micros = 0;  // Every entry caused before to_ms.
  std::vector<AuditEntry> items;    // The entries caused in the range, in log order.
  std::uint64_t last_position = 0;  // The last event before to_ms (0: none)...
  std::string last_hash;            // ...and its hash, which commits to the log up to it.
};

// Builds `account`'s statement from the raw log.
Statement build_statement(const es::EventStore& store, const std::string& account,
                          std::int64_t from_ms, std::int64_t to_ms, const Progress& progress);
// The statement as JSON text (one object) or as CSV (a header line, one line
// per item, then "# name,value" trailer lines for the balances and the hash).
std::string statement_json(const Statement& statement);
std::string statement_csv(const Statement& statement);

// The command-line entry points; they print to stdout (results) and stderr
// (progress) and return the process exit code: 0 = agrees, 1 = a mismatch,
// 2 = the folder could not be read.
int audit_verify(const std::string& data_dir, bool progress);
int audit_replay(const std::string& data_dir, const std::string& account, bool progress);
// `from` and `to` are ISO 8601 dates or times (UTC); the range is [from, to).
int audit_statement(const std::string& data_dir, const std::string& account,
                    const std::string& from, const std::string& to, const std::string& format,
                    bool progress);

}  // namespace ap::projections
