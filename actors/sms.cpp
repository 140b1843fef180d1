#include "actors/sms.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ap::domain {

namespace {

// Decodes the character that starts at text[i] into *cp and returns how many
// bytes it takes. A byte that does not start a well-formed sequence (a stray
// continuation byte, a lead byte without its continuation bytes) is one
// U+FFFD, so that every counter of characters agrees on malformed text.
std::size_t utf8_step(std::string_view text, std::size_t i, char32_t* cp) {
  const auto byte = static_cast<unsigned char>(text[i]);
  const std::size_t length = byte < 0x80           ? 1
                             : (byte >> 5) == 0x6  ? 2
                             : (byte >> 4) == 0xe  ? 3
                             : (byte >> 3) == 0x1e ? 4
                                                   : 0;
  *cp = 0xfffd;
  if (length == 0 || i + length > text.size()) return 1;
  char32_t value = length == 1 ? byte : byte & (0x7f >> length);
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 1;
    value = (value << 6) | (next & 0x3f);
  }
  *cp = value;
  return length;
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  char32_t cp = 0;
  for (std::size_t i = 0; i < text.size();) {
    i += utf8_step(text, i, &cp);
    out.push_back(cp);
  }
  return out;
}

bool in_basic_gsm7(char32_t c) {
  static const std::u32string kBasic =
      U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
      U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  return kBasic.find(c) != std::u32string::npos;
}

bool in_gsm7_extension(char32_t c) {
  static const std::u32string kExtension = U"^{}\\[~]|€\f";
  return kExtension.find(c) != std::u32string::npos;
}

std::size_t segments_for(std::size_t units, std::size_t single, std::size_t part) {
  if (units == 0) return 0;
  return units <= single ? 1 : (units + part - 1) / part;
}

}  // namespace

std::size_t code_points(std::string_view text) {
  return decode_utf8(text).size();
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_code_points) {
  // Steps exactly as code_points counts, so the prefix never holds more
  // characters than asked, even in malformed text.
  std::size_t count = 0;
  char32_t cp = 0;
  for (std::size_t i = 0; i < text.size(); ++count) {
    if (count == max_code_points) return text.substr(0, i);
    i += utf8_step(text, i, &cp);
  }
  return text;
}

SmsSegments count_segments(std::string_view body) {
  const std::u32string chars = decode_utf8(body);
  SmsSegments result;
  std::size_t septets = 0;
  bool gsm7 = true;
  for (char32_t c : chars) {
    if (in_basic_gsm7(c)) {
      septets += 1;
    } else if (in_gsm7_extension(c)) {
      septets += 2;
    } else {
      gsm7 = false;
      break;
    }
  }
  if (gsm7) {
    result.encoding = SmsEncoding::kGsm7;
    result.units = septets;
    result.segments = segments_for(septets, 160, 153);
    return result;
  }
  std::size_t utf16_units = 0;
  for (char32_t c : chars) utf16_units += c > 0xffff ? 2 : 1;
  result.encoding = SmsEncoding::kUcs2;
  result.units = utf16_units;
  result.segments = segments_for(utf16_units, 70, 67);
  return result;
}

}  // namespace ap::domain
