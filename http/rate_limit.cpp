#include "http/rate_limit.hpp"

namespace ap::http {

std::int64_t RateLimiter::take(const std::string& key, int limit) {
  const std::int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lock(mu_);
  if (seen_.size() >= kSweepAt) {
    for (auto it = seen_.begin(); it != seen_.end();) {
      it = it->second.empty() || it->second.back() <= now - window_ms_ ? seen_.erase(it)
                                                                       : std::next(it);
    }
  }
  std::deque<std::int64_t>& times = seen_[key];
  while (!times.empty() && times.front() <= now - window_ms_) times.pop_front();
  if (limit <= 0) return window_ms_;
  if (static_cast<int>(times.size()) >= limit) return times.front() + window_ms_ - now;
  times.push_back(now);
  return 0;
}

}  // namespace ap::http
