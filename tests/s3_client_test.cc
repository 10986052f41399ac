// s3_client_test: the S3 client against a real S3 protocol server on
// loopback (moto's, started by tests/s3/s3_proxy.py behind a proxy that
// verifies every request's signature with botocore and injects faults):
// round trip, listing with a prefix, multipart and abort, conditional writes,
// a wrong secret, retries of 503/500/resets/slow answers, the shared retry
// budget; and, without a server, where credentials, region and endpoint
// come from and the adaptive rate.
#include "s3_client.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "s3_server.h"
#include "temp_dir.h"
#include "test_util.h"

namespace fanout {
namespace {
using namespace fanout::test;
using namespace fanout::s3test;

TEST_F(S3Test, RoundTripAndListingWithAPrefixEverySignatureVerified) {
  S3Client s3(Config(), Fast());
  Faults(nlohmann::json::object());
  ASSERT_TRUE(s3.Put("bkt", "a/x", "one").ok());
  ASSERT_TRUE(s3.Put("bkt", "a/y z+ü:1", "two!").ok());
  ASSERT_TRUE(s3.Put("bkt", "ab", "three").ok());
  auto got = s3.Get("bkt", "a/y z+ü:1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "two!");
  auto listed = s3.List("bkt", "a/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "a/x");
  EXPECT_EQ((*listed)[1].key, "a/y z+ü:1");
  EXPECT_EQ((*listed)[1].size, 4);
  auto head = s3.Head("bkt", "ab");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 5);
  ASSERT_TRUE(s3.Delete("bkt", "ab").ok());
  EXPECT_TRUE(s3.Head("bkt", "ab")->key.empty());
  bool missing = false;
  EXPECT_FALSE(s3.Get("bkt", "ab", &missing).ok());
  EXPECT_TRUE(missing);
  auto stats = Proxy("GET", "stats");
  EXPECT_EQ(stats["rejected"], 0) << stats.dump();
  EXPECT_EQ(stats["verified"], s3.counters().requests.load());
}

TEST_F(S3Test, MultipartUploadOfEqualPartsAndAbort) {
  S3Client s3(Config(), Fast());
  std::string data(11 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  WriteFile(dir_ + "/big.bin", data);
  auto etag = s3.UploadFile("bkt", "out/part-0.bin", dir_ + "/big.bin", 5 << 20);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_NE(etag->find("-3"), std::string::npos) << *etag;  // three parts: 5 + 5 + 1 MiB
  EXPECT_EQ(*s3.Get("bkt", "out/part-0.bin"), data);

  auto id = s3.CreateMultipart("bkt", "out/abandoned");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(s3.UploadPart("bkt", "out/abandoned", *id, 1, "partial").ok());
  auto uploads = s3.ListMultipart("bkt", "out/");
  ASSERT_TRUE(uploads.ok());
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].upload_id, *id);
  ASSERT_TRUE(s3.AbortMultipart("bkt", "out/abandoned", *id).ok());
  EXPECT_TRUE(s3.ListMultipart("bkt", "out/")->empty());
  EXPECT_TRUE(s3.Head("bkt", "out/abandoned")->key.empty());
  {
    auto stats = Proxy("GET", "stats");
    EXPECT_EQ(stats["rejected"], 0) << stats.dump();
  }
}

TEST_F(S3Test, ConditionalWritesLetOneWriterWin) {
  S3Client s3(Config(), Fast());
  bool lost = false;
  auto first = s3.Put("bkt", "_SUCCESS", "mine", S3Condition{true, ""}, &lost);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(lost);
  auto second = s3.Put("bkt", "_SUCCESS", "theirs", S3Condition{true, ""}, &lost);
  EXPECT_FALSE(second.ok());
  EXPECT_TRUE(lost) << second.status().ToString();
  auto replaced = s3.Put("bkt", "_SUCCESS", "next", S3Condition{false, *first}, &lost);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  auto stale = s3.Put("bkt", "_SUCCESS", "stale", S3Condition{false, *first}, &lost);
  EXPECT_FALSE(stale.ok());
  EXPECT_TRUE(lost);
  EXPECT_EQ(*s3.Get("bkt", "_SUCCESS"), "next");
  EXPECT_EQ(s3.counters().retries.load(), 0);  // a lost condition is not retried
}

TEST_F(S3Test, WrongSecretFailsAtOnceClearlyAndWritesNothing) {
  S3Client bad(Config("not-the-secret"), Fast());
  auto put = bad.Put("bkt", "x", "data");
  ASSERT_FALSE(put.ok());
  const std::string& m = put.status().message();
  EXPECT_EQ(put.status().code(), Status::Code::kFailed);
  EXPECT_NE(m.find("SignatureDoesNotMatch"), std::string::npos) << m;
  EXPECT_NE(m.find(kKeyId), std::string::npos) << m;
  EXPECT_NE(m.find("s3://bkt/x"), std::string::npos) << m;
  EXPECT_EQ(m.find("not-the-secret"), std::string::npos) << m;
  EXPECT_EQ(bad.counters().retries.load(), 0);
  S3Client good(Config(), Fast());
  EXPECT_TRUE(good.List("bkt", "")->empty());
}

TEST_F(S3Test, ThrottlingServerErrorsResetsAndSlowAnswersAreRetried) {
  RetryOptions options = Fast();
  options.low_speed_seconds = 1;
  S3Client s3(Config(), options);
  Faults({{"next", {"503", "503", "500", "reset", "slow"}}, {"slow_seconds", 3}});
  auto put = s3.Put("bkt", "k", "payload");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(s3.counters().retries.load(), 5) << Proxy("GET", "stats").dump();
  EXPECT_EQ(s3.counters().throttles.load(), 2);
  EXPECT_GT(s3.rate().Rate("bkt"), 0);  // throttled: the bucket is paced now
  EXPECT_EQ(*s3.Get("bkt", "k"), "payload");
  auto stats = Proxy("GET", "stats");
  EXPECT_EQ(stats["injected"]["503"], 2);
  EXPECT_EQ(stats["injected"]["reset"], 1);
}

TEST_F(S3Test, OneRetryBudgetForEveryWriter) {
  RetryOptions options = Fast();
  options.budget = 10;  // two retries, for everyone
  S3Client s3(Config(), options);
  Faults({{"rate", {{"503", 1.0}}}});
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int i = 0; i < 4; ++i)
    writers.emplace_back([&, i] {
      if (!s3.Put("bkt", "w" + std::to_string(i), "x").ok()) ++failed;
    });
  for (auto& t : writers) t.join();
  EXPECT_EQ(failed.load(), 4);
  EXPECT_EQ(s3.counters().retries.load(), 2);  // the budget, not 4 x max_attempts
  auto last = s3.Put("bkt", "after", "x");
  ASSERT_FALSE(last.ok());
  EXPECT_NE(last.status().message().find("retry budget"), std::string::npos) << last.status().ToString();
  Faults(nlohmann::json::object());
  EXPECT_TRUE(s3.Put("bkt", "recovered", "x").ok());
}

// ----- without a server -----------------------------------------------------

// The adaptive rate on a clock of the test's own: 100 requests a second,
// then throttles.
TEST(S3Retry, AdaptiveRateCutsOncePerEventAndGrowsBackAlongACubic) {
  AdaptiveRate rate;
  double t = 0;
  auto send = [&](double until, double per_second) {
    double waited = 0;
    for (; t < until; t += 1 / per_second) waited += rate.Reserve("b", t);
    return waited;
  };
  EXPECT_EQ(send(2, 100), 0);  // unlimited before any throttle
  EXPECT_EQ(rate.Rate("b"), 0);
  rate.Throttled("b", t);
  const double cut = rate.Rate("b");
  EXPECT_NEAR(cut, 100 * AdaptiveRate::kBeta, 5);  // 30% below the rate it was sending at
  // Writers throttled together are one event: one cut, not one each.
  rate.Throttled("b", t + 0.1);
  rate.Throttled("b", t + 0.2);
  EXPECT_EQ(rate.Rate("b"), cut);
  // Back to the old rate K seconds after the cut, flat around it, then above.
  const double cut_at = t, k = std::cbrt(100 * (1 - AdaptiveRate::kBeta) / AdaptiveRate::kScale);
  send(cut_at + 1, 70);
  rate.Succeeded("b", t);
  double early = rate.Rate("b");
  EXPECT_GT(early, cut);
  EXPECT_LT(early, 100);
  send(cut_at + k, 95);
  rate.Succeeded("b", t);
  EXPECT_NEAR(rate.Rate("b"), 100, 5);
  send(cut_at + k + 3, 100);
  rate.Succeeded("b", t);
  EXPECT_GT(rate.Rate("b"), 105);  // probing above the old limit
  // The bucket paces: after a pause (a full bucket holds one second's worth),
  // sending 3 s worth at once makes the last wait about 2 s.
  double fill = rate.Rate("b");
  double last = 0;
  t += 2;
  for (int i = 0; i < 3 * fill; ++i) last = rate.Reserve("b", t);
  EXPECT_NEAR(last, 2, 0.1);
  EXPECT_EQ(rate.Rate("other"), 0);  // per bucket
}

// One writer wanting `demand` requests a second for 60 simulated seconds,
// paced by the adaptive rate; `throttle(send_times)` says whether the store
// throttles the last one. What it achieved over the last 20 s: requests a
// second and the share throttled.
std::pair<double, double> Simulate(double demand, const std::function<bool(const std::vector<double>&)>& throttle) {
  AdaptiveRate rate;
  std::vector<double> sent;
  std::vector<bool> throttled;
  for (double now = 0; now < 60;) {
    double at = now + rate.Reserve("b", now);
    sent.push_back(at);
    throttled.push_back(throttle(sent));
    if (throttled.back()) rate.Throttled("b", at); else rate.Succeeded("b", at);
    now = std::max(now + 1 / demand, at);
  }
  int n = 0, t = 0;
  for (size_t i = 0; i < sent.size(); ++i)
    if (sent[i] > 40) ++n, t += throttled[i];
  return {n / 20.0, static_cast<double>(t) / n};
}

// 10% of the answers throttled whatever the rate (the proxy's random 503s):
// the rate stays near what the writer wants (the SDKs' cut of 30% per
// throttle held it at ~4.5 of 40 a second).
TEST(S3Retry, AdaptiveRateRidesOutSparseThrottles) {
  std::mt19937_64 rng(1);
  auto random_tenth = [&](const std::vector<double>&) { return std::uniform_real_distribution<>(0, 1)(rng) < 0.1; };
  auto [achieved, share] = Simulate(40, random_tenth);
  EXPECT_GT(achieved, 0.8 * 40);
  EXPECT_NEAR(share, 0.1, 0.03);
}

// A store that throttles whatever goes over 20 requests a second (60 wanted):
// the rate settles at the limit, few answers throttled.
TEST(S3Retry, AdaptiveRateConvergesToTheStoresLimit) {
  auto over_limit = [](const std::vector<double>& sent) {
    int in_last_second = 0;
    for (auto it = sent.rbegin(); it != sent.rend() && *it > sent.back() - 1; ++it) ++in_last_second;
    return in_last_second > 20;
  };
  auto [achieved, share] = Simulate(60, over_limit);
  EXPECT_GT(achieved, 0.7 * 20);
  EXPECT_LT(achieved, 1.1 * 20);
  EXPECT_LT(share, 0.1);
}

TEST(S3Retry, BackoffIsCappedAndJittered) {
  RetryOptions o;
  std::mt19937_64 rng(7);
  double max_seen = 0, min_seen = 1e9;
  for (int i = 0; i < 1000; ++i) {
    double d = BackoffSeconds(o, 40, rng);
    max_seen = std::max(max_seen, d);
    min_seen = std::min(min_seen, d);
  }
  EXPECT_LE(max_seen, o.cap_seconds);
  EXPECT_LT(min_seen, o.cap_seconds / 10);  // full jitter: near zero happens
  EXPECT_LE(BackoffSeconds(o, 1, rng), o.base_seconds * 2);
}

std::map<std::string, std::string>* fake_env = nullptr;
const char* FakeGetenv(const char* name) {
  auto it = fake_env->find(name);
  return it == fake_env->end() ? nullptr : it->second.c_str();
}

class S3ConfigTest : public TempDirTest {};

TEST_F(S3ConfigTest, EnvironmentThenProfileFilesRegionAndEndpoint) {
  WriteFile(dir_ + "/credentials", "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n"
                                   "[work]\naws_access_key_id=WORK\naws_secret_access_key=worksecret\n"
                                   "aws_session_token = tok\n");
  WriteFile(dir_ + "/config", "[profile work]\nregion = eu-west-3\nendpoint_url = http://127.0.0.1:9/\n");
  std::map<std::string, std::string> env = {{"AWS_SHARED_CREDENTIALS_FILE", dir_ + "/credentials"},
                                            {"AWS_CONFIG_FILE", dir_ + "/config"}};
  fake_env = &env;
  auto c = S3ConfigFromEnvironment(&FakeGetenv);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->creds.access_key_id, "DEF");
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->endpoint, "");
  env["AWS_PROFILE"] = "work";
  c = S3ConfigFromEnvironment(&FakeGetenv);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->creds.access_key_id, "WORK");
  EXPECT_EQ(c->creds.session_token, "tok");
  EXPECT_EQ(c->region, "eu-west-3");
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:9");
  env["AWS_ACCESS_KEY_ID"] = "ENVID";
  env["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  env["AWS_DEFAULT_REGION"] = "ap-south-1";
  env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1";
  env["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:2";
  c = S3ConfigFromEnvironment(&FakeGetenv);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->creds.access_key_id, "ENVID");
  EXPECT_EQ(c->creds.session_token, "");
  EXPECT_EQ(c->region, "ap-south-1");
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:2");
  env["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(S3ConfigFromEnvironment(&FakeGetenv)->region, "us-west-2");
}

TEST_F(S3ConfigTest, MissingOrHalfCredentialsSayWhatToSetWithoutTheSecret) {
  std::map<std::string, std::string> env = {{"HOME", dir_}};
  fake_env = &env;
  auto c = S3ConfigFromEnvironment(&FakeGetenv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalid);
  EXPECT_NE(c.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  env["AWS_SECRET_ACCESS_KEY"] = "lonely-secret";
  c = S3ConfigFromEnvironment(&FakeGetenv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("lonely-secret"), std::string::npos);
  env.erase("AWS_SECRET_ACCESS_KEY");
  WriteFile(dir_ + "/.aws_credentials", "[default]\naws_secret_access_key = file-secret\n");
  env["AWS_SHARED_CREDENTIALS_FILE"] = dir_ + "/.aws_credentials";
  c = S3ConfigFromEnvironment(&FakeGetenv);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("aws_access_key_id"), std::string::npos);
  EXPECT_EQ(c.status().message().find("file-secret"), std::string::npos);
}

TEST(S3Url, BucketAndKey) {
  std::string b, k;
  ASSERT_TRUE(ParseS3Url("s3://my-bucket/out/run", &b, &k).ok());
  EXPECT_EQ(b, "my-bucket");
  EXPECT_EQ(k, "out/run");
  EXPECT_FALSE(ParseS3Url("s3://Bad_Bucket/x", &b, &k).ok());
  EXPECT_FALSE(ParseS3Url("s3:///x", &b, &k).ok());
  EXPECT_FALSE(ParseS3Url("/local/path", &b, &k).ok());
}

}  // namespace
}  // namespace fanout
