// s3_config: where an S3 client's credentials, region and endpoint come from,
// as the AWS CLI and SDKs find them:
//   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
//                else the shared credentials file (AWS_SHARED_CREDENTIALS_FILE,
//                ~/.aws/credentials), then the config file (AWS_CONFIG_FILE,
//                ~/.aws/config), for the profile AWS_PROFILE (or "default")
//   region       AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, us-east-1
//   endpoint     AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's
//                `endpoint_url`; when set, requests are path-style
//                (http://host:port/bucket/key), as S3-compatible stores want.
// Errors name the variable or file and key to set; never a secret's value.
#pragma once

#include <map>
#include <string>

#include "fanout/status.h"
#include "sigv4.h"

namespace fanout {

struct S3Config {
  AwsCredentials creds;
  std::string region;
  std::string endpoint;         // "" = AWS (virtual-hosted); else "http[s]://host[:port]" (path-style)
  std::string where_creds;      // what supplied the credentials, for messages: "AWS_ACCESS_KEY_ID", "~/.aws/credentials [p]"
};

// An INI file's sections: "default", "profile x" as written -> key -> value.
using IniSections = std::map<std::string, std::map<std::string, std::string>>;
IniSections ParseIni(const std::string& text);

// Reads the environment (and the files it names) as described above.
// `getenv` is injectable for tests.
Result<S3Config> S3ConfigFromEnvironment(const char* (*getenv_fn)(const char*) = nullptr);

}  // namespace fanout
