// A small blocking HTTP/1.1 client for the command line (`agentphone sim …`).
// One request per connection; plain http only, because the simulator surface
// answers loopback peers only.
#pragma once

#include <cstdint>
#include <string>

namespace ap::http {

struct ClientResponse {
  int status = 0;  // 0 when no answer arrived; then `error` says why.
  std::string body;
  std::string error;
};

// Sends `method target` with a JSON `body` (when not empty) to `base_url`
// ("http://host:port") and waits at most `timeout_ms` for the answer.
ClientResponse http_request(const std::string& base_url, const std::string& method,
                            const std::string& target, const std::string& body,
                            std::int64_t timeout_ms = 10'000, const std::string& bearer_token = "");

}  // namespace ap::http
