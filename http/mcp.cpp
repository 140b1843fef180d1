#include "http/mcp.hpp"

#include <boost/json.hpp>

#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "actors/secrets.hpp"
#include "http/mcp_tools.hpp"
#include "http/request_parsing.hpp"

namespace ap::http {

namespace json = boost::json;

namespace {

constexpr std::int64_t kKeepAliveMs = 25'000;
constexpr std::size_t kSessionsPerKey = 64;  // A key's oldest session goes past this.
constexpr std::size_t kMaxBatch = 100;       // Messages in one POST.
constexpr const char* kServerVersion = AP_VERSION;

json::object rpc_error(const json::value& id, int code, std::string message) {
  return {{"jsonrpc", "2.0"},
          {"error", json::object{{"code", code}, {"message", std::move(message)}}},
          {"id", id}};
}

json::object rpc_result(const json::value& id, json::value result) {
  return {{"jsonrpc", "2.0"}, {"result", std::move(result)}, {"id", id}};
}

Response rpc_response(int status, const json::object& body) {
  Response r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

json::object text_result(std::string_view text, bool is_error) {
  json::object out{{"content", json::array{json::object{{"type", "text"}, {"text", text}}}}};
  if (is_error) out["isError"] = true;
  return out;
}

// The REST error's message, with what to do about it.
std::string error_text(const Response& r) {
  std::string message = "HTTP " + std::to_string(r.status);
  boost::system::error_code ec;
  const json::value body = json::parse(r.body, ec);
  if (!ec && body.is_object()) {
    const json::value* detail = body.as_object().if_contains("detail");
    if (detail != nullptr && detail->is_string()) {
      message += ": " + std::string(detail->as_string());
    } else if (detail != nullptr && detail->is_array()) {
      // FastAPI's list: "field: what is wrong" for each.
      std::string joined;
      for (const json::value& item : detail->as_array()) {
        const json::object* e = item.if_object();
        if (e == nullptr) continue;
        std::string field;
        if (const json::value* loc = e->if_contains("loc"); loc != nullptr && loc->is_array() &&
                                                            !loc->as_array().empty() &&
                                                            loc->as_array().back().is_string()) {
          field = std::string(loc->as_array().back().as_string()) + ": ";
        }
        const json::value* msg = e->if_contains("msg");
        joined += (joined.empty() ? "" : "; ") + field +
                  (msg != nullptr && msg->is_string() ? std::string(msg->as_string()) : "");
      }
      message += ": " + joined;
    } else if (detail != nullptr) {
      message += ": " + json::serialize(*detail);
    }
  }
  switch (r.status) {
    case 401: return message + ". Check the API key the MCP client sends.";
    case 402: return message + ". Top up the balance (POST /v1/billing/top-up), then retry.";
    case 404: return message + ". Check the id: the list_* tools give the ids this key can see.";
    case 409: return message + ". Read the current state first, then retry.";
    case 429: return message + ". Wait a little and retry.";
    default: return message;
  }
}

// A webhook's signing secret, masked unless the caller asked to see it.
void mask_secret(json::value& v) {
  if (!v.is_object()) return;
  for (auto& [key, value] : v.as_object()) {
    if (key == "secret" && value.is_string()) {
      value = "whsec_\u2022\u2022\u2022\u2022\u2022\u2022";
    } else {
      mask_secret(value);
    }
  }
}

const json::object& empty_object() {
  static const json::object kEmpty;
  return kEmpty;
}

bool accepts_only_events(const Request& request) {
  const std::string& accept = request.header("accept");
  return accept.find("text/event-stream") != std::string::npos &&
         accept.find("application/json") == std::string::npos &&
         accept.find("*/*") == std::string::npos;
}

}  // namespace

struct McpServer::Impl : std::enable_shared_from_this<McpServer::Impl> {
  Dispatch dispatch;
  Authenticate authenticate;
  domain::Entropy& entropy;
  domain::Timers& timers;

  std::mutex mu;
  std::map<std::string, std::string> session_key;               // Session id -> key's SHA-256.
  std::map<std::string, std::deque<std::string>> key_sessions;  // Oldest first.

  Impl(Dispatch d, Authenticate a, domain::Entropy& e, domain::Timers& t)
      : dispatch(std::move(d)), authenticate(std::move(a)), entropy(e), timers(t) {}

  std::string open_session(const std::string& key_hash) {
    std::lock_guard<std::mutex> lock(mu);
    const std::string id = domain::random_hex(entropy, 16);
    session_key[id] = key_hash;
    std::deque<std::string>& mine = key_sessions[key_hash];
    mine.push_back(id);
    if (mine.size() > kSessionsPerKey) {
      session_key.erase(mine.front());
      mine.pop_front();
    }
    return id;
  }

  // "" when `session` may be used with `key_hash`; else why not, with the status.
  std::pair<int, std::string> check_session(const std::string& session,
                                            const std::string& key_hash) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = session_key.find(session);
    if (it == session_key.end()) return {404, "Session not found: initialize again"};
    if (it->second != key_hash) return {403, "This session was opened with another API key"};
    return {0, ""};
  }

  void close_session(const std::string& session) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = session_key.find(session);
    if (it == session_key.end()) return;
    std::deque<std::string>& mine = key_sessions[it->second];
    std::erase(mine, session);
    if (mine.empty()) key_sessions.erase(it->second);
    session_key.erase(it);
  }

  // Who a tool's REST requests come from: the MCP request's credentials.
  struct Caller {
    std::string authorization, host, peer_address;
    std::string key_sha256, account;  // Authenticated already.
  };

  // Runs `calls` one after another through the router; `done` gets their responses.
  void run_calls(std::shared_ptr<std::vector<mcp::RestCall>> calls, std::size_t next,
                 std::shared_ptr<std::vector<Response>> results,
                 std::shared_ptr<const Caller> caller, std::function<void()> done) {
    if (next == calls->size()) return done();
    const mcp::RestCall& c = (*calls)[next];
    Request r;
    r.method = c.method;
    r.target = c.target;
    r.body = c.body;
    r.peer_address = caller->peer_address;
    r.from_loopback = false;  // The sandbox's /sim routes are not tools.
    r.key_sha256 = caller->key_sha256;
    r.authenticated_account = caller->account;
    r.headers.emplace_back("authorization", caller->authorization);
    r.headers.emplace_back("host", caller->host);
    if (!c.body.empty()) r.headers.emplace_back("content-type", "application/json");
    dispatch(std::move(r), [self = shared_from_this(), calls, next, results, caller,
                            done = std::move(done)](Response response) mutable {
      results->push_back(std::move(response));
      self->run_calls(calls, next + 1, results, caller, std::move(done));
    });
  }

  // tools/call: answers `done` with the result object, or a JSON-RPC error.
  void call_tool(const json::object& params, const Request& origin,
                 std::function<void(json::object result, std::optional<json::object> error)> done) {
    const json::value* name = params.if_contains("name");
    if (name == nullptr || !name->is_string()) {
      return done({}, json::object{{"code", -32602}, {"message", "params.name must be a string"}});
    }
    const mcp::Tool* tool = mcp::find_tool(std::string(name->as_string()));
    if (tool == nullptr) {
      return done({}, json::object{{"code", -32602},
                                   {"message", "Unknown tool: " + std::string(name->as_string())}});
    }
    const json::value* a = params.if_contains("arguments");
    if (a != nullptr && !a->is_null() && !a->is_object()) {
      return done({}, json::object{{"code", -32602}, {"message", "arguments must be an object"}});
    }
    const json::object& args = a != nullptr && a->is_object() ? a->as_object() : empty_object();
    if (std::string problem = mcp::validate_arguments(tool->input_schema, args); !problem.empty()) {
      return done(
          text_result("Invalid arguments for " + std::string(tool->name) + ": " + problem, true),
          std::nullopt);
    }
    mcp::ToolPlan plan = tool->plan(args);
    if (!plan.refusal.empty()) return done(text_result(plan.refusal, true), std::nullopt);
    if (!plan.notice.empty()) return done(text_result(plan.notice, false), std::nullopt);
    const json::value* reveal_secret = args.if_contains("reveal_secret");
    const bool reveal =
        reveal_secret != nullptr && reveal_secret->is_bool() && reveal_secret->get_bool();
    auto calls = std::make_shared<std::vector<mcp::RestCall>>(std::move(plan.calls));
    auto results = std::make_shared<std::vector<Response>>();
    auto caller = std::make_shared<const Caller>(
        Caller{origin.header("authorization"), origin.header("host"), origin.peer_address,
               origin.key_sha256, origin.authenticated_account});
    run_calls(calls, 0, results, std::move(caller),
              [results, names = std::move(plan.names), mask = tool->masks_secret && !reveal,
               done = std::move(done)] {
                if (names.empty()) {
                  const Response& r = results->front();
                  if (r.status >= 400) return done(text_result(error_text(r), true), std::nullopt);
                  // A 204 (a deleted contact) says nothing; MCP clients expect {success}.
                  if (r.status == 204)
                    return done(text_result("{\"success\":true}", false), std::nullopt);
                  if (mask) {
                    boost::system::error_code ec;
                    json::value body = json::parse(r.body, ec);
                    if (!ec) {
                      mask_secret(body);
                      return done(text_result(json::serialize(body), false), std::nullopt);
                    }
                  }
                  return done(text_result(r.body, false), std::nullopt);
                }
                // Several reads (account_overview): one object, a part that
                // failed naming its error.
                json::object combined;
                for (std::size_t i = 0; i < names.size(); ++i) {
                  const Response& r = (*results)[i];
                  boost::system::error_code ec;
                  json::value body = json::parse(r.body, ec);
                  if (r.status >= 400 || ec) {
                    combined[names[i]] = json::object{{"error", error_text(r)}};
                  } else {
                    mask_secret(body);
                    combined[names[i]] = std::move(body);
                  }
                }
                done(text_result(json::serialize(combined), false), std::nullopt);
              });
  }

  // One JSON-RPC request; `done` gets its response object.
  void request(const json::object& message, const Request& origin, std::string* session_opened,
               std::function<void(json::object)> done) {
    // Copied into the default storage: the message lives in post()'s arena,
    // and the answer may be sent after post() has returned.
    const json::value id(domain::field(message, "id"), json::storage_ptr());
    const std::string method(domain::field(message, "method").as_string());
    const json::value* p = message.if_contains("params");
    if (p != nullptr && !p->is_object() && !p->is_null()) {
      return done(rpc_error(id, -32602, "params must be an object"));
    }
    const json::object& params = p != nullptr && p->is_object() ? p->as_object() : empty_object();
    if (method == "initialize") {
      std::string version = kProtocolVersions[0];
      if (const json::value* asked = params.if_contains("protocolVersion");
          asked != nullptr && asked->is_string()) {
        for (const char* known : kProtocolVersions) {
          if (asked->as_string() == known) version = known;
        }
      }
      *session_opened = open_session(origin.key_sha256);
      return done(rpc_result(
          id, json::object{
                  {"protocolVersion", version},
                  {"capabilities", json::object{{"tools", json::object{{"listChanged", false}}}}},
                  {"serverInfo", json::object{{"name", "agentphone"},
                                              {"title", "AgentPhone"},
                                              {"version", kServerVersion}}},
                  {"instructions",
                   "Phone numbers, SMS and voice calls for this AgentPhone account. "
                   "Start with account_overview."}}));
    }
    if (method == "ping") return done(rpc_result(id, json::object{}));
    if (method == "tools/list") {
      // The list never changes: described once.
      static const json::array kList = [] {
        json::array list;
        for (const mcp::Tool& tool : mcp::tools()) list.push_back(mcp::describe(tool));
        return list;
      }();
      return done(rpc_result(id, json::object{{"tools", kList}}));
    }
    if (method == "tools/call") {
      return call_tool(
          params, origin,
          [id, done = std::move(done)](json::object result, std::optional<json::object> error) {
            if (error) {
              return done(
                  json::object{{"jsonrpc", "2.0"}, {"error", std::move(*error)}, {"id", id}});
            }
            done(rpc_result(id, std::move(result)));
          });
    }
    done(rpc_error(id, -32601, "Method not found: " + method));
  }

  // `origin` is authenticated: key_sha256 and authenticated_account are set.
  void post(const Request& origin, Reply reply) {
    boost::system::error_code ec;
    // The messages are parsed into an arena on the stack (one allocation for
    // small requests instead of one per node); nothing taken from them
    // outlives post() except copies into the default storage.
    unsigned char arena[4096];
    json::monotonic_resource parsed(arena, sizeof arena);
    json::value body = json::parse(origin.body, ec, &parsed);
    if (ec) {
      return reply(rpc_response(400, rpc_error(nullptr, -32700, "Parse error: " + ec.message())));
    }
    const bool batch = body.is_array();
    // The messages are read in place: every use of one below is done before
    // post() returns (request() copies what its answer needs).
    std::vector<const json::value*> messages;
    if (batch) {
      const json::array& list = body.as_array();
      if (list.empty() || list.size() > kMaxBatch) {
        return reply(rpc_response(400, rpc_error(nullptr, -32600,
                                                 "Invalid Request: a batch holds 1 to " +
                                                     std::to_string(kMaxBatch) + " messages")));
      }
      for (const json::value& m : list) messages.push_back(&m);
    } else {
      messages.push_back(&body);
    }
    // Requests get answers in their order; notifications and responses none.
    struct Pending {
      std::mutex mu;
      std::vector<std::optional<json::object>> answers;
      std::size_t left = 0;
      std::string session_opened;
    };
    auto pending = std::make_shared<Pending>();
    std::vector<std::pair<std::size_t, const json::object*>> requests;
    for (const json::value* m : messages) {
      const json::object* o = m->if_object();
      const json::value* version = o != nullptr ? o->if_contains("jsonrpc") : nullptr;
      const json::value* method = o != nullptr ? o->if_contains("method") : nullptr;
      const json::value* given_id = o != nullptr ? o->if_contains("id") : nullptr;
      const bool valid =
          version != nullptr && *version == "2.0" && (method == nullptr || method->is_string());
      if (!valid) {
        pending->answers.push_back(rpc_error(given_id != nullptr ? *given_id : json::value(nullptr),
                                             -32600,
                                             "Invalid Request: a JSON-RPC 2.0 object is expected"));
        continue;
      }
      // A notification or a response.
      if (method == nullptr || given_id == nullptr || given_id->is_null()) continue;
      const json::value& id = *given_id;
      if (!id.is_string() && !id.is_int64() && !id.is_uint64()) {
        pending->answers.push_back(
            rpc_error(nullptr, -32600, "Invalid Request: id must be a string or an integer"));
        continue;
      }
      requests.emplace_back(pending->answers.size(), o);
      pending->answers.emplace_back();
    }
    if (pending->answers.empty()) {
      Response accepted;
      accepted.status = 202;
      accepted.content_type = "application/json";
      return reply(std::move(accepted));
    }
    pending->left = requests.size();
    const bool events = accepts_only_events(origin);
    auto finish = [pending, batch, events, reply] {
      json::value out;
      if (batch) {
        json::array list;
        for (auto& a : pending->answers) list.push_back(std::move(*a));
        out = std::move(list);
      } else {
        out = std::move(*pending->answers.front());
      }
      Response r;
      if (!pending->session_opened.empty()) {
        r.headers.emplace_back("Mcp-Session-Id", pending->session_opened);
      }
      if (!events) {
        r.body = json::serialize(out);
        return reply(std::move(r));
      }
      r.content_type = "text/event-stream";
      r.headers.emplace_back("Cache-Control", "no-cache");
      r.stream = [event = "event: message\ndata: " + json::serialize(out) +
                          "\n\n"](std::shared_ptr<StreamChannel> channel) {
        channel->write(event);
        channel->finish();
      };
      reply(std::move(r));
    };
    if (requests.empty()) return finish();
    for (auto& [slot, message] : requests) {
      std::string* opened = &pending->session_opened;
      request(*message, origin, opened, [pending, slot = slot, finish](json::object answer) {
        bool last = false;
        {
          std::lock_guard<std::mutex> lock(pending->mu);
          pending->answers[slot] = std::move(answer);
          last = --pending->left == 0;
        }
        if (last) finish();
      });
    }
  }

  // GET /mcp: an idle event stream the client may keep open.
  void idle_stream(Reply reply) {
    Response r;
    r.content_type = "text/event-stream";
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.stream = [weak = weak_from_this()](std::shared_ptr<StreamChannel> channel) {
      if (!channel->write(": connected\n\n")) return;
      if (auto self = weak.lock()) self->keep_alive(channel);
    };
    reply(std::move(r));
  }

  // Writes a comment every kKeepAliveMs until the client goes.
  void keep_alive(std::shared_ptr<StreamChannel> channel) {
    timers.after(kKeepAliveMs, [weak = weak_from_this(), channel] {
      auto self = weak.lock();
      if (!self || !channel->write(": keep-alive\n\n")) return;
      self->keep_alive(channel);
    });
  }
};

McpServer::McpServer(Dispatch dispatch, Authenticate authenticate, domain::Entropy& entropy,
                     domain::Timers& timers)
    : impl_(std::make_shared<Impl>(std::move(dispatch), std::move(authenticate), entropy, timers)) {
}

McpServer::~McpServer() = default;

void McpServer::handle(Request request, Reply reply) {
  if (request.method != "POST" && request.method != "GET" && request.method != "DELETE") {
    Response r = rpc_response(405, rpc_error(nullptr, -32000, "Method not allowed"));
    r.headers.emplace_back("Allow", "GET, POST, DELETE");
    return reply(std::move(r));
  }
  std::string key_hash = bearer_key_sha256(request);
  std::optional<std::string> account;
  if (!key_hash.empty()) account = impl_->authenticate(key_hash);
  if (!account) {
    Response denied = rpc_response(
        401, rpc_error(nullptr, -32000,
                       "Authentication required: send Authorization: Bearer <AgentPhone API key>"));
    denied.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"agentphone\"");
    return reply(std::move(denied));
  }
  if (const std::string* version = request.find_header("mcp-protocol-version")) {
    bool known = false;
    for (const char* v : kProtocolVersions) known = known || *version == v;
    if (!known) {
      return reply(rpc_response(
          400, rpc_error(nullptr, -32000, "Unsupported MCP-Protocol-Version " + *version)));
    }
  }
  const std::string* session = request.find_header("mcp-session-id");
  if (session != nullptr) {
    const auto [status, problem] = impl_->check_session(*session, key_hash);
    if (status != 0) return reply(rpc_response(status, rpc_error(nullptr, -32001, problem)));
  }
  if (request.method == "DELETE") {
    if (session == nullptr) {
      return reply(rpc_response(400, rpc_error(nullptr, -32000, "Mcp-Session-Id is required")));
    }
    impl_->close_session(*session);
    return reply(rpc_response(200, rpc_result(nullptr, json::object{})));
  }
  if (request.method == "GET") return impl_->idle_stream(std::move(reply));
  // The tools' REST requests need not look the key up again.
  request.key_sha256 = std::move(key_hash);
  request.authenticated_account = std::move(*account);
  impl_->post(request, std::move(reply));
}

Response McpServer::server_card() {
  json::array versions;
  for (const char* v : kProtocolVersions) versions.emplace_back(v);
  json::array names;
  for (const mcp::Tool& tool : mcp::tools()) names.emplace_back(tool.name);
  Response r;
  r.body = json::serialize(json::object{
      {"name", "agentphone"},
      {"title", "AgentPhone"},
      {"version", kServerVersion},
      {"description", "Phone numbers, SMS and voice calls for AI agents"},
      {"protocolVersions", std::move(versions)},
      {"transport", json::object{{"type", "streamable-http"}, {"endpoint", "/mcp"}}},
      {"authentication", json::object{{"required", true}, {"schemes", json::array{"bearer"}}}},
      {"tools", std::move(names)}});
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  r.headers.emplace_back("Cache-Control", "public, max-age=3600");
  return r;
}

}  // namespace ap::http
