#include "actors/admin.hpp"

#include <boost/json/object.hpp>

#include <cstdio>

#include "actors/aggregate.hpp"
#include "actors/secrets.hpp"
#include "actors/system_ports.hpp"
#include "eventstore/event_store.hpp"

namespace ap::actors {

namespace json = boost::json;

namespace {

// The operator commands' ports: the same adapters as the server's.
domain::SystemClock& admin_clock() {
  static domain::SystemClock clock;
  return clock;
}
domain::OpenSslEntropy& admin_entropy() {
  static domain::OpenSslEntropy entropy;
  return entropy;
}

std::unique_ptr<es::EventStore> open_store(const std::string& data_dir) {
  es::Options options;
  options.path = data_dir;
  options.clock_ms = [] { return admin_clock().now_ms(); };
  std::unique_ptr<es::EventStore> store;
  es::Status status = es::EventStore::open(options, &store);
  if (!status.ok()) {
    std::fprintf(stderr, "agentphone admin: %s\n", status.message().c_str());
    if (status.message().find("lock") != std::string::npos) {
      std::fprintf(stderr, "agentphone admin: is a server running on %s? Stop it first.\n",
                   data_dir.c_str());
    }
    return nullptr;
  }
  return store;
}

// Decides `command` against account `account_id` and appends the events.
// Returns 0 on success, printing the error otherwise.
int run(es::EventStore& store, const std::string& account_id, const domain::Command& command) {
  Aggregate account;
  if (es::Status s = load_aggregate(store, EntityKind::kAccount, account_id, &account); !s.ok()) {
    std::fprintf(stderr, "agentphone admin: %s\n", s.to_string().c_str());
    return 1;
  }
  domain::Ids ids(admin_clock(), admin_entropy());
  domain::Context context;
  context.now_ms = admin_clock().now_ms();
  context.ids = &ids;
  context.entropy = &admin_entropy();
  domain::Decision decision = decide(account, command, context);
  if (auto* error = std::get_if<domain::DomainError>(&decision)) {
    std::fprintf(stderr, "agentphone admin: %s\n", error->message.c_str());
    return 1;
  }
  es::Status status =
      store.append_and_wait(to_appends(account, std::get<domain::Outcome>(decision).events));
  if (!status.ok()) {
    std::fprintf(stderr, "agentphone admin: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}

// The args of a command that adds `key`: only its prefix and hash are kept.
json::object key_args(const std::string& key) {
  return {{"keyPrefix", key.substr(0, 12)}, {"keySha256", domain::sha256_hex(key)}};
}

}  // namespace

int admin_create_account(const std::string& data_dir, const std::string& email) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  domain::Ids ids(admin_clock(), admin_entropy());
  const std::string account_id = ids.new_id("acct_");
  const std::string key = domain::new_api_key(admin_entropy());
  json::object args = key_args(key);
  args["email"] = email;
  if (run(*store, account_id, {"account.create", account_id, std::move(args)}) != 0) return 1;
  // The key is shown once; only its SHA-256 is stored.
  std::fputs(account_created_text(account_id, key).c_str(), stdout);
  return 0;
}

int admin_create_key(const std::string& data_dir, const std::string& account_id) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  const std::string key = domain::new_api_key(admin_entropy());
  if (run(*store, account_id, {"account.create_key", account_id, key_args(key)}) != 0) return 1;
  std::fputs(key_created_text(key).c_str(), stdout);
  return 0;
}

int admin_list_keys(const std::string& data_dir, const std::string& account_id) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  Aggregate account;
  if (es::Status s = load_aggregate(*store, EntityKind::kAccount, account_id, &account); !s.ok()) {
    std::fprintf(stderr, "agentphone admin: %s\n", s.to_string().c_str());
    return 1;
  }
  const auto& state = std::get<domain::AccountState>(account.state);
  if (!state.exists) {
    std::fprintf(stderr, "agentphone admin: account %s not found\n", account_id.c_str());
    return 1;
  }
  std::fputs(key_list_text(state).c_str(), stdout);
  return 0;
}

int admin_revoke_key(const std::string& data_dir, const std::string& account_id,
                     const std::string& key_id) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  if (run(*store, account_id, {"account.revoke_key", account_id, {{"keyId", key_id}}}) != 0) {
    return 1;
  }
  std::fputs(key_revoked_text(key_id).c_str(), stdout);
  return 0;
}

int admin_backup(const std::string& data_dir, const std::string& to) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  if (es::Status s = store->backup(to); !s.ok()) {
    std::fprintf(stderr, "agentphone admin: backup to %s failed: %s\n", to.c_str(),
                 s.message().c_str());
    return 1;
  }
  std::fputs(backup_text(to, store->head_position()).c_str(), stdout);
  return 0;
}

std::string account_created_text(const std::string& account_id, const std::string& api_key) {
  return "account_id=" + account_id + "\napi_key=" + api_key + "\n";
}

std::string key_created_text(const std::string& api_key) {
  return "api_key=" + api_key + "\n";
}

std::string key_list_text(const domain::AccountState& account) {
  std::string out;
  for (const auto& [id, key] : account.keys) {
    out += id + " " + key.prefix + "… " + (key.revoked ? "revoked" : "active") + "\n";
  }
  return out;
}

std::string key_revoked_text(const std::string& key_id) {
  return "revoked " + key_id + "\n";
}

std::string backup_text(const std::string& dir, std::uint64_t head_position) {
  return "backed up to " + dir + " (log head " + std::to_string(head_position) + ")\n";
}

}  // namespace ap::actors
