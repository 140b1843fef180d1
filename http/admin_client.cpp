#include "http/admin_client.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "http/client.hpp"

namespace ap::http {

namespace json = boost::json;

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
  if (ec || !where.is_object() || !where.as_object().contains("url") ||
      !where.as_object().contains("token")) {
    return std::nullopt;
  }
  args["op"] = op;
  const ClientResponse response =
      http_request(std::string(where.at("url").as_string()), "POST", "/admin/command",
                   json::serialize(args), 60'000, std::string(where.at("token").as_string()));
  // Nobody there: the file outlived a server that was killed.
  if (response.status == 0) return std::nullopt;
  const json::value answer = json::parse(response.body, ec);
  if (response.status != 200 || ec || !answer.is_object()) {
    std::fprintf(stderr, "agentphone admin: the server refused the command (HTTP %d): %s\n",
                 response.status, response.body.c_str());
    return 1;
  }
  std::fputs(std::string(answer.at("output").as_string()).c_str(), stdout);
  std::fputs(std::string(answer.at("error").as_string()).c_str(), stderr);
  return static_cast<int>(answer.at("exit").as_int64());
}

}  // namespace ap::http
