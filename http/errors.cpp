#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "actors/domain.hpp"
#include "http/server.hpp"

namespace ap::http {

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

}  // namespace ap::http
