#include "http/admin_client.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "http/client.hpp"

namespace ap::http {

namespace json = boost::json;

namespace {

// The string field `key` of `v`, or null when `v` is not an object with one.
const json::string* string_field(const json::value& v, const char* key) {
  const json::value* found = v.is_object() ? v.get_object().if_contains(key) : nullptr;
  return found != nullptr && found->is_string() ? &found->get_string() : nullptr;
}

}  // namespace

std::string admin_file(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "admin.json").string();
}

std::optional<int> admin_remote(const std::string& data_dir, const std::string& op,
                                json::object args) {
  std::ifstream file(admin_file(data_dir));
  if (!file) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  json::error_code ec;
  const json::value where = json::parse(text, ec);
  const json::string* url = ec ? nullptr : string_field(where, "url");
  const json::string* token = ec ? nullptr : string_field(where, "token");
  if (url == nullptr || token == nullptr) return std::nullopt;
  args["op"] = op;
  const ClientResponse response = http_request(std::string(*url), "POST", "/admin/command",
                                               json::serialize(args), 60'000, std::string(*token));
  // Nobody there: the file outlived a server that was killed.
  if (response.status == 0) return std::nullopt;
  const json::value answer = json::parse(response.body, ec);
  const json::string* output = ec ? nullptr : string_field(answer, "output");
  const json::string* error = ec ? nullptr : string_field(answer, "error");
  const json::value* exit = answer.is_object() ? answer.get_object().if_contains("exit") : nullptr;
  if (response.status != 200 || output == nullptr || error == nullptr || exit == nullptr ||
      !exit->is_int64()) {
    std::fprintf(stderr, "agentphone admin: the server refused the command (HTTP %d): %s\n",
                 response.status, response.body.c_str());
    return 1;
  }
  std::fputs(std::string(*output).c_str(), stdout);
  std::fputs(std::string(*error).c_str(), stderr);
  return static_cast<int>(exit->get_int64());
}

}  // namespace ap::http
