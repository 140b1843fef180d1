#include "actors/ports.hpp"
#include "actors/invariant.hpp"

#include <limits>

namespace ap::domain {

std::uint64_t Entropy::next_u64() {
  std::uint64_t value = 0;
  fill(&value, sizeof value);
  return value;
}

std::uint64_t Entropy::uniform(std::uint64_t bound) {
  AP_ASSERT(bound >= 1, "uniform() draws from a non-empty range");
  // Values at or above the largest multiple of `bound` would favour the
  // small residues; draw again instead (at most half the draws are refused).
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
  for (;;) {
    const std::uint64_t value = next_u64();
    if (value < limit) return value % bound;
  }
}

bool Entropy::chance_ppm(std::uint64_t per_million) {
  return uniform(1'000'000) < per_million;
}

}  // namespace ap::domain
