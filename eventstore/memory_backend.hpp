// MemoryBackend: the log's backend in memory, for the simulator and tests.
// Single-threaded: every call must come from one thread.
//
// It keeps an undo record of every write that a crash could still lose, so
// crash() turns the map into what RocksDB would hold after the same crash:
// unlogged writes since the last flush are undone by any crash, logged writes
// since the last sync also by a power loss. Like RocksDB's memtable, unlogged
// writes are flushed by themselves once `flush_every_bytes` of writes of
// either kind have accumulated.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eventstore/kv.hpp"

namespace ap::es {

class MemoryBackend final : public KvBackend {
 public:
  explicit MemoryBackend(std::size_t flush_every_bytes = 64 << 20)
      : flush_every_bytes_(flush_every_bytes) {}

  Status get(std::string_view key, std::string* value) const override;
  Status write(KvBatch batch, Durability durability) override;
  Status sync() override;
  Status flush() override;
  std::unique_ptr<KvIterator> iterate(ReadPattern pattern) const override;
  void close() override { closed_ = true; }

  // Undoes what `kind` of crash loses and opens the backend again.
  void crash(CrashKind kind);
  // Makes the next `count` reads fail with kIoError (fault injection).
  void fail_next_reads(int count) { failing_reads_ = count; }

  // Bytes of keys and values held (the simulator reports it).
  std::uint64_t bytes() const { return bytes_; }

 private:
  struct Undo {
    std::string key;
    std::optional<std::string> previous;  // The value before the write; none if absent.
  };
  void apply(std::string key, std::optional<std::string> value, std::vector<Undo>* journal);
  void undo(std::vector<Undo>* journal);

  std::map<std::string, std::string, std::less<>> map_;
  std::vector<Undo> unsynced_;   // Logged writes since the last sync.
  std::vector<Undo> unflushed_;  // Unlogged writes since the last flush.
  std::size_t unflushed_bytes_ = 0;
  std::size_t flush_every_bytes_;
  std::uint64_t bytes_ = 0;
  bool closed_ = false;
  mutable int failing_reads_ = 0;
};

}  // namespace ap::es
