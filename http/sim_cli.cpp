#include "http/sim_cli.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "actors/domain.hpp"
#include "http/client.hpp"

namespace ap::http {

namespace json = boost::json;

namespace {

std::string text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string("-");
}

// Prints why a call failed and returns the exit code 1; `nullopt` on success.
std::optional<int> failed(const ClientResponse& response) {
  if (response.status == 0) {
    std::fprintf(stderr, "agentphone sim: %s\n", response.error.c_str());
    return 1;
  }
  if (response.status >= 300) {
    std::string message = response.body;
    json::error_code ec;
    const json::value parsed = json::parse(response.body, ec);
    if (!ec && parsed.is_object()) {
      if (const json::value* error = parsed.as_object().if_contains("error")) {
        if (error->is_object()) message = text(error->as_object(), "message");
      }
    }
    std::fprintf(stderr, "agentphone sim: HTTP %d: %s\n", response.status, message.c_str());
    return 1;
  }
  return std::nullopt;
}

}  // namespace

int sim_send_sms(const std::string& server, const std::string& from, const std::string& to,
                 const std::string& message) {
  const ClientResponse response =
      http_request(server, "POST", "/sim/sms",
                   json::serialize(json::object{{"from", from}, {"to", to}, {"body", message}}));
  if (std::optional<int> code = failed(response)) return *code;
  const json::object answer = json::parse(response.body).as_object();
  std::printf("delivered to %s: message %s in conversation %s\n", to.c_str(),
              text(answer, "messageId").c_str(), text(answer, "conversationId").c_str());
  return 0;
}

int sim_show_outbox(const std::string& server, std::int64_t limit, bool raw) {
  const ClientResponse response =
      http_request(server, "GET", "/sim/outbox?limit=" + std::to_string(limit), "");
  if (std::optional<int> code = failed(response)) return *code;
  if (raw) {
    std::printf("%s\n", response.body.c_str());
    return 0;
  }
  const json::object answer = json::parse(response.body).as_object();
  const json::array& messages = domain::field(answer, "data").as_array();
  if (messages.empty()) std::printf("(no outbound messages yet)\n");
  // Newest first, as the server lists them.
  for (const json::value& item : messages) {
    const json::object& m = item.as_object();
    std::string status = text(m, "status");
    if (status == "failed") status += " (" + text(m, "errorCode") + ")";
    std::printf("%s  %-22s %s -> %s  %s\n", text(m, "receivedAt").c_str(), status.c_str(),
                text(m, "fromNumber").c_str(), text(m, "toNumber").c_str(),
                text(m, "body").c_str());
  }
  return 0;
}

namespace {

// Prints what the agent said: one line each, interim ones marked.
void print_said(const json::value& said, std::FILE* out) {
  for (const json::value& line : said.as_array()) {
    const bool interim = domain::field(line, "interim").as_bool();
    std::fprintf(out, "agent%s: %s\n", interim ? " (interim)" : "",
                 std::string(domain::field(line, "text").as_string()).c_str());
  }
}

}  // namespace

int sim_call(const std::string& server, const std::string& from, const std::string& to,
             std::FILE* in, std::FILE* out) {
  const ClientResponse dialled = http_request(
      server, "POST", "/sim/calls", json::serialize(json::object{{"from", from}, {"to", to}}));
  if (std::optional<int> code = failed(dialled)) return *code;
  const json::object call = json::parse(dialled.body).as_object();
  const std::string id = text(call, "callId");
  std::fprintf(out, "call %s: %s (type a line; /hangup to end)\n", id.c_str(),
               text(call, "status").c_str());
  print_said(domain::field(call, "said"), out);
  if (text(call, "status") != "in-progress") return 0;
  char buffer[4096];
  // Bounded by the input: each round reads one line.
  while (std::fgets(buffer, sizeof buffer, in) != nullptr) {
    std::string line(buffer);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    if (line == "/hangup") break;
    // A turn waits for the agent's webhook, whose timeout may be two minutes.
    const ClientResponse answer =
        http_request(server, "POST", "/sim/calls/" + id + "/say",
                     json::serialize(json::object{{"text", line}}), 130'000);
    if (std::optional<int> code = failed(answer)) return *code;
    const json::object turn = json::parse(answer.body).as_object();
    print_said(domain::field(turn, "said"), out);
    if (domain::field(turn, "said").as_array().empty()) std::fprintf(out, "agent: (silence)\n");
    if (text(turn, "status") != "in-progress") {
      std::fprintf(out, "call %s ended: %s\n", id.c_str(), text(turn, "status").c_str());
      return 0;
    }
  }
  const ClientResponse hung = http_request(server, "POST", "/sim/calls/" + id + "/hangup", "");
  if (std::optional<int> code = failed(hung)) return *code;
  const json::object ended = json::parse(hung.body).as_object();
  std::fprintf(out, "call %s ended: %s (%s)\n", id.c_str(), text(ended, "status").c_str(),
               text(ended, "disconnectionReason").c_str());
  return 0;
}

int sim_show_mail(const std::string& data_dir, std::FILE* out) {
  const std::filesystem::path outbox = std::filesystem::path(data_dir) / "outbox";
  std::error_code ec;
  std::filesystem::path newest;
  // File names start with the zero-padded send time: the greatest is the newest.
  for (const auto& entry : std::filesystem::directory_iterator(outbox, ec)) {
    const std::filesystem::path& p = entry.path();
    if (p.extension() == ".eml" && (newest.empty() || p.filename() > newest.filename())) newest = p;
  }
  if (newest.empty()) {
    std::fprintf(stderr, "agentphone sim mail: no mail in %s\n", outbox.string().c_str());
    return 1;
  }
  std::ifstream file(newest, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::fprintf(out, "%s\n", text.c_str());
  return 0;
}

int sim_set_fault(const std::string& server, const std::string& to, const std::string& mode,
                  std::int64_t delay_ms, bool clear) {
  const ClientResponse response =
      clear ? http_request(server, "DELETE", "/sim/faults", "")
            : http_request(
                  server, "POST", "/sim/faults",
                  json::serialize(json::object{{"to", to}, {"mode", mode}, {"delayMs", delay_ms}}));
  if (std::optional<int> code = failed(response)) return *code;
  const json::value answer = json::parse(response.body);
  const json::array& faults = domain::field(answer, "data").as_array();
  if (faults.empty()) std::printf("no faults set\n");
  for (const json::value& f : faults) {
    std::printf("%s: %s, +%lld ms\n", text(f.as_object(), "to").c_str(),
                text(f.as_object(), "mode").c_str(),
                static_cast<long long>(domain::field(f, "delayMs").as_int64()));
  }
  return 0;
}

}  // namespace ap::http
