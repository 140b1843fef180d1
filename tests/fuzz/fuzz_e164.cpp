// Fuzzes E.164 normalisation of US/CA numbers (domain::normalize_nanp):
// whatever the text, the answer is "" or +1 and ten digits whose area code
// and exchange start with 2-9, and normalising an answer again changes nothing.
// A contact's number (domain::normalize_contact_phone) is "" or + and 8 to 15
// digits, agrees with normalize_nanp on every US/CA number, and is stable too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "actors/contact.hpp"
#include "actors/domain.hpp"

namespace {

void check_contact_phone(std::string_view text, const std::string& nanp) {
  const std::string e164 = ap::domain::normalize_contact_phone(text);
  if (!nanp.empty() && e164 != nanp) std::abort();
  if (e164.empty()) return;
  if (e164.size() < 9 || e164.size() > 16 || e164[0] != '+' || e164[1] == '0') std::abort();
  for (std::size_t i = 1; i < e164.size(); ++i) {
    if (e164[i] < '0' || e164[i] > '9') std::abort();
  }
  if (ap::domain::normalize_contact_phone(e164) != e164) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string e164 = ap::domain::normalize_nanp(text);
  check_contact_phone(text, e164);
  if (e164.empty()) return 0;
  if (e164.size() != 12 || e164.compare(0, 2, "+1") != 0) std::abort();
  for (std::size_t i = 2; i < e164.size(); ++i) {
    if (e164[i] < '0' || e164[i] > '9') std::abort();
  }
  if (e164[2] < '2' || e164[5] < '2') std::abort();
  if (ap::domain::normalize_nanp(e164) != e164) std::abort();
  return 0;
}
