// Operator commands on a running server (issue 13 §2): `agentphone admin …`
// finds `<data-dir>/admin.json` (written 0600 at start: the loopback URL and
// a token drawn from the entropy port) and posts the command here instead of
// opening the folder, which the server holds. The commands go through the
// same account actors as every request; the answer carries exactly what the
// command prints when it runs on a stopped server's folder.
#include "actors/admin.hpp"
#include "actors/secrets.hpp"
#include "http/api_internal.hpp"

namespace ap::http {

namespace {

// {output, error, exit}: what the command prints on stdout and stderr, and its exit code.
Response command_answer(std::string output, std::string error, int exit_code) {
  return json_response(json::object{
      {"output", std::move(output)}, {"error", std::move(error)}, {"exit", exit_code}});
}

Response failed(const std::string& why) {
  return command_answer("", "agentphone admin: " + why + "\n", 1);
}

}  // namespace

void Api::Impl::admin_command(const Request& request, const Reply& reply) {
  const std::string& authorization = request.header("authorization");
  const bool token_ok = !admin_token.empty() && authorization.size() > 7 &&
                        domain::constant_time_equal(authorization.substr(7), admin_token);
  if (!request.from_loopback || !token_ok) {
    return reply(error_response(403, "Operator commands need this machine and the admin token",
                                "FORBIDDEN", "permission_error"));
  }
  if (request.method != "POST") {
    return reply(method_not_allowed_response());
  }
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  auto arg = [&](const char* key) {
    const json::value* v = body.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string op = arg("op");
  const std::string account = arg("account");
  // Runs an account command; answers `text` once the read model shows it.
  auto run = [this, reply](const std::string& id, domain::Command command, std::string text) {
    runtime.send(EntityKind::kAccount, id, std::move(command),
                 [this, reply, text = std::move(text)](CommandResult result) {
                   if (!result.ok) return reply(failed(result.error.message));
                   view.when_applied(result.last_position,
                                     [reply, text] { reply(command_answer(text, "", 0)); });
                 });
  };
  auto key_args = [](const std::string& key) {
    return json::object{{"keyPrefix", key.substr(0, 12)}, {"keySha256", domain::sha256_hex(key)}};
  };
  if (op == "create-account") {
    const std::string id = ids.new_id("acct_");
    const std::string key = domain::new_api_key(entropy);
    json::object args = key_args(key);
    args["email"] = arg("email");
    return run(id, {"account.create", id, std::move(args)}, actors::account_created_text(id, key));
  }
  if (op == "create-key") {
    const std::string key = domain::new_api_key(entropy);
    return run(account, {"account.create_key", account, key_args(key)},
               actors::key_created_text(key));
  }
  if (op == "revoke-key") {
    const std::string key_id = arg("key_id");
    return run(account, {"account.revoke_key", account, {{"keyId", key_id}}},
               actors::key_revoked_text(key_id));
  }
  if (op == "list-keys") {
    actors::Aggregate loaded;
    if (es::Status s = actors::load_aggregate(store, EntityKind::kAccount, account, &loaded);
        !s.ok()) {
      return reply(failed(s.to_string()));
    }
    const auto& state = std::get<domain::AccountState>(loaded.state);
    if (!state.exists) return reply(failed("account " + account + " not found"));
    return reply(command_answer(actors::key_list_text(state), "", 0));
  }
  if (op == "backup") {
    const std::string to = arg("to");
    if (es::Status s = store.backup(to); !s.ok()) {
      return reply(failed("backup to " + to + " failed: " + s.message()));
    }
    return reply(command_answer(actors::backup_text(to, store.head_position()), "", 0));
  }
  reply(failed("unknown command '" + op + "'"));
}

}  // namespace ap::http
