// KvBackend: the ordered key-value store under the event log. The log's key
// layout, hash chain and version checks live in EventStore and are the same
// on every backend; a backend only stores bytes in key order.
//
// Two backends: RocksDB (the server's, durable on disk) and an in-memory map
// (the simulator's and tests'), which also models what a crash loses: what
// RocksDB loses with an unsynced WAL tail and an unflushed memtable.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventstore/status.hpp"

namespace ap::es {

// Writes applied together, in order: all or none.
class KvBatch {
 public:
  void put(std::string key, std::string value) {
    ops_.emplace_back(std::move(key), std::move(value));
  }
  void erase(std::string key) { ops_.emplace_back(std::move(key), std::nullopt); }
  bool empty() const { return ops_.empty(); }
  const std::vector<std::pair<std::string, std::optional<std::string>>>& ops() const {
    return ops_;
  }
  std::vector<std::pair<std::string, std::optional<std::string>>>& ops() { return ops_; }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> ops_;
};

// A cursor over keys in byte order. Valid until the backend is written to.
class KvIterator {
 public:
  virtual ~KvIterator() = default;
  // Positions at the first key >= `key`.
  virtual void seek(std::string_view key) = 0;
  // Positions at the last key <= `key`.
  virtual void seek_for_prev(std::string_view key) = 0;
  virtual bool valid() const = 0;
  virtual void next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // An I/O error met while iterating (valid() is then false).
  virtual Status status() const = 0;
};

// How an iterator will be used, so that a backend can read ahead.
enum class ReadPattern {
  kShort,     // A seek and a few steps: the default for everything online.
  kWholeLog,  // A forward walk over much of the store (the audit): read
              // ahead, and leave the block cache to the online readers.
};

// How writes are made durable.
enum class Durability {
  kLogged,    // Through the write-ahead log: survives a process crash once
              // written, and a power loss once sync() returns.
  kUnlogged,  // Memtable only: survives a crash only once flushed (views,
              // whose checkpoint travels in the same batch).
};

// What a simulated crash loses (memory backend).
enum class CrashKind {
  kProcess,    // The process dies: unlogged writes since the last flush are lost.
  kPowerLoss,  // The machine dies: also logged writes not yet synced.
};

class KvBackend {
 public:
  virtual ~KvBackend() = default;
  // Reads `key`. kNotFound when absent; other codes are I/O errors.
  virtual Status get(std::string_view key, std::string* value) const = 0;
  // Takes the batch by value: a backend may keep its bytes without copying.
  virtual Status write(KvBatch batch, Durability durability) = 0;
  // Makes every logged write so far survive a power loss.
  virtual Status sync() = 0;
  // Makes every write so far, logged or not, survive a crash.
  virtual Status flush() = 0;
  virtual std::unique_ptr<KvIterator> iterate(ReadPattern pattern = ReadPattern::kShort) const = 0;
  // Releases files; the backend may not be used afterwards.
  virtual void close() = 0;
  // Writes a consistent copy of everything written so far into the new
  // folder `dir` (which must not exist), while writes go on.
  virtual Status checkpoint(const std::string& dir) {
    return Status(Code::kInvalidArgument, "this store cannot be copied to " + dir);
  }
};

// Opens (creating when missing) the RocksDB database at `path`. `*existed`
// tells whether it was there before. When `refuse_unless` is set and the
// folder exists, the value at key refuse_unless->first must equal
// refuse_unless->second, checked read-only first, so that a folder of another
// format is refused with kUnsupportedFormat and left untouched.
Status open_rocksdb_backend(const std::string& path,
                            const std::optional<std::pair<std::string, std::string>>& refuse_unless,
                            std::unique_ptr<KvBackend>* out, bool* existed);

}  // namespace ap::es
