// The simulator's ports: a virtual clock that moves only when the simulation
// loop moves it, a seeded generator, and timers that fire when the loop asks.
// Everything runs on one thread; nothing here is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "actors/ports.hpp"

namespace ap::sim {

// Unix milliseconds that change only through advance_to().
class ManualClock final : public domain::Clock {
 public:
  explicit ManualClock(std::int64_t start_ms) : now_ms_(start_ms) {}
  std::int64_t now_ms() const override { return now_ms_; }
  // Moves the clock to `ms`; it never moves backwards.
  void advance_to(std::int64_t ms);

 private:
  std::int64_t now_ms_;
};

// splitmix64: expands one 64-bit seed into well-mixed values. Used to seed
// xoshiro and to derive one independent seed per subsystem.
std::uint64_t splitmix64(std::uint64_t* state);

// xoshiro256** (Blackman and Vigna), seeded through splitmix64. The same seed
// yields the same bytes on every machine and standard library.
class SeededEntropy final : public domain::Entropy {
 public:
  explicit SeededEntropy(std::uint64_t seed);
  void fill(void* out, std::size_t bytes) override;
  std::uint64_t next();

 private:
  std::uint64_t s_[4];
};

// The seed of subsystem `name` (e.g. "arrivals", "endpoints") under `seed`:
// each subsystem draws from its own stream, so adding draws to one does not
// shift every other one.
std::uint64_t derive_seed(std::uint64_t seed, std::string_view name);

// Timers in virtual time: after() files work under clock.now_ms() + delay,
// and run_due() runs whatever is due by then, in due order (equal due times
// in the order they were filed).
class VirtualTimers final : public domain::Timers {
 public:
  explicit VirtualTimers(const domain::Clock& clock) : clock_(clock) {}
  void after(std::int64_t delay_ms, std::function<void()> fn) override;

  bool empty() const { return queue_.empty(); }
  std::size_t size() const { return queue_.size(); }
  // Due time of the earliest work; requires !empty().
  std::int64_t next_due_ms() const;
  // Runs the work due at or before clock.now_ms() (including work it files
  // for the same instant). Returns how many ran.
  std::size_t run_due();
  // Drops all work (the node that filed it has crashed).
  void clear() { queue_.clear(); }

 private:
  const domain::Clock& clock_;
  std::uint64_t seq_ = 0;
  std::map<std::pair<std::int64_t, std::uint64_t>, std::function<void()>> queue_;
};

}  // namespace ap::sim
