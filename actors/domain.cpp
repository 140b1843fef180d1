#include "actors/domain.hpp"

#include "actors/invariant.hpp"

#include <boost/json/serialize.hpp>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace ap::domain {

DomainError make_error(ErrorKind kind, std::string code, std::string message) {
  DomainError error;
  error.kind = kind;
  error.code = std::move(code);
  error.message = std::move(message);
  return error;
}

DomainError validation_error(std::vector<FieldError> fields) {
  DomainError error = make_error(ErrorKind::kValidation, "VALIDATION_ERROR",
                                 fields.empty() ? "Invalid request" : fields.front().message);
  error.fields = std::move(fields);
  return error;
}

DomainError not_found(std::string what) {
  return make_error(ErrorKind::kNotFound, "NOT_FOUND", std::move(what));
}

DomainError unknown_command(const std::string& type) {
  return make_error(ErrorKind::kBadRequest, "UNKNOWN_COMMAND", "Unknown command " + type);
}

std::string account_stream(std::string_view account_id) {
  return "account-" + std::string(account_id);
}
std::string conversation_stream(std::string_view conversation_id) {
  return "conversation-" + std::string(conversation_id);
}
std::string agent_stream(std::string_view agent_id) {
  return "agent-" + std::string(agent_id);
}
std::string number_stream(std::string_view number_id) {
  return "number-" + std::string(number_id);
}
std::string phone_stream(std::string_view e164) {
  return "phone-" + std::string(e164);
}

namespace {

[[noreturn]] void missing(const std::string& expected, const char* file, int line) {
  invariant_failed(expected.c_str(), file, line);
}

}  // namespace

const json::value& field(const json::object& o, std::string_view key, const char* file, int line) {
  const json::value* value = o.if_contains(key);
  if (value == nullptr)
    missing("the object has its \"" + std::string(key) + "\" field", file, line);
  return *value;
}

json::value& field(json::object& o, std::string_view key, const char* file, int line) {
  return const_cast<json::value&>(field(static_cast<const json::object&>(o), key, file, line));
}

const json::value& field(const json::value& v, std::string_view key, const char* file, int line) {
  if (!v.is_object()) {
    missing("an object that has its \"" + std::string(key) + "\" field", file, line);
  }
  return field(v.get_object(), key, file, line);
}

json::value field_or(const json::object& o, std::string_view key, json::value fallback) {
  const json::value* value = o.if_contains(key);
  return value != nullptr ? *value : fallback;
}

bool plausible_email(std::string_view email) {
  const std::size_t at = email.find('@');
  if (email.size() > 254 || at == std::string_view::npos || at == 0 || at > 64 ||
      email.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  constexpr std::string_view kLocal = "!#$%&'*+/=?^_`{|}~-.";
  for (std::size_t i = 0; i < at; ++i) {
    const unsigned char c = static_cast<unsigned char>(email[i]);
    if (!std::isalnum(c) && kLocal.find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  const std::string_view domain = email.substr(at + 1);
  const std::size_t last_dot = domain.rfind('.');
  if (last_dot == std::string_view::npos || last_dot == 0 || domain.size() - last_dot - 1 < 2) {
    return false;
  }
  std::size_t label = 0;
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      if (label == 0 || domain[i - 1] == '-' || domain[i - label] == '-') return false;
      label = 0;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(domain[i]);
    if (!std::isalnum(c) && c != '-') return false;
    ++label;
  }
  for (std::size_t i = last_dot + 1; i < domain.size(); ++i) {
    if (!std::isalpha(static_cast<unsigned char>(domain[i]))) return false;
  }
  return true;
}

std::string text_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t int_of(const json::object& o, std::string_view key, std::int64_t fallback) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : fallback;
}

bool bool_of(const json::object& o, std::string_view key, bool fallback) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() ? v->get_bool() : fallback;
}

const json::value& element(const json::value& v, std::size_t index, const char* file, int line) {
  if (!v.is_array() || index >= v.get_array().size()) {
    missing("an array with an element " + std::to_string(index), file, line);
  }
  return v.get_array()[index];
}

std::string iso8601(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buffer;
}

bool parse_iso8601(std::string_view text, std::int64_t* ms) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (text.size() < 10) return false;
  std::string copy(text);
  int consumed = 0;
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3 ||
      consumed != 10) {
    return false;
  }
  std::size_t at = 10;
  std::int64_t millis = 0;
  std::int64_t offset_minutes = 0;
  if (at < copy.size() && (copy[at] == 'T' || copy[at] == ' ')) {
    if (std::sscanf(copy.c_str() + at + 1, "%2d:%2d:%2d%n", &hour, &minute, &second, &consumed) !=
            3 ||
        consumed != 8) {
      return false;
    }
    at += 9;
    if (at < copy.size() && copy[at] == '.') {
      ++at;
      int digits = 0;
      while (at < copy.size() && std::isdigit(static_cast<unsigned char>(copy[at]))) {
        if (digits < 3) millis = millis * 10 + (copy[at] - '0');
        ++digits;
        ++at;
      }
      if (digits == 0) return false;
      for (int d = digits; d < 3; ++d) millis *= 10;
    }
    if (at < copy.size()) {
      if (copy[at] == 'Z' && at + 1 == copy.size()) {
        ++at;
      } else if ((copy[at] == '+' || copy[at] == '-') && copy.size() - at == 6 &&
                 copy[at + 3] == ':') {
        const int sign = copy[at] == '-' ? -1 : 1;
        int oh, om;
        if (std::sscanf(copy.c_str() + at + 1, "%2d:%2d", &oh, &om) != 2) return false;
        offset_minutes = sign * (oh * 60 + om);
        at = copy.size();
      } else {
        return false;
      }
    }
  }
  if (at != copy.size()) return false;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::int64_t seconds = static_cast<std::int64_t>(timegm(&tm));
  *ms = (seconds - offset_minutes * 60) * 1000 + millis;
  return true;
}

std::string normalize_nanp(std::string_view text) {
  std::string digits;
  bool plus = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    } else if (c == '+' && i == 0) {
      plus = true;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return "";
    }
  }
  if (digits.size() == 11 && digits[0] == '1')
    digits.erase(0, 1);
  else if (plus || digits.size() != 10)
    return "";
  // NANP: area code and exchange start with 2-9; N11 codes are service codes.
  auto is_n11 = [](const std::string& d, std::size_t at) {
    return d[at + 1] == '1' && d[at + 2] == '1';
  };
  if (digits[0] < '2' || digits[3] < '2' || is_n11(digits, 0) || is_n11(digits, 3)) return "";
  return "+1" + digits;
}

namespace {

void append_json(const json::value& value, std::string& out) {
  switch (value.kind()) {
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : value.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        out += json::serialize(json::string_view(key));
        out.push_back(':');
        append_json(item, out);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const json::value& item : value.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        append_json(item, out);
      }
      out.push_back(']');
      return;
    }
    case json::kind::double_: {
      char text[32];
      const auto [end, ec] = std::to_chars(text, text + sizeof text, value.as_double());
      std::string number(text, ec == std::errc() ? end : text);
      // Whole numbers keep a decimal point, so that they still read as floats.
      if (number.find_first_of(".en") == std::string::npos) number += ".0";
      out += number;
      return;
    }
    default: out += json::serialize(value); return;
  }
}

}  // namespace

std::string to_json(const json::value& value) {
  std::string out;
  append_json(value, out);
  return out;
}

}  // namespace ap::domain
