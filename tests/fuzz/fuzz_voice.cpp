// Fuzzes the parser of a webhook's answer to a voice turn (contract C.6,
// actors/call.cpp): the first byte picks the content type (JSON or NDJSON),
// the rest is the body. Whatever the bytes, the parser returns; every line it
// keeps is {text: string, interim: bool}; a JSON answer has at most one line
// and none interim; an NDJSON answer has at most one final line, the last;
// a reason for silence comes with no line; action and digits are null or text.
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "actors/call.hpp"

namespace json = boost::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool ndjson = (data[0] & 1) != 0;
  const std::string content_type = ndjson ? "application/x-ndjson" : "application/json";
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  json::array lines;
  bool hangup = true;
  json::value action = "unset";
  json::value digits = "unset";
  const std::string silent =
      ap::domain::parse_turn_answer(content_type, body, &lines, &hangup, &action, &digits);
  if (!silent.empty() && !lines.empty()) std::abort();
  if (!ndjson && lines.size() > 1) std::abort();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json::object* line = lines[i].if_object();
    if (line == nullptr || line->size() != 2) std::abort();
    const json::value* text = line->if_contains("text");
    const json::value* interim = line->if_contains("interim");
    if (text == nullptr || !text->is_string() || interim == nullptr || !interim->is_bool()) {
      std::abort();
    }
    if (!ndjson && interim->as_bool()) std::abort();
    // Only the last line may be final: the first final line ends the turn.
    if (!interim->as_bool() && i + 1 != lines.size()) std::abort();
  }
  if (!action.is_null() && !action.is_string()) std::abort();
  if (!digits.is_null() && !digits.is_string()) std::abort();
  if (action == "unset" || digits == "unset") std::abort();  // Always reset.
  return 0;
}
