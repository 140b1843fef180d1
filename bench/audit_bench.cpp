// Audit benchmark: `audit verify` and `audit replay` throughput over a log of
// --events events (default 1,000,000) with the mix a busy account writes
// (outbound SMS, calls, number charges, credits), each beside the ceiling
// measured in the same run on the same folder: a raw RocksDB forward scan of
// every event record, decoded, with simdjson parsing every payload.
//
// Usage: audit_bench [--dir PATH] [--events N] [--keep]
// --keep leaves the log in place and reuses one already there, so that a
// profiler can watch the walks without the build.
#include <rocksdb/db.h>
#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eventstore/event_store.hpp"
#include "eventstore/record.hpp"
#include "projections/audit.hpp"

namespace {

namespace es = ap::es;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr std::int64_t kT0 = 1'790'000'000'000;
constexpr int kAccounts = 100;

std::string account(std::uint64_t n) {
  return "acct_bench" + std::to_string(n % kAccounts);
}

// The n-th event of the mix: 1 in 10 is a call's start or end, 1 in 200 a
// credit, 1 in 500 a number charge, the rest outbound messages.
es::StreamAppend event(std::uint64_t n) {
  const std::string acct = account(n);
  const std::int64_t at = kT0 + static_cast<std::int64_t>(n) * 10;
  const std::string common = "\"accountId\":\"" + acct + "\",\"atMs\":" + std::to_string(at);
  if (n % 10 == 1 || n % 10 == 2) {
    const std::string call = "call_" + std::to_string(n / 10);
    if (n % 10 == 1) {
      return {"call-" + call,
              es::ExpectedVersion::any(),
              {{"call.started", "{\"callId\":\"" + call + "\"," + common +
                                    ",\"numberId\":\"num_1\",\"direction\":\"inbound\","
                                    "\"status\":\"in-progress\",\"mode\":\"hosted\","
                                    "\"startedAtMs\":" +
                                    std::to_string(at) +
                                    ",\"heldMicros\":1100000,\"budgetMs\":300000,\"systemPrompt\":"
                                    "\"You are a helpful assistant for a dental clinic.\"}"}}};
    }
    return {"call-" + call,
            es::ExpectedVersion::any(),
            {{"call.ended", "{\"callId\":\"" + call + "\"," + common +
                                ",\"status\":\"completed\",\"reason\":\"user_hangup\","
                                "\"endedAtMs\":" +
                                std::to_string(at + 61'500) +
                                ",\"durationMs\":61500,\"durationSeconds\":62,\"mode\":\"hosted\","
                                "\"budgetMs\":300000}"}}};
  }
  if (n % 200 == 3) {
    return {"account-" + acct,
            es::ExpectedVersion::any(),
            {{"account.credited", "{" + common +
                                      ",\"amountMicros\":10000000,\"reason\":\"top_up\","
                                      "\"paymentId\":\"pay_" +
                                      std::to_string(n) + "\",\"note\":\"\"}"}}};
  }
  if (n % 500 == 4) {
    return {"account-" + acct,
            es::ExpectedVersion::any(),
            {{"account.number_charged", "{" + common + ",\"numberId\":\"num_" + std::to_string(n) +
                                            "\",\"phoneNumber\":\"+14152000100\","
                                            "\"amountMicros\":3000000,\"rateVersion\":\"2026-01\","
                                            "\"periodStartMs\":" +
                                            std::to_string(at) + "}"}}};
  }
  const std::string message = "msg_" + std::to_string(n);
  return {"conversation-" + acct,
          es::ExpectedVersion::any(),
          {{"message.queued", "{\"messageId\":\"" + message + "\"," + common +
                                  ",\"conversationId\":\"conv_1\",\"numberId\":\"num_1\","
                                  "\"agentId\":null,\"direction\":\"outbound\",\"from\":"
                                  "\"+14152000100\",\"to\":\"+14155550123\",\"body\":\"Your "
                                  "appointment is confirmed for Tuesday at 3pm.\",\"mediaUrls\":[],"
                                  "\"channel\":\"sms\",\"segments\":1,\"status\":\"queued\"}"}}};
}

void build_log(const std::string& dir, std::uint64_t events) {
  std::filesystem::remove_all(dir);
  es::Options options;
  options.path = dir;
  std::int64_t now = kT0;
  options.clock_ms = [&now] { return now; };
  std::unique_ptr<es::EventStore> store;
  if (!es::EventStore::open(options, &store).ok()) {
    std::fprintf(stderr, "cannot open %s\n", dir.c_str());
    std::exit(1);
  }
  for (std::uint64_t n = 0; n < events;) {
    // One part per stream: an append names each stream once.
    std::vector<es::StreamAppend> parts;
    std::map<std::string, std::size_t> part_of;
    for (int i = 0; i < 500 && n < events; ++i) {
      es::StreamAppend e = event(n++);
      auto [it, fresh] = part_of.try_emplace(e.stream, parts.size());
      if (fresh) {
        parts.push_back(std::move(e));
      } else {
        parts[it->second].events.push_back(std::move(e.events.front()));
      }
    }
    now += 5'000;
    if (!store->append_and_wait(std::move(parts)).ok()) {
      std::fprintf(stderr, "append failed\n");
      std::exit(1);
    }
  }
  store->close();
  store.reset();  // Releases the folder's lock.
  // A log this old is compacted; compacting it here also keeps background
  // compactions from competing with the walks being measured.
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(rocksdb::Options(), dir, &raw).ok()) std::exit(1);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok()) std::exit(1);
}

// What a ceiling does with each record besides reading it.
enum class Work { kParse, kHash };

// A ceiling: every event record read by a raw RocksDB scan (with the read
// options the audit's walk uses), decoded, and then either its payload parsed
// by simdjson (kParse) or the SHA-256 chain recomputed over it (kHash).
double ceiling(const std::string& dir, Work work, std::uint64_t* count) {
  rocksdb::Options options;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(options, dir, &raw).ok()) std::exit(1);
  std::unique_ptr<rocksdb::DB> db(raw);
  simdjson::dom::parser parser;
  rocksdb::ReadOptions read;
  read.readahead_size = std::size_t{2} << 20;
  read.fill_cache = false;
  es::Hash previous{};
  const auto start = Clock::now();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read));
  *count = 0;
  for (it->Seek("E"); it->Valid() && it->key()[0] == 'E'; it->Next()) {
    es::RecordedEvent record;
    if (!es::decode_value(std::string_view(it->value().data(), it->value().size()), &record).ok()) {
      std::exit(1);
    }
    if (work == Work::kParse) {
      simdjson::dom::element doc;
      if (parser.parse(record.payload).get(doc)) std::exit(1);
    } else {
      previous = es::chain_hash(
          previous, std::string_view(it->value().data(), it->value().size() - previous.size()));
    }
    ++*count;
  }
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/agentphone-audit-bench";
  std::uint64_t events = 1'000'000;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--keep") == 0) keep = true;
    if (i + 1 >= argc) continue;
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--events") == 0) events = std::stoull(argv[i + 1]);
  }
  if (!keep || !std::filesystem::exists(dir)) {
    const auto built = Clock::now();
    build_log(dir, events);
    std::printf("log: %llu events in %.1f s\n", static_cast<unsigned long long>(events),
                seconds_since(built));
  }

  std::uint64_t parsed = 0, hashed = 0;
  const double parse_s = ceiling(dir, Work::kParse, &parsed);
  const double ceiling_rate = static_cast<double>(parsed) / parse_s;
  std::printf("%-36s %12.0f events/s\n", "ceiling: raw scan + simdjson parse", ceiling_rate);
  const double hash_s = ceiling(dir, Work::kHash, &hashed);
  const double hash_rate = static_cast<double>(hashed) / hash_s;
  std::printf("%-36s %12.0f events/s\n", "ceiling: raw scan + SHA-256 chain", hash_rate);

  es::Options options;
  options.path = dir;
  options.clock_ms = [] { return std::int64_t{0}; };
  std::unique_ptr<es::EventStore> store;
  if (!es::EventStore::open(options, &store).ok()) return 1;
  auto start = Clock::now();
  const ap::projections::VerifyOutcome verified = ap::projections::verify_log(*store, nullptr);
  const double verify_rate = static_cast<double>(verified.events) / seconds_since(start);
  std::printf("%-36s %12.0f events/s  %.2fx parse ceiling, %.2fx hash ceiling%s\n", "audit verify",
              verify_rate, verify_rate / ceiling_rate, verify_rate / hash_rate,
              verified.ok ? "" : "  (FAILED)");
  start = Clock::now();
  const std::vector<ap::projections::AuditEntry> entries =
      ap::projections::replay_ledger(*store, "", nullptr);
  const double replay_rate = static_cast<double>(parsed) / seconds_since(start);
  std::printf("%-36s %12.0f events/s  %.2fx ceiling  (%zu entries)\n",
              "audit replay (all accounts)", replay_rate, replay_rate / ceiling_rate,
              entries.size());
  start = Clock::now();
  const std::size_t one = ap::projections::replay_ledger(*store, account(7), nullptr).size();
  const double one_rate = static_cast<double>(parsed) / seconds_since(start);
  std::printf("%-36s %12.0f events/s  %.2fx ceiling  (%zu entries)\n", "audit replay --account",
              one_rate, one_rate / ceiling_rate, one);
  store->close();
  if (!keep) std::filesystem::remove_all(dir);
  return verified.ok ? 0 : 1;
}
