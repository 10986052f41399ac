// s3_retry: the shared retry budget, backoff and per-bucket adaptive rate
// (see s3_retry.h).
#include "s3_retry.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace fanout {

bool RetryBudget::TryTake(bool timeout_or_reset) {
  int cost = timeout_or_reset ? options_.timeout_cost : options_.retry_cost;
  MutexLock lock(&mu_);
  if (tokens_ < cost) return false;
  tokens_ -= cost;
  return true;
}

void RetryBudget::Succeeded(int cost) {
  MutexLock lock(&mu_);
  tokens_ = std::min(options_.budget, tokens_ + (cost > 0 ? cost : options_.success_refund));
}

int RetryBudget::tokens() {
  MutexLock lock(&mu_);
  return tokens_;
}

double BackoffSeconds(const RetryOptions& options, int retry, std::mt19937_64& rng) {
  double ceiling = std::min(options.cap_seconds, options.base_seconds * std::ldexp(1.0, std::min(retry, 30)));
  return std::uniform_real_distribution<double>(0.0, ceiling)(rng);
}

double AdaptiveRate::Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The smoothed send rate; before a window has closed, the count so far.
double AdaptiveRate::Measured(const Bucket& b, double now) {
  if (b.measured > 0) return b.measured;
  double elapsed = std::max(0.1, now - b.window_start);
  return static_cast<double>(b.in_window) / elapsed;
}

double AdaptiveRate::Reserve(const std::string& bucket, double now) {
  MutexLock lock(&mu_);
  Bucket& b = buckets_[bucket];
  if (b.window_start < 0) b.window_start = now;
  if (now - b.window_start >= kMeasureSeconds) {
    double rate = static_cast<double>(b.in_window) / (now - b.window_start);
    b.measured = b.measured > 0 ? kSmooth * rate + (1 - kSmooth) * b.measured : rate;
    b.window_start = now;
    b.in_window = 0;
  }
  ++b.in_window;
  if (!b.limited) return 0;
  double capacity = std::max(1.0, b.fill);  // bursts of one second at most
  b.tokens = std::min(capacity, b.tokens + (now - b.refilled) * b.fill);
  b.refilled = now;
  b.tokens -= 1;  // reserved: the next caller waits behind this one
  return b.tokens >= 0 ? 0 : -b.tokens / b.fill;
}

void AdaptiveRate::Acquire(const std::string& bucket) {
  double wait = Reserve(bucket, Now());
  if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
}

void AdaptiveRate::Throttled(const std::string& bucket, double now) {
  MutexLock lock(&mu_);
  Bucket& b = buckets_[bucket];
  ++b.answered, ++b.throttled;
  if (b.limited && now - b.cut_at < std::max(kEventSeconds, b.k)) return;  // the same episode
  const double share = static_cast<double>(b.throttled) / static_cast<double>(b.answered);
  const double cut = (1 - kBeta) * std::min(1.0, 2 * share);
  double sent_at = b.limited ? std::min(Measured(b, now), b.fill) : Measured(b, now);
  b.w_max = std::max(kMinRate, sent_at);
  b.k = std::cbrt(b.w_max * cut / kScale);
  b.cut_at = now;
  b.answered = b.throttled = 0;
  if (!b.limited) b.tokens = 0, b.refilled = now;
  b.limited = true;
  b.fill = std::max(kMinRate, b.w_max * (1 - cut));
  b.tokens = std::min(b.tokens, 0.0);
}

void AdaptiveRate::Succeeded(const std::string& bucket, double now) {
  MutexLock lock(&mu_);
  Bucket& b = buckets_[bucket];
  ++b.answered;
  if (!b.limited) return;
  double t = now - b.cut_at - b.k;
  double cubic = kScale * t * t * t + b.w_max;
  b.fill = std::max(kMinRate, std::min(cubic, 2 * Measured(b, now)));
  if (b.fill >= kMaxRate) b.limited = false;
}

double AdaptiveRate::Rate(const std::string& bucket) {
  MutexLock lock(&mu_);
  auto it = buckets_.find(bucket);
  return it == buckets_.end() || !it->second.limited ? 0 : it->second.fill;
}

}  // namespace fanout
