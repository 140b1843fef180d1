#include "actors/admin.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>

#include "actors/account.hpp"
#include "actors/secrets.hpp"
#include "eventstore/event_store.hpp"

namespace ap::actors {

namespace json = boost::json;

namespace {

std::unique_ptr<es::EventStore> open_store(const std::string& data_dir) {
  es::Options options;
  options.path = data_dir;
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

// Folds the account's stream into its state; returns its last version.
std::uint64_t load_account(es::EventStore& store, domain::AccountState& state) {
  std::uint64_t version = 0;
  std::vector<es::RecordedEvent> events;
  for (;;) {
    store.read_stream(domain::account_stream(state.id), version + 1, 1000, &events);
    if (events.empty()) return version;
    for (const es::RecordedEvent& e : events) {
      domain::evolve_account(state, e.type, json::parse(e.payload).as_object());
      version = e.version;
    }
  }
}

// Decides `command` against the account and appends the events. Returns 0 on
// success, printing the error otherwise.
int run(es::EventStore& store, domain::AccountState& state, const domain::Command& command) {
  const std::uint64_t version = load_account(store, state);
  domain::RandomIds ids;
  domain::Context context;
  context.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  context.ids = &ids;
  domain::Decision decision = domain::decide_account(state, command, context);
  if (auto* error = std::get_if<domain::DomainError>(&decision)) {
    std::fprintf(stderr, "agentphone admin: %s\n", error->message.c_str());
    return 1;
  }
  es::StreamAppend part{
      domain::account_stream(state.id),
      version == 0 ? es::ExpectedVersion::no_stream() : es::ExpectedVersion::exact(version),
      {}};
  for (const domain::Event& e : std::get<std::vector<domain::Event>>(decision)) {
    part.events.push_back({e.type, json::serialize(e.data)});
  }
  es::Status status = store.append_and_wait({part});
  if (!status.ok()) {
    std::fprintf(stderr, "agentphone admin: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}

domain::Command key_command(const char* type, const std::string& account, const std::string& key,
                            domain::IdSource& ids) {
  return {type, account,
          json::object{{"keyId", ids.new_id("key_")},
                       {"keyPrefix", key.substr(0, 12)},
                       {"keySha256", domain::sha256_hex(key)}}};
}

}  // namespace

int admin_create_account(const std::string& data_dir, const std::string& email) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  domain::RandomIds ids;
  domain::AccountState state;
  state.id = ids.new_id("acct_");
  const std::string key = domain::new_api_key();
  domain::Command command = key_command("account.create", state.id, key, ids);
  command.args["email"] = email;
  if (run(*store, state, command) != 0) return 1;
  // The key is shown once; only its SHA-256 is stored.
  std::printf("account_id=%s\napi_key=%s\n", state.id.c_str(), key.c_str());
  return 0;
}

int admin_create_key(const std::string& data_dir, const std::string& account_id) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  domain::RandomIds ids;
  domain::AccountState state;
  state.id = account_id;
  const std::string key = domain::new_api_key();
  if (run(*store, state, key_command("account.create_key", account_id, key, ids)) != 0) return 1;
  std::printf("api_key=%s\n", key.c_str());
  return 0;
}

int admin_list_keys(const std::string& data_dir, const std::string& account_id) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  domain::AccountState state;
  state.id = account_id;
  load_account(*store, state);
  if (!state.exists) {
    std::fprintf(stderr, "agentphone admin: account %s not found\n", account_id.c_str());
    return 1;
  }
  for (const auto& [id, key] : state.keys) {
    std::printf("%s %s… %s\n", id.c_str(), key.prefix.c_str(), key.revoked ? "revoked" : "active");
  }
  return 0;
}

int admin_revoke_key(const std::string& data_dir, const std::string& account_id,
                     const std::string& key_id) {
  auto store = open_store(data_dir);
  if (!store) return 1;
  domain::AccountState state;
  state.id = account_id;
  if (run(*store, state, {"account.revoke_key", account_id, json::object{{"keyId", key_id}}}) !=
      0) {
    return 1;
  }
  std::printf("revoked %s\n", key_id.c_str());
  return 0;
}

}  // namespace ap::actors
