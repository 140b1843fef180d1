#include "projections/audit.hpp"

#include <simdjson.h>
#include <boost/json.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <algorithm>
#include <cinttypes>
#include <map>
#include <memory>

#include "actors/billing.hpp"
#include "actors/domain.hpp"
#include "projections/core_view.hpp"

namespace ap::projections {

namespace {

constexpr std::uint64_t kProgressEvents = 4096;

// The top-level fields of an event payload the audit reads. Absent integers
// stay -1 and absent strings empty; nested values are skipped. The strings
// view the parser's buffer: valid until the next event is parsed.
struct Fields {
  std::string_view account_id, number_id, message_id, call_id, payment_id, rate_version, mode,
      status, reason;
  std::int64_t credit_micros = -1, amount_micros = -1, period_start_ms = -1, at_ms = -1,
               started_at_ms = -1, ended_at_ms = -1, budget_ms = -1;
};

// Parses `payload` through `padded`, a buffer reused across events because
// simdjson reads a few bytes past the end of its input.
bool read_fields(simdjson::ondemand::parser& parser, std::string_view payload, std::string& padded,
                 Fields* out) {
  padded.assign(payload);
  padded.reserve(payload.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc)) return false;
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) return false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    simdjson::ondemand::value value = field.value();
    std::string_view* text = key == "accountId"     ? &out->account_id
                             : key == "numberId"    ? &out->number_id
                             : key == "messageId"   ? &out->message_id
                             : key == "callId"      ? &out->call_id
                             : key == "paymentId"   ? &out->payment_id
                             : key == "rateVersion" ? &out->rate_version
                             : key == "mode"        ? &out->mode
                             : key == "status"      ? &out->status
                             : key == "reason"      ? &out->reason
                                                    : nullptr;
    std::int64_t* number = key == "creditMicros"    ? &out->credit_micros
                           : key == "amountMicros"  ? &out->amount_micros
                           : key == "periodStartMs" ? &out->period_start_ms
                           : key == "atMs"          ? &out->at_ms
                           : key == "startedAtMs"   ? &out->started_at_ms
                           : key == "endedAtMs"     ? &out->ended_at_ms
                           : key == "budgetMs"      ? &out->budget_ms
                                                    : nullptr;
    if (text != nullptr) {
      std::string_view s;
      if (!value.get_string().get(s)) *text = s;
    } else if (number != nullptr) {
      std::int64_t n = 0;
      if (!value.get_int64().get(n)) *number = n;
    }
  }
  return true;
}

// Hashes std::string and std::string_view alike, for lookups by view.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// The event types the replay prices, or that a later charge needs (a call's
// start and answer); each is returned as a static string, or "" when the
// type moves no money.
std::string_view priced(std::string_view type) {
  static constexpr std::string_view kTypes[] = {
      "account.created",  "account.number_charged", "number.renewed", "message.queued",
      "account.credited", "call.started",           "call.answered",  "call.ended"};
  for (std::string_view known : kTypes) {
    if (type == known) return known;
  }
  return {};
}

// The rule of a credit, by its reason; a reason no version of the product
// writes is priced as such and shows up in the diff.
std::string_view credit_rule(std::string_view reason) {
  static constexpr std::string_view kReasons[] = {"top_up", "auto_recharge", "adjustment"};
  for (std::string_view known : kReasons) {
    if (reason == known) return known;
  }
  return "unknown_credit_reason";
}

// The concatenation of `parts`, allocated once.
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  out.reserve((std::string_view(parts).size() + ...));
  (out.append(std::string_view(parts)), ...);
  return out;
}

// ceil(a / b) for a >= 0, b > 0.
std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

// What a live call needs for its charge at its end.
struct OpenCall {
  std::string_view mode;  // "hosted" or "webhook".
  std::int64_t started_ms = 0;
  std::int64_t answered_ms = -1;
};

// The replayer: prices each event on its own, from the rate card alone.
class Replayer {
 public:
  // `expected_entries` sizes the tables up front: growing them mid-walk
  // moves every entry and rehashes every cause.
  // Not copyable or movable: the cause set's hasher points at entries_.
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;
  Replayer(std::string account, std::size_t expected_entries) : account_(std::move(account)) {
    entries_.reserve(expected_entries);
    seen_.reserve(expected_entries);
  }

  void feed(const es::RecordView& event) {
    const std::string_view type = priced(event.type);
    if (type.empty()) return;
    // Cheap filter before parsing: the account id appears in every event it owns.
    if (!account_.empty() && event.payload.find(account_) == std::string_view::npos) return;
    Fields f;
    if (!read_fields(parser_, event.payload, padded_, &f)) return;
    if (!account_.empty() && f.account_id != account_) return;
    if (type == "account.created") {
      const domain::RateCard& card = domain::rate_card_at(event.time_ms);
      add(event, f.account_id, concat("signup:", f.account_id),
          std::max<std::int64_t>(0, f.credit_micros), "signup_credit", card.version, 1);
    } else if (type == "account.number_charged" || type == "number.renewed") {
      const std::int64_t start = f.period_start_ms >= 0 ? f.period_start_ms : event.time_ms;
      const domain::RateCard* named = domain::rate_card(f.rate_version);
      const domain::RateCard& card = named != nullptr ? *named : domain::rate_card_at(start);
      add(event, f.account_id, concat("number:", f.number_id, ":", std::to_string(start)),
          -card.number_period_micros,
          type == "number.renewed" ? "number_renewal" : "number_first_month", card.version, 1);
    } else if (type == "message.queued") {
      const domain::RateCard& card = domain::rate_card_at(f.at_ms >= 0 ? f.at_ms : event.time_ms);
      add(event, f.account_id, concat("sms:", f.message_id), -card.sms_outbound_micros,
          "sms_outbound", card.version, 1);
    } else if (type == "account.credited") {
      add(event, f.account_id, concat("credit:", f.payment_id), f.amount_micros,
          credit_rule(f.reason), "", 1);
    } else if (type == "call.started") {
      OpenCall& call = calls_[std::string(f.call_id)];
      call.mode = f.mode == "hosted" ? "hosted" : "webhook";
      call.started_ms = f.started_at_ms;
      if (f.status == "in-progress") call.answered_ms = f.started_at_ms;
    } else if (type == "call.answered") {
      calls_[std::string(f.call_id)].answered_ms = f.at_ms;
    } else if (type == "call.ended") {
      end_call(event, f);
    }
  }

  std::vector<AuditEntry>& entries() { return entries_; }

 private:
  void end_call(const es::RecordView& event, const Fields& f) {
    auto it = calls_.find(f.call_id);
    if (it == calls_.end()) return;  // Ended twice, or never started: nothing to bill.
    const OpenCall call = it->second;
    calls_.erase(it);
    const domain::RateCard& card = domain::rate_card_at(call.started_ms);
    const std::int64_t talked =
        call.answered_ms >= 0 ? std::max<std::int64_t>(0, f.ended_at_ms - call.answered_ms) : 0;
    const std::int64_t billed = f.budget_ms >= 0 ? std::min(talked, f.budget_ms) : talked;
    const std::int64_t seconds = ceil_div(billed, 1000);
    if (seconds == 0) return;
    const std::int64_t per_minute = call.mode == "hosted" ? card.voice_hosted_per_minute_micros
                                                          : card.voice_webhook_per_minute_micros;
    const std::int64_t amount =
        std::max(card.voice_minimum_micros, ceil_div(seconds * per_minute, 60));
    AuditEntry* entry =
        add(event, f.account_id, concat("call:", f.call_id), -amount,
            call.mode == "hosted" ? "voice_hosted_per_second" : "voice_webhook_per_second",
            card.version, seconds);
    if (entry == nullptr) return;
    AuditEntry& e = *entry;
    e.call_id = f.call_id;
    e.mode = call.mode;
    e.started_ms = call.started_ms;
    e.answered_ms = call.answered_ms;
    e.ended_ms = f.ended_at_ms;
    e.talked_ms = talked;
    e.billed_ms = billed;
  }

  // Records an entry, unless its cause was priced before (then null).
  AuditEntry* add(const es::RecordView& event, std::string_view account, std::string key,
                  std::int64_t amount, std::string_view rule, std::string_view version,
                  std::int64_t quantity) {
    // Appended first and taken back when its cause was priced before: one
    // hash of the cause either way.
    AuditEntry& e = entries_.emplace_back();
    e.account.assign(account);
    e.cause_key = std::move(key);
    e.amount_micros = amount;
    e.rule = rule;
    e.rate_version = version;
    e.quantity = quantity;
    e.position = event.position;
    e.cause_type = priced(event.type);
    e.at_ms = event.time_ms;
    if (!seen_.insert(entries_.size() - 1).second) {
      entries_.pop_back();
      return nullptr;
    }
    return &e;
  }

  // The causes priced so far are held as indexes into entries_ and looked up
  // by (account, cause key), so that no key is stored twice.
  struct CauseRef {
    std::string_view account, key;
  };
  struct CauseHash {
    using is_transparent = void;
    const std::vector<AuditEntry>* entries;
    std::size_t operator()(CauseRef c) const {
      return std::hash<std::string_view>{}(c.account) * 31 + std::hash<std::string_view>{}(c.key);
    }
    std::size_t operator()(std::size_t i) const { return (*this)(ref((*entries)[i])); }
  };
  struct CauseEqual {
    using is_transparent = void;
    const std::vector<AuditEntry>* entries;
    bool operator()(std::size_t a, std::size_t b) const {
      return same(ref((*entries)[a]), ref((*entries)[b]));
    }
    bool operator()(CauseRef a, std::size_t b) const { return same(a, ref((*entries)[b])); }
    bool operator()(std::size_t a, CauseRef b) const { return same(ref((*entries)[a]), b); }
  };
  static CauseRef ref(const AuditEntry& e) { return {e.account, e.cause_key}; }
  static bool same(CauseRef a, CauseRef b) { return a.account == b.account && a.key == b.key; }

  std::string account_;
  simdjson::ondemand::parser parser_;
  std::string padded_;
  boost::unordered_flat_map<std::string, OpenCall, StringHash, std::equal_to<>> calls_;
  std::vector<AuditEntry> entries_;
  boost::unordered_flat_set<std::size_t, CauseHash, CauseEqual> seen_{0, CauseHash{&entries_},
                                                                      CauseEqual{&entries_}};
};

// Walks every event of the log in place, reporting progress every
// kProgressEvents events.
template <class Visit>
es::Status walk(const es::EventStore& store, const Progress& progress, Visit visit) {
  const std::uint64_t head = store.head_position();
  std::uint64_t done = 0;
  es::Status s = store.scan(1, es::ReadPattern::kWholeLog, [&](const es::RecordView& e) {
    visit(e);
    if (++done % kProgressEvents == 0 && progress) progress(done, head);
    return true;
  });
  if (progress) progress(head, head);
  return s;
}

std::unique_ptr<es::EventStore> open_folder(const std::string& data_dir) {
  es::Options options;
  options.path = data_dir;
  // The audit writes nothing to the log; its clock is never read for a write.
  options.clock_ms = [] { return std::int64_t{0}; };
  std::unique_ptr<es::EventStore> store;
  if (es::Status s = es::EventStore::open(options, &store); !s.ok()) {
    std::fprintf(stderr, "agentphone audit: %s\n", s.message().c_str());
    if (s.message().find("lock") != std::string::npos) {
      std::fprintf(stderr,
                   "agentphone audit: a server holds %s; audit a backup instead "
                   "(agentphone admin backup --to DIR)\n",
                   data_dir.c_str());
    }
    return nullptr;
  }
  return store;
}

Progress progress_bar(bool enabled, const char* what) {
  if (!enabled) return nullptr;
  return [what, last = std::uint64_t{0}](std::uint64_t done, std::uint64_t total) mutable {
    const std::uint64_t percent = total == 0 ? 100 : done * 100 / total;
    if (percent == last && done != total) return;
    last = percent;
    const int bars = static_cast<int>(percent / 5);
    std::fprintf(stderr, "\r%s [%-20.*s] %3" PRIu64 "%% %" PRIu64 "/%" PRIu64 " events", what, bars,
                 "||||||||||||||||||||", percent, done, total);
    if (done == total) std::fprintf(stderr, "\n");
  };
}

std::string money(std::int64_t micros) {
  return domain::format_dollars(micros);
}

}  // namespace

VerifyOutcome verify_log(const es::EventStore& store, const Progress& progress, bool running) {
  VerifyOutcome out;
  // Keyed by stream id, looked up by the record's view without a copy.
  boost::unordered_flat_map<std::string, std::uint64_t, StringHash, std::equal_to<>> versions;
  es::Hash previous{};
  std::uint64_t expected = 1;
  // The log as it stands now; a running server's later appends are left for
  // the next verify.
  const std::uint64_t bound = store.head_position();
  auto fail = [&out](std::uint64_t position, std::string problem) {
    if (!out.ok) return;
    out.ok = false;
    out.first_bad = position;
    out.problem = std::move(problem);
  };
  es::Status s = walk(store, progress, [&](const es::RecordView& e) {
    if (!out.ok || e.position > bound) return;
    if (e.position != expected) return fail(expected, "record is missing");
    if (!es::hash_matches(previous, e)) {
      es::Hash stored;
      std::copy(e.hash, e.hash + stored.size(), stored.begin());
      return fail(e.position, "hash mismatch: stored " + es::to_hex(stored) + ", computed " +
                                  es::to_hex(es::chain_hash(previous, e.canonical)));
    }
    auto it = versions.find(e.stream);
    if (it == versions.end()) it = versions.emplace(std::string(e.stream), 0).first;
    if (e.version != it->second + 1) {
      return fail(e.position, "stream " + std::string(e.stream) + " jumps from version " +
                                  std::to_string(it->second) + " to " + std::to_string(e.version));
    }
    it->second = e.version;
    std::copy(e.hash, e.hash + previous.size(), previous.begin());
    ++expected;
    ++out.events;
  });
  if (!s.ok()) fail(expected, s.message());
  if (out.ok && expected - 1 != bound) fail(expected, "record is missing");
  // Each stream's head must be the last version the log holds for it; on a
  // running server it may only be ahead of it.
  const bool grew = running || store.head_position() != bound;
  for (const auto& [stream, version] : versions) {
    if (!out.ok) break;
    std::uint64_t head = 0;
    if (!store.stream_version(stream, &head).ok() || head < version || (head > version && !grew)) {
      fail(bound, "stream " + stream + "'s head says version " + std::to_string(head) +
                      ", the log holds " + std::to_string(version));
    }
  }
  out.streams = versions.size();
  // The hash of the last record verified: it commits to everything before it.
  out.head_hash = bound == 0 ? "" : es::to_hex(previous);
  return out;
}

std::vector<AuditEntry> replay_ledger(const es::EventStore& store, const std::string& account,
                                      const Progress& progress) {
  // Nearly every event of a whole-log replay is priced; one account's share
  // is unknown, so its tables grow as needed.
  Replayer replayer(account, account.empty() ? store.head_position() : 0);
  walk(store, progress, [&](const es::RecordView& e) { replayer.feed(e); });
  return std::move(replayer.entries());
}

std::vector<std::string> diff_with_projection(const es::EventStore& store,
                                              const std::string& account,
                                              const std::vector<AuditEntry>& entries,
                                              std::uint64_t through,
                                              std::uint64_t* compared_through) {
  std::vector<std::string> out;
  std::uint64_t checkpoint = 0;
  if (compared_through != nullptr) *compared_through = 0;
  // A ledger that cannot be read is a finding, never an empty ledger.
  if (es::Status s = store.load_checkpoint(CoreView::kName, &checkpoint); !s.ok()) {
    out.push_back("the read model's checkpoint could not be read: " + s.to_string());
    return out;
  }
  checkpoint = std::min(checkpoint, through);
  if (compared_through != nullptr) *compared_through = checkpoint;
  std::vector<boost::json::object> rows;
  // Rows are in cause order: those after the bound end the scan.
  const es::Status scanned = store.scan_view(
      CoreView::kName, "Le/" + account + "/", "", [&](std::string_view, std::string_view value) {
        boost::json::object row = boost::json::parse(value).as_object();
        const boost::json::value* cause = row.if_contains("causePosition");
        if (cause != nullptr && cause->is_int64() &&
            static_cast<std::uint64_t>(cause->as_int64()) > checkpoint) {
          return false;
        }
        rows.push_back(std::move(row));
        return true;
      });
  if (!scanned.ok()) {
    out.push_back("the ledger could not be read: " + scanned.to_string());
    return out;
  }
  std::size_t row = 0;
  for (const AuditEntry& e : entries) {
    if (e.account != account || e.position > checkpoint) continue;
    const std::string where = concat("entry ", std::to_string(row + 1), " (", e.cause_type,
                                     " at position ", std::to_string(e.position), ")");
    if (row >= rows.size()) {
      out.push_back(where + ": missing from the ledger; recomputed " + e.cause_key + " " +
                    money(e.amount_micros));
      continue;
    }
    const boost::json::object& r = rows[row++];
    auto text = [&r](const char* k) {
      const boost::json::value* v = r.if_contains(k);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    auto integer = [&r](const char* k) {
      const boost::json::value* v = r.if_contains(k);
      return v != nullptr && v->is_int64() ? v->as_int64() : INT64_MIN;
    };
    if (text("causeKey") != e.cause_key || integer("amountMicros") != e.amount_micros ||
        static_cast<std::uint64_t>(integer("causePosition")) != e.position ||
        text("rule") != e.rule || integer("quantity") != e.quantity ||
        (!e.rate_version.empty() && text("rateVersion") != e.rate_version)) {
      out.push_back(concat(where, ": the ledger has ", text("causeKey"), " ",
                           money(integer("amountMicros")), " (", text("rule"), ", ",
                           std::to_string(integer("quantity")), ", rate ", text("rateVersion"),
                           "), recomputed ", e.cause_key, " ", money(e.amount_micros), " (", e.rule,
                           ", ", std::to_string(e.quantity), ", rate ", e.rate_version, ")"));
    }
  }
  for (; row < rows.size(); ++row) {
    out.push_back("ledger entry " + std::to_string(row + 1) + " (" +
                  std::string(domain::field(rows[row], "causeKey").as_string()) +
                  ") has no cause in the log");
  }
  return out;
}

int audit_verify(const std::string& data_dir, bool progress) {
  std::unique_ptr<es::EventStore> store = open_folder(data_dir);
  if (!store) return 2;
  const VerifyOutcome v = verify_log(*store, progress_bar(progress, "verify"));
  std::printf("%-14s %s\n", "folder", data_dir.c_str());
  std::printf("%-14s %" PRIu64 "\n", "events", v.events);
  std::printf("%-14s %" PRIu64 "\n", "streams", v.streams);
  std::printf("%-14s %s\n", "head hash", v.head_hash.c_str());
  if (!v.ok) {
    std::printf("%-14s FAILED at position %" PRIu64 ": %s\n", "result", v.first_bad,
                v.problem.c_str());
    return 1;
  }
  std::printf("%-14s ok: every hash link, position and stream version checks\n", "result");
  return 0;
}

AccountAudit audit_account(const es::EventStore& store, const std::string& account,
                           const Progress& progress) {
  AccountAudit out;
  // The replay covers at least the log up to here; a running server may
  // write more meanwhile, which is left for the next audit.
  const std::uint64_t head = store.head_position();
  std::vector<AuditEntry> entries = replay_ledger(store, account, progress);
  std::erase_if(entries, [head](const AuditEntry& e) { return e.position > head; });
  out.entries = entries.size();
  for (const AuditEntry& e : entries) out.sum_micros += e.amount_micros;
  out.differences = diff_with_projection(store, account, entries, head, &out.compared_through);
  return out;
}

int audit_replay(const std::string& data_dir, const std::string& account, bool progress) {
  std::unique_ptr<es::EventStore> store = open_folder(data_dir);
  if (!store) return 2;
  const std::vector<AuditEntry> entries =
      replay_ledger(*store, account, progress_bar(progress, "replay"));
  std::map<std::string, std::pair<std::int64_t, std::size_t>> sums;  // Per account.
  for (const AuditEntry& e : entries) {
    auto& [sum, count] = sums[e.account];
    sum += e.amount_micros;
    ++count;
  }
  if (!account.empty()) sums.try_emplace(account, 0, 0);
  std::uint64_t checkpoint = 0;
  store->load_checkpoint(CoreView::kName, &checkpoint);
  int differences = 0;
  std::printf("%-30s %8s %14s %14s %14s %s\n", "account", "entries", "opening", "sum", "closing",
              "ledger");
  for (const auto& [id, total] : sums) {
    const std::vector<std::string> diff = diff_with_projection(*store, id, entries);
    differences += static_cast<int>(diff.size());
    std::printf("%-30s %8zu %14s %14s %14s %s\n", id.c_str(), total.second, money(0).c_str(),
                money(total.first).c_str(), money(total.first).c_str(),
                diff.empty() ? "agrees" : "DIFFERS");
    for (const std::string& line : diff) std::printf("  %s\n", line.c_str());
  }
  std::printf("head %" PRIu64 " %s; ledger projection at %" PRIu64 "%s\n", store->head_position(),
              store->head_hash().c_str(), checkpoint,
              checkpoint < store->head_position()
                  ? " (later causes are not compared: start the server to catch it up)"
                  : "");
  return differences == 0 ? 0 : 1;
}

Statement build_statement(const es::EventStore& store, const std::string& account,
                          std::int64_t from_ms, std::int64_t to_ms, const Progress& progress) {
  Statement out;
  out.account = account;
  out.from_ms = from_ms;
  out.to_ms = to_ms;
  Replayer replayer(account, 0);
  es::Hash last_hash{};
  walk(store, progress, [&](const es::RecordView& e) {
    replayer.feed(e);
    // The log's times never decrease, but a statement does not rely on it.
    if (e.time_ms < to_ms) {
      out.last_position = e.position;
      std::copy(e.hash, e.hash + last_hash.size(), last_hash.begin());
    }
  });
  if (out.last_position != 0) out.last_hash = es::to_hex(last_hash);
  for (AuditEntry& e : replayer.entries()) {
    if (e.at_ms < from_ms) out.opening_micros += e.amount_micros;
    if (e.at_ms >= to_ms) continue;
    out.closing_micros += e.amount_micros;
    if (e.at_ms >= from_ms) out.items.push_back(std::move(e));
  }
  return out;
}

namespace {

constexpr const char* kVoiceRounding = "per second, rounded up; 1 cent minimum";

boost::json::object item_json(const AuditEntry& e) {
  boost::json::object item{{"at", domain::iso8601(e.at_ms)}, {"kind", e.rule},
                           {"cause", e.cause_key},           {"position", e.position},
                           {"rateVersion", e.rate_version},  {"quantity", e.quantity},
                           {"amountMicros", e.amount_micros}};
  if (!e.call_id.empty()) {
    item["callId"] = e.call_id;
    item["mode"] = e.mode;
    item["start"] = domain::iso8601(e.started_ms);
    item["end"] = domain::iso8601(e.ended_ms);
    item["rawMs"] = e.talked_ms;
    item["billedMs"] = e.billed_ms;
    item["billableSeconds"] = e.quantity;
    item["rounding"] = kVoiceRounding;
  }
  return item;
}

}  // namespace

std::string statement_json(const Statement& st) {
  boost::json::array items;
  items.reserve(st.items.size());
  for (const AuditEntry& e : st.items) items.push_back(item_json(e));
  return boost::json::serialize(boost::json::object{{"accountId", st.account},
                                                    {"from", domain::iso8601(st.from_ms)},
                                                    {"to", domain::iso8601(st.to_ms)},
                                                    {"openingBalanceMicros", st.opening_micros},
                                                    {"closingBalanceMicros", st.closing_micros},
                                                    {"items", std::move(items)},
                                                    {"lastEventPosition", st.last_position},
                                                    {"lastEventHash", st.last_hash}});
}

std::string statement_csv(const Statement& st) {
  std::string out =
      "at,kind,cause,position,rate_version,quantity,amount_micros,call_id,mode,start,end,raw_ms,"
      "billable_seconds,rounding\n";
  for (const AuditEntry& e : st.items) {
    const bool call = !e.call_id.empty();
    out += concat(
        domain::iso8601(e.at_ms), ",", e.rule, ",", e.cause_key, ",", std::to_string(e.position),
        ",", e.rate_version, ",", std::to_string(e.quantity), ",", std::to_string(e.amount_micros),
        ",", e.call_id, ",", e.mode, ",", call ? domain::iso8601(e.started_ms) : "", ",",
        call ? domain::iso8601(e.ended_ms) : "", ",", call ? std::to_string(e.talked_ms) : "", ",",
        call ? std::to_string(e.quantity) : "", ",", call ? concat("\"", kVoiceRounding, "\"") : "",
        "\n");
  }
  out += concat("# opening_balance_micros,", std::to_string(st.opening_micros),
                "\n# closing_balance_micros,", std::to_string(st.closing_micros),
                "\n# last_event_position,", std::to_string(st.last_position),
                "\n# last_event_hash,", st.last_hash, "\n");
  return out;
}

int audit_statement(const std::string& data_dir, const std::string& account,
                    const std::string& from, const std::string& to, const std::string& format,
                    bool progress) {
  std::int64_t from_ms = 0, to_ms = 0;
  if (!domain::parse_iso8601(from, &from_ms) || !domain::parse_iso8601(to, &to_ms) ||
      to_ms <= from_ms) {
    std::fprintf(stderr,
                 "agentphone audit statement: --from and --to must be ISO 8601 dates or "
                 "times (UTC) with --from before --to\n");
    return 2;
  }
  std::unique_ptr<es::EventStore> store = open_folder(data_dir);
  if (!store) return 2;
  const Statement st =
      build_statement(*store, account, from_ms, to_ms, progress_bar(progress, "statement"));
  if (format == "json") {
    std::printf("%s\n", statement_json(st).c_str());
  } else {
    std::fputs(statement_csv(st).c_str(), stdout);
  }
  return 0;
}

}  // namespace ap::projections
