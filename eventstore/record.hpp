// Record encoding and the hash chain. docs/eventlog-format.md describes the
// same bytes in prose for auditors who verify the log with other tools.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "eventstore/status.hpp"

namespace ap::es {

using Hash = std::array<std::uint8_t, 32>;

// One committed event as stored in the log.
struct RecordedEvent {
  std::uint64_t position = 0;  // Dense global position, from 1.
  std::string stream;          // Stream id (1..kMaxStreamIdBytes bytes, no NUL).
  std::uint64_t version = 0;   // Dense version within the stream, from 1.
  std::string type;            // Event type, e.g. "agent.created".
  std::int64_t time_ms = 0;    // Milliseconds since the Unix epoch, from the store's clock.
  std::string payload;         // JSON text, stored byte-for-byte as appended.
  Hash hash{};                 // SHA-256(previous hash || canonical bytes).
};

// A stored record read in place: every view points into the stored value it
// was decoded from and is valid only as long as that value is.
struct RecordView {
  std::uint64_t position = 0;
  std::string_view stream;
  std::uint64_t version = 0;
  std::string_view type;
  std::int64_t time_ms = 0;
  std::string_view payload;
  std::string_view canonical;          // The bytes the chain hashes: the value without its hash.
  const std::uint8_t* hash = nullptr;  // The stored 32-byte hash.
};

// Canonical bytes of `event` (everything but the hash), as hashed and stored.
std::string encode_canonical(const RecordedEvent& event);

// Returns SHA-256(previous || canonical).
Hash chain_hash(const Hash& previous, std::string_view canonical);

// Returns the stored value for `event`: canonical bytes followed by the hash.
std::string encode_value(const RecordedEvent& event);

// Decodes a stored value. Returns kCorruption when the bytes are malformed.
// It does not check the hash against the chain; verify_chain does that.
Status decode_value(std::string_view value, RecordedEvent* event);
// The same without copying: `out` views `value`.
Status decode_view(std::string_view value, RecordView* out);

// Whether the stored hash `view.hash` is SHA-256(previous || view.canonical).
bool hash_matches(const Hash& previous, const RecordView& view);

// Lowercase hex of `hash`.
std::string to_hex(const Hash& hash);

// Big-endian fixed-width integers, the only integer encoding on disk.
void put_be64(std::string* out, std::uint64_t value);
void put_be32(std::string* out, std::uint32_t value);
std::uint64_t get_be64(const char* bytes);
std::uint32_t get_be32(const char* bytes);

}  // namespace ap::es
