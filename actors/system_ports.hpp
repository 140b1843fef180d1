// The server's ports: the system clock, OpenSSL's CSPRNG and one timer thread.
// The simulator has its own (sim/virtual_ports.hpp); nothing else in the
// server reads the time, draws random bytes or sleeps.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "actors/ports.hpp"

namespace ap::domain {

// Unix milliseconds from the system clock, never smaller than a value it
// returned before (a wall clock stepped back does not reorder events).
class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override;

 private:
  mutable std::mutex mu_;
  mutable std::int64_t last_ms_ = 0;
};

// OpenSSL's RAND_bytes. A failure of the CSPRNG is fatal: no id or secret may
// ever come from a weaker source.
class OpenSslEntropy final : public Entropy {
 public:
  void fill(void* out, std::size_t bytes) override;
};

// One thread that runs timed work in due order (equal due times in the order
// they were scheduled). stop() joins it; work not yet due is dropped.
class ThreadTimers final : public Timers {
 public:
  ThreadTimers();
  ~ThreadTimers() override;
  ThreadTimers(const ThreadTimers&) = delete;
  ThreadTimers& operator=(const ThreadTimers&) = delete;

  void after(std::int64_t delay_ms, std::function<void()> fn) override;
  void stop();

 private:
  struct Entry {
    std::int64_t due_ns;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Entry& other) const {
      return due_ns != other.due_ns ? due_ns > other.due_ns : seq > other.seq;
    }
  };
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue_;
  std::uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// The embedded mail port: each mail becomes a file "<ms>-<reference>.eml"
// (headers, a blank line, the text) in `dir`, readable only by its owner
// (it may hold a sign-up code). `agentphone sim mail` prints the newest.
// Files are written on the `timers` thread, never the caller's.
class FileMailer final : public MailPort {
 public:
  FileMailer(std::string dir, const Clock& clock, Timers& timers)
      : dir_(std::move(dir)), clock_(clock), timers_(timers) {}
  void send(const Mail& mail, std::function<void(std::string error)> done) override;

 private:
  std::string dir_;
  const Clock& clock_;
  Timers& timers_;
};

}  // namespace ap::domain
