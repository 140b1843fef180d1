// The payload the crash child writes for (stream, version), so that the parent
// can check every acknowledged event byte for byte without being told it.
#pragma once

#include <cstdint>
#include <string>

namespace ap {

inline std::string crash_payload(const std::string& stream, std::uint64_t version) {
  std::string payload =
      "{\"stream\":\"" + stream + "\",\"version\":" + std::to_string(version) + ",\"pad\":\"";
  // ~300-byte events, with content that differs per version.
  for (int i = 0; payload.size() < 290; ++i) {
    payload.push_back(static_cast<char>('a' + (version * 31 + i) % 26));
  }
  payload += "\"}";
  return payload;
}

}  // namespace ap
