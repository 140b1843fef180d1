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

std::int64_t TokenBuckets::take(const std::string& key, double per_s, double burst) {
  const std::int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lock(mu_);
  auto refilled = [&](const Bucket& b) {
    return std::min(burst, b.tokens + static_cast<double>(now - b.at_ms) * per_s / 1000.0);
  };
  if (buckets_.size() >= kSweepAt) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      it = refilled(it->second) >= burst ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst, now});
  Bucket& bucket = it->second;
  bucket.tokens = fresh ? burst : refilled(bucket);
  bucket.at_ms = now;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  return std::max<std::int64_t>(1,
                                static_cast<std::int64_t>((1.0 - bucket.tokens) * 1000.0 / per_s));
}

}  // namespace ap::http
