#include "http/api.hpp"

#include <simdjson.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <regex>
#include <unordered_map>

#include "actors/agent.hpp"
#include "actors/conversation.hpp"
#include "actors/secrets.hpp"
#include "actors/sms.hpp"
#include "http/metrics.hpp"

namespace ap::http {

namespace json = boost::json;
using actors::CommandResult;
using actors::EntityKind;
using domain::DomainError;
using domain::ErrorKind;
using domain::FieldError;

namespace {

using Clock = std::chrono::steady_clock;

// ---- Wire helpers -----------------------------------------------------------

Response json_response(const json::value& body, int status = 200) {
  Response response;
  response.status = status;
  response.body = json::serialize(body);
  return response;
}

// A 200 whose body is JSON text already in wire form (a stored view row).
Response raw_json_response(std::string body) {
  Response response;
  response.body = std::move(body);
  return response;
}

// FastAPI-style 422 plus the documented error envelope, so clients reading
// either shape find the message.
Response validation_response(const std::vector<FieldError>& fields, const char* location) {
  json::array detail;
  for (const FieldError& f : fields) {
    json::array loc{location};
    if (!f.field.empty()) {
      std::size_t start = 0;
      for (;;) {
        const std::size_t dot = f.field.find('.', start);
        const std::string part = f.field.substr(start, dot - start);
        if (!part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
          loc.push_back(std::stoll(part));
        } else {
          loc.push_back(json::string(part));
        }
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
    }
    detail.push_back(json::object{{"loc", loc}, {"msg", f.message}, {"type", f.type}});
  }
  const std::string message = fields.empty() ? "Invalid request" : fields.front().message;
  json::array details;
  for (const FieldError& f : fields) {
    details.push_back(json::object{{"field", f.field}, {"message", f.message}, {"type", f.type}});
  }
  return json_response(json::object{{"detail", detail},
                                    {"error", json::object{{"message", message},
                                                           {"code", "VALIDATION_ERROR"},
                                                           {"type", "validation_error"},
                                                           {"details", details}}}},
                       422);
}

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
  return error_response(status, error.message, error.code, type);
}

Response not_found_response(const std::string& what) {
  return error_response(404, what, "NOT_FOUND", "not_found");
}

// Converts a simdjson DOM element into a Boost.JSON value.
json::value to_boost(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::OBJECT: {
      const simdjson::dom::object object(element);
      json::object out;
      for (simdjson::dom::key_value_pair field : object) out[field.key] = to_boost(field.value);
      return out;
    }
    case simdjson::dom::element_type::ARRAY: {
      const simdjson::dom::array array(element);
      json::array out;
      for (simdjson::dom::element item : array) out.push_back(to_boost(item));
      return out;
    }
    case simdjson::dom::element_type::STRING: {
      return json::string(std::string_view(element));
    }
    case simdjson::dom::element_type::INT64: return std::int64_t(element);
    case simdjson::dom::element_type::UINT64: return std::uint64_t(element);
    case simdjson::dom::element_type::DOUBLE: return double(element);
    case simdjson::dom::element_type::BOOL: return bool(element);
    case simdjson::dom::element_type::NULL_VALUE: return nullptr;
  }
  return nullptr;
}

// Parses a request body that must be a JSON object. On failure returns false
// and sets `error` to the 422 a FastAPI server would give.
bool parse_object(const std::string& body, json::object* out, Response* error) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    *error = validation_response({{"", "Field required", "missing"}}, "body");
    return false;
  }
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(body).get(element) != simdjson::SUCCESS) {
    *error = validation_response(
        {{"", "JSON decode error: the body is not valid JSON", "json_invalid"}}, "body");
    return false;
  }
  if (element.type() != simdjson::dom::element_type::OBJECT) {
    *error = validation_response(
        {{"", "Input should be a valid dictionary or object", "model_attributes_type"}}, "body");
    return false;
  }
  *out = to_boost(element).as_object();
  return true;
}

struct Query {
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* get(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(text[i + 1]) &&
        std::isxdigit(text[i + 2])) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i] == '+' ? ' ' : text[i]);
    }
  }
  return out;
}

Query parse_query(std::string_view query) {
  Query q;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    q.params.emplace_back(url_decode(pair.substr(0, eq)),
                          eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return q;
}

// Reads integer query parameter `name` within [min, max], or `fallback`.
bool query_int(const Query& q, const char* name, std::int64_t fallback, std::int64_t min,
               std::int64_t max, std::int64_t* out, std::vector<FieldError>& errors) {
  const std::string* text = q.get(name);
  if (text == nullptr) {
    *out = fallback;
    return true;
  }
  static const std::regex kInt("^-?[0-9]{1,18}$");
  if (!std::regex_match(*text, kInt)) {
    errors.push_back({name, "Input should be a valid integer, unable to parse string as an integer",
                      "int_parsing"});
    return false;
  }
  *out = std::stoll(*text);
  if (*out < min) {
    errors.push_back({name, "Input should be greater than or equal to " + std::to_string(min),
                      "greater_than_equal"});
    return false;
  }
  if (*out > max) {
    errors.push_back(
        {name, "Input should be less than or equal to " + std::to_string(max), "less_than_equal"});
    return false;
  }
  return true;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t slash = path.find('/');
    parts.push_back(url_decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return parts;
}

}  // namespace

// The Idempotency-Key of a POST being answered (see docs/idempotency.md).
struct IdempotencyContext {
  std::string account;
  std::string key_hash;     // SHA-256 of account and key: the key itself is not stored.
  std::string fingerprint;  // SHA-256 of method, target and body.
};

// A reply plus the Idempotency-Key it answers, if any, so that the command
// helper can claim the key atomically with the command's events.
struct Responder {
  Reply reply;
  std::shared_ptr<const IdempotencyContext> idempotency;

  Responder(Reply r, std::shared_ptr<const IdempotencyContext> i = nullptr)  // NOLINT: implicit.
      : reply(std::move(r)), idempotency(std::move(i)) {}
  void operator()(Response response) const { reply(std::move(response)); }
};

// One authenticated request on its way through the router, with the small
// helpers every route uses. Each helper that fails has already replied.
struct Call {
  std::string account;
  const Request& request;
  const std::vector<std::string>& parts;  // Path segments, "v1" first.
  const Query& query;
  std::string* route_label;
  Responder reply;

  void method_not_allowed() const {
    reply(error_response(405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "invalid_request_error"));
  }
  void unknown_route() const {
    *route_label = "unknown";
    reply(not_found_response("Not Found"));
  }
  bool paging(std::int64_t* offset, std::int64_t* limit) const {
    std::vector<FieldError> errors;
    query_int(query, "limit", 20, 1, 100, limit, errors);
    query_int(query, "offset", 0, 0, 1'000'000'000, offset, errors);
    if (!errors.empty()) reply(validation_response(errors, "query"));
    return errors.empty();
  }
  bool body_object(json::object* out) const {
    Response error;
    if (!parse_object(request.body, out, &error)) reply(error);
    return error.status == 200;
  }
};

// ---- The API ------------------------------------------------------------------

struct Api::Impl {
  es::EventStore& store;
  actors::Runtime& runtime;
  projections::CoreView& view;
  domain::IdSource& ids;
  Metrics metrics;

  // The log position of each account's last acknowledged write; reads by that
  // account wait until the projection has applied it (read-your-writes).
  std::mutex writes_mu;
  std::unordered_map<std::string, std::uint64_t> last_write;

  sim::SimCarrier* simulator;  // Null in production mode.

  Impl(es::EventStore& s, actors::Runtime& r, projections::CoreView& v, domain::IdSource& i,
       sim::SimCarrier* sim)
      : store(s), runtime(r), view(v), ids(i), simulator(sim) {}

  void note_write(const std::string& account, std::uint64_t position) {
    std::lock_guard<std::mutex> lock(writes_mu);
    std::uint64_t& last = last_write[account];
    last = std::max(last, position);
  }

  // Runs `fn` once the projection reflects every write this account has
  // been told succeeded.
  void after_own_writes(const std::string& account, std::function<void()> fn) {
    std::uint64_t position = 0;
    {
      std::lock_guard<std::mutex> lock(writes_mu);
      auto it = last_write.find(account);
      if (it != last_write.end()) position = it->second;
    }
    view.when_applied(position, std::move(fn));
  }

  // Sends a command; on success waits for the projection to apply it and
  // answers with `respond(result)`; on failure answers with the error.
  // Sends a command; on success waits for the projection to apply it and
  // answers with `respond(result)`; on failure answers with the error. With
  // an Idempotency-Key, the key is claimed with the command's events and the
  // answer is recorded in the log before it is sent.
  void command(EntityKind kind, const std::string& id, domain::Command cmd, const Responder& reply,
               std::function<Response(const CommandResult&)> respond) {
    const std::string account = cmd.account_id;
    std::optional<actors::IdempotencyClaim> claim;
    if (reply.idempotency) {
      const IdempotencyContext& idem = *reply.idempotency;
      claim = actors::IdempotencyClaim{idempotency_stream(idem.key_hash),
                                       {{"accountId", idem.account},
                                        {"keyHash", idem.key_hash},
                                        {"fingerprint", idem.fingerprint},
                                        {"atMs", wall_clock_ms()}}};
    }
    runtime.send(
        kind, id, std::move(cmd),
        [this, account, reply, respond](CommandResult result) {
          if (!result.ok) return reply(domain_error_response(result.error));
          if (result.last_position == 0) return reply(respond(result));
          note_write(account, result.last_position);
          view.when_applied(
              result.last_position, [this, reply, respond, result = std::move(result)] {
                Response response = respond(result);
                if (!result.claimed) return reply(std::move(response));
                record_idempotent_response(*reply.idempotency, std::move(response), reply);
              });
        },
        std::move(claim));
  }

  static std::string idempotency_stream(const std::string& key_hash) { return "idem-" + key_hash; }
  static std::int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Appends the answer to a claimed key and sends it once the log holds it
  // and the projection shows it, so that a retry finds the stored answer.
  void record_idempotent_response(const IdempotencyContext& idem, Response response,
                                  const Reply& reply) {
    json::object data{{"accountId", idem.account},
                      {"keyHash", idem.key_hash},
                      {"status", response.status},
                      {"body", response.body}};
    auto shared = std::make_shared<Response>(std::move(response));
    store.append(idempotency_stream(idem.key_hash), es::ExpectedVersion::exact(1),
                 {es::NewEvent{"idempotency.completed", json::serialize(data)}},
                 [this, shared, reply](const es::Status& status, const es::AppendResult& r) {
                   // Without the record a retry gets 409 rather than a second
                   // effect; the answer itself is still correct to send.
                   if (!status.ok()) return reply(*shared);
                   view.when_applied(r.last_position, [shared, reply] { reply(*shared); });
                 });
  }

  // Idempotency-Keys whose first request is still being answered.
  std::mutex idempotency_mu;
  std::unordered_map<std::string, std::string> idempotency_in_flight;  // key hash -> fingerprint.
  void idempotent(const Call& call, const std::string& key);
  void dispatch(const Call& call);

  void route(const Call& call);
  void route_agents(const Call& call);
  void route_numbers(const Call& call);
  void route_messages(const Call& call);
  void route_conversations(const Call& call);
  // Answers a cursor-paginated message list under `prefix` once `guard`
  // (run after the caller's own writes are visible) finds no error.
  void list_messages(const Call& call, const std::string& prefix,
                     std::function<std::optional<Response>()> guard);
  void route_sim(const Request& request, const std::string& path, const Query& query,
                 const Reply& reply);
  void sim_inbound_sms(const Request& request, const Reply& reply);
  void sim_faults(const Request& request, const Reply& reply);
  void deliver(const std::string& account, const std::string& number_id,
               const std::string& phone_number, const json::value& agent_id,
               const std::string& participant, json::object message, bool outbound,
               const Responder& reply);
  void list_page(const projections::Page& page, bool with_has_more, const Reply& reply);
};

Api::Api(es::EventStore& store, actors::Runtime& runtime, projections::CoreView& view,
         domain::IdSource& ids, sim::SimCarrier* simulator)
    : impl_(std::make_unique<Impl>(store, runtime, view, ids, simulator)) {}

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

  if (path == "/healthz" || path == "/metrics") {
    if (request.method != "GET") {
      return counted(
          error_response(405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "invalid_request_error"));
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
    metrics.body = impl_->metrics.render(
        {{"agentphone_log_head_position", static_cast<double>(impl_->store.head_position())},
         {"agentphone_projection_checkpoint", static_cast<double>(impl_->view.checkpoint())},
         {"agentphone_live_actors", static_cast<double>(impl_->runtime.live_actors())}});
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
  if (parts.empty() || parts[0] != "v1") {
    *route_label = "unknown";
    return counted(not_found_response("Not Found"));
  }
  // Bearer authentication: the key is looked up by its SHA-256 and the stored
  // hash compared in constant time; the key itself is never stored.
  const std::string& authorization = request.header("authorization");
  std::optional<std::string> account;
  if (authorization.size() > 7 && strncasecmp(authorization.c_str(), "Bearer ", 7) == 0) {
    const std::string key = authorization.substr(7);
    const std::string hash = domain::sha256_hex(key);
    account = impl_->view.account_for_key(hash);
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
  impl_->route(Call{*account, request, parts, query, route_label.get(), counted});
}

void Api::Impl::list_page(const projections::Page& page, bool with_has_more, const Reply& reply) {
  // The items are stored wire JSON; the envelope is joined around them as text.
  std::string body = "{\"data\":[";
  for (std::size_t i = 0; i < page.items.size(); ++i) {
    if (i > 0) body.push_back(',');
    body += page.items[i];
  }
  body += "],\"total\":" + std::to_string(page.total);
  if (with_has_more) body += page.has_more ? ",\"hasMore\":true" : ",\"hasMore\":false";
  body.push_back('}');
  reply(raw_json_response(std::move(body)));
}

namespace {

Response agent_or_404(std::optional<std::string> agent) {
  return agent ? raw_json_response(std::move(*agent)) : not_found_response("Agent not found");
}

Response number_or_404(std::optional<std::string> number) {
  return number
             ? raw_json_response(std::move(*number))
             : error_response(404, "Phone number not found", "PHONE_NUMBER_NOT_FOUND", "not_found");
}

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
  const std::string& key = call.request.header("idempotency-key");
  if (call.request.method == "POST" && !key.empty()) return idempotent(call, key);
  dispatch(call);
}

// A POST with an Idempotency-Key: answered from the log when the key was used
// before, refused when it is in use now or was used for another request, and
// otherwise run once with the key claimed alongside its effect.
void Api::Impl::idempotent(const Call& call, const std::string& key) {
  constexpr std::size_t kMaxKeyBytes = 255;
  const bool printable =
      std::all_of(key.begin(), key.end(), [](unsigned char c) { return c >= 0x21 && c <= 0x7e; });
  if (key.size() > kMaxKeyBytes || !printable) {
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
      if (used->at("fingerprint").as_string() != idem->fingerprint) return call.reply(reused());
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
      replay.body = std::string(used->at("body").as_string());
      replay.headers.emplace_back("Idempotent-Replayed", "true");
      return call.reply(std::move(replay));
    }
    idempotency_in_flight.emplace(idem->key_hash, idem->fingerprint);
  }
  Reply release = [this, key_hash = idem->key_hash, reply = call.reply.reply](Response response) {
    {
      std::lock_guard<std::mutex> lock(idempotency_mu);
      idempotency_in_flight.erase(key_hash);
    }
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
    return command(
        EntityKind::kAgent, agent_id, {"agent.delete", account, {}}, reply,
        [agent_id](const CommandResult& result) {
          return json_response(json::object{{"success", true},
                                            {"id", agent_id},
                                            {"name", result.events.front().data.at("name")}});
        });
  }
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
              return json_response(
                  json::object{{"agentId", agent_id},
                               {"number", json::object{{"id", number.at("id")},
                                                       {"phoneNumber", number.at("phoneNumber")},
                                                       {"status", number.at("status")},
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
                    number_id = std::string(e.data.at("numberId").as_string());
                  }
                }
                return number_or_404(view.number(account, number_id));
              });
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
            return json_response(
                json::object{{"success", true},
                             {"id", number_id},
                             {"phoneNumber", result.events.front().data.at("phoneNumber")},
                             {"status", "released"}});
          });
}

namespace {

Response conversation_or_404(std::optional<std::string> conversation) {
  return conversation ? raw_json_response(std::move(*conversation))
                      : not_found_response("Conversation not found");
}

Response message_page(const projections::Page& page) {
  std::string body = "{\"data\":[";
  for (std::size_t i = 0; i < page.items.size(); ++i) {
    if (i > 0) body.push_back(',');
    body += page.items[i];
  }
  body += page.has_more ? "],\"hasMore\":true}" : "],\"hasMore\":false}";
  return raw_json_response(std::move(body));
}

// Reads an ISO-8601 query cursor into ms (0 when absent).
bool query_time(const Query& q, const char* name, std::int64_t* ms,
                std::vector<FieldError>& errors) {
  *ms = 0;
  const std::string* text = q.get(name);
  if (text == nullptr || text->empty()) return true;
  if (!domain::parse_iso8601(*text, ms) || *ms <= 0) {
    errors.push_back(
        {name, "Input should be a valid datetime, e.g. 2025-01-15T12:00:00Z", "datetime_parsing"});
    return false;
  }
  return true;
}

Response not_on_sms(const char* field) {
  return error_response(
      400, std::string(field) + " is an iMessage feature and is not available on SMS numbers",
      "NOT_AVAILABLE_ON_SMS", "invalid_request_error");
}

// A SendMessageRequest validated into what the send needs.
struct OutboundMessage {
  std::string to;  // E.164.
  std::string body;
  json::array media_urls;
  std::string number_id, from_number, agent_id;  // The sender, as given.
};

// Validates the snake_case SendMessageRequest. Returns a response to send
// instead when the request is refused.
std::optional<Response> parse_outbound(const json::object& body, OutboundMessage* out) {
  for (const char* imessage : {"recipients", "send_style", "reply_to_message_id"}) {
    const json::value* v = body.if_contains(imessage);
    if (v != nullptr && !v->is_null()) return not_on_sms(imessage);
  }
  std::vector<FieldError> errors;
  auto string_field = [&](const char* name, std::string* target, bool required) {
    const json::value* v = body.if_contains(name);
    if (v == nullptr || v->is_null()) {
      if (required) errors.push_back({name, "Field required", "missing"});
      return;
    }
    if (!v->is_string()) {
      errors.push_back({name, "Input should be a valid string", "string_type"});
      return;
    }
    *target = std::string(v->as_string());
  };
  std::string to;
  string_field("body", &out->body, true);
  string_field("to_number", &to, true);
  string_field("number_id", &out->number_id, false);
  string_field("from_number", &out->from_number, false);
  string_field("agent_id", &out->agent_id, false);
  std::string media_url;
  string_field("media_url", &media_url, false);
  if (!media_url.empty()) out->media_urls.push_back(json::string(media_url));
  if (const json::value* list = body.if_contains("media_urls");
      list != nullptr && !list->is_null()) {
    if (!list->is_array()) {
      errors.push_back({"media_urls", "Input should be a valid list", "list_type"});
    } else {
      for (const json::value& url : list->as_array()) {
        if (!url.is_string()) {
          errors.push_back({"media_urls", "Input should be a list of strings", "string_type"});
          break;
        }
        out->media_urls.push_back(url);
      }
    }
  }
  for (const json::value& url : out->media_urls) {
    const std::string_view text = url.as_string();
    if (!text.starts_with("https://") && !text.starts_with("http://")) {
      errors.push_back({"media_urls", "Media URLs must be http(s) URLs", "url_scheme"});
      break;
    }
  }
  if (!to.empty()) {
    out->to = domain::normalize_nanp(to);
    if (out->to.empty()) {
      errors.push_back({"to_number",
                        "to_number must be a US or Canadian phone number, e.g. +14155551234",
                        "value_error"});
    }
  }
  if (domain::code_points(out->body) > domain::kMaxBodyChars) {
    errors.push_back(
        {"body",
         "String should have at most " + std::to_string(domain::kMaxBodyChars) + " characters",
         "string_too_long"});
  }
  if (errors.empty() && out->body.empty() && out->media_urls.empty()) {
    errors.push_back({"body", "body must not be empty unless media is attached", "value_error"});
  }
  if (errors.empty() && out->number_id.empty() && out->from_number.empty() &&
      out->agent_id.empty()) {
    errors.push_back({"", "One of agent_id, number_id or from_number is required", "missing"});
  }
  if (!errors.empty()) return validation_response(errors, "body");
  return std::nullopt;
}

}  // namespace

void Api::Impl::deliver(const std::string& account, const std::string& number_id,
                        const std::string& phone_number, const json::value& agent_id,
                        const std::string& participant, json::object message, bool outbound,
                        const Responder& reply) {
  const std::string conversation = domain::conversation_id_for(number_id, participant);
  const std::size_t segments = domain::count_segments(message.at("body").as_string()).segments;
  message["numberId"] = number_id;
  message["phoneNumber"] = phone_number;
  message["participant"] = participant;
  message["agentId"] = agent_id;
  message["segments"] = segments;
  command(EntityKind::kConversation, conversation,
          {outbound ? "conversation.send" : "conversation.receive", account, std::move(message)},
          reply, [outbound](const CommandResult& result) {
            const json::object& sent = result.events.back().data;
            if (!outbound) {
              return json_response(json::object{{"conversationId", sent.at("conversationId")},
                                                {"messageId", sent.at("messageId")},
                                                {"status", sent.at("status")}});
            }
            return json_response(json::object{{"id", sent.at("messageId")},
                                              {"status", sent.at("status")},
                                              {"channel", sent.at("channel")},
                                              {"from_number", sent.at("from")},
                                              {"to_number", sent.at("to")},
                                              {"conversation_id", sent.at("conversationId")},
                                              {"media_urls", sent.at("mediaUrls")},
                                              {"reply_to_message_id", nullptr},
                                              {"reply_parent_unresolved", nullptr}});
          });
}

// POST /v1/messages
void Api::Impl::route_messages(const Call& call) {
  if (call.parts.size() != 2) return call.unknown_route();
  *call.route_label = "/v1/messages";
  if (call.request.method != "POST") return call.method_not_allowed();
  json::object body;
  if (!call.body_object(&body)) return;
  OutboundMessage message;
  if (std::optional<Response> refusal = parse_outbound(body, &message)) return call.reply(*refusal);
  const std::string account = call.account;
  after_own_writes(account, [this, account, message = std::move(message), reply = call.reply] {
    // The sender: number_id, else from_number, else the agent's first number.
    std::string number_id = message.number_id;
    if (number_id.empty() && !message.from_number.empty()) {
      const std::string from = domain::normalize_nanp(message.from_number);
      std::optional<std::pair<std::string, std::string>> owner = view.number_by_phone(from);
      if (owner && owner->first == account) number_id = owner->second;
      if (number_id.empty()) return reply(number_or_404(std::nullopt));
    }
    if (number_id.empty()) {
      std::optional<std::string> agent = view.agent(account, message.agent_id);
      if (!agent) return reply(agent_or_404(std::nullopt));
      const json::value parsed = json::parse(*agent);
      const json::array& numbers = parsed.at("numbers").as_array();
      if (numbers.empty()) {
        return reply(error_response(
            400, "Agent " + message.agent_id + " has no phone number; attach one or pass number_id",
            "AGENT_HAS_NO_NUMBER", "invalid_request_error"));
      }
      number_id = std::string(numbers.front().at("id").as_string());
    }
    std::optional<std::string> raw = view.number(account, number_id);
    if (!raw) return reply(number_or_404(std::nullopt));
    const json::object number = json::parse(*raw).as_object();
    if (number.at("status") != "active") {
      return reply(error_response(400, "Phone number " + number_id + " has been released",
                                  "NUMBER_RELEASED", "invalid_request_error"));
    }
    deliver(account, number_id, std::string(number.at("phoneNumber").as_string()),
            number.at("agentId"), message.to,
            {{"body", message.body}, {"mediaUrls", message.media_urls}}, true, reply);
  });
}

// /v1/conversations, /v1/conversations/{id}, /v1/conversations/{id}/messages
void Api::Impl::route_conversations(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const std::string& account = call.account;
  const Responder& reply = call.reply;
  if (p.size() == 2) {
    *call.route_label = "/v1/conversations";
    if (method != "GET") return call.method_not_allowed();
    std::int64_t offset, limit;
    if (!call.paging(&offset, &limit)) return;
    return after_own_writes(account, [this, account, offset, limit, reply] {
      list_page(view.conversations(account, "", offset, limit), true, reply);
    });
  }
  const std::string id = p[2];
  if (p.size() == 4 && p[3] == "messages") {
    *call.route_label = "/v1/conversations/{id}/messages";
    if (method != "GET") return call.method_not_allowed();
    return list_messages(call, "m/" + id + "/", [this, account, id] {
      return view.conversation(account, id) ? std::nullopt
                                            : std::optional(conversation_or_404(std::nullopt));
    });
  }
  if (p.size() != 3) return call.unknown_route();
  *call.route_label = "/v1/conversations/{id}";
  // ConversationDetail: the summary without its preview, plus the newest messages.
  auto detail = [this, account, id](std::int64_t message_limit) -> Response {
    std::optional<std::string> raw = view.conversation(account, id);
    if (!raw) return conversation_or_404(std::nullopt);
    json::object conversation = json::parse(*raw).as_object();
    conversation.erase("lastMessagePreview");
    json::array messages;
    for (const std::string& m : view.messages("m/" + id + "/", 0, 0, message_limit).items) {
      messages.push_back(json::parse(m));
    }
    conversation["messages"] = std::move(messages);
    return json_response(conversation);
  };
  if (method == "GET") {
    std::vector<FieldError> errors;
    std::int64_t message_limit = 50;
    query_int(call.query, "message_limit", 50, 1, 100, &message_limit, errors);
    if (!errors.empty()) return reply(validation_response(errors, "query"));
    return after_own_writes(account,
                            [detail, message_limit, reply] { reply(detail(message_limit)); });
  }
  if (method != "PATCH") return call.method_not_allowed();
  json::object body;
  if (!call.body_object(&body)) return;
  const json::value* metadata = body.if_contains("metadata");
  if (metadata == nullptr) {
    // Only included keys change; nothing to do, but the id must still exist.
    return after_own_writes(account, [detail, reply] { reply(detail(50)); });
  }
  if (!metadata->is_null() && !metadata->is_object()) {
    return reply(validation_response(
        {{"metadata", "Input should be a valid dictionary or null", "dict_type"}}, "body"));
  }
  after_own_writes(account, [this, account, id, detail, metadata = *metadata, reply] {
    if (!view.conversation(account, id)) return reply(conversation_or_404(std::nullopt));
    command(EntityKind::kConversation, id,
            {"conversation.update", account, {{"metadata", metadata}}}, reply,
            [detail](const CommandResult&) { return detail(50); });
  });
}

void Api::Impl::list_messages(const Call& call, const std::string& prefix,
                              std::function<std::optional<Response>()> guard) {
  std::vector<FieldError> errors;
  std::int64_t limit = 50, before_ms = 0, after_ms = 0;
  query_int(call.query, "limit", 50, 1, 200, &limit, errors);
  query_time(call.query, "before", &before_ms, errors);
  query_time(call.query, "after", &after_ms, errors);
  if (!errors.empty()) return call.reply(validation_response(errors, "query"));
  after_own_writes(call.account, [this, prefix, guard = std::move(guard), limit, before_ms,
                                  after_ms, reply = call.reply] {
    if (std::optional<Response> refusal = guard()) return reply(*refusal);
    reply(message_page(view.messages(prefix, before_ms, after_ms, limit)));
  });
}

// /sim/sms (POST), /sim/outbox (GET), /sim/faults (GET, POST, DELETE).
void Api::Impl::route_sim(const Request& request, const std::string& path, const Query& query,
                          const Reply& reply) {
  auto method_not_allowed = [&] {
    reply(error_response(405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "invalid_request_error"));
  };
  if (path == "/sim/sms") {
    if (request.method != "POST") return method_not_allowed();
    return sim_inbound_sms(request, reply);
  }
  if (path == "/sim/outbox") {
    if (request.method != "GET") return method_not_allowed();
    std::vector<FieldError> errors;
    std::int64_t limit = 50;
    query_int(query, "limit", 50, 1, 1000, &limit, errors);
    if (!errors.empty()) return reply(validation_response(errors, "query"));
    const projections::Page page = view.outbound(static_cast<std::uint64_t>(limit));
    std::string body = "{\"data\":[";
    for (std::size_t i = 0; i < page.items.size(); ++i) {
      if (i > 0) body.push_back(',');
      body += page.items[i];
    }
    body += "],\"hasMore\":" + std::string(page.has_more ? "true" : "false") +
            ",\"carrierAccepted\":" + std::to_string(simulator->accepted()) + "}";
    return reply(raw_json_response(std::move(body)));
  }
  if (path == "/sim/faults") return sim_faults(request, reply);
  reply(not_found_response("Not Found"));
}

// GET lists the faults, POST {to, mode, delayMs?} sets one, DELETE clears all.
void Api::Impl::sim_faults(const Request& request, const Reply& reply) {
  auto listing = [this] {
    json::array faults;
    for (const sim::SimFault& f : simulator->faults()) {
      faults.push_back(json::object{{"to", f.to}, {"mode", f.mode}, {"delayMs", f.delay_ms}});
    }
    return json_response(json::object{{"data", faults}});
  };
  if (request.method == "GET") return reply(listing());
  if (request.method == "DELETE") {
    simulator->clear_faults();
    return reply(listing());
  }
  if (request.method != "POST") {
    return reply(
        error_response(405, "Method Not Allowed", "METHOD_NOT_ALLOWED", "invalid_request_error"));
  }
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  sim::SimFault fault;
  std::vector<FieldError> errors;
  const json::value* to = body.if_contains("to");
  fault.to = to != nullptr && to->is_string() ? domain::normalize_nanp(to->as_string()) : "";
  if (fault.to.empty()) {
    errors.push_back({"to", "to must be a US or Canadian number", "value_error"});
  }
  const json::value* mode = body.if_contains("mode");
  if (mode == nullptr || !mode->is_string()) {
    errors.push_back({"mode", "mode must be unreachable, reject or delay", "literal_error"});
  } else {
    fault.mode = std::string(mode->as_string());
  }
  if (const json::value* delay = body.if_contains("delayMs"); delay != nullptr) {
    if (!delay->is_int64()) {
      errors.push_back({"delayMs", "Input should be a valid integer", "int_type"});
    } else {
      fault.delay_ms = delay->as_int64();
    }
  }
  if (!errors.empty()) return reply(validation_response(errors, "body"));
  if (std::string refusal = simulator->set_fault(fault); !refusal.empty()) {
    return reply(validation_response({{"", refusal, "value_error"}}, "body"));
  }
  reply(listing());
}

// POST /sim/sms {from, to, body}: an inbound SMS from the simulated carrier.
// A message to a number nobody holds is refused at the carrier edge and
// leaves no trace in any account.
void Api::Impl::sim_inbound_sms(const Request& request, const Reply& reply) {
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  auto text = [&](const char* name) {
    const json::value* v = body.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string from = domain::normalize_nanp(text("from"));
  const std::string to = domain::normalize_nanp(text("to"));
  const std::string message = text("body");
  std::vector<FieldError> errors;
  if (from.empty())
    errors.push_back({"from", "from must be a US or Canadian number", "value_error"});
  if (to.empty()) errors.push_back({"to", "to must be a US or Canadian number", "value_error"});
  if (message.empty() || domain::code_points(message) > domain::kMaxBodyChars) {
    errors.push_back({"body", "body must be 1 to 1600 characters", "value_error"});
  }
  if (!errors.empty()) return reply(validation_response(errors, "body"));
  std::optional<std::pair<std::string, std::string>> owner = view.number_by_phone(to);
  if (!owner) {
    return reply(error_response(404, "No active number " + to + " on this carrier",
                                "PHONE_NUMBER_NOT_FOUND", "not_found"));
  }
  const auto [account, number_id] = *owner;
  std::optional<std::string> raw = view.number(account, number_id);
  if (!raw) return reply(number_or_404(std::nullopt));
  const json::object number = json::parse(*raw).as_object();
  deliver(account, number_id, to, number.at("agentId"), from,
          {{"body", message}, {"mediaUrls", json::array()}}, false, reply);
}

}  // namespace ap::http
