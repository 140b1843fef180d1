// Identifiers, API keys and hashing from OpenSSL.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "actors/domain.hpp"

namespace ap::domain {

// Time-ordered ids: prefix + 12 hex digits of ms time + 6 hex digits of a
// per-process sequence + 8 random hex digits, so that ids of one process sort
// by creation and ids of different processes do not collide.
class RandomIds final : public IdSource {
 public:
  std::string new_id(std::string_view prefix) override;

 private:
  std::atomic<std::uint32_t> sequence_{0};
};

// Returns `bytes` random bytes from OpenSSL's CSPRNG as lowercase hex.
std::string random_hex(std::size_t bytes);

// A new API key: "sk_live_" + 48 random hex digits.
std::string new_api_key();

// Lowercase hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

// Constant-time equality of two strings of equal length (false otherwise).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace ap::domain
