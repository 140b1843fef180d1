// Reading a request's own text: its JSON body, query string and path.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/domain.hpp"
#include "http/server.hpp"

namespace ap::http {

// The SHA-256 (lowercase hex) of the API key in the request's
// "Authorization: Bearer <key>" header (scheme case-insensitive), or "" when
// the header is absent or names another scheme. Keys are looked up by this
// hash only; the key itself is never kept.
std::string bearer_key_sha256(const Request& request);

// Parses a request body that must be a JSON object. On failure returns false
// and sets `error` to the 422 a FastAPI server would give.
bool parse_object(const std::string& body, boost::json::object* out, Response* error);

struct Query {
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* get(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

// The parameters of `query` ("a=1&b=x%20y"), percent- and plus-decoded, in order.
Query parse_query(std::string_view query);
// Reads integer query parameter `name` within [min, max], or `fallback`.
bool query_int(const Query& q, const char* name, std::int64_t fallback, std::int64_t min,
               std::int64_t max, std::int64_t* out, std::vector<domain::FieldError>& errors);
// Reads integer body field `name` within [min, max]: `fallback` when it is
// absent or null and not `required`. Returns false, with the field's error
// appended, otherwise.
bool body_int(const boost::json::object& body, const char* name, bool required,
              std::int64_t fallback, std::int64_t min, std::int64_t max, std::int64_t* out,
              std::vector<domain::FieldError>& errors);
// The segments of `path`, percent-decoded; empty segments are dropped.
std::vector<std::string> split_path(std::string_view path);

}  // namespace ap::http
