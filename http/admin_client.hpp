// The operator commands' way to a running server: when `<data-dir>/admin.json`
// names one that answers, `agentphone admin …` runs there (the server holds the
// folder's lock); otherwise the command opens the folder itself.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>

namespace ap::http {

// The file a running server writes into its data folder (0600):
// {"url": "http://127.0.0.1:PORT", "token": "…"}.
std::string admin_file(const std::string& data_dir);

// Runs operator command `op` with `args` on the server of `data_dir`,
// printing what it prints; returns its exit code, or nullopt when no server
// holds the folder (no admin.json, or nobody answers at its URL).
std::optional<int> admin_remote(const std::string& data_dir, const std::string& op,
                                boost::json::object args);

}  // namespace ap::http
