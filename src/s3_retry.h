// s3_retry: how the S3 client retries and paces itself under throttling.
//
//   RetryBudget   one token bucket shared by every writer of a run (the AWS
//                 SDKs' "standard" retry quota): a retry costs tokens (more
//                 for a timeout or reset), a success gives some back; when it
//                 is empty, failures are not retried, so a store that is down
//                 is not hammered by every writer at once.
//   Backoff       capped, fully jittered exponential delay: uniform in
//                 [0, min(cap, base * 2^retry)].
//   AdaptiveRate  a request rate per bucket (the SDKs' "adaptive" mode,
//                 CUBIC): unlimited until the first throttle, then cut (by up
//                 to 30%, in proportion to the share of answers throttled)
//                 once per congestion episode and grown back along a cubic;
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

// The AWS SDKs' "adaptive" retry mode, per bucket: unlimited until the first
// throttle; from then on a token bucket whose fill rate follows CUBIC (as TCP
// CUBIC and the SDKs' client-side rate limiter): on a throttle the rate is
// cut below the rate it was sending at (W_max), then grows back along
//   rate(t) = kScale * (t - K)^3 + W_max,   K = cbrt(W_max * cut / kScale)
// (t: seconds since the cut): quickly at first, flat around W_max, faster
// again beyond it; never above twice the measured send rate (a smoothed
// count per 0.5 s). Two departures from the SDKs, both from TCP, because a
// cut of 30% per throttled answer collapses the rate under a steady share of
// throttles that does not depend on the rate (measured: 10% of the answers
// 503 at random held 40 requests/s down to ~4.5):
//   - one cut per congestion episode: throttles answered before the rate has
//     grown back (t < K, at least kEventSeconds) belong to the cut already
//     made (the requests then in flight were sent at the old rate; TCP cuts
//     once per window), so N writers throttled at once cut the rate once;
//   - the cut is in proportion to the share of answers throttled since the
//     last one (DCTCP): 30% (the SDKs' kBeta) when half or more were, 6%
//     when 10% were. A store over its limit throttles the excess, so the
//     rate converges to the limit within a few episodes; sparse throttles
//     cost a few percent.
// Once the rate passes kMaxRate the bucket is unlimited again.
class AdaptiveRate {
 public:
  // Blocks until `bucket` may send one request.
  void Acquire(const std::string& bucket) EXCLUDES(mu_);
  void Throttled(const std::string& bucket) EXCLUDES(mu_) { Throttled(bucket, Now()); }
  void Succeeded(const std::string& bucket) EXCLUDES(mu_) { Succeeded(bucket, Now()); }
  // The same steps at time `now` (seconds; the tests drive their own clock).
  // Reserve counts one request and returns how long it must wait first.
  double Reserve(const std::string& bucket, double now) EXCLUDES(mu_);
  void Throttled(const std::string& bucket, double now) EXCLUDES(mu_);
  void Succeeded(const std::string& bucket, double now) EXCLUDES(mu_);
  // The fill rate (requests per second); 0 when unlimited.
  double Rate(const std::string& bucket) EXCLUDES(mu_);

  static constexpr double kBeta = 0.7, kScale = 0.4, kMinRate = 0.5, kMaxRate = 5000.0;
  static constexpr double kSmooth = 0.8, kMeasureSeconds = 0.5, kEventSeconds = 0.5;

 private:
  struct Bucket {
    bool limited = false;
    double fill = 0, tokens = 0, refilled = 0;  // the token bucket
    double w_max = 0, k = 0, cut_at = -1e9;     // CUBIC: the rate at the last cut, and when
    double measured = 0, window_start = -1;     // the send rate, smoothed
    int64_t in_window = 0;
    int64_t answered = 0, throttled = 0;        // since the last cut
  };
  static double Now();
  static double Measured(const Bucket& b, double now);
  Mutex mu_;
  std::map<std::string, Bucket> buckets_ GUARDED_BY(mu_);
};

}  // namespace fanout
