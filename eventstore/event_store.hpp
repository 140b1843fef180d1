// EventStore: the durable, ordered, hash-chained event log, on RocksDB in the
// server and in memory in the simulator (eventstore/kv.hpp).
//
// Every event belongs to a stream (one per aggregate) and gets a dense global
// position and a dense stream version. Appends are acknowledged only after the
// RocksDB WriteBatch that holds them has been fsync'd; one writer thread drains
// every pending append into one WriteBatch (group commit), and a second thread
// fsyncs the WAL while the writer prepares the next batch, so throughput comes
// from batching and pipelining rather than from threads.
//
// Synchronous mode (Options::synchronous, for the simulator) starts no
// thread: appends wait in the queue until pump() commits them, completions
// and subscription deliveries run inside pump() on the caller's thread, and
// the pipeline keeps its two stages (a batch written by one pump is synced,
// published and acknowledged by the next), so a simulated power loss can fall
// between them.
//
// Thread safety: every public method may be called from any thread, except
// in synchronous mode, where everything runs on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eventstore/kv.hpp"
#include "eventstore/record.hpp"
#include "eventstore/status.hpp"

namespace ap::es {

// Limits enforced on every append; a violation writes nothing.
constexpr std::size_t kMaxStreamIdBytes = 200;
constexpr std::size_t kMaxTypeBytes = 100;

struct Options {
  std::string path;                            // Data folder; created when missing.
  std::size_t max_event_bytes = 1 << 20;       // type + payload of one event.
  std::size_t max_events_per_append = 1000;    // Events in one append request.
  std::size_t max_pending_appends = 100'000;   // Bounded queue before kBusy.
  std::size_t max_events_per_commit = 20'000;  // Events in one group commit.
  std::function<std::int64_t()> clock_ms;      // Injected clock; required.
  bool synchronous = false;                    // No threads: pump() does the work.
};

// The stream version an append expects to find.
class ExpectedVersion {
 public:
  static ExpectedVersion any() { return ExpectedVersion(kAnyValue); }
  static ExpectedVersion no_stream() { return ExpectedVersion(0); }
  // The stream's last version must be exactly `version` (>= 1).
  static ExpectedVersion exact(std::uint64_t version) { return ExpectedVersion(version); }

  bool is_any() const { return value_ == kAnyValue; }
  // The version the stream must be at; 0 means it must not exist. Undefined for any().
  std::uint64_t value() const { return value_; }

 private:
  static constexpr std::uint64_t kAnyValue = ~std::uint64_t{0};
  explicit ExpectedVersion(std::uint64_t value) : value_(value) {}
  std::uint64_t value_;
};

struct NewEvent {
  std::string type;
  std::string payload;  // JSON text.
};

// One stream's part of an append. An append of several parts is atomic: all of
// them commit, or none does.
struct StreamAppend {
  std::string stream;
  ExpectedVersion expected = ExpectedVersion::any();
  std::vector<NewEvent> events;
};

struct AppendResult {
  std::uint64_t first_position = 0;  // Global position of the first event written.
  std::uint64_t last_position = 0;   // Global position of the last event written.
  std::uint64_t stream_version = 0;  // Version of the last event of the last part.
  std::int64_t time_ms = 0;          // Commit time recorded on these events.
};

// Called exactly once per append, on the syncer thread (inside pump() in
// synchronous mode), after the outcome is durable. It must not block: post
// the result elsewhere and return.
using AppendCallback = std::function<void(const Status&, const AppendResult&)>;

// Receives committed events in position order, on the subscription's thread.
using EventHandler = std::function<void(const std::vector<RecordedEvent>&)>;

// Result of verify_chain.
struct VerifyReport {
  bool ok = true;
  std::uint64_t checked = 0;    // Records whose hash was recomputed.
  std::uint64_t first_bad = 0;  // First position that failed, 0 when ok.
  std::string problem;          // What was wrong at first_bad.
};

struct Snapshot {
  std::uint64_t version = 0;  // Stream version the snapshot reflects.
  std::string bytes;
};

// A running subscription; destroying it stops delivery and joins its thread.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

// A set of view updates for one projection, committed together with the
// projection's checkpoint so that a crash never applies an event twice.
class ViewBatch {
 public:
  void put(std::string key, std::string value);
  void erase(std::string key);
  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  // What this batch will do to `key`: null when it leaves the key alone, else
  // the value it writes (an empty optional when it erases the key). A
  // projection applying several events in one batch reads through this.
  const std::optional<std::string>* find(const std::string& key) const;

 private:
  friend class EventStore;
  std::map<std::string, std::optional<std::string>> ops_;  // Last write per key wins.
};

class EventStore {
 public:
  // Opens or creates the store at options.path on RocksDB. A folder written
  // with an unknown format version is refused with kUnsupportedFormat and not
  // modified.
  static Status open(Options options, std::unique_ptr<EventStore>* out);
  // Opens the store over `backend` (e.g. a MemoryBackend that outlives the
  // store, so that a simulated restart opens the same bytes again).
  static Status open(Options options, std::shared_ptr<KvBackend> backend,
                     std::unique_ptr<EventStore>* out);

  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Queues an atomic append of one or more streams. `done` runs once the batch
  // is fsync'd (or refused). Validation failures call `done` before returning.
  void append(std::vector<StreamAppend> parts, AppendCallback done);
  void append(std::string stream, ExpectedVersion expected, std::vector<NewEvent> events,
              AppendCallback done);

  // Blocking form of append for tools and tests; never call it from an io or
  // actor thread.
  Status append_and_wait(std::vector<StreamAppend> parts, AppendResult* result = nullptr);

  // Reads up to `max_count` events of `stream` with version >= from_version.
  Status read_stream(const std::string& stream, std::uint64_t from_version, std::size_t max_count,
                     std::vector<RecordedEvent>* out) const;

  // Reads up to `max_count` events with position >= from_position.
  Status read_all(std::uint64_t from_position, std::size_t max_count,
                  std::vector<RecordedEvent>* out) const;

  // Calls visit(record) for each committed event with position >=
  // from_position, in order, until it returns false. The record views bytes
  // that are valid only during the call; nothing is copied, which makes this
  // the fast path for whole-log walks (the audit, with kWholeLog). A record
  // that does not decode ends the walk with kCorruption naming its position.
  Status scan(std::uint64_t from_position, ReadPattern pattern,
              const std::function<bool(const RecordView&)>& visit) const;

  // Position of the last committed event (0 for an empty log).
  std::uint64_t head_position() const;
  // Lowercase hex hash of the event at the head ("" for an empty log): it
  // commits to every event before it.
  std::string head_hash() const;

  // Sets *version to the last version of `stream` (0 when it does not
  // exist), including appends that are written and waiting for their fsync.
  // A failed read is an error status, never version 0.
  Status stream_version(const std::string& stream, std::uint64_t* version) const;

  // Recomputes the chain over [from, to] (to = 0 means the head) and reports
  // the first position whose record is missing, malformed or mis-hashed.
  VerifyReport verify_chain(std::uint64_t from = 1, std::uint64_t to = 0) const;

  // Delivers every event from `from_position` on (catch-up), then new ones as
  // they commit (live): in order, with no gap and no duplicate.
  std::unique_ptr<Subscription> subscribe(std::uint64_t from_position, EventHandler handler);

  // Blocks until head_position() >= position or timeout; returns whether reached.
  bool wait_for_head(std::uint64_t position, std::int64_t timeout_ms) const;

  // Snapshots: the latest one per stream. Saving is not fsync'd: a lost
  // snapshot only costs a longer replay.
  Status save_snapshot(const std::string& stream, const Snapshot& snapshot);
  Status load_snapshot(const std::string& stream, std::optional<Snapshot>* out) const;

  // Projection views. commit_view applies `batch` and sets the projection's
  // checkpoint to `checkpoint_position` in one WriteBatch, written without the
  // WAL: views are derived data, so after a crash they and their checkpoint
  // fall back together to the last memtable flush and the projection replays
  // the log from there. (Through the WAL, each view write would wait behind
  // the log's fsync.)
  Status commit_view(const std::string& projection, ViewBatch batch,
                     std::uint64_t checkpoint_position);
  // Sets *position to the projection's checkpoint (0 before its first
  // commit). A failed read is an error status, never 0.
  Status load_checkpoint(const std::string& projection, std::uint64_t* position) const;
  Status get_view(const std::string& projection, const std::string& key, std::string* value) const;
  // Calls visit(key, value) for keys starting with `prefix`, in key order,
  // beginning at `start` (or at the prefix when empty), until it returns false.
  Status scan_view(const std::string& projection, const std::string& prefix,
                   const std::string& start,
                   const std::function<bool(std::string_view, std::string_view)>& visit) const;

  // Synchronous mode: completes the batch the previous call wrote (sync,
  // publish, callbacks), writes the appends queued since as one batch, and
  // delivers committed events to subscriptions (at most one batch of each).
  // Returns how much it did; 0 means there was nothing to do.
  std::size_t pump();

  // Stops accepting appends, drains the queued ones (their callbacks run),
  // then flushes the memtable. Reads still work until the store is destroyed,
  // so a projection or actor finishing its last step never meets a closed
  // database.
  void close();

  // Writes a consistent copy of the whole store (log, snapshots, read model)
  // into the new folder `dir`, while the store stays in use; the copy opens
  // like any data folder. RocksDB stores only.
  Status backup(const std::string& dir);
  // Synchronous mode, for a simulated crash: drops every queued or unsynced
  // append without calling back, and refuses everything from now on. The
  // backend is left as it is (the caller decides what the crash loses).
  void abandon();

  // The format version this build writes and accepts.
  static constexpr int kFormatVersion = 1;

 private:
  struct Impl;
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ap::es
