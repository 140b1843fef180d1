// Fuzzes E.164 normalisation of US/CA numbers (domain::normalize_nanp):
// whatever the text, the answer is "" or +1 and ten digits whose area code
// and exchange start with 2-9, and normalising an answer again changes nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "actors/domain.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string e164 = ap::domain::normalize_nanp(text);
  if (e164.empty()) return 0;
  if (e164.size() != 12 || e164.compare(0, 2, "+1") != 0) std::abort();
  for (std::size_t i = 2; i < e164.size(); ++i) {
    if (e164[i] < '0' || e164[i] > '9') std::abort();
  }
  if (e164[2] < '2' || e164[5] < '2') std::abort();
  if (ap::domain::normalize_nanp(e164) != e164) std::abort();
  return 0;
}
