// Identifiers, API keys and hashing. Time and randomness come from the
// Clock and Entropy ports; hashing from OpenSSL.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "actors/domain.hpp"
#include "actors/ports.hpp"

namespace ap::domain {

// Time-ordered ids: prefix + 12 hex digits of ms time + 6 hex digits of a
// per-process sequence + 8 random hex digits, so that ids of one process sort
// by creation and ids of different processes do not collide. Under the
// simulator's clock and seeded entropy the same run yields the same ids.
class Ids final : public IdSource {
 public:
  Ids(const Clock& clock, Entropy& entropy) : clock_(clock), entropy_(entropy) {}
  std::string new_id(std::string_view prefix) override;

 private:
  const Clock& clock_;
  Entropy& entropy_;
  std::atomic<std::uint32_t> sequence_{0};
};

// Returns `bytes` random bytes from `entropy` as lowercase hex.
std::string random_hex(Entropy& entropy, std::size_t bytes);

// A new API key: "sk_live_" + 48 random hex digits.
std::string new_api_key(Entropy& entropy);

// Lowercase hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

// Constant-time equality of two strings of equal length (false otherwise).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace ap::domain
