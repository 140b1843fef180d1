#include "http/errors.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

#include "actors/domain.hpp"

namespace ap::http {

namespace json = boost::json;
using domain::FieldError;

Response error_response(int status, std::string_view message, std::string_view code,
                        std::string_view type) {
  boost::json::object error;
  error["message"] = message;
  error["code"] = code;
  error["type"] = type;
  boost::json::object body;
  body["detail"] = message;
  body["error"] = std::move(error);
  Response response;
  response.status = status;
  response.body = domain::to_json(body);
  return response;
}

Response json_response(const json::value& body, int status) {
  Response response;
  response.status = status;
  response.body = domain::to_json(body);
  return response;
}

Response raw_json_response(std::string body) {
  Response response;
  response.body = std::move(body);
  return response;
}

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

}  // namespace ap::http
