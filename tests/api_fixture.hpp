// Test support for the REST tests: a server on a fresh data folder with two
// accounts (alice and bob) created by `agentphone admin`, and helpers to call it.
#pragma once

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "tests/server_process.hpp"
#include "tests/temp_dir.hpp"

namespace ap::test {

namespace json = boost::json;

struct Account {
  std::string id;
  std::string key;
};

// Runs `agentphone admin create-account` on a stopped data folder.
inline Account create_account(const std::string& data_dir, const std::string& email) {
  const std::string command =
      std::string(AP_BINARY) + " admin --data-dir " + data_dir + " create-account --email " + email;
  FILE* pipe = popen(command.c_str(), "r");
  char line[256];
  Account account;
  while (pipe != nullptr && fgets(line, sizeof line, pipe) != nullptr) {
    std::string text(line);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (text.rfind("account_id=", 0) == 0) account.id = text.substr(11);
    if (text.rfind("api_key=", 0) == 0) account.key = text.substr(8);
  }
  if (pipe != nullptr) pclose(pipe);
  return account;
}

// Asserts that `r` is a contract error: `status`, a detail and an error
// object whose code is `code` (any code when `code` is empty).
inline void expect_error(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  json::error_code ec;
  const json::value body = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << r.body;
  ASSERT_TRUE(body.is_object()) << r.body;
  const json::value* error = body.as_object().if_contains("error");
  ASSERT_TRUE(error != nullptr && error->is_object()) << r.body;
  if (!code.empty()) {
    EXPECT_EQ(error->at("code"), code.c_str()) << r.body;
  }
  EXPECT_TRUE(body.as_object().contains("detail")) << r.body;
}

// Polls `done` every 20 ms for up to ~10 s; answers whether it came true.
template <class Done>
bool eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class ApiTest : public ::testing::Test {
 protected:
  // Extra `serve` flags for a fixture's server.
  virtual std::vector<std::string> server_flags() const { return {}; }

  void SetUp() override {
    data_ = dir_.path() + "/data";
    alice_ = create_account(data_, "alice@example.com");
    bob_ = create_account(data_, "bob@example.com");
    ASSERT_EQ(alice_.key.rfind("sk_live_", 0), 0u);
    server_ = std::make_unique<ServerProcess>(AP_BINARY, data_, flags());
  }

  std::vector<std::string> flags() const {
    std::vector<std::string> all{
        "--body-limit", "65536", "--idle-timeout-ms", "100", "--sim-numbers-per-area-code", "2"};
    for (const std::string& f : server_flags()) all.push_back(f);
    return all;
  }

  HttpResult call(const Account& who, const std::string& method, const std::string& target,
                  const std::string& body = "") {
    HttpClient client(server_->port());
    return client.request(method, target, body, {{"Authorization", "Bearer " + who.key}});
  }

  json::value call_json(const Account& who, const std::string& method, const std::string& target,
                        const std::string& body = "", int expect = 200) {
    HttpResult r = call(who, method, target, body);
    EXPECT_EQ(r.status, expect) << method << " " << target << " -> " << r.body;
    return json::parse(r.body);
  }

  std::uint64_t log_head() {
    HttpClient client(server_->port());
    return json::parse(client.request("GET", "/healthz").body)
        .at("logHead")
        .to_number<std::uint64_t>();
  }

  // Waits until nothing writes to the log in the background (fixtures whose
  // server reports carrier statuses override it).
  virtual void quiesce() {}

  // Waits (up to ~10 s) until the simulated carrier has reported a final
  // status for every outbound message.
  void wait_for_outbox_final() {
    for (int i = 0; i < 500; ++i) {
      HttpClient client(server_->port());
      const std::string outbox = client.request("GET", "/sim/outbox?limit=1000").body;
      if (outbox.find("\"status\":\"queued\"") == std::string::npos &&
          outbox.find("\"status\":\"sent\"") == std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Asserts that `method target body` answers `status` and writes nothing.
  void expect_refused(const Account& who, const std::string& method, const std::string& target,
                      const std::string& body, int status) {
    quiesce();
    const std::uint64_t before = log_head();
    HttpResult r = call(who, method, target, body);
    EXPECT_EQ(r.status, status) << method << " " << target << " " << body << " -> " << r.body;
    EXPECT_NE(r.body.find("\"detail\""), std::string::npos) << r.body;
    EXPECT_EQ(log_head(), before) << method << " " << target << " wrote to the log";
  }

  TempDir dir_;
  std::string data_;
  Account alice_, bob_;
  std::unique_ptr<ServerProcess> server_;
};

}  // namespace ap::test
