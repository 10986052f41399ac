// s3_server: a test fixture with a real S3 protocol server on loopback:
// moto's server behind tests/s3/s3_proxy.py, which verifies every request's
// SigV4 signature with botocore and injects faults on request. Started for
// each test and stopped after it; a test is skipped (saying why) when python3,
// botocore or moto is missing.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "s3_client.h"
#include "temp_dir.h"
#include "test_util.h"

namespace fanout {
namespace s3test {
using namespace fanout::test;

const char kKeyId[] = "AKIAFANOUTTEST";
const char kSecret[] = "fanout/test+secret=";

// The proxy (and moto behind it), started for each test that needs it.
class S3Test : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    // TMPDIR of its own (the S3 store stages there, and sweeps the staging
    // of dead runs there): for this process and the fanout it starts.
    tmp_ = dir_ + "/tmp";
    std::filesystem::create_directories(tmp_);
    if (const char* was = std::getenv("TMPDIR")) saved_tmpdir_ = was;
    setenv("TMPDIR", tmp_.c_str(), 1);
    proxy_ = StartProcess({"/usr/bin/env", "python3", std::string(FANOUT_SOURCE_DIR) + "/tests/s3/s3_proxy.py",
                           "--access-key", kKeyId, "--secret-key", kSecret, "--bucket", "bkt"},
                          dir_);
    for (int i = 0; i < 400 && port_.empty(); ++i) {
      std::string out = ReadFile(proxy_.base + ".out");
      if (out.rfind("PORT ", 0) == 0 && out.find('\n') != std::string::npos) {
        port_ = out.substr(5, out.find('\n') - 5);
        break;
      }
      int status = 0;
      if (waitpid(proxy_.pid, &status, WNOHANG) == proxy_.pid) {
        proxy_.pid = -1;
        std::string err = ReadFile(proxy_.base + ".err");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3) GTEST_SKIP() << "no S3 test server: " << err;
        FAIL() << "the S3 test proxy stopped: " << err;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_FALSE(port_.empty()) << "the S3 test proxy did not start within 20 s";
  }
  void TearDown() override {
    if (proxy_.pid > 0) {
      kill(proxy_.pid, SIGTERM);
      waitpid(proxy_.pid, nullptr, 0);
    }
    if (saved_tmpdir_) {
      setenv("TMPDIR", saved_tmpdir_->c_str(), 1);
    } else {
      unsetenv("TMPDIR");
    }
    TempDirTest::TearDown();
  }

  S3Config Config(const std::string& secret = kSecret) const {
    S3Config c;
    c.creds = AwsCredentials{kKeyId, secret, ""};
    c.region = "us-east-1";
    c.endpoint = "http://127.0.0.1:" + port_;
    c.where_creds = "the test";
    return c;
  }
  static RetryOptions Fast() {
    RetryOptions r;
    r.base_seconds = 0.01;
    r.cap_seconds = 0.05;
    return r;
  }
  // The proxy's control requests go through curl as a plain client would.
  nlohmann::json Proxy(const std::string& method, const std::string& what, const std::string& body = "") {
    std::string out_file = dir_ + "/proxy_answer";
    RunResult r = RunProcess({"/usr/bin/curl", "-s", "-X", method, "--data-binary", body, "-o", out_file,
                              "http://127.0.0.1:" + port_ + "/__proxy__/" + what},
                             dir_);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return nlohmann::json::parse(ReadFile(out_file));
  }
  void Faults(const nlohmann::json& spec) { Proxy("POST", "faults", spec.dump()); }

  Child proxy_;
  std::string port_;
  std::string tmp_;                          // this test's TMPDIR
  std::optional<std::string> saved_tmpdir_;  // the process's, restored after
};

}  // namespace s3test
}  // namespace fanout
