// Calls (contract B.5) and the sandbox phone (/sim/calls, docs/calls.md).
#include <boost/json/parse.hpp>

#include <memory>
#include <set>

#include "actors/call.hpp"
#include "actors/calling.hpp"
#include "http/api_internal.hpp"

namespace ap::http {

namespace {

// Turns longer than the slowest webhook (120 s) are answered as they stand.
constexpr std::int64_t kTurnWaitMs = 125'000;
// POST /v1/calls answers once the callee picked up, or after this.
constexpr std::int64_t kAnswerWaitMs = 5'000;
constexpr std::int64_t kMaxWaitSeconds = 600;

// A transcript item as the wire shows it: the row without its bookkeeping.
json::object wire_turn(json::object turn) {
  turn.erase("answered");
  turn.erase("said");
  return turn;
}

// What the sandbox phone heard in a turn: [{text, interim}].
json::array said_of(const std::optional<json::object>& turn) {
  json::array said;
  if (!turn) return said;
  for (const json::value& line : domain::field(*turn, "said").as_array()) {
    said.push_back(json::object{{"text", domain::field(line, "text")},
                                {"interim", domain::field(line, "interim")}});
  }
  return said;
}

Response call_not_found() {
  return domain_error_response(domain::not_found("Call not found"));
}

// The caller turn a transcript row belongs to, from its id "<call>_t<turn>".
int turn_of(const json::object& row) {
  const std::string id(domain::field(row, "id").as_string());
  return std::stoi(id.substr(id.rfind("_t") + 2));
}

constexpr std::int64_t kHeartbeatMs = 15'000;

}  // namespace

// One client of GET /v1/calls/{id}/transcript/stream: each answered turn as
// an SSE event "transcript" (replayed first, then live), ": heartbeat"
// every 15 s of quiet, and "ended" with the call once it is over. It keeps
// itself alive through the waiter it registers; it stops when the call
// ended or the client went away.
struct TranscriptStream : std::enable_shared_from_this<TranscriptStream> {
  Api::Impl& api;
  std::string account, call_id;
  std::shared_ptr<StreamChannel> out;
  std::set<int> sent;

  TranscriptStream(Api::Impl& a, std::string acct, std::string id, std::shared_ptr<StreamChannel> o)
      : api(a), account(std::move(acct)), call_id(std::move(id)), out(std::move(o)) {}

  // Sends what is new, then waits for the next turn, the end or a heartbeat.
  void pump() {
    int waiting_for = -1, highest = -1;
    for (json::object& turn : api.view.call_turns(call_id)) {
      const int n = turn_of(turn);
      highest = std::max(highest, n);
      if (!domain::field(turn, "answered").as_bool()) {
        if (waiting_for < 0) waiting_for = n;
        continue;
      }
      if (!sent.insert(n).second) continue;
      if (!out->write("event: transcript\ndata: " + domain::to_json(wire_turn(std::move(turn))) +
                      "\n\n")) {
        return;
      }
    }
    const std::optional<std::string> status = api.view.call_status(call_id);
    if (!status || !domain::call_is_live(*status)) {
      std::optional<std::string> summary = api.view.call(account, call_id);
      out->write("event: ended\ndata: " + summary.value_or("null") + "\n\n");
      return out->finish();
    }
    const int next = waiting_for >= 0 ? waiting_for : highest + 1;
    const std::size_t before = sent.size();
    api.calls.when_turn_answered(
        call_id, next, kHeartbeatMs,
        [self = shared_from_this(), before](const std::optional<json::object>& row) {
          // Quiet for a whole heartbeat: say so, so that proxies keep the line open.
          const std::optional<std::string> now = self->api.view.call_status(self->call_id);
          const bool quiet =
              !row && self->sent.size() == before && now && domain::call_is_live(*now);
          if (quiet && !self->out->write(": heartbeat\n\n")) return;
          self->pump();
        });
  }
};

json::object Api::Impl::call_detail(const std::string& summary, const std::string& call_id) {
  json::object call = json::parse(summary).as_object();
  json::array transcripts;
  for (json::object& turn : view.call_turns(call_id)) transcripts.push_back(wire_turn(turn));
  call["transcripts"] = std::move(transcripts);
  return call;
}

Response Api::Impl::call_response(const std::string& account, const std::string& call_id) {
  std::optional<std::string> summary = view.call(account, call_id);
  if (!summary) return call_not_found();
  return json_response(call_detail(*summary, call_id));
}

// GET list of `scope` ("account", "agent", "number") once `guard` finds no error.
void Api::Impl::list_calls(const Call& call, const std::string& scope, const std::string& scope_id,
                           std::function<std::optional<Response>()> guard) {
  std::int64_t offset, limit;
  if (!call.paging(&offset, &limit)) return;
  projections::CoreView::CallFilter filter;
  std::vector<FieldError> errors;
  if (const std::string* status = call.query.get("status")) filter.status = *status;
  if (const std::string* search = call.query.get("search")) filter.search = *search;
  if (const std::string* direction = call.query.get("direction")) {
    filter.direction = *direction;
    if (*direction != "inbound" && *direction != "outbound") {
      errors.push_back({"direction", "Input should be 'inbound' or 'outbound'", "enum"});
    }
  }
  // Every call here is a phone (pstn) call; web calls are not offered.
  bool web_only = false;
  if (const std::string* type = call.query.get("type")) {
    web_only = *type == "web";
    if (*type != "pstn" && *type != "web") {
      errors.push_back({"type", "Input should be 'pstn' or 'web'", "enum"});
    }
  }
  if (!errors.empty()) return call.reply(validation_response(errors, "query"));
  const std::string account = call.account;
  const Responder reply = call.reply;
  after_own_writes(
      account, [this, account, scope, scope_id, filter, offset, limit, reply, guard, web_only] {
        if (std::optional<Response> error = guard()) return reply(std::move(*error));
        if (web_only) return list_page(projections::Page{}, true, reply);
        list_page(view.calls(account, scope, scope_id, filter, offset, limit), true, reply);
      });
}

// /v1/calls, /v1/calls/{id}, /v1/calls/{id}/transcript, /v1/calls/{id}/end
void Api::Impl::route_calls(const Call& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const std::string& account = call.account;
  const Responder& reply = call.reply;
  if (p.size() == 2) {
    *call.route_label = "/v1/calls";
    if (method == "GET") {
      return list_calls(call, "account", account, [] { return std::nullopt; });
    }
    if (method != "POST") return call.method_not_allowed();
    json::object body;
    if (!call.body_object(&body)) return;
    std::vector<FieldError> errors;
    std::int64_t wait_ms = 0;
    if (const json::value* wait = body.if_contains("waitForCompletion");
        wait != nullptr && !wait->is_null()) {
      if (!wait->is_bool()) {
        errors.push_back({"waitForCompletion", "Input should be a valid boolean", "bool_type"});
      } else if (wait->as_bool()) {
        wait_ms = 300'000;
      }
    }
    if (const json::value* max = body.if_contains("maxWaitSeconds");
        max != nullptr && !max->is_null()) {
      if (!max->is_int64() || max->as_int64() < 1 || max->as_int64() > kMaxWaitSeconds) {
        errors.push_back(
            {"maxWaitSeconds", "Input should be an integer from 1 to 600", "int_type"});
      } else if (wait_ms > 0) {
        wait_ms = max->as_int64() * 1000;
      }
    }
    if (!errors.empty()) return reply(validation_response(errors, "body"));
    return after_own_writes(account, [this, account, body = std::move(body), wait_ms, reply] {
      std::variant<actors::CallStart, DomainError> start =
          actors::outbound_call(view, ids, account, body);
      if (auto* error = std::get_if<DomainError>(&start)) {
        return reply(domain_error_response(*error));
      }
      actors::CallStart& call_start = std::get<actors::CallStart>(start);
      start_call(std::move(call_start), wait_ms, reply);
    });
  }
  const std::string call_id = p[2];
  if (p.size() == 3) {
    *call.route_label = "/v1/calls/{id}";
    if (method != "GET") return call.method_not_allowed();
    std::int64_t timeout_s = 0;
    const std::string* wait = call.query.get("wait");
    if (wait != nullptr && *wait == "true") {
      std::vector<FieldError> errors;
      query_int(call.query, "timeout", 120, 1, 300, &timeout_s, errors);
      if (!errors.empty()) return reply(validation_response(errors, "query"));
    }
    return after_own_writes(account, [this, account, call_id, timeout_s, reply] {
      if (!view.call(account, call_id)) return reply(call_not_found());
      if (timeout_s == 0) return reply(call_response(account, call_id));
      calls.when_ended(call_id, timeout_s * 1000,
                       [this, account, call_id, reply] { reply(call_response(account, call_id)); });
    });
  }
  if (p.size() == 4 && p[3] == "transcript") {
    *call.route_label = "/v1/calls/{id}/transcript";
    if (method != "GET") return call.method_not_allowed();
    return after_own_writes(account, [this, account, call_id, reply] {
      if (!view.call(account, call_id)) return reply(call_not_found());
      json::array data;
      for (json::object& turn : view.call_turns(call_id)) data.push_back(wire_turn(turn));
      reply(json_response(json::object{{"data", std::move(data)}}));
    });
  }
  if (p.size() == 5 && p[3] == "transcript" && p[4] == "stream") {
    *call.route_label = "/v1/calls/{id}/transcript/stream";
    if (method != "GET") return call.method_not_allowed();
    return after_own_writes(account, [this, account, call_id, reply] {
      if (!view.call(account, call_id)) return reply(call_not_found());
      Response stream;
      stream.content_type = "text/event-stream";
      stream.stream = [this, account, call_id](std::shared_ptr<StreamChannel> out) {
        std::make_shared<TranscriptStream>(*this, account, call_id, std::move(out))->pump();
      };
      reply(std::move(stream));
    });
  }
  if (p.size() == 4 && p[3] == "end") {
    *call.route_label = "/v1/calls/{id}/end";
    if (method != "POST") return call.method_not_allowed();
    return command(
        EntityKind::kCall, call_id, {"call.hangup", account, {{"by", "agent"}}}, reply,
        [this, account, call_id](const CommandResult&) { return call_response(account, call_id); });
  }
  call.unknown_route();
}

// Starts `start`; answers with the call once it was answered or ended (at
// most kAnswerWaitMs), or, when `wait_ms` > 0, once it ended (at most wait_ms).
void Api::Impl::start_call(actors::CallStart start, std::int64_t wait_ms, const Reply& reply) {
  const std::string account = start.command.account_id;
  const std::string call_id = start.call_id;
  runtime.send(EntityKind::kCall, call_id, std::move(start.command),
               [this, account, call_id, wait_ms, reply](CommandResult result) {
                 if (!result.ok) return reply(domain_error_response(result.error));
                 note_write(account, result.last_position);
                 view.when_applied(result.last_position, [this, account, call_id, wait_ms, reply] {
                   auto answer = [this, account, call_id, reply] {
                     reply(call_response(account, call_id));
                   };
                   if (wait_ms > 0) return calls.when_ended(call_id, wait_ms, answer);
                   calls.when_answered(call_id, kAnswerWaitMs, answer);
                 });
               });
}

// ---- The sandbox phone ----------------------------------------------------------

// POST /sim/calls, POST /sim/calls/{id}/say, POST /sim/calls/{id}/hangup, GET /sim/calls/{id}
void Api::Impl::sim_calls(const Request& request, const std::vector<std::string>& p,
                          const Reply& reply) {
  const std::string& method = request.method;
  auto method_not_allowed = [&] { reply(method_not_allowed_response()); };
  if (p.size() == 2) {
    if (method != "POST") return method_not_allowed();
    json::object body;
    Response error;
    if (!parse_object(request.body, &body, &error)) return reply(error);
    auto text = [&](const char* name) {
      const json::value* v = body.if_contains(name);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    const std::string to = domain::normalize_nanp(text("to"));
    if (to.empty()) {
      return reply(validation_response(
          {{"to", "to must be one of our US or Canadian numbers", "value_error"}}, "body"));
    }
    std::variant<actors::CallStart, DomainError> start =
        actors::inbound_call(view, ids, text("from"), to);
    if (auto* e = std::get_if<DomainError>(&start)) return reply(domain_error_response(*e));
    actors::CallStart& call_start = std::get<actors::CallStart>(start);
    const std::string call_id = call_start.call_id;
    return runtime.send(
        EntityKind::kCall, call_id, std::move(call_start.command),
        [this, call_id, reply](CommandResult result) {
          if (!result.ok) return reply(domain_error_response(result.error));
          view.when_applied(result.last_position, [this, call_id, reply] {
            std::optional<json::object> greeting = view.call_turn(call_id, 0);
            reply(json_response(json::object{{"callId", call_id},
                                             {"status", view.call_status(call_id).value_or("")},
                                             {"said", said_of(greeting)}}));
          });
        });
  }
  const std::string call_id = p[2];
  std::optional<std::string> account = view.call_account(call_id);
  if (!account) return reply(call_not_found());
  if (p.size() == 3) {
    if (method != "GET") return method_not_allowed();
    json::array lines;
    for (const json::object& turn : view.call_turns(call_id)) {
      if (!domain::field(turn, "transcript").as_string().empty()) {
        lines.push_back(json::object{
            {"role", "caller"}, {"text", domain::field(turn, "transcript")}, {"interim", false}});
      }
      for (const json::value& said : domain::field(turn, "said").as_array()) {
        lines.push_back(json::object{{"role", "agent"},
                                     {"text", domain::field(said, "text")},
                                     {"interim", domain::field(said, "interim")},
                                     {"interrupted", domain::field(turn, "interrupted")}});
      }
    }
    return reply(json_response(json::object{{"callId", call_id},
                                            {"status", view.call_status(call_id).value_or("")},
                                            {"lines", std::move(lines)}}));
  }
  if (p.size() != 4 || (p[3] != "say" && p[3] != "hangup")) {
    return reply(not_found_response("Not Found"));
  }
  if (method != "POST") return method_not_allowed();
  if (p[3] == "hangup") {
    return runtime.send(EntityKind::kCall, call_id, {"call.hangup", *account, {{"by", "caller"}}},
                        [this, account = *account, call_id, reply](CommandResult result) {
                          if (!result.ok) return reply(domain_error_response(result.error));
                          view.when_applied(result.last_position, [this, account, call_id, reply] {
                            reply(call_response(account, call_id));
                          });
                        });
  }
  json::object body;
  Response error;
  if (!parse_object(request.body, &body, &error)) return reply(error);
  runtime.send(
      EntityKind::kCall, call_id, {"call.say", *account, std::move(body)},
      [this, call_id, reply](CommandResult result) {
        if (!result.ok) return reply(domain_error_response(result.error));
        const int turn =
            static_cast<int>(domain::field(result.events.front().data, "turn").as_int64());
        view.when_applied(result.last_position, [this, call_id, turn, reply] {
          calls.when_turn_answered(
              call_id, turn, kTurnWaitMs, [this, call_id, reply](std::optional<json::object> row) {
                const std::string status = view.call_status(call_id).value_or("");
                reply(json_response(json::object{
                    {"said", said_of(row)},
                    {"interrupted", row ? domain::field(*row, "interrupted") : json::value(false)},
                    {"hangup", status != "in-progress"},
                    {"status", status}}));
              });
        });
      });
}

}  // namespace ap::http
