// sigv4_test: the signer against AWS's published SigV4 test-suite vectors and
// the S3 documentation's example, and against botocore's signer (run as a
// child process) on the S3 requests fanout sends: listing with a prefix,
// multipart (?uploads, ?partNumber&uploadId), conditional writes, keys that
// need encoding, a session token.
#include "sigv4.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

#include "temp_dir.h"
#include "test_util.h"

namespace fanout {
namespace {
using namespace fanout::test;

const char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The aws-sig-v4-test-suite's credentials, time and scope.
const AwsCredentials kSuiteCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
SigV4Scope SuiteScope() {
  SigV4Scope scope{"us-east-1", "service", "20150830T123600Z"};
  scope.content_sha256_header = false;  // the generic suite signs host;x-amz-date only
  return scope;
}

SigV4Request SuiteGet(std::string path, std::vector<std::pair<std::string, std::string>> query = {}) {
  return SigV4Request{"GET", "example.amazonaws.com", std::move(path), std::move(query), {}, kEmptySha};
}

TEST(SigV4, SuiteGetVanilla) {
  SigV4Signed s = SignV4(SuiteGet("/"), kSuiteCreds, SuiteScope());
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
                std::string(kEmptySha));
  EXPECT_EQ(s.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, SuiteQueryOrderKeyCase) {
  SigV4Signed s = SignV4(SuiteGet("/", {{"Param2", "value2"}, {"Param1", "value1"}}), kSuiteCreds, SuiteScope());
  EXPECT_EQ(s.canonical_request.substr(0, s.canonical_request.find("\nhost")), "GET\n/\nParam1=value1&Param2=value2");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
  EXPECT_EQ(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, SuiteQueryOrderValue) {
  SigV4Signed s = SignV4(SuiteGet("/", {{"Param1", "value2"}, {"Param1", "value1"}}), kSuiteCreds, SuiteScope());
  EXPECT_EQ(s.signature, "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694");
}

TEST(SigV4, SuiteUnreservedCharactersAreNotEncoded) {
  std::string path = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  SigV4Signed s = SignV4(SuiteGet(path), kSuiteCreds, SuiteScope());
  EXPECT_EQ(s.signature, "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
}

TEST(SigV4, SuitePostFormUrlencoded) {
  SigV4Request r{"POST", "example.amazonaws.com", "/", {},
                 {{"Content-Type", "application/x-www-form-urlencoded"}}, Sha256Hex("Param1=value1")};
  SigV4Signed s = SignV4(r, kSuiteCreds, SuiteScope());
  EXPECT_EQ(r.payload_sha256, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
  EXPECT_EQ(s.signature, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

// The S3 API reference's GetObject example (a Range header, an empty body).
TEST(SigV4, S3DocumentationGetObjectExample) {
  AwsCredentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  SigV4Request r{"GET", "examplebucket.s3.amazonaws.com", "/test.txt", {}, {{"Range", "bytes=0-9"}}, kEmptySha};
  SigV4Signed s = SignV4(r, creds, SigV4Scope{"us-east-1", "s3", "20130524T000000Z"});
  EXPECT_EQ(s.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:" + std::string(kEmptySha) + "\nx-amz-date:20130524T000000Z\n\n"
            "host;range;x-amz-content-sha256;x-amz-date\n" + kEmptySha);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3EncodingRules) {
  // The path is encoded once and never normalised; '/' stays.
  EXPECT_EQ(WirePath("/b/x/../y//a b+c%/ü"), "/b/x/../y//a%20b%2Bc%25/%C3%BC");
  // Query values: '/' and ':' encoded; no value signs as `name=`; sorted by name.
  EXPECT_EQ(WireQuery({{"uploadId", "a/b:c+d="}, {"partNumber", "1"}}), "partNumber=1&uploadId=a%2Fb%3Ac%2Bd%3D");
  EXPECT_EQ(WireQuery({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(WireQuery({{"prefix", "a/"}, {"list-type", "2"}}), "list-type=2&prefix=a%2F");
}

TEST(SigV4, AlwaysSendsContentSha256AndTheSessionToken) {
  AwsCredentials creds{"AKID", "SECRET/KEY", "TOKEN+/="};
  SigV4Request r{"PUT", "127.0.0.1:9000", "/b/k", {}, {}, Sha256Hex("body")};
  SigV4Signed s = SignV4(r, creds, SigV4Scope{"eu-west-1", "s3", "20260101T000000Z"});
  EXPECT_NE(s.authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"),
            std::string::npos)
      << s.authorization;
  std::map<std::string, std::string> added(s.headers.begin(), s.headers.end());
  EXPECT_EQ(added["x-amz-content-sha256"], Sha256Hex("body"));
  EXPECT_EQ(added["x-amz-security-token"], "TOKEN+/=");
  // Nothing that names the secret.
  EXPECT_EQ(s.authorization.find("SECRET"), std::string::npos);
  EXPECT_EQ(creds.Redacted().find("SECRET"), std::string::npos);
  EXPECT_EQ(creds.Redacted().find("TOKEN"), std::string::npos);
}

// ----- against botocore -------------------------------------------------------

class SigV4Botocore : public TempDirTest {};

struct Case {
  SigV4Request request;
  AwsCredentials creds;
};

std::vector<Case> S3Cases() {
  AwsCredentials plain{"AKIAFANOUTTEST", "s3cr3t/with+slash=", ""};
  AwsCredentials session{"ASIAFANOUTTEST", "another/secret", "FwoGZXIvYXdzE/token+with=chars"};
  std::string host = "127.0.0.1:45678";
  std::string body_sha = Sha256Hex("part one");
  return {
      {{"GET", host, "/bucket", {{"list-type", "2"}, {"prefix", "a/"}}, {}, kEmptySha}, plain},
      {{"GET", host, "/bucket", {{"list-type", "2"}, {"prefix", "out/iter_1/"}, {"continuation-token", "1/a:b+c=="},
                                 {"delimiter", "/"}}, {}, kEmptySha}, plain},
      {{"POST", host, "/bucket/out/iter_1/part-0.parquet", {{"uploads", ""}}, {}, kEmptySha}, plain},
      {{"PUT", host, "/bucket/out/iter_1/part-0.parquet", {{"partNumber", "1"}, {"uploadId", "2~a/b:c+d="}}, {},
        body_sha}, plain},
      {{"POST", host, "/bucket/k", {{"uploadId", "x/y"}}, {{"Content-Type", "application/xml"}}, body_sha}, session},
      {{"DELETE", host, "/bucket/k", {{"uploadId", "x/y"}}, {}, kEmptySha}, plain},
      {{"PUT", host, "/bucket/out/iter_2/_SUCCESS", {}, {{"If-None-Match", "*"}}, body_sha}, session},
      {{"PUT", host, "/bucket/out/_lock", {}, {{"If-Match", "\"9b2cf535f27731c974343645a3985328\""}}, body_sha}, plain},
      {{"HEAD", host, "/bucket/a b/ü+%/x//y/../z", {}, {}, kEmptySha}, plain},
      {{"GET", "bucket.s3.eu-west-1.amazonaws.com", "/key", {}, {{"Range", "bytes=0-99"}}, "UNSIGNED-PAYLOAD"}, plain},
  };
}

TEST_F(SigV4Botocore, AgreesOnEveryKindOfRequestFanoutSends) {
  std::vector<Case> cases = S3Cases();
  SigV4Scope scope{"eu-west-1", "s3", "20261129T101500Z"};
  nlohmann::json input = nlohmann::json::array();
  std::vector<SigV4Signed> ours;
  for (const Case& c : cases) {
    ours.push_back(SignV4(c.request, c.creds, scope));
    auto headers = c.request.headers;
    headers.emplace_back("Host", c.request.host);
    for (const auto& h : ours.back().headers)
      if (h.first != "authorization" && h.first != "x-amz-security-token") headers.push_back(h);
    input.push_back({{"method", c.request.method}, {"host", c.request.host}, {"path", c.request.path},
                     {"query", c.request.query}, {"headers", headers}, {"region", scope.region},
                     {"access_key", c.creds.access_key_id}, {"secret_key", c.creds.secret_access_key},
                     {"token", c.creds.session_token}});
  }
  WriteFile(dir_ + "/requests.json", input.dump());
  RunResult r = RunProcess({"/usr/bin/env", "python3", std::string(FANOUT_SOURCE_DIR) + "/tests/s3/botocore_sign.py",
                            dir_ + "/requests.json"}, dir_);
  if (r.exit_code == 3 || r.exit_code == 127) GTEST_SKIP() << "python3 with botocore is needed: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::istringstream lines(r.out);
  std::string line;
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(std::getline(lines, line)) << "botocore answered " << i << " of " << cases.size();
    auto theirs = nlohmann::json::parse(line);
    EXPECT_EQ(ours[i].canonical_request, theirs["canonical_request"].get<std::string>()) << "case " << i;
    EXPECT_EQ(ours[i].authorization, theirs["authorization"].get<std::string>()) << "case " << i;
  }
}

}  // namespace
}  // namespace fanout
