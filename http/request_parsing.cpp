// The request's own text, read: the JSON body (simdjson, into Boost.JSON),
// the query string and the path. Kept apart from the routes so that the
// fuzzer (tests/fuzz/fuzz_request.cpp) can drive it alone.
#include "http/request_parsing.hpp"

#include <simdjson.h>

#include <strings.h>

#include <cctype>
#include <regex>

#include "actors/secrets.hpp"
#include "http/errors.hpp"

namespace ap::http {

std::string bearer_key_sha256(const Request& request) {
  const std::string& authorization = request.header("authorization");
  if (authorization.size() <= 7 || strncasecmp(authorization.c_str(), "Bearer ", 7) != 0) {
    return "";
  }
  return domain::sha256_hex(std::string_view(authorization).substr(7));
}

namespace json = boost::json;
using domain::FieldError;

// Request's header lookups live with the rest of reading a request's text,
// away from Beast, so that tools and fuzzers link them without the server.
const std::string& Request::header(std::string_view lower_name) const {
  static const std::string kEmpty;
  const std::string* value = find_header(lower_name);
  return value != nullptr ? *value : kEmpty;
}

const std::string* Request::find_header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

namespace {

// Converts a simdjson DOM element into a Boost.JSON value.
json::value to_boost(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::OBJECT: {
      const simdjson::dom::object object(element);
      json::object out;
      for (simdjson::dom::key_value_pair field : object) out[field.key] = to_boost(field.value);
      return out;
    }
    case simdjson::dom::element_type::ARRAY: {
      const simdjson::dom::array array(element);
      json::array out;
      for (simdjson::dom::element item : array) out.push_back(to_boost(item));
      return out;
    }
    case simdjson::dom::element_type::STRING: {
      return json::string(std::string_view(element));
    }
    case simdjson::dom::element_type::INT64: return std::int64_t(element);
    case simdjson::dom::element_type::UINT64: return std::uint64_t(element);
    case simdjson::dom::element_type::DOUBLE: return double(element);
    case simdjson::dom::element_type::BOOL: return bool(element);
    case simdjson::dom::element_type::NULL_VALUE: return nullptr;
  }
  return nullptr;
}

}  // namespace

bool parse_object(const std::string& body, json::object* out, Response* error) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    *error = validation_response({{"", "Field required", "missing"}}, "body");
    return false;
  }
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(body).get(element) != simdjson::SUCCESS) {
    *error = validation_response(
        {{"", "JSON decode error: the body is not valid JSON", "json_invalid"}}, "body");
    return false;
  }
  if (element.type() != simdjson::dom::element_type::OBJECT) {
    *error = validation_response(
        {{"", "Input should be a valid dictionary or object", "model_attributes_type"}}, "body");
    return false;
  }
  *out = to_boost(element).as_object();
  return true;
}

namespace {

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i] == '+' ? ' ' : text[i]);
    }
  }
  return out;
}

}  // namespace

Query parse_query(std::string_view query) {
  Query q;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    q.params.emplace_back(url_decode(pair.substr(0, eq)),
                          eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return q;
}

namespace {

// Whether `value` of field `name` is in [min, max]; appends FastAPI's error when not.
bool within(const char* name, std::int64_t value, std::int64_t min, std::int64_t max,
            std::vector<FieldError>& errors) {
  if (value < min) {
    errors.push_back({name, "Input should be greater than or equal to " + std::to_string(min),
                      "greater_than_equal"});
    return false;
  }
  if (value > max) {
    errors.push_back(
        {name, "Input should be less than or equal to " + std::to_string(max), "less_than_equal"});
    return false;
  }
  return true;
}

}  // namespace

bool body_int(const json::object& body, const char* name, bool required, std::int64_t fallback,
              std::int64_t min, std::int64_t max, std::int64_t* out,
              std::vector<FieldError>& errors) {
  const json::value* v = body.if_contains(name);
  if (v == nullptr || v->is_null()) {
    *out = fallback;
    if (required) errors.push_back({name, "Field required", "missing"});
    return !required;
  }
  if (!v->is_int64()) {
    errors.push_back({name, "Input should be a valid integer", "int_type"});
    return false;
  }
  *out = v->as_int64();
  return within(name, *out, min, max, errors);
}

bool query_int(const Query& q, const char* name, std::int64_t fallback, std::int64_t min,
               std::int64_t max, std::int64_t* out, std::vector<FieldError>& errors) {
  const std::string* text = q.get(name);
  if (text == nullptr) {
    *out = fallback;
    return true;
  }
  static const std::regex kInt("^-?[0-9]{1,18}$");
  if (!std::regex_match(*text, kInt)) {
    errors.push_back({name, "Input should be a valid integer, unable to parse string as an integer",
                      "int_parsing"});
    return false;
  }
  *out = std::stoll(*text);
  return within(name, *out, min, max, errors);
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t slash = path.find('/');
    parts.push_back(url_decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return parts;
}

}  // namespace ap::http
