// RateLimiter: at most `limit` events per key in any window of `window_ms`,
// by the injected clock (sign-ups per email and per client address). Keys
// and their timestamps are bounded: a key keeps at most `limit` times, and
// keys with none left in the window are dropped as the map grows.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "actors/ports.hpp"

namespace ap::http {

class RateLimiter {
 public:
  RateLimiter(const domain::Clock& clock, std::int64_t window_ms)
      : clock_(clock), window_ms_(window_ms) {}

  // Counts one event for `key` and returns 0 when it is within `limit`;
  // otherwise counts nothing and returns how many ms until one is allowed.
  std::int64_t take(const std::string& key, int limit);

 private:
  static constexpr std::size_t kSweepAt = 100'000;  // Keys before stale ones are dropped.

  const domain::Clock& clock_;
  const std::int64_t window_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<std::int64_t>> seen_;
};

// TokenBuckets: per key, `burst` requests at once and `per_s` a second after
// that, by the injected clock (requests per API key). Bounded like
// RateLimiter: keys whose bucket has refilled are dropped as the map grows.
class TokenBuckets {
 public:
  explicit TokenBuckets(const domain::Clock& clock) : clock_(clock) {}

  // Takes one token for `key` and returns 0, or, when the bucket is empty,
  // takes nothing and returns how many ms until a token is there.
  std::int64_t take(const std::string& key, double per_s, double burst);

 private:
  static constexpr std::size_t kSweepAt = 100'000;

  struct Bucket {
    double tokens = 0;
    std::int64_t at_ms = 0;
  };
  const domain::Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace ap::http
