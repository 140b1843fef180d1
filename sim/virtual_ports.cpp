#include "sim/virtual_ports.hpp"
#include "actors/invariant.hpp"

#include <algorithm>
#include <cstring>

namespace ap::sim {

void ManualClock::advance_to(std::int64_t ms) {
  now_ms_ = std::max(now_ms_, ms);
}

std::uint64_t splitmix64(std::uint64_t* state) {
  std::uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

SeededEntropy::SeededEntropy(std::uint64_t seed) {
  std::uint64_t state = seed;
  for (std::uint64_t& word : s_) word = splitmix64(&state);
}

std::uint64_t SeededEntropy::next() {
  auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void SeededEntropy::fill(void* out, std::size_t bytes) {
  auto* p = static_cast<unsigned char*>(out);
  while (bytes > 0) {
    const std::uint64_t word = next();
    const std::size_t n = std::min<std::size_t>(bytes, sizeof word);
    // Little-endian byte order by construction, not by the machine's.
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(word >> (8 * i));
    p += n;
    bytes -= n;
  }
}

std::uint64_t derive_seed(std::uint64_t seed, std::string_view name) {
  // FNV-1a of the name, mixed with the seed through splitmix64.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  std::uint64_t state = seed ^ h;
  return splitmix64(&state);
}

void VirtualTimers::after(std::int64_t delay_ms, std::function<void()> fn) {
  queue_.emplace(std::make_pair(clock_.now_ms() + std::max<std::int64_t>(0, delay_ms), seq_++),
                 std::move(fn));
}

std::int64_t VirtualTimers::next_due_ms() const {
  AP_ASSERT(!queue_.empty(), "a step runs a queued timer");
  return queue_.begin()->first.first;
}

std::size_t VirtualTimers::run_due() {
  std::size_t ran = 0;
  while (!queue_.empty() && queue_.begin()->first.first <= clock_.now_ms()) {
    std::function<void()> fn = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    fn();
    ++ran;
  }
  return ran;
}

}  // namespace ap::sim
