// sigv4: AWS Signature Version 4 for S3 requests, over OpenSSL's SHA-256 and
// HMAC. Pure functions: no clock, no sockets, no state.
//
// Why our own: Debian 12's libcurl (7.88) signs query strings wrongly for
// parameters without a value (`POST ...?uploads`) and for values with `/` or
// `:`, which listing and multipart need. Here the request's path and query are
// encoded once, by UriEncode, and the client sends exactly the text that was
// signed (WirePath, WireQuery), so what is signed and what is sent cannot
// drift apart.
//
// S3's rules (they differ from the other services'): the path is encoded once,
// never normalised (no "." / ".." folding, "//" kept); query names and values
// are encoded with '/' as %2F; a parameter without a value is signed as
// `name=`; the payload's SHA-256 (or UNSIGNED-PAYLOAD) is always sent as
// x-amz-content-sha256 and signed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fanout {

// Credentials. The secret and the session token never appear in a message:
// Redacted() names the key id alone.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty: none
  std::string Redacted() const;
};

// A request to sign. The path and query are given decoded; the signer encodes.
struct SigV4Request {
  std::string method;  // GET, PUT, HEAD, POST, DELETE
  std::string host;    // the Host header as sent: "127.0.0.1:9000", "b.s3.amazonaws.com"
  std::string path;    // decoded, starting with '/': "/bucket/a b/c"
  std::vector<std::pair<std::string, std::string>> query;    // decoded; value "" for `?uploads`
  std::vector<std::pair<std::string, std::string>> headers;  // signed as given (host is added)
  std::string payload_sha256;  // lowercase hex of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Scope {
  std::string region;             // us-east-1
  std::string service = "s3";
  std::string amz_date;           // 20150830T123600Z (UTC)
  // S3 always gets x-amz-content-sha256; only the generic SigV4 test suite's
  // "service" (tests) signs without it.
  bool content_sha256_header = true;
};

// What signing produces; `headers` are to be added to the request as sent.
struct SigV4Signed {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lowercase hex
  std::string authorization;
  std::vector<std::pair<std::string, std::string>> headers;  // x-amz-date, x-amz-content-sha256, [x-amz-security-token], authorization
};

// RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ kept,
// every other byte as %XX (uppercase hex); '/' kept only when keep_slash.
std::string UriEncode(std::string_view text, bool keep_slash);

// The path as sent and as signed: UriEncode(path, keep_slash=true).
std::string WirePath(const std::string& path);
// The query as sent and as signed: encoded, sorted by name then value, each
// parameter `name=value` (`name=` when it has no value), joined by '&'.
std::string WireQuery(const std::vector<std::pair<std::string, std::string>>& query);

std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string HexEncode(std::string_view bytes);

// "20150830T123600Z" for a unix time.
std::string AmzDate(int64_t unix_seconds);

// Signs `request` with `creds` for `scope`. The signed headers are the
// request's headers plus host, x-amz-date, x-amz-content-sha256 and, with a
// session token, x-amz-security-token; names lower-cased, values trimmed with
// inner runs of spaces collapsed, duplicates joined by ','.
SigV4Signed SignV4(const SigV4Request& request, const AwsCredentials& creds, const SigV4Scope& scope);

}  // namespace fanout
