// s3_client: the S3 requests fanout needs, over libcurl, signed by sigv4.h,
// retried and paced by s3_retry.h.
//
//   Put (optionally conditional: If-None-Match: * / If-Match: <etag>), Get,
//   Head, Delete, List (ListObjectsV2, every page), multipart (create, upload
//   part, complete, abort, list uploads) and UploadFile, which sends a file
//   in one PUT or as a multipart upload of equal parts (at most 10,000).
//
// Retried: 500, 502, 503, 504, 429, SlowDown/RequestTimeout/InternalError,
// timeouts and connection resets, with backoff, under the budget the client
// shares with every thread using it. Any other 4xx fails at once with the
// store's code and message (and, for credentials, which key id and where it
// came from; never the secret). A 412 answers a conditional request.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fanout/fanout.h"
#include "fanout/status.h"
#include "s3_config.h"
#include "s3_retry.h"

namespace fanout {

struct S3Object {
  std::string key;
  int64_t size = 0;
  std::string etag;  // with its quotes, as S3 sends it
};

struct S3Upload {
  std::string key, upload_id;
};

// A conditional write's condition.
struct S3Condition {
  bool if_none_match = false;  // If-None-Match: * (create only)
  std::string if_match;        // If-Match: <etag> (replace exactly that version)
};

class S3Client {
 public:
  S3Client(S3Config config, RetryOptions retry = {});
  ~S3Client();

  // Put: the new ETag. A failed condition is kFailed with ErrorKind
  // kPermanent and `*precondition_failed` set (when given).
  Result<std::string> Put(const std::string& bucket, const std::string& key, const std::string& body,
                          const S3Condition& condition = {}, bool* precondition_failed = nullptr);
  // Get: kFailed with *missing set (when given) when there is no such key.
  Result<std::string> Get(const std::string& bucket, const std::string& key, bool* missing = nullptr);
  // Bytes [offset, offset + length) of that version (If-Match: <etag>): a
  // changed object is kFailed with `*changed` set.
  Result<std::string> GetRange(const std::string& bucket, const std::string& key, int64_t offset, int64_t length,
                               const std::string& etag, bool* changed = nullptr);
  // Head: nullopt-like: S3Object with an empty key when absent.
  Result<S3Object> Head(const std::string& bucket, const std::string& key);
  // Delete; with `if_match`, only that version (If-Match: <etag>):
  // `*precondition_failed` when it is another, `*unsupported` when the store
  // rejects conditional deletes (501 / NotImplemented).
  Status Delete(const std::string& bucket, const std::string& key, const std::string& if_match = "",
                bool* precondition_failed = nullptr, bool* unsupported = nullptr);
  Result<std::vector<S3Object>> List(const std::string& bucket, const std::string& prefix);

  Result<std::string> CreateMultipart(const std::string& bucket, const std::string& key);
  Result<std::string> UploadPart(const std::string& bucket, const std::string& key, const std::string& upload_id,
                                 int part_number, const std::string& body);
  Result<std::string> CompleteMultipart(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id, const std::vector<std::string>& etags);
  Status AbortMultipart(const std::string& bucket, const std::string& key, const std::string& upload_id);
  Result<std::vector<S3Upload>> ListMultipart(const std::string& bucket, const std::string& prefix);

  // Sends the file at `path` to bucket/key: one PUT up to `part_size`, else
  // a multipart upload of equal parts of at least `part_size` (grown so that
  // there are at most 10,000). A failed multipart upload is aborted. The ETag.
  Result<std::string> UploadFile(const std::string& bucket, const std::string& key, const std::string& path,
                                 int64_t part_size = 64 << 20);

  const S3Config& config() const { return config_; }
  S3Counters& counters() { return counters_; }
  RetryBudget& budget() { return budget_; }
  AdaptiveRate& rate() { return rate_; }

  struct Request {
    std::string method, bucket, key;
    std::vector<std::pair<std::string, std::string>> query, headers;
    std::string body;
  };
  struct Response {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string code, message;                   // S3's <Code> and <Message> on errors
  };
  // Sends with retries. kIo (transient) when every try failed on transport
  // or throttling; else the last response, whatever its status.
  Result<Response> Send(const Request& request);
  // The error for a response that is not 2xx: what, where, and what to do.
  Status ErrorOf(const Request& request, const Response& response) const;

 private:
  Result<Response> SendOnce(const Request& request, bool* timeout_or_reset);
  std::string Url(const Request& request, std::string* host, std::string* path) const;

  const S3Config config_;
  const RetryOptions retry_;
  S3Counters counters_;
  RetryBudget budget_;
  AdaptiveRate rate_;
  Mutex rng_mu_;
  std::mt19937_64 rng_ GUARDED_BY(rng_mu_);
};

// Counts the requests every S3 client sends on this thread while it lives
// (the iteration's attempt: its staging, uploads and marker) and adds them to
// `*into` when it ends (creating it at the first request). Nests.
class S3IoScope {
 public:
  explicit S3IoScope(std::optional<S3Io>* into);
  ~S3IoScope();
  S3IoScope(const S3IoScope&) = delete;
  S3IoScope& operator=(const S3IoScope&) = delete;
  static void Count(int64_t S3Io::*field, int64_t n);

 private:
  std::optional<S3Io>* into_;
  S3Io counted_;
  S3Io* previous_;
};

// Fault points for the crash tests: set only by the fault-injecting test
// binary (fanout_faulty, FANOUT_FAULT_AT=s3:<point>:kill) and the tests,
// before any store is opened; the shipped binary never sets them.
struct S3TestHooks {
  void (*at)(const char* point) = nullptr;  // "before-complete" (multipart), "before-marker"
  int64_t part_size = 0;                    // > 0: stores opened afterwards send parts of this size
  double lock_ttl_seconds = 0;              // > 0: and lock with this expiry
  int64_t read_chunk = 0;                   // > 0: ranged GETs (verify, input fetch) of this size
};
void SetS3TestHooks(const S3TestHooks& hooks);
const S3TestHooks& S3Hooks();

// s3://bucket/key -> bucket, key; Invalid naming the text when malformed.
Status ParseS3Url(const std::string& url, std::string* bucket, std::string* key);

// The text of <tag>...</tag> elements in an XML body, XML entities decoded.
std::vector<std::string> XmlValues(const std::string& xml, const std::string& tag);

}  // namespace fanout
