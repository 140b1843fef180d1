// Unit tests of the event log: every operation and every refusal.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "eventstore/event_store.hpp"
#include "tests/temp_dir.hpp"

namespace ap::es {
namespace {

std::vector<NewEvent> events(std::initializer_list<const char*> payloads) {
  std::vector<NewEvent> out;
  for (const char* payload : payloads) out.push_back(NewEvent{"test.event", payload});
  return out;
}

StreamAppend part(std::string stream, ExpectedVersion expected,
                  std::initializer_list<const char*> payloads) {
  return StreamAppend{std::move(stream), expected, events(payloads)};
}

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open(std::function<std::int64_t()> clock = {}) {
    Options options;
    options.path = dir_.path();
    options.max_event_bytes = 4096;
    options.max_events_per_append = 10;
    options.clock_ms = clock ? clock : [this] { return now_ms_.load(); };
    ASSERT_TRUE(EventStore::open(options, &store_).ok());
  }

  void reopen() {
    store_.reset();
    open();
  }

  Status append(StreamAppend one, AppendResult* result = nullptr) {
    std::vector<StreamAppend> parts;
    parts.push_back(std::move(one));
    return store_->append_and_wait(std::move(parts), result);
  }

  // The stream's version; a failed read fails the test.
  std::uint64_t version_of(const std::string& stream) const {
    std::uint64_t version = 0;
    const Status s = store_->stream_version(stream, &version);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return version;
  }

  std::uint64_t checkpoint_of(const std::string& projection) const {
    std::uint64_t position = 0;
    const Status s = store_->load_checkpoint(projection, &position);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return position;
  }

  TempDir dir_;
  std::atomic<std::int64_t> now_ms_{1'700'000'000'000};
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, AppendAssignsDensePositionsVersionsAndClockTime) {
  AppendResult result;
  ASSERT_TRUE(
      append(part("a", ExpectedVersion::no_stream(), {"{\"n\":1}", "{\"n\":2}"}), &result).ok());
  EXPECT_EQ(result.first_position, 1u);
  EXPECT_EQ(result.last_position, 2u);
  EXPECT_EQ(result.stream_version, 2u);
  now_ms_ = 1'700'000'000'500;
  ASSERT_TRUE(append(part("b", ExpectedVersion::any(), {"{\"n\":3}"}), &result).ok());
  EXPECT_EQ(result.first_position, 3u);
  EXPECT_EQ(result.stream_version, 1u);

  std::vector<RecordedEvent> all;
  ASSERT_TRUE(store_->read_all(1, 100, &all).ok());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].stream, "a");
  EXPECT_EQ(all[0].version, 1u);
  EXPECT_EQ(all[1].version, 2u);
  EXPECT_EQ(all[1].payload, "{\"n\":2}");
  EXPECT_EQ(all[0].time_ms, 1'700'000'000'000);
  EXPECT_EQ(all[2].time_ms, 1'700'000'000'500);
  EXPECT_EQ(all[2].stream, "b");
  EXPECT_EQ(store_->head_position(), 3u);
  EXPECT_EQ(version_of("a"), 2u);
  EXPECT_EQ(version_of("missing"), 0u);
}

TEST_F(EventStoreTest, TimeNeverGoesBackwardsEvenIfTheClockDoes) {
  ASSERT_TRUE(append(part("a", ExpectedVersion::any(), {"{}"})).ok());
  now_ms_ = 5;
  ASSERT_TRUE(append(part("a", ExpectedVersion::any(), {"{}"})).ok());
  std::vector<RecordedEvent> all;
  ASSERT_TRUE(store_->read_all(1, 10, &all).ok());
  EXPECT_EQ(all[1].time_ms, all[0].time_ms);
}

TEST_F(EventStoreTest, ReadStreamFromVersionAndBounded) {
  ASSERT_TRUE(append(part("s", ExpectedVersion::any(), {"1", "2", "3", "4"})).ok());
  ASSERT_TRUE(append(part("other", ExpectedVersion::any(), {"x"})).ok());
  ASSERT_TRUE(append(part("s", ExpectedVersion::exact(4), {"5"})).ok());
  std::vector<RecordedEvent> out;
  ASSERT_TRUE(store_->read_stream("s", 3, 2, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].payload, "3");
  EXPECT_EQ(out[1].payload, "4");
  ASSERT_TRUE(store_->read_stream("s", 1, 100, &out).ok());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[4].payload, "5");
  EXPECT_EQ(out[4].position, 6u);
  // A stream whose id is a prefix of another must not see the other's events.
  ASSERT_TRUE(append(part("s2", ExpectedVersion::any(), {"y"})).ok());
  ASSERT_TRUE(store_->read_stream("s", 6, 100, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(EventStoreTest, ExpectedVersionMismatchIsRefusedAndWritesNothing) {
  ASSERT_TRUE(append(part("s", ExpectedVersion::no_stream(), {"1"})).ok());
  Status s = append(part("s", ExpectedVersion::no_stream(), {"2"}));
  EXPECT_EQ(s.code(), Code::kWrongExpectedVersion);
  EXPECT_NE(s.message().find("is at version 1, expected 0"), std::string::npos) << s.message();
  EXPECT_EQ(append(part("s", ExpectedVersion::exact(3), {"2"})).code(),
            Code::kWrongExpectedVersion);
  EXPECT_EQ(append(part("new", ExpectedVersion::exact(1), {"2"})).code(),
            Code::kWrongExpectedVersion);
  EXPECT_EQ(store_->head_position(), 1u);
  EXPECT_EQ(version_of("s"), 1u);
  EXPECT_EQ(version_of("new"), 0u);
  EXPECT_TRUE(append(part("s", ExpectedVersion::exact(1), {"2"})).ok());
  EXPECT_TRUE(append(part("s", ExpectedVersion::any(), {"3"})).ok());
  EXPECT_EQ(version_of("s"), 3u);
}

TEST_F(EventStoreTest, MultiStreamAppendIsAllOrNothing) {
  ASSERT_TRUE(append(part("b", ExpectedVersion::any(), {"1"})).ok());
  std::vector<StreamAppend> parts;
  parts.push_back(part("a", ExpectedVersion::no_stream(), {"1"}));
  parts.push_back(part("b", ExpectedVersion::no_stream(), {"2"}));  // b exists: refused.
  EXPECT_EQ(store_->append_and_wait(std::move(parts)).code(), Code::kWrongExpectedVersion);
  EXPECT_EQ(store_->head_position(), 1u);
  EXPECT_EQ(version_of("a"), 0u);

  parts.clear();
  parts.push_back(part("a", ExpectedVersion::no_stream(), {"1", "2"}));
  parts.push_back(part("b", ExpectedVersion::exact(1), {"3"}));
  AppendResult result;
  ASSERT_TRUE(store_->append_and_wait(std::move(parts), &result).ok());
  EXPECT_EQ(result.first_position, 2u);
  EXPECT_EQ(result.last_position, 4u);
  EXPECT_EQ(version_of("a"), 2u);
  EXPECT_EQ(version_of("b"), 2u);
}

TEST_F(EventStoreTest, RefusedAppendInAGroupCommitDoesNotAffectTheOthers) {
  // The clock blocks the writer inside its first commit until the other
  // appends are queued, so they all land in the same second group commit.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> calls{0};
  store_.reset();
  open([&]() -> std::int64_t {
    if (calls.fetch_add(1) == 0) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return release; });
    }
    return 1000;
  });
  std::atomic<int> done{0};
  std::map<std::string, Status> outcomes;
  std::mutex outcomes_mu;
  auto record = [&](std::string name) {
    return [&, name](const Status& status, const AppendResult&) {
      std::lock_guard<std::mutex> lock(outcomes_mu);
      outcomes[name] = status;
      done.fetch_add(1);
    };
  };
  store_->append("first", ExpectedVersion::any(), events({"0"}), record("first"));
  while (calls.load() == 0) std::this_thread::yield();
  store_->append("x", ExpectedVersion::no_stream(), events({"1"}), record("good1"));
  store_->append("x", ExpectedVersion::exact(7), events({"2"}), record("bad"));
  store_->append("x", ExpectedVersion::exact(1), events({"3"}), record("good2"));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  while (done.load() < 4) std::this_thread::yield();
  EXPECT_EQ(calls.load(), 2) << "expected exactly two group commits";
  EXPECT_TRUE(outcomes["first"].ok());
  EXPECT_TRUE(outcomes["good1"].ok());
  EXPECT_EQ(outcomes["bad"].code(), Code::kWrongExpectedVersion);
  EXPECT_TRUE(outcomes["good2"].ok());
  std::vector<RecordedEvent> x;
  ASSERT_TRUE(store_->read_stream("x", 1, 10, &x).ok());
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(x[0].payload, "1");
  EXPECT_EQ(x[1].payload, "3");
  EXPECT_EQ(store_->head_position(), 3u);
}

TEST_F(EventStoreTest, LimitsAreRefusedWithClearErrorsAndNothingWritten) {
  EXPECT_EQ(append(part("", ExpectedVersion::any(), {"1"})).code(), Code::kInvalidArgument);
  Status long_id =
      append(part(std::string(kMaxStreamIdBytes + 1, 'a'), ExpectedVersion::any(), {"1"}));
  EXPECT_EQ(long_id.code(), Code::kInvalidArgument);
  EXPECT_NE(long_id.message().find("limit"), std::string::npos);
  EXPECT_EQ(append(part(std::string("a\0b", 3), ExpectedVersion::any(), {"1"})).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(append(StreamAppend{"s", ExpectedVersion::any(), {}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(append(StreamAppend{"s", ExpectedVersion::any(), {NewEvent{"", "{}"}}}).code(),
            Code::kInvalidArgument);
  Status big =
      append(StreamAppend{"s", ExpectedVersion::any(), {NewEvent{"t", std::string(5000, 'x')}}});
  EXPECT_EQ(big.code(), Code::kTooLarge);
  EXPECT_NE(big.message().find("exceeds the limit of 4096"), std::string::npos) << big.message();
  std::vector<NewEvent> many(11, NewEvent{"t", "{}"});
  EXPECT_EQ(append(StreamAppend{"s", ExpectedVersion::any(), many}).code(), Code::kTooLarge);
  std::vector<StreamAppend> twice;
  twice.push_back(part("s", ExpectedVersion::any(), {"1"}));
  twice.push_back(part("s", ExpectedVersion::any(), {"2"}));
  EXPECT_EQ(store_->append_and_wait(std::move(twice)).code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->append_and_wait({}).code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->head_position(), 0u);
  std::vector<NewEvent> exactly_max(10, NewEvent{"t", std::string(4095, 'y')});
  EXPECT_TRUE(append(StreamAppend{"s", ExpectedVersion::any(), exactly_max}).ok());
}

TEST_F(EventStoreTest, ReadAllInBatches) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(append(part("s", ExpectedVersion::any(), {"{}"})).ok());
  std::uint64_t next = 1;
  std::vector<RecordedEvent> batch;
  int batches = 0;
  do {
    ASSERT_TRUE(store_->read_all(next, 10, &batch).ok());
    for (const RecordedEvent& e : batch) EXPECT_EQ(e.position, next++);
    ++batches;
  } while (!batch.empty());
  EXPECT_EQ(next, 26u);
  EXPECT_EQ(batches, 4);
}

TEST_F(EventStoreTest, VerifyChainDetectsTamperingAtTheFirstBadPosition) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        append(part("s" + std::to_string(i % 3), ExpectedVersion::any(), {"{\"v\":1}"})).ok());
  }
  VerifyReport ok = store_->verify_chain();
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.checked, 10u);
  EXPECT_TRUE(store_->verify_chain(4, 7).ok);

  // Rewrite the payload of position 6 behind the store's back.
  store_.reset();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string key(1, 'E');
    put_be64(&key, 6);
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &value).ok());
    const auto at = value.find("\"v\":1");
    ASSERT_NE(at, std::string::npos);
    value[at + 4] = '2';
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, value).ok());
  }
  open();
  VerifyReport bad = store_->verify_chain();
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.first_bad, 6u);
  EXPECT_NE(bad.problem.find("hash mismatch"), std::string::npos);
  EXPECT_EQ(bad.checked, 5u);
  EXPECT_TRUE(store_->verify_chain(1, 5).ok);
}

TEST_F(EventStoreTest, VerifyChainReportsAMissingRecord) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(append(part("s", ExpectedVersion::any(), {"{}"})).ok());
  store_.reset();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string key(1, 'E');
    put_be64(&key, 3);
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), key).ok());
  }
  open();
  VerifyReport report = store_->verify_chain();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad, 3u);
  EXPECT_EQ(report.problem, "record is missing");
}

TEST_F(EventStoreTest, ReopenContinuesPositionsVersionsAndTheChain) {
  ASSERT_TRUE(append(part("a", ExpectedVersion::any(), {"1", "2"})).ok());
  ASSERT_TRUE(append(part("b", ExpectedVersion::any(), {"3"})).ok());
  reopen();
  EXPECT_EQ(store_->head_position(), 3u);
  EXPECT_EQ(version_of("a"), 2u);
  AppendResult result;
  ASSERT_TRUE(append(part("a", ExpectedVersion::exact(2), {"4"}), &result).ok());
  EXPECT_EQ(result.first_position, 4u);
  EXPECT_EQ(result.stream_version, 3u);
  reopen();
  VerifyReport report = store_->verify_chain();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checked, 4u);
}

TEST_F(EventStoreTest, UnknownFormatVersionIsRefusedAndLeftUntouched) {
  ASSERT_TRUE(append(part("a", ExpectedVersion::any(), {"1"})).ok());
  store_.reset();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Mformat", "99").ok());
  }
  auto listing = [&] {
    std::map<std::string, std::pair<std::uintmax_t, std::filesystem::file_time_type>> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      files[entry.path().filename()] = {entry.file_size(), entry.last_write_time()};
    }
    return files;
  };
  const auto before = listing();
  Options options;
  options.path = dir_.path();
  std::unique_ptr<EventStore> refused;
  Status s = EventStore::open(options, &refused);
  EXPECT_EQ(s.code(), Code::kUnsupportedFormat);
  EXPECT_NE(s.message().find("format version '99'"), std::string::npos) << s.message();
  EXPECT_EQ(refused, nullptr);
  EXPECT_EQ(listing(), before);
}

TEST_F(EventStoreTest, SubscriptionCatchesUpThenGoesLiveWithoutGapsOrDuplicates) {
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(append(part("s", ExpectedVersion::any(), {"{}"})).ok());
  std::mutex mu;
  std::vector<std::uint64_t> seen;
  auto subscription = store_->subscribe(11, [&](const std::vector<RecordedEvent>& batch) {
    std::lock_guard<std::mutex> lock(mu);
    for (const RecordedEvent& e : batch) seen.push_back(e.position);
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        ASSERT_TRUE(append(part("w" + std::to_string(t), ExpectedVersion::any(), {"{}"})).ok());
      }
    });
  }
  for (std::thread& w : writers) w.join();
  ASSERT_TRUE(store_->wait_for_head(130, 5000));
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (seen.size() >= 120) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  subscription.reset();
  ASSERT_EQ(seen.size(), 120u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 11 + i);
}

TEST_F(EventStoreTest, SnapshotsKeepTheLatestPerStream) {
  std::optional<Snapshot> snapshot;
  ASSERT_TRUE(store_->load_snapshot("a", &snapshot).ok());
  EXPECT_FALSE(snapshot.has_value());
  ASSERT_TRUE(store_->save_snapshot("a", Snapshot{3, "state-3"}).ok());
  ASSERT_TRUE(store_->save_snapshot("a", Snapshot{7, std::string("state\0-7", 8)}).ok());
  reopen();
  ASSERT_TRUE(store_->load_snapshot("a", &snapshot).ok());
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->version, 7u);
  EXPECT_EQ(snapshot->bytes, std::string("state\0-7", 8));
}

TEST_F(EventStoreTest, ViewUpdatesCommitWithTheirCheckpoint) {
  EXPECT_EQ(checkpoint_of("p"), 0u);
  ViewBatch batch;
  batch.put("acct1/b", "B");
  batch.put("acct1/a", "A");
  batch.put("acct2/c", "C");
  ASSERT_TRUE(store_->commit_view("p", batch, 42).ok());
  ViewBatch second;
  second.erase("acct1/b");
  second.put("acct1/d", "D");
  ASSERT_TRUE(store_->commit_view("p", second, 43).ok());
  reopen();
  EXPECT_EQ(checkpoint_of("p"), 43u);
  EXPECT_EQ(checkpoint_of("other"), 0u);
  std::string value;
  ASSERT_TRUE(store_->get_view("p", "acct2/c", &value).ok());
  EXPECT_EQ(value, "C");
  EXPECT_EQ(store_->get_view("p", "acct1/b", &value).code(), Code::kNotFound);
  EXPECT_EQ(store_->get_view("q", "acct2/c", &value).code(), Code::kNotFound);
  std::vector<std::string> keys;
  ASSERT_TRUE(store_
                  ->scan_view("p", "acct1/", "",
                              [&](std::string_view key, std::string_view) {
                                keys.emplace_back(key);
                                return true;
                              })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"acct1/a", "acct1/d"}));
  keys.clear();
  ASSERT_TRUE(store_
                  ->scan_view("p", "acct1/", "acct1/b",
                              [&](std::string_view key, std::string_view) {
                                keys.emplace_back(key);
                                return true;
                              })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"acct1/d"}));
}

TEST_F(EventStoreTest, ManyProducersOverManyStreamsKeepEverythingDense) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 200;
  constexpr int kStreams = 40;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string stream = "stream-" + std::to_string((t * 7 + i) % kStreams);
        if (i % 2 == 0) {
          ASSERT_TRUE(append(part(stream, ExpectedVersion::any(), {"{\"k\":1}"})).ok());
          continue;
        }
        // Optimistic writers retry on conflicts, as actors would after reloading.
        for (;;) {
          const std::uint64_t version = version_of(stream);
          Status s = append(part(
              stream, version == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(version),
              {"{\"k\":2}"}));
          if (s.ok()) break;
          ASSERT_EQ(s.code(), Code::kWrongExpectedVersion);
          conflicts.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& p : producers) p.join();
  const std::uint64_t total = kThreads * kPerThread;
  EXPECT_EQ(store_->head_position(), total);
  std::vector<RecordedEvent> all;
  ASSERT_TRUE(store_->read_all(1, total + 10, &all).ok());
  ASSERT_EQ(all.size(), total);
  std::map<std::string, std::uint64_t> versions;
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].position, i + 1);
    EXPECT_EQ(all[i].version, ++versions[all[i].stream]) << all[i].stream;
  }
  for (const auto& [stream, version] : versions) {
    EXPECT_EQ(version_of(stream), version);
  }
  VerifyReport report = store_->verify_chain();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checked, total);
}

}  // namespace
}  // namespace ap::es
