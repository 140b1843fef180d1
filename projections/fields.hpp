// Reading fields of an event payload or a stored row, tolerant of events
// written before a field existed: an absent or mistyped field reads as the
// fallback, never as an error.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

namespace ap::projections {

// The string field `key` of `o`, or "".
inline std::string text(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The integer field `key` of `o`, or `fallback`.
inline std::int64_t integer(const boost::json::object& o, const char* key, std::int64_t fallback) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : fallback;
}

}  // namespace ap::projections
