#include "eventstore/record.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace ap::es {

namespace {

constexpr std::uint8_t kRecordFormat = 1;

}  // namespace

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kWrongExpectedVersion: return "wrong_expected_version";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kTooLarge: return "too_large";
    case Code::kBusy: return "busy";
    case Code::kNotFound: return "not_found";
    case Code::kCorruption: return "corruption";
    case Code::kUnsupportedFormat: return "unsupported_format";
    case Code::kClosed: return "closed";
    case Code::kIoError: return "io_error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  return std::string(code_name(code_)) + ": " + message_;
}

void put_be64(std::string* out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void put_be32(std::string* out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

std::uint64_t get_be64(const char* bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

std::uint32_t get_be32(const char* bytes) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

std::string encode_canonical(const RecordedEvent& event) {
  std::string out;
  out.reserve(1 + 8 + 4 + event.stream.size() + 8 + 4 + event.type.size() + 8 + 4 +
              event.payload.size() + 32);
  out.push_back(static_cast<char>(kRecordFormat));
  put_be64(&out, event.position);
  put_be32(&out, static_cast<std::uint32_t>(event.stream.size()));
  out.append(event.stream);
  put_be64(&out, event.version);
  put_be32(&out, static_cast<std::uint32_t>(event.type.size()));
  out.append(event.type);
  put_be64(&out, static_cast<std::uint64_t>(event.time_ms));
  put_be32(&out, static_cast<std::uint32_t>(event.payload.size()));
  out.append(event.payload);
  return out;
}

namespace {

// One digest context per thread, reused: creating a context and fetching the
// algorithm for every record costs more than hashing a small record.
struct Sha256Context {
  Sha256Context() : md(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx(EVP_MD_CTX_new()) {
    if (md == nullptr || ctx == nullptr) {
      std::fprintf(stderr, "agentphone: OpenSSL has no SHA-256\n");
      std::abort();
    }
  }
  ~Sha256Context() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
  Sha256Context(const Sha256Context&) = delete;
  Sha256Context& operator=(const Sha256Context&) = delete;
  EVP_MD* md;
  EVP_MD_CTX* ctx;
};

}  // namespace

Hash chain_hash(const Hash& previous, std::string_view canonical) {
  thread_local Sha256Context sha;
  Hash digest{};
  unsigned int length = 0;
  const bool ok = EVP_DigestInit_ex2(sha.ctx, sha.md, nullptr) == 1 &&
                  EVP_DigestUpdate(sha.ctx, previous.data(), previous.size()) == 1 &&
                  EVP_DigestUpdate(sha.ctx, canonical.data(), canonical.size()) == 1 &&
                  EVP_DigestFinal_ex(sha.ctx, digest.data(), &length) == 1;
  // SHA-256 over memory cannot fail short of a broken OpenSSL install; a
  // chain of wrong hashes must never be written, so stop rather than go on.
  if (!ok || length != digest.size()) {
    std::fprintf(stderr, "agentphone: SHA-256 failed (broken OpenSSL install?)\n");
    std::abort();
  }
  return digest;
}

bool hash_matches(const Hash& previous, const RecordView& view) {
  const Hash recomputed = chain_hash(previous, view.canonical);
  return std::equal(recomputed.begin(), recomputed.end(), view.hash);
}

std::string encode_value(const RecordedEvent& event) {
  std::string out = encode_canonical(event);
  out.append(reinterpret_cast<const char*>(event.hash.data()), event.hash.size());
  return out;
}

Status decode_view(std::string_view value, RecordView* out) {
  // Walks the fixed layout, checking each length before reading past it.
  std::size_t at = 0;
  auto need = [&](std::size_t bytes) { return value.size() - at >= bytes; };
  auto corrupt = [](const char* what) { return Status(Code::kCorruption, what); };
  // A length-prefixed field: 4-byte big-endian length, then that many bytes.
  auto field = [&](std::string_view* into) {
    const std::uint32_t length = get_be32(value.data() + at);
    at += 4;
    if (!need(length)) return false;
    *into = value.substr(at, length);
    at += length;
    return true;
  };

  if (!need(1) || static_cast<std::uint8_t>(value[0]) != kRecordFormat) {
    return corrupt("unknown record format byte");
  }
  at = 1;
  if (!need(12)) return corrupt("truncated record header");
  out->position = get_be64(value.data() + at);
  at += 8;
  if (!field(&out->stream)) return corrupt("truncated stream id");
  if (!need(12)) return corrupt("truncated version");
  out->version = get_be64(value.data() + at);
  at += 8;
  if (!field(&out->type)) return corrupt("truncated type");
  if (!need(12)) return corrupt("truncated time");
  out->time_ms = static_cast<std::int64_t>(get_be64(value.data() + at));
  at += 8;
  if (!field(&out->payload)) return corrupt("truncated payload");
  if (value.size() - at != Hash{}.size()) return corrupt("bad hash length");
  out->canonical = value.substr(0, at);
  out->hash = reinterpret_cast<const std::uint8_t*>(value.data() + at);
  return Status::Ok();
}

Status decode_value(std::string_view value, RecordedEvent* event) {
  RecordView view;
  if (Status s = decode_view(value, &view); !s.ok()) return s;
  event->position = view.position;
  event->stream.assign(view.stream);
  event->version = view.version;
  event->type.assign(view.type);
  event->time_ms = view.time_ms;
  event->payload.assign(view.payload);
  std::copy(view.hash, view.hash + event->hash.size(), event->hash.begin());
  return Status::Ok();
}

std::string to_hex(const Hash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(hash.size() * 2);
  for (std::uint8_t byte : hash) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xf]);
  }
  return out;
}

}  // namespace ap::es
