// s3_retry: how the S3 client retries and paces itself under throttling.
//
//   RetryBudget   one token bucket shared by every writer of a run (the AWS
//                 SDKs' "standard" retry quota): a retry costs tokens (more
//                 for a timeout or reset), a success gives some back; when it
//                 is empty, failures are not retried, so a store that is down
//                 is not hammered by every writer at once.
//   Backoff       capped, fully jittered exponential delay: uniform in
//                 [0, min(cap, base * 2^retry)].
//   AdaptiveRate  a request rate per bucket (the SDKs' "adaptive" mode):
//                 unlimited until the first throttle, then cut by 30% on each
//                 throttle and raised slowly (+ramp per second) on success;
//                 Acquire() waits for a token of that rate.
// S3Counters are what a run reports per iteration (requests, retries,
// throttles, bytes).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "mutex.h"

namespace fanout {

struct S3Counters {
  std::atomic<int64_t> requests{0}, retries{0}, throttles{0}, bytes_sent{0}, bytes_received{0};
};

struct RetryOptions {
  int max_attempts = 10;          // per request, the first included
  double base_seconds = 0.05;
  double cap_seconds = 5.0;
  int budget = 500;               // tokens shared by all writers
  int retry_cost = 5, timeout_cost = 10, success_refund = 1;
  // A request moving under low_speed_bytes a second for low_speed_seconds
  // times out (then is retried): a stalled connection, a server not answering.
  int low_speed_seconds = 30;
  int low_speed_bytes = 1024;
};

class RetryBudget {
 public:
  explicit RetryBudget(const RetryOptions& options) : options_(options), tokens_(options.budget) {}
  // Takes a retry's cost; false (nothing taken) when the budget cannot pay.
  bool TryTake(bool timeout_or_reset) EXCLUDES(mu_);
  // A request succeeded: `cost` (what its retries took) back, or the refund.
  void Succeeded(int cost) EXCLUDES(mu_);
  int tokens() EXCLUDES(mu_);

 private:
  const RetryOptions options_;
  Mutex mu_;
  int tokens_ GUARDED_BY(mu_);
};

// Seconds to wait before retry number `retry` (1 = the first retry).
double BackoffSeconds(const RetryOptions& options, int retry, std::mt19937_64& rng);

class AdaptiveRate {
 public:
  struct Bucket {
    bool limited = false;
    double rate = 0;      // requests per second when limited
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  // Blocks until `bucket` may send one request.
  void Acquire(const std::string& bucket) EXCLUDES(mu_);
  void Throttled(const std::string& bucket) EXCLUDES(mu_);
  void Succeeded(const std::string& bucket) EXCLUDES(mu_);
  // 0 when unlimited.
  double Rate(const std::string& bucket) EXCLUDES(mu_);

  static constexpr double kMinRate = 2.0, kBeta = 0.7, kRampPerSecond = 2.0, kMaxRate = 5000.0;

 private:
  void Refill(Bucket& b) REQUIRES(mu_);
  Mutex mu_;
  std::map<std::string, Bucket> buckets_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> recent_ GUARDED_BY(mu_);  // requests in the last second, to seed the rate
  std::map<std::string, std::chrono::steady_clock::time_point> window_ GUARDED_BY(mu_);
};

}  // namespace fanout
