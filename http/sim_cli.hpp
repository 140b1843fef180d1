// `agentphone sim …`: drives the sandbox carrier of a running server from the
// terminal, through its loopback-only /sim surface.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace ap::http {

// Injects an inbound SMS `text` from `from` to our number `to`. Returns the exit code.
int sim_send_sms(const std::string& server, const std::string& from, const std::string& to,
                 const std::string& text);

// Prints the newest `limit` outbound messages (all accounts), or the raw JSON.
int sim_show_outbox(const std::string& server, std::int64_t limit, bool json);

// Calls our number `to` from `from` and holds a conversation: each line read
// from `in` is said to the agent, and what the agent says back (interim lines
// marked) is printed to `out`; "/hangup" or the end of `in` hangs up. Ends
// when the call does. Returns the exit code.
int sim_call(const std::string& server, const std::string& from, const std::string& to,
             std::FILE* in, std::FILE* out);

// Prints the newest mail in `data_dir`/outbox (the file mail port's folder).
// Returns the exit code: 1 when there is none.
int sim_show_mail(const std::string& data_dir, std::FILE* out);

// Sets a fault for destination `to` ("unreachable", "reject", "delay"), or
// clears every fault when `clear`.
int sim_set_fault(const std::string& server, const std::string& to, const std::string& mode,
                  std::int64_t delay_ms, bool clear);

}  // namespace ap::http
