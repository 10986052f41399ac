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

void AdaptiveRate::Refill(Bucket& b) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.last = now;
  b.tokens = std::min(std::max(1.0, b.rate / 10), b.tokens + elapsed * b.rate);  // bursts of 100 ms at most
}

void AdaptiveRate::Acquire(const std::string& bucket) {
  double wait = 0;
  {
    MutexLock lock(&mu_);
    auto now = std::chrono::steady_clock::now();
    auto& start = window_[bucket];
    if (now - start > std::chrono::seconds(1)) {
      start = now;
      recent_[bucket] = 0;
    }
    ++recent_[bucket];
    Bucket& b = buckets_[bucket];
    if (!b.limited) return;
    Refill(b);
    if (b.tokens < 1) wait = (1 - b.tokens) / b.rate;
    b.tokens -= 1;  // reserved: the next caller waits behind this one
  }
  if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
}

void AdaptiveRate::Throttled(const std::string& bucket) {
  MutexLock lock(&mu_);
  Bucket& b = buckets_[bucket];
  if (!b.limited) {
    b.limited = true;
    b.rate = std::max(kMinRate, static_cast<double>(recent_[bucket]) * kBeta);
    b.tokens = 0;
    b.last = std::chrono::steady_clock::now();
  } else {
    b.rate = std::max(kMinRate, b.rate * kBeta);
    b.tokens = std::min(b.tokens, 0.0);
  }
}

void AdaptiveRate::Succeeded(const std::string& bucket) {
  MutexLock lock(&mu_);
  Bucket& b = buckets_[bucket];
  if (!b.limited) return;
  b.rate += kRampPerSecond / b.rate;  // at a steady rate: +kRampPerSecond each second
  if (b.rate >= kMaxRate) b.limited = false;
}

double AdaptiveRate::Rate(const std::string& bucket) {
  MutexLock lock(&mu_);
  auto it = buckets_.find(bucket);
  return it == buckets_.end() || !it->second.limited ? 0 : it->second.rate;
}

}  // namespace fanout
