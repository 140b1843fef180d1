#include "eventstore/memory_backend.hpp"

#include <cassert>
#include <utility>

namespace ap::es {

namespace {

Status closed_status() {
  return Status(Code::kClosed, "the event store is closed");
}

class MemoryIterator final : public KvIterator {
 public:
  using Map = std::map<std::string, std::string, std::less<>>;
  explicit MemoryIterator(const Map& map) : map_(map), it_(map.end()) {}

  void seek(std::string_view key) override { it_ = map_.lower_bound(key); }
  void seek_for_prev(std::string_view key) override {
    it_ = map_.upper_bound(key);
    it_ = it_ == map_.begin() ? map_.end() : std::prev(it_);
  }
  bool valid() const override { return it_ != map_.end(); }
  void next() override {
    assert(valid());
    ++it_;
  }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }
  Status status() const override { return Status::Ok(); }

 private:
  const Map& map_;
  Map::const_iterator it_;
};

}  // namespace

Status MemoryBackend::get(std::string_view key, std::string* value) const {
  if (closed_) return closed_status();
  if (failing_reads_ > 0) {
    --failing_reads_;
    return Status(Code::kIoError, "injected read failure");
  }
  auto it = map_.find(key);
  if (it == map_.end()) return Status(Code::kNotFound, "not found");
  *value = it->second;
  return Status::Ok();
}

void MemoryBackend::apply(std::string key, std::optional<std::string> value,
                          std::vector<Undo>* journal) {
  auto it = map_.lower_bound(key);
  const bool found = it != map_.end() && it->first == key;
  std::optional<std::string> previous;
  if (found) {
    bytes_ -= it->first.size() + it->second.size();
    if (value) {
      bytes_ += key.size() + value->size();
      previous = std::exchange(it->second, std::move(*value));
    } else {
      previous = std::move(it->second);
      map_.erase(it);
    }
  } else if (value) {
    bytes_ += key.size() + value->size();
    map_.emplace_hint(it, key, std::move(*value));
  }
  journal->push_back(Undo{std::move(key), std::move(previous)});
}

Status MemoryBackend::write(KvBatch batch, Durability durability) {
  if (closed_) return closed_status();
  std::vector<Undo>* journal = durability == Durability::kLogged ? &unsynced_ : &unflushed_;
  for (auto& [key, value] : batch.ops()) {
    // Like a memtable, every write fills it, logged or not.
    unflushed_bytes_ += key.size() + (value ? value->size() : 0);
    apply(std::move(key), std::move(value), journal);
  }
  if (unflushed_bytes_ >= flush_every_bytes_) flush();
  return Status::Ok();
}

Status MemoryBackend::sync() {
  if (closed_) return closed_status();
  unsynced_.clear();
  return Status::Ok();
}

Status MemoryBackend::flush() {
  if (closed_) return closed_status();
  // A flush writes the whole memtable, logged writes included, to a file.
  unsynced_.clear();
  unflushed_.clear();
  unflushed_bytes_ = 0;
  return Status::Ok();
}

std::unique_ptr<KvIterator> MemoryBackend::iterate(ReadPattern) const {
  return std::make_unique<MemoryIterator>(map_);
}

void MemoryBackend::undo(std::vector<Undo>* journal) {
  for (auto it = journal->rbegin(); it != journal->rend(); ++it) {
    auto found = map_.find(it->key);
    if (found != map_.end()) {
      bytes_ -= found->first.size() + found->second.size();
      map_.erase(found);
    }
    if (it->previous) {
      bytes_ += it->key.size() + it->previous->size();
      map_.emplace(it->key, std::move(*it->previous));
    }
  }
  journal->clear();
}

void MemoryBackend::crash(CrashKind kind) {
  // Logged and unlogged writes touch disjoint keys (log records versus view
  // rows), so each journal can be undone on its own.
  undo(&unflushed_);
  unflushed_bytes_ = 0;
  if (kind == CrashKind::kPowerLoss) {
    undo(&unsynced_);
  } else {
    unsynced_.clear();
  }
  failing_reads_ = 0;
  closed_ = false;
}

}  // namespace ap::es
