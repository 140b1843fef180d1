#include "actors/secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdio>

namespace ap::domain {

namespace {

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::string random_hex(Entropy& entropy, std::size_t bytes) {
  std::string raw(bytes, '\0');
  entropy.fill(raw.data(), bytes);
  return hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

std::string Ids::new_id(std::string_view prefix) {
  const std::int64_t ms = clock_.now_ms();
  char head[24];
  std::snprintf(head, sizeof head, "%012llx%06x", static_cast<unsigned long long>(ms),
                sequence_.fetch_add(1) & 0xffffff);
  return std::string(prefix) + head + random_hex(entropy_, 4);
}

std::string new_api_key(Entropy& entropy) {
  return "sk_live_" + random_hex(entropy, 24);
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return hex(digest, length);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ap::domain
