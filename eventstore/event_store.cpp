#include "eventstore/event_store.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace ap::es {

// Key layout (one ordered key space, one-byte prefixes; see
// docs/eventlog-format.md):
//   'M' name                         -> store metadata ("format" -> "1")
//   'E' be64(position)               -> event record (canonical bytes + hash)
//   'S' stream 0x00 be64(version)    -> be64(position)
//   'H' stream                       -> be64(last version)
//   'P' stream                       -> be64(snapshot version) + snapshot bytes
//   'C' projection                   -> be64(checkpoint position)
//   'V' projection 0x00 key          -> view value
namespace {

constexpr char kMetaPrefix = 'M';
constexpr char kEventPrefix = 'E';
constexpr char kStreamIndexPrefix = 'S';
constexpr char kStreamHeadPrefix = 'H';
constexpr char kSnapshotPrefix = 'P';
constexpr char kCheckpointPrefix = 'C';
constexpr char kViewPrefix = 'V';
constexpr std::size_t kSubscriptionBatch = 1000;

std::string event_key(std::uint64_t position) {
  std::string key(1, kEventPrefix);
  put_be64(&key, position);
  return key;
}

std::string stream_index_key(const std::string& stream, std::uint64_t version) {
  std::string key(1, kStreamIndexPrefix);
  key.append(stream);
  key.push_back('\0');
  put_be64(&key, version);
  return key;
}

std::string prefixed(char prefix, const std::string& name) {
  std::string key(1, prefix);
  key.append(name);
  return key;
}

std::string view_key(const std::string& projection, const std::string& key) {
  std::string out(1, kViewPrefix);
  out.append(projection);
  out.push_back('\0');
  out.append(key);
  return out;
}

std::string be64_string(std::uint64_t value) {
  std::string out;
  put_be64(&out, value);
  return out;
}

Status closed_status() {
  return Status(Code::kClosed, "the event store is closed");
}

bool is_event_key(std::string_view key) {
  return key.size() == 9 && key[0] == kEventPrefix;
}

Status validate_append(const std::vector<StreamAppend>& parts, const Options& options) {
  if (parts.empty()) return Status(Code::kInvalidArgument, "an append needs at least one stream");
  std::size_t total_events = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const StreamAppend& part = parts[i];
    if (part.stream.empty()) return Status(Code::kInvalidArgument, "stream id must not be empty");
    if (part.stream.size() > kMaxStreamIdBytes) {
      return Status(Code::kInvalidArgument, "stream id is " + std::to_string(part.stream.size()) +
                                                " bytes; the limit is " +
                                                std::to_string(kMaxStreamIdBytes));
    }
    if (part.stream.find('\0') != std::string::npos) {
      return Status(Code::kInvalidArgument, "stream id must not contain NUL bytes");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (parts[j].stream == part.stream) {
        return Status(Code::kInvalidArgument, "stream '" + part.stream + "' appears twice");
      }
    }
    if (part.events.empty()) {
      return Status(Code::kInvalidArgument, "append to '" + part.stream + "' has no events");
    }
    for (const NewEvent& event : part.events) {
      if (event.type.empty() || event.type.size() > kMaxTypeBytes) {
        return Status(Code::kInvalidArgument,
                      "event type must be 1.." + std::to_string(kMaxTypeBytes) + " bytes");
      }
      const std::size_t bytes = event.type.size() + event.payload.size();
      if (bytes > options.max_event_bytes) {
        return Status(Code::kTooLarge, "event of " + std::to_string(bytes) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(options.max_event_bytes));
      }
    }
    total_events += part.events.size();
  }
  if (total_events > options.max_events_per_append) {
    return Status(Code::kTooLarge, "append of " + std::to_string(total_events) +
                                       " events exceeds the limit of " +
                                       std::to_string(options.max_events_per_append));
  }
  return Status::Ok();
}

std::size_t event_count(const std::vector<StreamAppend>& parts) {
  std::size_t count = 0;
  for (const StreamAppend& part : parts) count += part.events.size();
  return count;
}

}  // namespace

class SyncSubscription;

void ViewBatch::put(std::string key, std::string value) {
  ops_[std::move(key)] = std::move(value);
}

void ViewBatch::erase(std::string key) {
  ops_[std::move(key)] = std::nullopt;
}

const std::optional<std::string>* ViewBatch::find(const std::string& key) const {
  auto it = ops_.find(key);
  return it == ops_.end() ? nullptr : &it->second;
}

struct EventStore::Impl {
  struct Pending {
    std::vector<StreamAppend> parts;
    AppendCallback done;
  };

  Options options;
  std::shared_ptr<KvBackend> db;
  std::atomic<bool> closed{false};

  // Queue between producers and the writer thread.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Pending> queue;
  bool closing = false;
  bool writer_done = false;  // close() has drained the writer and the syncer.

  // Writer-thread state: the next position and the chain's last hash.
  std::uint64_t next_position = 1;
  Hash last_hash{};
  std::int64_t last_time_ms = 0;
  Status sticky_error;  // Set once a commit fails; every later append fails with it.

  // Published head, with a condition variable for subscribers and waiters.
  std::atomic<std::uint64_t> head{0};
  mutable std::mutex head_mu;
  mutable std::condition_variable head_cv;

  std::thread writer;

  // Between the writer (stage 1) and the syncer (stage 2).
  struct Completion {
    AppendCallback done;
    Status status;
    AppendResult result;
  };
  struct SyncItem {
    std::uint64_t last_position;  // 0 when the batch wrote nothing.
    std::vector<Completion> completions;
  };
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::deque<SyncItem> sync_queue;
  bool sync_closing = false;
  Status sync_failed;  // Guarded by queue_mu; copied into sticky_error by the writer.
  std::thread syncer;

  // Reads the big-endian 64-bit counter at `key` (`what` names it in
  // errors): 0 when the key does not exist; a failed read or a malformed
  // value is an error, never 0 (an append checked against a wrong version 0
  // would write a second version 1).
  Status read_counter(const std::string& key, const std::string& what, std::uint64_t* out) const {
    *out = 0;
    std::string value;
    Status s = db->get(key, &value);
    if (s.code() == Code::kNotFound) return Status::Ok();
    if (!s.ok()) return s;
    if (value.size() != 8) return Status(Code::kCorruption, what + " is not 8 bytes");
    *out = get_be64(value.data());
    return Status::Ok();
  }

  Status read_stream_head(const std::string& stream, std::uint64_t* version) const {
    return read_counter(prefixed(kStreamHeadPrefix, stream), "stream head of '" + stream + "'",
                        version);
  }

  // Synchronous mode: subscriptions that pump() feeds.
  std::vector<SyncSubscription*> sync_subscriptions;

  void publish_head(std::uint64_t position) {
    {
      std::lock_guard<std::mutex> lock(head_mu);
      head.store(position, std::memory_order_release);
    }
    head_cv.notify_all();
  }

  void run_writer() {
    for (;;) {
      std::vector<Pending> batch;
      {
        std::unique_lock<std::mutex> lock(queue_mu);
        queue_cv.wait(lock, [&] { return closing || !queue.empty(); });
        if (queue.empty()) return;  // closing and drained.
        batch = take_batch_locked();
      }
      commit(batch);
    }
  }

  // Takes the next group commit off the queue. Requires queue_mu held.
  std::vector<Pending> take_batch_locked() {
    if (!sync_failed.ok() && sticky_error.ok()) sticky_error = sync_failed;
    std::vector<Pending> batch;
    std::size_t events = 0;
    while (!queue.empty() && (batch.empty() || events + event_count(queue.front().parts) <=
                                                   options.max_events_per_commit)) {
      events += event_count(queue.front().parts);
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    return batch;
  }

  // Checks every pending append against the current stream versions, writes the
  // accepted ones in one batch, and hands them to the sync stage.
  void commit(std::vector<Pending>& batch) {
    struct Outcome {
      Status status;
      AppendResult result;
    };
    std::vector<Outcome> outcomes(batch.size());
    KvBatch write_batch;
    std::unordered_map<std::string, std::uint64_t> versions;  // Includes this batch's appends.
    std::uint64_t position = next_position;
    Hash hash = last_hash;
    const std::int64_t now_ms = std::max(last_time_ms, options.clock_ms());
    bool any_accepted = false;

    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!sticky_error.ok()) {
        outcomes[i].status = sticky_error;
        continue;
      }
      const std::vector<StreamAppend>& parts = batch[i].parts;
      Status check;
      std::vector<std::uint64_t> current(parts.size());
      for (std::size_t p = 0; p < parts.size() && check.ok(); ++p) {
        auto it = versions.find(parts[p].stream);
        if (it != versions.end()) {
          current[p] = it->second;
        } else if (Status read = read_stream_head(parts[p].stream, &current[p]); !read.ok()) {
          check = read;  // Refused whole: nothing of this append is written.
          break;
        }
        const ExpectedVersion& expected = parts[p].expected;
        if (!expected.is_any() && expected.value() != current[p]) {
          check = Status(Code::kWrongExpectedVersion,
                         "stream '" + parts[p].stream + "' is at version " +
                             std::to_string(current[p]) + ", expected " +
                             std::to_string(expected.value()));
        }
      }
      if (!check.ok()) {
        outcomes[i].status = check;
        continue;
      }
      AppendResult& result = outcomes[i].result;
      result.first_position = position;
      result.time_ms = now_ms;
      for (std::size_t p = 0; p < parts.size(); ++p) {
        std::uint64_t version = current[p];
        for (const NewEvent& event : parts[p].events) {
          RecordedEvent record;
          record.position = position;
          record.stream = parts[p].stream;
          record.version = ++version;
          record.type = event.type;
          record.time_ms = now_ms;
          record.payload = event.payload;
          const std::string canonical = encode_canonical(record);
          hash = chain_hash(hash, canonical);
          std::string value = canonical;
          value.append(reinterpret_cast<const char*>(hash.data()), hash.size());
          write_batch.put(event_key(position), std::move(value));
          write_batch.put(stream_index_key(record.stream, record.version), be64_string(position));
          ++position;
        }
        write_batch.put(prefixed(kStreamHeadPrefix, parts[p].stream), be64_string(version));
        versions[parts[p].stream] = version;
        result.stream_version = version;
      }
      result.last_position = position - 1;
      any_accepted = true;
    }

    // Stage 1: write the batch without syncing. Its events are not published
    // (head does not move) and nobody is told about them yet.
    std::uint64_t last = 0;
    if (any_accepted) {
      Status s = db->write(std::move(write_batch), Durability::kLogged);
      if (s.ok()) {
        next_position = position;
        last_hash = hash;
        last_time_ms = now_ms;
        last = position - 1;
      } else {
        sticky_error = Status(Code::kIoError, "log write failed: " + s.message());
        for (Outcome& outcome : outcomes) {
          if (outcome.status.ok()) outcome.status = sticky_error;
        }
      }
    }
    // Stage 2 (the syncer thread) fsyncs the WAL, then publishes and completes.
    // While it waits for the disk, this thread prepares the next batch.
    std::vector<Completion> completions;
    completions.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      completions.push_back(
          Completion{std::move(batch[i].done), outcomes[i].status, outcomes[i].result});
    }
    {
      std::lock_guard<std::mutex> lock(sync_mu);
      sync_queue.push_back(SyncItem{last, std::move(completions)});
    }
    sync_cv.notify_one();
  }

  // Stage 2 for `items`: one sync for all of them, then the new head is
  // published and every append they hold is completed, in commit order.
  void complete(std::deque<SyncItem>& items) {
    std::uint64_t last = 0;
    for (const SyncItem& item : items) last = std::max(last, item.last_position);
    Status synced;
    if (last > 0) {
      Status s = db->sync();
      if (!s.ok()) synced = Status(Code::kIoError, "log sync failed: " + s.message());
    }
    if (synced.ok() && last > 0) publish_head(last);
    for (SyncItem& item : items) {
      for (Completion& completion : item.completions) {
        // A failed sync fails every append it covered; the writer stops
        // accepting new ones through the sticky error it will see next.
        const Status& status = completion.status.ok() && !synced.ok() ? synced : completion.status;
        completion.done(status, completion.result);
      }
    }
    if (!synced.ok()) {
      std::lock_guard<std::mutex> lock(queue_mu);
      sync_failed = synced;
    }
  }

  // Syncs once for every batch written since the last sync, then publishes
  // the new head and runs the callbacks, in commit order.
  void run_syncer() {
    for (;;) {
      std::deque<SyncItem> items;
      {
        std::unique_lock<std::mutex> lock(sync_mu);
        sync_cv.wait(lock, [&] { return sync_closing || !sync_queue.empty(); });
        if (sync_queue.empty()) return;  // closing and drained.
        items.swap(sync_queue);
      }
      complete(items);
    }
  }

  std::size_t pump();
};

namespace {

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(const EventStore* store, std::mutex* head_mu, std::condition_variable* head_cv,
                   std::uint64_t from_position, EventHandler handler)
      : store_(store),
        head_mu_(head_mu),
        head_cv_(head_cv),
        next_(std::max<std::uint64_t>(1, from_position)),
        handler_(std::move(handler)) {
    thread_ = std::thread([this] { run(); });
  }

  ~SubscriptionImpl() override {
    {
      std::lock_guard<std::mutex> lock(*head_mu_);
      stop_ = true;
    }
    head_cv_->notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::vector<RecordedEvent> events;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(*head_mu_);
        head_cv_->wait(lock, [&] { return stop_ || store_->head_position() >= next_; });
        if (stop_) return;
      }
      events.clear();
      const std::uint64_t head = store_->head_position();
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(kSubscriptionBatch, head - next_ + 1));
      Status s = store_->read_all(next_, want, &events);
      // The records up to head are committed; failing to read them back means
      // the store is broken, and skipping them would break the no-gap promise.
      assert(s.ok() && !events.empty() && events.front().position == next_);
      if (!s.ok() || events.empty()) return;
      next_ = events.back().position + 1;
      handler_(events);
    }
  }

  const EventStore* store_;
  std::mutex* head_mu_;
  std::condition_variable* head_cv_;
  std::uint64_t next_;
  EventHandler handler_;
  bool stop_ = false;  // Guarded by *head_mu_.
  std::thread thread_;
};

}  // namespace

// Synchronous mode's subscription: pump() calls deliver().
class SyncSubscription final : public Subscription {
 public:
  SyncSubscription(const EventStore* store, std::vector<SyncSubscription*>* registry,
                   std::uint64_t from_position, EventHandler handler)
      : store_(store),
        registry_(registry),
        next_(std::max<std::uint64_t>(1, from_position)),
        handler_(std::move(handler)) {
    registry_->push_back(this);
  }
  ~SyncSubscription() override { std::erase(*registry_, this); }

  // Delivers at most one batch of committed events; returns how many.
  std::size_t deliver() {
    const std::uint64_t head = store_->head_position();
    if (head < next_) return 0;
    std::vector<RecordedEvent> events;
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kSubscriptionBatch, head - next_ + 1));
    const Status s = store_->read_all(next_, want, &events);
    // Committed records that cannot be read back mean a broken store; a gap
    // would break the subscription's promise, so stop here loudly.
    assert(s.ok() && !events.empty() && events.front().position == next_);
    if (!s.ok() || events.empty()) return 0;
    next_ = events.back().position + 1;
    handler_(events);
    return events.size();
  }

 private:
  const EventStore* store_;
  std::vector<SyncSubscription*>* registry_;
  std::uint64_t next_;
  EventHandler handler_;
};

std::size_t EventStore::Impl::pump() {
  assert(options.synchronous);
  if (closed.load()) return 0;
  std::size_t done = 0;
  // Stage 2 of the batch the previous pump wrote.
  std::deque<SyncItem> items;
  items.swap(sync_queue);
  for (const SyncItem& item : items) done += item.completions.size();
  if (!items.empty()) complete(items);
  // Stage 1 of what was queued since.
  std::vector<Pending> batch;
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    batch = take_batch_locked();
  }
  if (!batch.empty()) {
    done += batch.size();
    commit(batch);
  }
  // Subscribers, on a copy of the list: a handler may subscribe or unsubscribe.
  const std::vector<SyncSubscription*> subscribers = sync_subscriptions;
  for (SyncSubscription* subscriber : subscribers) {
    if (std::find(sync_subscriptions.begin(), sync_subscriptions.end(), subscriber) !=
        sync_subscriptions.end()) {
      done += subscriber->deliver();
    }
  }
  return done;
}

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventStore::~EventStore() {
  close();
  if (impl_) {
    impl_->closed.store(true);
    impl_->db->close();
  }
}

Status EventStore::open(Options options, std::unique_ptr<EventStore>* out) {
  std::unique_ptr<KvBackend> backend;
  bool existed = false;
  Status s = open_rocksdb_backend(
      options.path, std::make_pair(prefixed(kMetaPrefix, "format"), std::to_string(kFormatVersion)),
      &backend, &existed);
  if (!s.ok()) return s;
  return open(std::move(options), std::shared_ptr<KvBackend>(std::move(backend)), out);
}

Status EventStore::open(Options options, std::shared_ptr<KvBackend> backend,
                        std::unique_ptr<EventStore>* out) {
  assert(options.clock_ms && "the event store needs a clock");
  assert(backend != nullptr);
  const std::string format_key = prefixed(kMetaPrefix, "format");
  const std::string format_value = std::to_string(kFormatVersion);
  std::string format;
  Status s = backend->get(format_key, &format);
  if (s.code() == Code::kNotFound) {
    // A fresh store: record the format before anything else, durably.
    KvBatch batch;
    batch.put(format_key, format_value);
    s = backend->write(std::move(batch), Durability::kLogged);
    if (s.ok()) s = backend->sync();
    if (!s.ok()) return s;
  } else if (!s.ok()) {
    return s;
  } else if (format != format_value) {
    return Status(Code::kUnsupportedFormat, "the store has format version '" + format +
                                                "'; this build reads version " + format_value);
  }

  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->db = std::move(backend);

  // Recover the head, the chain's last hash and the last commit time from the
  // last event record.
  {
    std::unique_ptr<KvIterator> it = impl->db->iterate();
    it->seek_for_prev(event_key(~std::uint64_t{0}));
    if (it->valid() && is_event_key(it->key())) {
      RecordedEvent last;
      Status d = decode_value(it->value(), &last);
      if (!d.ok()) return d;
      impl->next_position = last.position + 1;
      impl->last_hash = last.hash;
      impl->last_time_ms = last.time_ms;
      impl->head.store(last.position);
    } else if (!it->status().ok()) {
      return it->status();
    }
  }

  out->reset(new EventStore(std::move(impl)));
  Impl* started = (*out)->impl_.get();
  if (!started->options.synchronous) {
    started->writer = std::thread([started] { started->run_writer(); });
    started->syncer = std::thread([started] { started->run_syncer(); });
  }
  return Status::Ok();
}

void EventStore::close() {
  if (!impl_ || impl_->closed.load()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->queue_mu);
    if (impl_->closing && impl_->writer_done) return;  // Closed before.
  }
  {
    std::lock_guard<std::mutex> lock(impl_->queue_mu);
    impl_->closing = true;
  }
  if (impl_->options.synchronous) {
    // Commit and complete what is queued; subscribers hear nothing more.
    while (!impl_->queue.empty() || !impl_->sync_queue.empty()) {
      std::deque<Impl::SyncItem> items;
      items.swap(impl_->sync_queue);
      if (!items.empty()) impl_->complete(items);
      std::vector<Impl::Pending> batch = impl_->take_batch_locked();
      if (!batch.empty()) impl_->commit(batch);
    }
  } else {
    impl_->queue_cv.notify_all();
    if (impl_->writer.joinable()) impl_->writer.join();
    {
      std::lock_guard<std::mutex> lock(impl_->sync_mu);
      impl_->sync_closing = true;
    }
    impl_->sync_cv.notify_all();
    if (impl_->syncer.joinable()) impl_->syncer.join();
  }
  {
    std::lock_guard<std::mutex> lock(impl_->queue_mu);
    impl_->writer_done = true;
  }
  // The database stays open for readers (the projection may still be
  // applying the last batch) until the store is destroyed.
  impl_->db->flush();
}

void EventStore::abandon() {
  assert(impl_->options.synchronous);
  impl_->closed.store(true);
  std::lock_guard<std::mutex> lock(impl_->queue_mu);
  impl_->closing = true;
  impl_->queue.clear();
  impl_->sync_queue.clear();
}

std::size_t EventStore::pump() {
  return impl_->pump();
}

std::uint64_t EventStore::head_position() const {
  return impl_->head.load(std::memory_order_acquire);
}

std::string EventStore::head_hash() const {
  std::vector<RecordedEvent> head;
  const std::uint64_t position = head_position();
  if (position == 0 || !read_all(position, 1, &head).ok() || head.empty()) return "";
  return to_hex(head.front().hash);
}

void EventStore::append(std::vector<StreamAppend> parts, AppendCallback done) {
  assert(done);
  Status valid = validate_append(parts, impl_->options);
  if (!valid.ok()) {
    done(valid, AppendResult{});
    return;
  }
  {
    std::unique_lock<std::mutex> lock(impl_->queue_mu);
    if (impl_->closing) {
      lock.unlock();
      done(closed_status(), AppendResult{});
      return;
    }
    if (impl_->queue.size() >= impl_->options.max_pending_appends) {
      lock.unlock();
      done(Status(Code::kBusy, "too many appends are pending; retry shortly"), AppendResult{});
      return;
    }
    impl_->queue.push_back(Impl::Pending{std::move(parts), std::move(done)});
  }
  impl_->queue_cv.notify_one();
}

void EventStore::append(std::string stream, ExpectedVersion expected, std::vector<NewEvent> events,
                        AppendCallback done) {
  std::vector<StreamAppend> parts;
  parts.push_back(StreamAppend{std::move(stream), expected, std::move(events)});
  append(std::move(parts), std::move(done));
}

Status EventStore::append_and_wait(std::vector<StreamAppend> parts, AppendResult* result) {
  std::promise<std::pair<Status, AppendResult>> promise;
  auto future = promise.get_future();
  append(std::move(parts), [&promise](const Status& status, const AppendResult& appended) {
    promise.set_value({status, appended});
  });
  if (impl_->options.synchronous) {
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (pump() == 0) break;
    }
  }
  auto [status, appended] = future.get();
  if (result != nullptr) *result = appended;
  return status;
}

Status EventStore::read_stream(const std::string& stream, std::uint64_t from_version,
                               std::size_t max_count, std::vector<RecordedEvent>* out) const {
  out->clear();
  if (impl_->closed.load()) return closed_status();
  std::string prefix(1, kStreamIndexPrefix);
  prefix.append(stream);
  prefix.push_back('\0');
  std::vector<std::string> keys;
  {
    std::unique_ptr<KvIterator> it = impl_->db->iterate();
    const std::uint64_t head = head_position();
    for (it->seek(stream_index_key(stream, std::max<std::uint64_t>(1, from_version)));
         it->valid() && keys.size() < max_count && it->key().starts_with(prefix); it->next()) {
      if (it->value().size() != 8) return Status(Code::kCorruption, "bad stream index entry");
      const std::uint64_t position = get_be64(it->value().data());
      if (position > head) break;  // Written but not yet synced.
      keys.push_back(event_key(position));
    }
    if (!it->status().ok()) return it->status();
  }
  out->reserve(keys.size());
  for (const std::string& key : keys) {
    std::string value;
    Status s = impl_->db->get(key, &value);
    if (!s.ok()) return s;
    out->emplace_back();
    Status d = decode_value(value, &out->back());
    if (!d.ok()) return d;
  }
  return Status::Ok();
}

Status EventStore::read_all(std::uint64_t from_position, std::size_t max_count,
                            std::vector<RecordedEvent>* out) const {
  out->clear();
  if (max_count == 0) return Status::Ok();
  return scan(from_position, ReadPattern::kShort, [&](const RecordView& view) {
    RecordedEvent& e = out->emplace_back();
    e.position = view.position;
    e.stream.assign(view.stream);
    e.version = view.version;
    e.type.assign(view.type);
    e.time_ms = view.time_ms;
    e.payload.assign(view.payload);
    std::copy(view.hash, view.hash + e.hash.size(), e.hash.begin());
    return out->size() < max_count;
  });
}

Status EventStore::scan(std::uint64_t from_position, ReadPattern pattern,
                        const std::function<bool(const RecordView&)>& visit) const {
  if (impl_->closed.load()) return closed_status();
  // Events past the head are written but not yet synced; they are not part
  // of the log until the head covers them.
  const std::uint64_t head = head_position();
  from_position = std::max<std::uint64_t>(1, from_position);
  if (from_position > head) return Status::Ok();
  std::unique_ptr<KvIterator> it = impl_->db->iterate(pattern);
  RecordView view;
  for (it->seek(event_key(from_position)); it->valid() && is_event_key(it->key()); it->next()) {
    if (get_be64(it->key().data() + 1) > head) break;
    if (Status d = decode_view(it->value(), &view); !d.ok()) {
      return Status(
          Code::kCorruption,
          "position " + std::to_string(get_be64(it->key().data() + 1)) + ": " + d.message());
    }
    if (!visit(view)) return Status::Ok();
  }
  return it->status();
}

Status EventStore::stream_version(const std::string& stream, std::uint64_t* version) const {
  *version = 0;
  if (impl_->closed.load()) return closed_status();
  return impl_->read_stream_head(stream, version);
}

VerifyReport EventStore::verify_chain(std::uint64_t from, std::uint64_t to) const {
  VerifyReport report;
  from = std::max<std::uint64_t>(1, from);
  if (to == 0) to = head_position();
  if (from > to) return report;
  auto fail = [&report](std::uint64_t position, std::string problem) {
    report.ok = false;
    report.first_bad = position;
    report.problem = std::move(problem);
    return report;
  };
  if (impl_->closed.load()) return fail(from, "the event store is closed");

  Hash previous{};
  if (from > 1) {
    // The chain is verified from `from` on, trusting the hash stored at from-1.
    std::string value;
    RecordedEvent before;
    if (!impl_->db->get(event_key(from - 1), &value).ok() || !decode_value(value, &before).ok()) {
      return fail(from - 1, "record is missing or malformed");
    }
    previous = before.hash;
  }

  std::unique_ptr<KvIterator> it = impl_->db->iterate();
  std::uint64_t expected = from;
  for (it->seek(event_key(from)); expected <= to; it->next(), ++expected) {
    if (!it->valid() || !is_event_key(it->key()) || get_be64(it->key().data() + 1) != expected) {
      return fail(expected, "record is missing");
    }
    RecordedEvent record;
    Status d = decode_value(it->value(), &record);
    if (!d.ok()) return fail(expected, d.message());
    if (record.position != expected) return fail(expected, "record holds another position");
    const Hash recomputed = chain_hash(previous, encode_canonical(record));
    if (recomputed != record.hash) {
      return fail(expected, "hash mismatch: stored " + to_hex(record.hash) + ", computed " +
                                to_hex(recomputed));
    }
    previous = record.hash;
    ++report.checked;
  }
  return report;
}

std::unique_ptr<Subscription> EventStore::subscribe(std::uint64_t from_position,
                                                    EventHandler handler) {
  if (impl_->options.synchronous) {
    return std::make_unique<SyncSubscription>(this, &impl_->sync_subscriptions, from_position,
                                              std::move(handler));
  }
  return std::make_unique<SubscriptionImpl>(this, &impl_->head_mu, &impl_->head_cv, from_position,
                                            std::move(handler));
}

bool EventStore::wait_for_head(std::uint64_t position, std::int64_t timeout_ms) const {
  // Nothing moves the head while a synchronous store's only thread waits.
  if (impl_->options.synchronous) return head_position() >= position;
  std::unique_lock<std::mutex> lock(impl_->head_mu);
  return impl_->head_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                 [&] { return head_position() >= position; });
}

Status EventStore::backup(const std::string& dir) {
  if (impl_->closed.load()) return closed_status();
  return impl_->db->checkpoint(dir);
}

Status EventStore::save_snapshot(const std::string& stream, const Snapshot& snapshot) {
  if (impl_->closed.load()) return closed_status();
  std::string value = be64_string(snapshot.version);
  value.append(snapshot.bytes);
  KvBatch batch;
  batch.put(prefixed(kSnapshotPrefix, stream), std::move(value));
  return impl_->db->write(std::move(batch), Durability::kLogged);
}

Status EventStore::load_snapshot(const std::string& stream, std::optional<Snapshot>* out) const {
  out->reset();
  if (impl_->closed.load()) return closed_status();
  std::string value;
  Status s = impl_->db->get(prefixed(kSnapshotPrefix, stream), &value);
  if (s.code() == Code::kNotFound) return Status::Ok();
  if (!s.ok()) return s;
  if (value.size() < 8) return Status(Code::kCorruption, "snapshot shorter than its header");
  *out = Snapshot{get_be64(value.data()), value.substr(8)};
  return Status::Ok();
}

Status EventStore::commit_view(const std::string& projection, ViewBatch batch,
                               std::uint64_t checkpoint_position) {
  if (impl_->closed.load()) return closed_status();
  KvBatch write_batch;
  for (auto& [key, value] : batch.ops_) {
    if (value) {
      write_batch.put(view_key(projection, key), std::move(*value));
    } else {
      write_batch.erase(view_key(projection, key));
    }
  }
  write_batch.put(prefixed(kCheckpointPrefix, projection), be64_string(checkpoint_position));
  // Views are derived data: the checkpoint travels in the same batch, so a
  // write lost to a crash is simply replayed from the log.
  return impl_->db->write(std::move(write_batch), Durability::kUnlogged);
}

Status EventStore::load_checkpoint(const std::string& projection, std::uint64_t* position) const {
  *position = 0;
  if (impl_->closed.load()) return closed_status();
  return impl_->read_counter(prefixed(kCheckpointPrefix, projection),
                             "checkpoint of '" + projection + "'", position);
}

Status EventStore::get_view(const std::string& projection, const std::string& key,
                            std::string* value) const {
  if (impl_->closed.load()) return closed_status();
  return impl_->db->get(view_key(projection, key), value);
}

Status EventStore::scan_view(
    const std::string& projection, const std::string& prefix, const std::string& start,
    const std::function<bool(std::string_view, std::string_view)>& visit) const {
  if (impl_->closed.load()) return closed_status();
  const std::string full_prefix = view_key(projection, prefix);
  const std::size_t strip = full_prefix.size() - prefix.size();
  std::unique_ptr<KvIterator> it = impl_->db->iterate();
  for (it->seek(start.empty() ? full_prefix : view_key(projection, start));
       it->valid() && it->key().starts_with(full_prefix); it->next()) {
    std::string_view key = it->key().substr(strip);
    if (!visit(key, it->value())) break;
  }
  return it->status();
}

}  // namespace ap::es
