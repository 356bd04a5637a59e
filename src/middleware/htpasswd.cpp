#include "middleware/htpasswd.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>

#include "http/token.h"

namespace sluice::middleware {
namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 (RFC 4648 §4), padding optional.
bool decode_base64(std::string_view in, std::string& out) {
  while (!in.empty() && in.back() == '=')
    in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out.clear();
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    const int v = base64_value(c);
    if (v < 0) return false;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return true;
}

}  // namespace

bool parse_basic_credentials(std::string_view authorization, std::string& user,
                             std::string& password) {
  constexpr std::string_view kScheme = "basic";
  if (authorization.size() <= kScheme.size() ||
      !http::iequals(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return false;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  std::string decoded;
  if (token.empty() || !decode_base64(token, decoded)) return false;
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  user = decoded.substr(0, colon);
  password = decoded.substr(colon + 1);
  return true;
}

PasswordFile::PasswordFile(const std::vector<config::HtpasswdUser>& users,
                           std::size_t cache_entries)
    : cache_entries_(cache_entries) {
  for (const auto& u : users)
    hashes_.emplace(u.name, u.hash);
  if (!users.empty()) decoy_hash_ = users.front().hash;
  if (RAND_bytes(salt_.data(), static_cast<int>(salt_.size())) != 1) {
    // Without randomness the keys are still one-way; the salt only makes
    // them useless outside this process.
    salt_.fill(0x5a);
  }
}

std::size_t PasswordFile::KeyHash::operator()(const Key& k) const {
  std::size_t h = 0;
  std::memcpy(&h, k.data(), sizeof h);
  return h;
}

PasswordFile::Key PasswordFile::key_of(std::string_view user, std::string_view password) const {
  Key k{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const unsigned char zero = 0;
  unsigned int n = 0;
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), salt_.data(), salt_.size());
  EVP_DigestUpdate(ctx.get(), user.data(), user.size());
  EVP_DigestUpdate(ctx.get(), &zero, 1);  // "ab"+"c" and "a"+"bc" differ
  EVP_DigestUpdate(ctx.get(), password.data(), password.size());
  EVP_DigestFinal_ex(ctx.get(), k.data(), &n);
  return k;
}

bool PasswordFile::remembered(const Key& k) {
  std::lock_guard lock(mutex_);
  const auto it = passed_.find(k);
  if (it == passed_.end()) return false;
  recent_.splice(recent_.begin(), recent_, it->second);
  return true;
}

void PasswordFile::remember(const Key& k) {
  std::lock_guard lock(mutex_);
  if (cache_entries_ == 0 || passed_.contains(k)) return;
  if (passed_.size() >= cache_entries_) {
    passed_.erase(recent_.back());
    recent_.pop_back();
  }
  recent_.push_front(k);
  passed_.emplace(k, recent_.begin());
}

std::uint64_t PasswordFile::slow_checks() const {
  std::lock_guard lock(mutex_);
  return slow_checks_;
}

bool PasswordFile::passed_before(std::string_view user, std::string_view password) {
  return remembered(key_of(user, password));
}

bool PasswordFile::check(std::string_view user, std::string_view password) {
  const Key k = key_of(user, password);
  if (remembered(k)) return true;
  const auto it = hashes_.find(std::string(user));
  // An unknown user costs the same check as a known one, so the time of a
  // 401 does not tell which user names exist.
  const std::string& hash = it != hashes_.end() ? it->second : decoy_hash_;
  if (hash.empty()) return false;
  {
    std::lock_guard lock(mutex_);
    ++slow_checks_;
  }
  // crypt_rn keeps its state in `data`, not in statics: safe on every
  // worker at once. A password with a NUL would be cut short by the C
  // interface: refuse it rather than check a prefix.
  if (password.find('\0') != std::string_view::npos) return false;
  const std::string phrase(password);
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  const bool ok = it != hashes_.end() && out != nullptr && out[0] != '*' &&
                  std::strlen(out) == hash.size() &&
                  CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  if (ok) remember(k);
  return ok;
}

}  // namespace sluice::middleware
