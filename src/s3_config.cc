// s3_config: credentials, region and endpoint for S3 (see s3_config.h).
#include "s3_config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace fanout {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

const char* RealGetenv(const char* name) { return std::getenv(name); }

std::string Env(const char* (*get)(const char*), const char* name) {
  const char* v = get(name);
  return v ? std::string(v) : std::string();
}

// The file at env `var`, else ~/.aws/<name>; "" when neither can be named.
std::string AwsFile(const char* (*get)(const char*), const char* var, const char* name) {
  std::string path = Env(get, var);
  if (!path.empty()) return path;
  std::string home = Env(get, "HOME");
  return home.empty() ? "" : home + "/.aws/" + name;
}

// The profile's section of an INI file, or an empty map.
std::map<std::string, std::string> ProfileSection(const std::string& path, const std::string& section) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  IniSections sections = ParseIni(text.str());
  auto it = sections.find(section);
  return it == sections.end() ? std::map<std::string, std::string>{} : it->second;
}

Status CredentialsFrom(const std::map<std::string, std::string>& s, const std::string& where, S3Config* config) {
  auto id = s.find("aws_access_key_id");
  auto secret = s.find("aws_secret_access_key");
  if (id == s.end() && secret == s.end()) return Status::Ok();
  if (id == s.end() || secret == s.end() || id->second.empty() || secret->second.empty())
    return Status::Invalid(where + " has only one of aws_access_key_id and aws_secret_access_key: set both");
  config->creds.access_key_id = id->second;
  config->creds.secret_access_key = secret->second;
  auto token = s.find("aws_session_token");
  if (token != s.end()) config->creds.session_token = token->second;
  config->where_creds = where;
  return Status::Ok();
}

}  // namespace

IniSections ParseIni(const std::string& text) {
  IniSections out;
  std::string section;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      section = Trim(t.substr(1, t.size() - 2));
      out[section];
      continue;
    }
    size_t eq = t.find('=');
    if (eq == std::string::npos || section.empty()) continue;
    out[section][Trim(t.substr(0, eq))] = Trim(t.substr(eq + 1));
  }
  return out;
}

Result<S3Config> S3ConfigFromEnvironment(const char* (*getenv_fn)(const char*)) {
  auto get = getenv_fn ? getenv_fn : &RealGetenv;
  S3Config config;
  std::string profile = Env(get, "AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::string creds_file = AwsFile(get, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
  std::string config_file = AwsFile(get, "AWS_CONFIG_FILE", "config");
  auto from_creds = ProfileSection(creds_file, profile);
  auto from_config = ProfileSection(config_file, profile == "default" ? "default" : "profile " + profile);

  std::string id = Env(get, "AWS_ACCESS_KEY_ID"), secret = Env(get, "AWS_SECRET_ACCESS_KEY");
  if (!id.empty() || !secret.empty()) {
    if (id.empty() || secret.empty())
      return Status::Invalid("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both");
    config.creds = AwsCredentials{id, secret, Env(get, "AWS_SESSION_TOKEN")};
    config.where_creds = "AWS_ACCESS_KEY_ID";
  } else {
    FANOUT_RETURN_IF_ERROR(CredentialsFrom(from_creds, creds_file + " [" + profile + "]", &config));
    if (config.where_creds.empty())
      FANOUT_RETURN_IF_ERROR(CredentialsFrom(from_config, config_file + " [" + profile + "]", &config));
  }
  if (config.where_creds.empty())
    return Status::Invalid("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
                           "to a profile of " + creds_file + " with aws_access_key_id and aws_secret_access_key");
  config.region = Env(get, "AWS_REGION");
  if (config.region.empty()) config.region = Env(get, "AWS_DEFAULT_REGION");
  if (config.region.empty() && from_config.count("region")) config.region = from_config["region"];
  if (config.region.empty()) config.region = "us-east-1";
  config.endpoint = Env(get, "AWS_ENDPOINT_URL_S3");
  if (config.endpoint.empty()) config.endpoint = Env(get, "AWS_ENDPOINT_URL");
  if (config.endpoint.empty() && from_config.count("endpoint_url")) config.endpoint = from_config["endpoint_url"];
  while (!config.endpoint.empty() && config.endpoint.back() == '/') config.endpoint.pop_back();
  if (!config.endpoint.empty() && config.endpoint.rfind("http://", 0) != 0 && config.endpoint.rfind("https://", 0) != 0)
    return Status::Invalid("the S3 endpoint '" + config.endpoint + "' is not an http:// or https:// URL");
  return config;
}

}  // namespace fanout
