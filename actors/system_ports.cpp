#include "actors/system_ports.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace ap::domain {

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::int64_t SystemClock::now_ms() const {
  const std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  std::lock_guard<std::mutex> lock(mu_);
  last_ms_ = std::max(last_ms_, ms);
  return last_ms_;
}

void OpenSslEntropy::fill(void* out, std::size_t bytes) {
  if (RAND_bytes(static_cast<unsigned char*>(out), static_cast<int>(bytes)) != 1) {
    std::fprintf(stderr, "agentphone: OpenSSL's random generator failed; stopping\n");
    std::abort();
  }
}

ThreadTimers::ThreadTimers() : thread_([this] { run(); }) {}

ThreadTimers::~ThreadTimers() {
  stop();
}

void ThreadTimers::after(std::int64_t delay_ms, std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    queue_.push(Entry{steady_ns() + std::max<std::int64_t>(0, delay_ms) * 1'000'000, seq_++,
                      std::move(fn)});
  }
  cv_.notify_one();
}

void ThreadTimers::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ThreadTimers::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const std::int64_t wait_ns = queue_.top().due_ns - steady_ns();
    if (wait_ns > 0) {
      cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns));
      continue;
    }
    std::function<void()> fn = std::move(const_cast<Entry&>(queue_.top()).fn);
    queue_.pop();
    // The work runs unlocked: it may schedule more timers.
    lock.unlock();
    try {
      fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "agentphone: timer work failed: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "agentphone: timer work failed\n");
    }
    lock.lock();
  }
}

}  // namespace ap::domain
