// Wire helpers every layer of the REST surface shares: the contract's
// error shape and JSON answers.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <vector>

#include "actors/domain.hpp"
#include "http/server.hpp"

namespace ap::http {

Response json_response(const boost::json::value& body, int status = 200);
// A 200 whose body is JSON text already in wire form (a stored view row).
Response raw_json_response(std::string body);
// FastAPI-style 422 plus the documented error envelope, so clients reading
// either shape find the message.
Response validation_response(const std::vector<domain::FieldError>& fields, const char* location);

}  // namespace ap::http
