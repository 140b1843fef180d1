// The RocksDB backend: the only translation unit that includes RocksDB.
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

#include "eventstore/kv.hpp"

namespace ap::es {

namespace {

// Whole-log walks read this far ahead of the iterator: large sequential reads
// instead of one per 4 KiB block.
constexpr std::size_t kWholeLogReadaheadBytes = std::size_t{2} << 20;

Status from_rocks(const rocksdb::Status& status) {
  if (status.ok()) return Status::Ok();
  if (status.IsNotFound()) return Status(Code::kNotFound, status.ToString());
  if (status.IsCorruption()) return Status(Code::kCorruption, status.ToString());
  return Status(Code::kIoError, status.ToString());
}

rocksdb::Slice slice(std::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

class RocksIterator final : public KvIterator {
 public:
  explicit RocksIterator(rocksdb::Iterator* it) : it_(it) {}
  void seek(std::string_view key) override { it_->Seek(slice(key)); }
  void seek_for_prev(std::string_view key) override { it_->SeekForPrev(slice(key)); }
  bool valid() const override { return it_->Valid(); }
  void next() override { it_->Next(); }
  std::string_view key() const override { return {it_->key().data(), it_->key().size()}; }
  std::string_view value() const override { return {it_->value().data(), it_->value().size()}; }
  Status status() const override { return from_rocks(it_->status()); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksBackend final : public KvBackend {
 public:
  explicit RocksBackend(rocksdb::DB* db) : db_(db) {}
  ~RocksBackend() override { close(); }

  Status get(std::string_view key, std::string* value) const override {
    if (!db_) return Status(Code::kClosed, "the event store is closed");
    return from_rocks(db_->Get(rocksdb::ReadOptions(), slice(key), value));
  }

  Status write(KvBatch batch, Durability durability) override {
    if (!db_) return Status(Code::kClosed, "the event store is closed");
    rocksdb::WriteBatch write_batch;
    for (const auto& [key, value] : batch.ops()) {
      if (value) {
        write_batch.Put(key, *value);
      } else {
        write_batch.Delete(key);
      }
    }
    rocksdb::WriteOptions options;
    options.disableWAL = durability == Durability::kUnlogged;
    return from_rocks(db_->Write(options, &write_batch));
  }

  Status sync() override {
    if (!db_) return Status(Code::kClosed, "the event store is closed");
    return from_rocks(db_->SyncWAL());
  }

  Status flush() override {
    if (!db_) return Status(Code::kClosed, "the event store is closed");
    return from_rocks(db_->Flush(rocksdb::FlushOptions()));
  }

  std::unique_ptr<KvIterator> iterate(ReadPattern pattern) const override {
    rocksdb::ReadOptions options;
    if (pattern == ReadPattern::kWholeLog) {
      options.readahead_size = kWholeLogReadaheadBytes;
      options.fill_cache = false;
    }
    return std::make_unique<RocksIterator>(db_->NewIterator(options));
  }

  Status checkpoint(const std::string& dir) override {
    if (!db_) return Status(Code::kClosed, "the event store is closed");
    rocksdb::Checkpoint* raw = nullptr;
    rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
    if (!s.ok()) return from_rocks(s);
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // Hard links where the folders share a file system, copies otherwise;
    // the WAL is flushed into it so that the copy holds every logged write.
    return from_rocks(checkpoint->CreateCheckpoint(dir, 0));
  }

  void close() override {
    if (!db_) return;
    db_->Close();
    db_.reset();
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

Status open_rocksdb_backend(const std::string& path,
                            const std::optional<std::pair<std::string, std::string>>& refuse_unless,
                            std::unique_ptr<KvBackend>* out, bool* existed) {
  *existed = std::filesystem::exists(std::filesystem::path(path) / "CURRENT");
  if (*existed && refuse_unless) {
    // Check read-only first so that a folder we cannot read is not touched
    // at all (a normal open would write a new MANIFEST and WAL).
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, &raw);
    if (!s.ok()) return Status(Code::kIoError, "cannot open " + path + ": " + s.ToString());
    std::unique_ptr<rocksdb::DB> probe(raw);
    std::string value;
    s = probe->Get(rocksdb::ReadOptions(), refuse_unless->first, &value);
    if (!s.ok() || value != refuse_unless->second) {
      return Status(Code::kUnsupportedFormat,
                    "data folder " + path + " has format version '" +
                        (s.ok() ? value : std::string("none")) + "'; this build reads version " +
                        refuse_unless->second + ". The folder was left untouched.");
    }
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.max_background_jobs = 2;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return Status(Code::kIoError, "cannot open " + path + ": " + s.ToString());
  *out = std::make_unique<RocksBackend>(raw);
  return Status::Ok();
}

}  // namespace ap::es
