// Fuzzes how a request's own text is read before any route sees it: the
// target's path and query string and the JSON body. Each must be taken apart
// or refused with a 422 in the contract's shape, never crash, and what is
// read must be consistent: no empty path segment, every query integer read
// within its bounds, a refused body always answered 422 with an error envelope.
#include <boost/json/parse.hpp>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/request_parsing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first line is a target ("/path?query"), the rest a body.
  const std::size_t newline = input.find('\n');
  const std::string_view target = input.substr(0, newline);
  const std::string body(newline == std::string_view::npos ? "" : input.substr(newline + 1));

  const std::size_t question = target.find('?');
  for (const std::string& segment : ap::http::split_path(target.substr(0, question))) {
    if (segment.empty()) __builtin_trap();  // Empty segments are dropped.
  }
  if (question != std::string_view::npos) {
    const ap::http::Query query = ap::http::parse_query(target.substr(question + 1));
    std::vector<ap::domain::FieldError> errors;
    std::int64_t limit = 0;
    const bool ok = ap::http::query_int(query, "limit", 20, 1, 100, &limit, errors);
    if (ok && (limit < 1 || limit > 100)) __builtin_trap();
    if (!ok && errors.empty()) __builtin_trap();  // A refusal says why.
  }

  boost::json::object object;
  ap::http::Response error;
  if (!ap::http::parse_object(body, &object, &error)) {
    if (error.status != 422) __builtin_trap();
    const boost::json::value answer = boost::json::parse(error.body);
    if (!answer.as_object().contains("error") || !answer.as_object().contains("detail")) {
      __builtin_trap();
    }
  }
  return 0;
}
