// sigv4: AWS Signature Version 4 for S3 (see sigv4.h).
#include "sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace fanout {

std::string AwsCredentials::Redacted() const {
  return "access key id " + access_key_id + (session_token.empty() ? "" : " (with a session token)");
}

std::string UriEncode(std::string_view text, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string WirePath(const std::string& path) { return UriEncode(path.empty() ? "/" : path, true); }

std::string WireQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string AmzDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Trims and collapses every run of whitespace into one space.
std::string CanonicalValue(const std::string& value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// name -> values in the order given; a std::map sorts the names bytewise.
using HeaderMap = std::map<std::string, std::vector<std::string>>;

HeaderMap SignedHeaderMap(const SigV4Request& request, const std::vector<std::pair<std::string, std::string>>& added) {
  HeaderMap map;
  bool has_host = false;
  for (const auto& [name, value] : request.headers) {
    std::string lname = Lower(name);
    has_host = has_host || lname == "host";
    map[lname].push_back(CanonicalValue(value));
  }
  if (!has_host) map["host"].push_back(CanonicalValue(request.host));
  for (const auto& [name, value] : added) map[name] = {CanonicalValue(value)};
  return map;
}

std::string SigningKey(const AwsCredentials& creds, const SigV4Scope& scope) {
  std::string key = HmacSha256("AWS4" + creds.secret_access_key, scope.amz_date.substr(0, 8));
  key = HmacSha256(key, scope.region);
  key = HmacSha256(key, scope.service);
  return HmacSha256(key, "aws4_request");
}

}  // namespace

SigV4Signed SignV4(const SigV4Request& request, const AwsCredentials& creds, const SigV4Scope& scope) {
  SigV4Signed out;
  std::vector<std::pair<std::string, std::string>> added = {{"x-amz-date", scope.amz_date}};
  if (scope.content_sha256_header) added.emplace_back("x-amz-content-sha256", request.payload_sha256);
  if (!creds.session_token.empty()) added.emplace_back("x-amz-security-token", creds.session_token);
  HeaderMap headers = SignedHeaderMap(request, added);
  std::string canonical_headers, signed_headers;
  for (const auto& [name, values] : headers) {
    std::string joined;
    for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
    canonical_headers += name + ":" + joined + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  out.canonical_request = request.method + "\n" + WirePath(request.path) + "\n" + WireQuery(request.query) + "\n" +
                          canonical_headers + "\n" + signed_headers + "\n" + request.payload_sha256;
  std::string date = scope.amz_date.substr(0, 8);
  std::string credential_scope = date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  out.string_to_sign = "AWS4-HMAC-SHA256\n" + scope.amz_date + "\n" + credential_scope + "\n" +
                       Sha256Hex(out.canonical_request);
  out.signature = HexEncode(HmacSha256(SigningKey(creds, scope), out.string_to_sign));
  out.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + credential_scope +
                      ", SignedHeaders=" + signed_headers + ", Signature=" + out.signature;
  out.headers = added;
  out.headers.emplace_back("authorization", out.authorization);
  return out;
}

}  // namespace fanout
