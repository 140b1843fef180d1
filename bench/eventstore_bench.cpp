// Event-log benchmark. Prints append throughput and p99 latency for 1, 8 and
// 64 producers, and replay speed, each beside a ceiling measured in the same
// run on the same disk:
//   - raw RocksDB put(sync=true) from 64 threads (RocksDB's own group commit)
//   - raw RocksDB WriteBatch of 100 puts + sync, back to back
//   - raw RocksDB forward scan + simdjson parse of the same number of values
//
// Usage: eventstore_bench [--dir PATH] [--seconds N] [--replay-events N]
//                         [--ceiling-only] (print the raw 64-thread put ceiling only)
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/event_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string payload_300(std::uint64_t n) {
  std::string payload = "{\"type\":\"bench\",\"n\":" + std::to_string(n) + ",\"pad\":\"";
  while (payload.size() < 296) payload.push_back(static_cast<char>('a' + payload.size() % 26));
  return payload + "\"}";
}

std::unique_ptr<rocksdb::DB> open_raw(const std::string& path) {
  std::filesystem::remove_all(path);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, path, &raw).ok()) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(1);
  }
  return std::unique_ptr<rocksdb::DB>(raw);
}

double raw_sync_puts(const std::string& path, int threads, double seconds) {
  auto db = open_raw(path);
  std::atomic<std::uint64_t> count{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        db->Put(sync, "k" + std::to_string(t) + "-" + std::to_string(i), payload_300(i));
        count.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  return static_cast<double>(count.load()) / seconds_since(start);
}

double raw_write_batches(const std::string& path, double seconds) {
  auto db = open_raw(path);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  std::uint64_t count = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    rocksdb::WriteBatch batch;
    for (int i = 0; i < 100; ++i, ++count)
      batch.Put("k" + std::to_string(count), payload_300(count));
    db->Write(sync, &batch);
  }
  return static_cast<double>(count) / seconds_since(start);
}

struct AppendFigures {
  double events_per_s;
  double p50_ms;
  double p99_ms;
};

// Producers are asynchronous, as the server's request handlers are: each keeps
// exactly one append outstanding and issues its next one from the completion
// callback, so `producers` appends are always in flight.
AppendFigures store_appends(const std::string& path, int producers, double seconds) {
  std::filesystem::remove_all(path);
  ap::es::Options options;
  options.path = path;
  options.clock_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::unique_ptr<ap::es::EventStore> store;
  if (!ap::es::EventStore::open(options, &store).ok()) std::exit(1);
  struct Producer {
    int id = 0;
    std::uint64_t n = 0;
    Clock::time_point begin;
    std::vector<double> latencies_ms;
  };
  std::vector<Producer> state(producers);
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};
  std::function<void(Producer&)> issue = [&](Producer& p) {
    std::vector<ap::es::StreamAppend> parts;
    parts.push_back({"bench-" + std::to_string(p.id) + "-" + std::to_string(p.n % 100),
                     ap::es::ExpectedVersion::any(),
                     {{"bench.event", payload_300(p.n)}}});
    ++p.n;
    p.begin = Clock::now();
    store->append(std::move(parts), [&](const ap::es::Status& status, const ap::es::AppendResult&) {
      if (!status.ok()) std::exit(1);
      p.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - p.begin).count());
      if (stop.load(std::memory_order_relaxed)) {
        finished.fetch_add(1);
      } else {
        issue(p);
      }
    });
  };
  const auto start = Clock::now();
  for (int t = 0; t < producers; ++t) {
    state[t].id = t;
    issue(state[t]);
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  while (finished.load() < producers) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double elapsed = seconds_since(start);
  std::vector<double> all;
  for (auto& p : state) all.insert(all.end(), p.latencies_ms.begin(), p.latencies_ms.end());
  std::sort(all.begin(), all.end());
  AppendFigures figures{};
  figures.events_per_s = static_cast<double>(all.size()) / elapsed;
  figures.p50_ms = all.empty() ? 0 : all[all.size() / 2];
  figures.p99_ms = all.empty() ? 0 : all[all.size() * 99 / 100];
  return figures;
}

// Writes `events` events in big appends, then times a full read_all replay
// with a simdjson parse of every payload.
double store_replay(const std::string& path, std::uint64_t events) {
  std::filesystem::remove_all(path);
  ap::es::Options options;
  options.path = path;
  options.clock_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::unique_ptr<ap::es::EventStore> store;
  if (!ap::es::EventStore::open(options, &store).ok()) std::exit(1);
  for (std::uint64_t i = 0; i < events; i += 1000) {
    std::vector<ap::es::NewEvent> batch;
    for (std::uint64_t j = i; j < std::min(events, i + 1000); ++j) {
      batch.push_back({"bench.event", payload_300(j)});
    }
    std::vector<ap::es::StreamAppend> parts;
    parts.push_back({"replay-" + std::to_string(i % 1000), ap::es::ExpectedVersion::any(), batch});
    if (!store->append_and_wait(std::move(parts)).ok()) std::exit(1);
  }
  store.reset();
  if (!ap::es::EventStore::open(options, &store).ok()) std::exit(1);
  simdjson::ondemand::parser parser;
  std::uint64_t parsed = 0;
  std::uint64_t checksum = 0;
  std::vector<ap::es::RecordedEvent> batch;
  const auto start = Clock::now();
  for (std::uint64_t next = 1;; next = batch.back().position + 1) {
    if (!store->read_all(next, 1000, &batch).ok()) std::exit(1);
    if (batch.empty()) break;
    for (ap::es::RecordedEvent& event : batch) {
      event.payload.reserve(event.payload.size() + simdjson::SIMDJSON_PADDING);
      auto doc =
          parser.iterate(event.payload.data(), event.payload.size(), event.payload.capacity());
      checksum += doc["n"].get_uint64().value();
      ++parsed;
    }
  }
  const double rate = static_cast<double>(parsed) / seconds_since(start);
  if (parsed != events || checksum == 0) std::fprintf(stderr, "replay mismatch\n");
  return rate;
}

double raw_scan_parse(const std::string& path, std::uint64_t events) {
  auto db = open_raw(path);
  for (std::uint64_t i = 0; i < events; i += 1000) {
    rocksdb::WriteBatch batch;
    for (std::uint64_t j = i; j < std::min(events, i + 1000); ++j) {
      char key[9] = {'E'};
      for (int b = 0; b < 8; ++b) key[1 + b] = static_cast<char>(j >> (56 - 8 * b));
      batch.Put(rocksdb::Slice(key, 9), payload_300(j));
    }
    db->Write(rocksdb::WriteOptions(), &batch);
  }
  db->Flush(rocksdb::FlushOptions());
  simdjson::ondemand::parser parser;
  std::uint64_t parsed = 0;
  std::uint64_t checksum = 0;
  std::string padded;
  const auto start = Clock::now();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    padded.assign(it->value().data(), it->value().size());
    padded.reserve(padded.size() + simdjson::SIMDJSON_PADDING);
    auto doc = parser.iterate(padded.data(), padded.size(), padded.capacity());
    checksum += doc["n"].get_uint64().value();
    ++parsed;
  }
  const double rate = static_cast<double>(parsed) / seconds_since(start);
  if (parsed != events || checksum == 0) std::fprintf(stderr, "scan mismatch\n");
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "./bench-data";
  double seconds = 3;
  std::uint64_t replay_events = 500'000;
  bool ceiling_only = false;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--ceiling-only") == 0) {
      ceiling_only = true;
    } else if (std::strcmp(argv[i], "--dir") == 0 && has_value) {
      dir = argv[++i];
    } else if (std::strcmp(argv[i], "--seconds") == 0 && has_value) {
      seconds = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--replay-events") == 0 && has_value) {
      replay_events = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  std::filesystem::create_directories(dir);

  const double ceiling_puts = raw_sync_puts(dir + "/raw-puts", 64, seconds);
  if (ceiling_only) {
    std::printf("%.0f\n", ceiling_puts);
    std::filesystem::remove_all(dir);
    return 0;
  }
  const double ceiling_batch = raw_write_batches(dir + "/raw-batch", seconds);
  std::printf("ceiling  raw RocksDB put sync=true, 64 threads : %9.0f events/s\n", ceiling_puts);
  std::printf("ceiling  raw RocksDB WriteBatch(100) + sync    : %9.0f events/s\n", ceiling_batch);
  for (int producers : {1, 8, 64}) {
    const AppendFigures f = store_appends(dir + "/store", producers, seconds);
    std::printf(
        "append   %2d producers: %9.0f events/s  p50 %.2f ms  p99 %.2f ms  "
        "= %.2fx raw-puts ceiling, %.2fx WriteBatch ceiling\n",
        producers, f.events_per_s, f.p50_ms, f.p99_ms, f.events_per_s / ceiling_puts,
        f.events_per_s / ceiling_batch);
  }
  const double ceiling_scan = raw_scan_parse(dir + "/raw-scan", replay_events);
  const double replay = store_replay(dir + "/replay", replay_events);
  std::printf("ceiling  raw RocksDB scan + simdjson parse     : %9.0f events/s\n", ceiling_scan);
  std::printf("replay   read_all + simdjson parse             : %9.0f events/s = %.2fx ceiling\n",
              replay, replay / ceiling_scan);
  std::filesystem::remove_all(dir);
}
