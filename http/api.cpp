#include <simdjson.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <regex>

#include "actors/agent.hpp"
#include "actors/secrets.hpp"
#include "http/api_internal.hpp"
#include "http/routes.hpp"

namespace ap::http {

// ---- Wire helpers -----------------------------------------------------------

Response domain_error_response(const DomainError& error) {
  if (error.kind == ErrorKind::kValidation) return validation_response(error.fields, "body");
  int status = 400;
  const char* type = "invalid_request_error";
  switch (error.kind) {
    case ErrorKind::kNotFound: status = 404, type = "not_found"; break;
    case ErrorKind::kConflict: status = 409, type = "conflict"; break;
    case ErrorKind::kInsufficientBalance: status = 402, type = "payment_required"; break;
    case ErrorKind::kUnavailable: status = 503, type = "service_unavailable"; break;
    default: break;
  }
  if (error.code.rfind("VALIDATION_ERROR", 0) == 0) type = "validation_error";
  Response response = error_response(status, error.message, error.code, type);
  // Every 503 here is momentary: a busy entity, the log or a port refusing.
  if (status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

Response method_not_allowed_response() {
  return error_response(405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "invalid_request_error");
}

Response not_found_response(const std::string& what) {
  return error_response(404, what, "NOT_FOUND", "not_found");
}

Api::Api(actors::Node& node, bool sandbox, SignupOptions signup, ApiLimits limits)
    : impl_(std::make_unique<Impl>(node, sandbox, signup)) {
  impl_->limits = limits;
  // MCP tools run REST routes through this same handler, in process.
  impl_->mcp = std::make_unique<McpServer>(
      [this](Request request, Reply reply) { handle(std::move(request), std::move(reply)); },
      [impl = impl_.get()](const std::string& key_sha256) {
        return impl->view.account_for_key(key_sha256);
      },
      node.entropy(), node.timers());
}

void Api::set_admin_token(std::string token) {
  impl_->admin_token = std::move(token);
}

Api::~Api() = default;

void Api::handle(Request request, Reply reply) {
  const auto started = Clock::now();
  const std::size_t question = request.target.find('?');
  const std::string path = request.target.substr(0, question);
  const Query query = parse_query(question == std::string::npos
                                      ? std::string_view()
                                      : std::string_view(request.target).substr(question + 1));
  auto route_label = std::make_shared<std::string>(path);
  // Wraps the reply so that every answer is counted in the metrics.
  Reply counted = [this, reply, started, method = request.method, route_label](Response response) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    impl_->metrics.record(method, *route_label, response.status, seconds);
    reply(std::move(response));
  };

  if (path == "/openapi.json" || path == "/llms.txt") {
    if (request.method != "GET") {
      return counted(method_not_allowed_response());
    }
    // The base URL as the client reached us.
    const std::string host = request.header("host");
    const std::string base = "http://" + (host.empty() ? std::string("127.0.0.1") : host);
    Response doc;
    if (path == "/openapi.json") {
      doc.body = openapi_json(base, impl_->simulator != nullptr);
    } else {
      doc.content_type = "text/plain; charset=utf-8";
      doc.body = llms_txt(base, impl_->simulator != nullptr);
    }
    return counted(std::move(doc));
  }
  if (path == "/healthz" || path == "/metrics") {
    if (request.method != "GET") {
      return counted(method_not_allowed_response());
    }
    if (path == "/healthz") {
      return counted(json_response(json::object{{"status", "ok"},
                                                {"version", AP_VERSION},
                                                {"logHead", impl_->store.head_position()},
                                                {"projectionCheckpoint", impl_->view.checkpoint()},
                                                {"liveActors", impl_->runtime.live_actors()}}));
    }
    Response metrics;
    metrics.content_type = "text/plain; version=0.0.4";
    const actors::WebhookDispatch::Stats webhooks = impl_->webhooks.stats();
    std::map<std::string, double> gauges{
        {"agentphone_log_head_position", static_cast<double>(impl_->store.head_position())},
        {"agentphone_projection_checkpoint", static_cast<double>(impl_->view.checkpoint())},
        {"agentphone_live_actors", static_cast<double>(impl_->runtime.live_actors())},
        {"agentphone_entity_faults_total", static_cast<double>(impl_->runtime.entity_faults())},
        {"agentphone_entity_commands_refused_total",
         static_cast<double>(impl_->runtime.entity_commands_refused())},
        {"agentphone_webhook_attempts_total", static_cast<double>(webhooks.attempts)},
        {"agentphone_webhook_attempts_ok_total", static_cast<double>(webhooks.attempts_ok)},
        {"agentphone_webhook_requests_in_flight", static_cast<double>(webhooks.in_flight)},
        {"agentphone_webhook_requests_waiting", static_cast<double>(webhooks.waiting)},
        {"agentphone_webhook_deliveries_held", static_cast<double>(webhooks.held)},
        {"agentphone_webhook_deliveries_spilled_total", static_cast<double>(webhooks.spilled)},
        {"agentphone_webhook_deliveries_deferred_total", static_cast<double>(webhooks.deferred)}};
    if (impl_->simulator != nullptr) {
      gauges["agentphone_sim_carrier_messages_accepted_total"] =
          static_cast<double>(impl_->simulator->accepted());
    }
    metrics.body = impl_->metrics.render(gauges);
    return counted(std::move(metrics));
  }

  const std::vector<std::string> parts = split_path(path);
  if (impl_->simulator != nullptr && !parts.empty() && parts[0] == "sim") {
    *route_label = path;
    if (!request.from_loopback) {
      return counted(error_response(403, "The simulator is only reachable from this machine",
                                    "FORBIDDEN", "permission_error"));
    }
    return impl_->route_sim(request, path, query, counted);
  }
  if (parts.size() == 2 && parts[0] == "admin" && parts[1] == "command") {
    *route_label = path;
    return impl_->admin_command(request, counted);
  }
  if (parts.size() == 3 && parts[0] == "v0" && parts[1] == "agent") {
    *route_label = path;
    return impl_->route_signup(request, parts[2], counted);
  }
  if (path == "/mcp") {
    *route_label = path;
    return impl_->mcp->handle(std::move(request), counted);
  }
  if (path == "/.well-known/mcp/server-card.json") {
    *route_label = path;
    if (request.method != "GET") return counted(method_not_allowed_response());
    return counted(McpServer::server_card());
  }
  if (parts.empty() || parts[0] != "v1") {
    *route_label = "unknown";
    return counted(not_found_response("Not Found"));
  }
  // The one public route (contract B.5): the call id is the access token.
  // Recording is not offered, so every call has none.
  if (parts.size() == 4 && parts[1] == "calls" && parts[3] == "recording") {
    *route_label = "/v1/calls/{id}/recording";
    if (request.method != "GET") {
      return counted(method_not_allowed_response());
    }
    return counted(not_found_response(
        "No recording: call recording is not offered by this server, so no call has one"));
  }
  // Bearer authentication: the key is looked up by its SHA-256 and the stored
  // hash compared in constant time; the key itself is never stored.
  const std::string& authorization = request.header("authorization");
  std::optional<std::string> account;
  std::string key_hash;  // Also the rate limiter's key: the key itself is never kept.
  if (!request.authenticated_account.empty()) {
    key_hash = request.key_sha256;
    account = request.authenticated_account;
  } else if (key_hash = bearer_key_sha256(request); !key_hash.empty()) {
    account = impl_->view.account_for_key(key_hash);
  }
  if (!account) {
    *route_label = "unauthorized";
    Response denied = error_response(401,
                                     authorization.empty()
                                         ? "Not authenticated: send Authorization: Bearer <API key>"
                                         : "Invalid API key",
                                     "UNAUTHORIZED", "authentication_error");
    denied.headers.emplace_back("WWW-Authenticate", "Bearer");
    return counted(std::move(denied));
  }
  if (impl_->limits.requests_per_key_per_s > 0) {
    if (const std::int64_t retry_ms = impl_->requests_per_key.take(
            key_hash, impl_->limits.requests_per_key_per_s, impl_->limits.request_burst)) {
      *route_label = "rate_limited";
      const std::int64_t seconds = std::max<std::int64_t>(1, (retry_ms + 999) / 1000);
      Response limited = error_response(
          429, "Too many requests with this API key; retry in " + std::to_string(seconds) + " s",
          "RATE_LIMITED", "rate_limit_error");
      limited.headers.emplace_back("Retry-After", std::to_string(seconds));
      return counted(std::move(limited));
    }
  }
  if (!impl_->enter(*account, impl_->limits.max_in_flight_per_account)) {
    *route_label = "rate_limited";
    Response busy = error_response(
        429,
        "This account has " + std::to_string(impl_->limits.max_in_flight_per_account) +
            " requests being handled; wait for their answers, then retry",
        "TOO_MANY_IN_FLIGHT", "rate_limit_error");
    busy.headers.emplace_back("Retry-After", "1");
    return counted(std::move(busy));
  }
  // The request leaves the count when it is answered, or when its reply is
  // dropped unanswered (the slot's last owner goes), whichever comes first.
  auto slot = std::make_shared<Impl::InFlightSlot>(*impl_, *account);
  Reply leaving = [slot, counted](Response response) {
    slot->release();
    counted(std::move(response));
  };
  impl_->route(Call{*account, request, parts, query, route_label.get(), std::move(leaving)});
}

void Api::Impl::list_page(const projections::Page& page, bool with_has_more, const Reply& reply) {
  std::string body =
      "{\"data\":" + json_array(page.items) + ",\"total\":" + std::to_string(page.total);
  if (with_has_more) body += page.has_more ? ",\"hasMore\":true" : ",\"hasMore\":false";
  body.push_back('}');
  reply(raw_json_response(std::move(body)));
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += items[i];
  }
  out.push_back(']');
  return out;
}

Response agent_or_404(std::optional<std::string> agent) {
  return agent ? raw_json_response(std::move(*agent)) : not_found_response("Agent not found");
}

Response number_or_404(std::optional<std::string> number) {
  return number
             ? raw_json_response(std::move(*number))
             : error_response(404, "Phone number not found", "PHONE_NUMBER_NOT_FOUND", "not_found");
}

namespace {

// Validates a CreateNumberRequest into "number.provision" args.
json::object provision_args(const json::object& body, std::vector<FieldError>& errors) {
  json::object args{{"country", "US"}, {"areaCode", nullptr}, {"agentId", nullptr}};
  if (const json::value* c = body.if_contains("country"); c != nullptr && !c->is_null()) {
    if (!c->is_string()) {
      errors.push_back({"country", "Input should be a valid string", "string_type"});
    } else if (c->as_string() != "US" && c->as_string() != "CA") {
      errors.push_back({"country", "Only US and CA numbers are available", "value_error"});
    } else {
      args["country"] = *c;
    }
  }
  if (const json::value* a = body.if_contains("areaCode"); a != nullptr && !a->is_null()) {
    static const std::regex kArea("^[2-9][0-9]{2}$");
    if (!a->is_string()) {
      errors.push_back({"areaCode", "Input should be a valid string", "string_type"});
    } else if (!std::regex_match(std::string(a->as_string()), kArea)) {
      errors.push_back({"areaCode", "Area code must be 3 digits, the first from 2 to 9",
                        "string_pattern_mismatch"});
    } else {
      args["areaCode"] = *a;
    }
  }
  if (const json::value* g = body.if_contains("agentId"); g != nullptr && !g->is_null()) {
    if (!g->is_string()) {
      errors.push_back({"agentId", "Input should be a valid string", "string_type"});
    } else {
      args["agentId"] = *g;
    }
  }
  return args;
}

}  // namespace

void Api::Impl::route(const Call& call) {
  const std::string* key = call.request.find_header("idempotency-key");
  if (call.request.method == "POST" && key != nullptr) return idempotent(call, *key);
  dispatch(call);
}

// A POST with an Idempotency-Key: answered from the log when the key was used
// before, refused when it is in use now or was used for another request, and
// otherwise run once with the key claimed alongside its effect.
void Api::Impl::idempotent(const Call& call, const std::string& key) {
  constexpr std::size_t kMaxKeyBytes = 255;
  const bool printable =
      std::all_of(key.begin(), key.end(), [](unsigned char c) { return c >= 0x21 && c <= 0x7e; });
  if (key.empty() || key.size() > kMaxKeyBytes || !printable) {
    return call.reply(error_response(
        400, "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
        "INVALID_IDEMPOTENCY_KEY", "invalid_request_error"));
  }
  auto idem = std::make_shared<IdempotencyContext>();
  idem->account = call.account;
  idem->key_hash = domain::sha256_hex(call.account + "\n" + key);
  idem->fingerprint = domain::sha256_hex(call.request.method + " " + call.request.target + "\n" +
                                         call.request.body);
  auto reused = [&] {
    return error_response(422,
                          "This Idempotency-Key was already used with a different request; "
                          "use a new key for a new request",
                          "IDEMPOTENCY_KEY_REUSED", "invalid_request_error");
  };
  {
    std::lock_guard<std::mutex> lock(idempotency_mu);
    auto it = idempotency_in_flight.find(idem->key_hash);
    if (it != idempotency_in_flight.end()) {
      if (it->second != idem->fingerprint) return call.reply(reused());
      return call.reply(error_response(
          409, "A request with this Idempotency-Key is still in progress; retry shortly",
          "IDEMPOTENCY_REQUEST_IN_PROGRESS", "conflict"));
    }
    // A finished first request's answer is in the view before it was sent
    // (record_idempotent_response), so a retry always finds it here.
    if (std::optional<json::object> used = view.idempotency(idem->key_hash)) {
      if (domain::field(*used, "fingerprint").as_string() != idem->fingerprint)
        return call.reply(reused());
      const json::value* status = used->if_contains("status");
      if (status == nullptr) {
        return call.reply(error_response(
            409,
            "The first request with this Idempotency-Key took effect but was interrupted before "
            "its answer was recorded; read the resource instead of retrying",
            "IDEMPOTENCY_REQUEST_INTERRUPTED", "conflict"));
      }
      Response replay;
      replay.status = static_cast<int>(status->as_int64());
      replay.body = std::string(domain::field(*used, "body").as_string());
      replay.headers.emplace_back("Idempotent-Replayed", "true");
      return call.reply(std::move(replay));
    }
    idempotency_in_flight.emplace(idem->key_hash, idem->fingerprint);
  }
  // The key stops being "in progress" when the answer goes out, or, should
  // the request be dropped unanswered, when the last copy of its reply goes.
  struct InFlight {
    Impl* api;
    std::string key_hash;
    std::once_flag released;
    void release() {
      std::call_once(released, [this] {
        std::lock_guard<std::mutex> lock(api->idempotency_mu);
        api->idempotency_in_flight.erase(key_hash);
      });
    }
    ~InFlight() { release(); }
  };
  auto in_flight = std::make_shared<InFlight>(this, idem->key_hash);
  Reply release = [in_flight, reply = call.reply.reply](Response response) {
    in_flight->release();
    reply(std::move(response));
  };
  dispatch(Call{call.account, call.request, call.parts, call.query, call.route_label,
                Responder(std::move(release), std::move(idem))});
}

void Api::Impl::dispatch(const Call& call) {
  if (call.parts.size() >= 2 && call.parts[1] == "agents") return route_agents(call);
  if (call.parts.size() >= 2 && call.parts[1] == "numbers") return route_numbers(call);
  if (call.parts.size() >= 2 && call.parts[1] == "messages") return route_messages(call);
  if (call.parts.size() >= 2 && call.parts[1] == "conversations") return route_conversations(call);
  if (call.parts.size() >= 2 && call.parts[1] == "webhooks") return route_webhooks(call);
  if (call.parts.size() >= 2 && call.parts[1] == "calls") return route_calls(call);
  if (call.parts.size() >= 2 && call.parts[1] == "billing") return route_billing(call);
  if (call.parts.size() >= 2 && call.parts[1] == "usage") return route_usage(call);
  if (call.parts.size() >= 2 && call.parts[1] == "contacts") return route_contacts(call);
  call.unknown_route();
}

// /v1/agents, /v1/agents/voices, /v1/agents/{id}, /v1/agents/{id}/numbers[/{number_id}]
void Api::Impl::route_agents(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const std::string& account = call.account;
  const Responder& reply = call.reply;

  if (p.size() == 2) {
    *call.route_label = "/v1/agents";
    if (method == "GET") {
      std::int64_t offset, limit;
      if (!call.paging(&offset, &limit)) return;
      return after_own_writes(account, [this, account, offset, limit, reply] {
        list_page(view.agents(account, offset, limit), false, reply);
      });
    }
    if (method != "POST") return call.method_not_allowed();
    json::object body;
    if (!call.body_object(&body)) return;
    const std::string id = ids.new_id("agt_");
    return command(EntityKind::kAgent, id, {"agent.create", account, std::move(body)}, reply,
                   [this, account, id](const CommandResult&) {
                     return agent_or_404(view.agent(account, id));
                   });
  }
  if (p.size() == 3 && p[2] == "voices") {
    *call.route_label = "/v1/agents/voices";
    if (method != "GET") return call.method_not_allowed();
    return reply(json_response(json::object{{"data", domain::voice_catalogue()}}));
  }
  const std::string agent_id = p[2];
  if (p.size() == 3) {
    *call.route_label = "/v1/agents/{id}";
    if (method == "GET") {
      return after_own_writes(account, [this, account, agent_id, reply] {
        reply(agent_or_404(view.agent(account, agent_id)));
      });
    }
    if (method == "PATCH") {
      json::object body;
      if (!call.body_object(&body)) return;
      return command(EntityKind::kAgent, agent_id, {"agent.update", account, std::move(body)},
                     reply, [this, account, agent_id](const CommandResult&) {
                       return agent_or_404(view.agent(account, agent_id));
                     });
    }
    if (method != "DELETE") return call.method_not_allowed();
    return command(EntityKind::kAgent, agent_id, {"agent.delete", account, {}}, reply,
                   [agent_id](const CommandResult& result) {
                     return json_response(
                         json::object{{"success", true},
                                      {"id", agent_id},
                                      {"name", domain::field(result.events.front().data, "name")}});
                   });
  }
  if (p.size() >= 4 && p[3] == "webhook") return route_agent_webhook(call, agent_id);
  if (p.size() == 4 && p[3] == "conversations") {
    *call.route_label = "/v1/agents/{id}/conversations";
    if (method != "GET") return call.method_not_allowed();
    std::int64_t offset, limit;
    if (!call.paging(&offset, &limit)) return;
    return after_own_writes(account, [this, account, agent_id, offset, limit, reply] {
      if (!view.agent(account, agent_id)) return reply(agent_or_404(std::nullopt));
      list_page(view.conversations(account, agent_id, offset, limit), true, reply);
    });
  }
  if (p.size() == 4 && p[3] == "calls") {
    *call.route_label = "/v1/agents/{id}/calls";
    if (method != "GET") return call.method_not_allowed();
    return list_calls(call, "agent", agent_id, [this, account, agent_id] {
      return view.agent(account, agent_id) ? std::nullopt
                                           : std::optional(agent_or_404(std::nullopt));
    });
  }
  if (p[3] != "numbers" || p.size() > 5) return call.unknown_route();

  const bool attach = p.size() == 4;
  *call.route_label = attach ? "/v1/agents/{id}/numbers" : "/v1/agents/{id}/numbers/{number_id}";
  if (method != (attach ? "POST" : "DELETE")) return call.method_not_allowed();
  std::string number_id;
  if (attach) {
    json::object body;
    if (!call.body_object(&body)) return;
    const json::value* n = body.if_contains("numberId");
    if (n == nullptr || n->is_null()) {
      return reply(validation_response({{"numberId", "Field required", "missing"}}, "body"));
    }
    if (!n->is_string()) {
      return reply(validation_response(
          {{"numberId", "Input should be a valid string", "string_type"}}, "body"));
    }
    number_id = std::string(n->as_string());
  } else {
    number_id = p[4];
  }
  after_own_writes(account, [this, account, agent_id, number_id, attach, reply] {
    if (!view.agent(account, agent_id)) return reply(agent_or_404(std::nullopt));
    if (!view.number(account, number_id)) return reply(number_or_404(std::nullopt));
    command(EntityKind::kNumber, number_id,
            {attach ? "number.attach" : "number.detach", account, {{"agentId", agent_id}}}, reply,
            [this, account, agent_id, number_id, attach](const CommandResult&) {
              if (!attach) return json_response(json::object{{"success", true}});
              std::optional<std::string> raw = view.number(account, number_id);
              if (!raw) return number_or_404(std::nullopt);
              const json::object number = json::parse(*raw).as_object();
              return json_response(json::object{
                  {"agentId", agent_id},
                  {"number", json::object{{"id", domain::field(number, "id")},
                                          {"phoneNumber", domain::field(number, "phoneNumber")},
                                          {"status", domain::field(number, "status")},
                                          {"type", "sms"}}}});
            });
  });
}

// /v1/numbers, /v1/numbers/{id}
void Api::Impl::route_numbers(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const std::string& account = call.account;
  const Responder& reply = call.reply;

  if (p.size() == 2) {
    *call.route_label = "/v1/numbers";
    if (method == "GET") {
      std::int64_t offset, limit;
      if (!call.paging(&offset, &limit)) return;
      return after_own_writes(account, [this, account, offset, limit, reply] {
        list_page(view.numbers(account, offset, limit), true, reply);
      });
    }
    if (method != "POST") return call.method_not_allowed();
    json::object body;
    if (!call.body_object(&body)) return;
    std::vector<FieldError> errors;
    json::object args = provision_args(body, errors);
    if (!errors.empty()) return reply(validation_response(errors, "body"));
    return after_own_writes(account, [this, account, args = std::move(args), reply]() mutable {
      if (args["agentId"].is_string() &&
          !view.agent(account, std::string(args["agentId"].as_string()))) {
        return reply(agent_or_404(std::nullopt));
      }
      command(EntityKind::kAccount, account, {"number.provision", account, std::move(args)}, reply,
              [this, account](const CommandResult& result) {
                std::string number_id;
                for (const domain::Event& e : result.events) {
                  if (e.type == "number.provisioned") {
                    number_id = std::string(domain::field(e.data, "numberId").as_string());
                  }
                }
                return number_or_404(view.number(account, number_id));
              });
    });
  }
  if (p.size() == 4 && p[3] == "calls") {
    *call.route_label = "/v1/numbers/{id}/calls";
    if (method != "GET") return call.method_not_allowed();
    const std::string number_id = p[2];
    return list_calls(call, "number", number_id, [this, account, number_id] {
      return view.number(account, number_id) ? std::nullopt
                                             : std::optional(number_or_404(std::nullopt));
    });
  }
  if (p.size() == 4 && p[3] == "messages") {
    *call.route_label = "/v1/numbers/{id}/messages";
    if (method != "GET") return call.method_not_allowed();
    const std::string number_id = p[2];
    return list_messages(call, "nm/" + number_id + "/", [this, account, number_id] {
      return view.number(account, number_id) ? std::nullopt
                                             : std::optional(number_or_404(std::nullopt));
    });
  }
  if (p.size() != 3) return call.unknown_route();
  const std::string number_id = p[2];
  *call.route_label = "/v1/numbers/{id}";
  if (method == "GET") {
    return after_own_writes(account, [this, account, number_id, reply] {
      reply(number_or_404(view.number(account, number_id)));
    });
  }
  if (method != "DELETE") return call.method_not_allowed();
  command(EntityKind::kNumber, number_id, {"number.release", account, {}}, reply,
          [number_id](const CommandResult& result) {
            return json_response(json::object{
                {"success", true},
                {"id", number_id},
                {"phoneNumber", domain::field(result.events.front().data, "phoneNumber")},
                {"status", "released"}});
          });
}

}  // namespace ap::http
