#include "actors/system_ports.hpp"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>

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

void FileMailer::send(const Mail& mail, std::function<void(std::string error)> done) {
  const std::int64_t at_ms = clock_.now_ms();
  timers_.after(0, [this, mail, at_ms, done = std::move(done)] {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return done("cannot create " + dir_ + ": " + ec.message());
    // Zero-padded time first, so that file names sort by time.
    char stamp[24];
    std::snprintf(stamp, sizeof stamp, "%015lld", static_cast<long long>(at_ms));
    const std::filesystem::path final_path =
        std::filesystem::path(dir_) / (std::string(stamp) + "-" + mail.reference + ".eml");
    const std::filesystem::path temporary = final_path.string() + ".tmp";
    {
      // Created private, then renamed: a reader sees a whole mail or none.
      const mode_t old_mask = ::umask(077);
      std::ofstream file(temporary, std::ios::binary);
      ::umask(old_mask);
      file << "From: AgentPhone <no-reply@agentphone.local>\r\n"
           << "To: " << mail.to << "\r\n"
           << "Subject: " << mail.subject << "\r\n"
           << "X-AgentPhone-Reference: " << mail.reference << "\r\n"
           << "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           << mail.text;
      if (!file) return done("cannot write " + temporary.string());
    }
    std::filesystem::rename(temporary, final_path, ec);
    done(ec ? "cannot write " + final_path.string() + ": " + ec.message() : "");
  });
}

}  // namespace ap::domain
