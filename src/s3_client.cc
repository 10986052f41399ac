// s3_client: S3 over libcurl (see s3_client.h).
#include "s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

namespace fanout {

namespace {
S3TestHooks g_test_hooks;  // set before any store exists (see s3_client.h)
}  // namespace

void SetS3TestHooks(const S3TestHooks& hooks) { g_test_hooks = hooks; }

namespace {
thread_local S3Io* t_io = nullptr;  // the innermost S3IoScope of this thread
}  // namespace

S3IoScope::S3IoScope(std::optional<S3Io>* into) : into_(into), previous_(t_io) { t_io = &counted_; }

S3IoScope::~S3IoScope() {
  t_io = previous_;
  if (counted_.requests == 0) return;
  if (!*into_) into_->emplace();
  S3Io& io = **into_;
  io.requests += counted_.requests, io.retries += counted_.retries, io.throttles += counted_.throttles;
  io.bytes_sent += counted_.bytes_sent, io.bytes_received += counted_.bytes_received;
  if (previous_) {
    previous_->requests += counted_.requests, previous_->retries += counted_.retries;
    previous_->throttles += counted_.throttles, previous_->bytes_sent += counted_.bytes_sent;
    previous_->bytes_received += counted_.bytes_received;
  }
}

void S3IoScope::Count(int64_t S3Io::*field, int64_t n) {
  if (t_io) t_io->*field += n;
}
const S3TestHooks& S3Hooks() { return g_test_hooks; }

namespace {

std::once_flag curl_once;

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t AppendHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

// This thread's handle: reused, so that connections are kept alive.
CURL* ThreadHandle() {
  thread_local std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  curl_easy_reset(handle.get());
  return handle.get();
}

std::string XmlDecode(std::string s) {
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&quot;", "\""}, {"&apos;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&#34;", "\""}, {"&amp;", "&"}};
  for (const auto& [from, to] : kEntities) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + std::strlen(to)))
      s.replace(at, std::strlen(from), to);
  }
  return s;
}

bool Retryable(const S3Client::Response& r) {
  return r.status >= 500 || r.status == 429 || r.code == "SlowDown" || r.code == "RequestTimeout" ||
         r.code == "InternalError" || r.code == "Throttling" || r.code == "ThrottlingException";
}

bool Throttle(const S3Client::Response& r) { return r.status == 503 || r.status == 429 || r.code == "SlowDown"; }

std::string Where(const S3Client::Request& r) { return "s3://" + r.bucket + (r.key.empty() ? "" : "/" + r.key); }

}  // namespace

std::vector<std::string> XmlValues(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    size_t start = at + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string::npos) break;
    out.push_back(XmlDecode(xml.substr(start, end - start)));
    at = end + close.size();
  }
  return out;
}

Status ParseS3Url(const std::string& url, std::string* bucket, std::string* key) {
  if (url.rfind("s3://", 0) != 0) return Status::Invalid("'" + url + "' is not an s3:// URL");
  std::string rest = url.substr(5);
  size_t slash = rest.find('/');
  *bucket = rest.substr(0, slash);
  *key = slash == std::string::npos ? "" : rest.substr(slash + 1);
  bool ok = bucket->size() >= 3 && bucket->size() <= 63 &&
            std::all_of(bucket->begin(), bucket->end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
            });
  if (!ok)
    return Status::Invalid("'" + url + "': the bucket name '" + *bucket +
                           "' is not valid (3 to 63 lower-case letters, digits, '-' and '.')");
  return Status::Ok();
}

S3Client::S3Client(S3Config config, RetryOptions retry)
    : config_(std::move(config)), retry_(retry), budget_(retry), rng_(std::random_device{}()) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

S3Client::~S3Client() = default;

std::string S3Client::Url(const Request& r, std::string* host, std::string* path) const {
  std::string base;
  if (config_.endpoint.empty()) {
    *host = r.bucket + ".s3." + config_.region + ".amazonaws.com";
    base = "https://" + *host;
    *path = "/" + r.key;
  } else {
    base = config_.endpoint;
    size_t scheme_end = base.find("://") + 3;
    *host = base.substr(scheme_end, base.find('/', scheme_end) - scheme_end);
    *path = "/" + r.bucket + (r.key.empty() ? "" : "/" + r.key);
  }
  std::string query = WireQuery(r.query);
  return base + WirePath(*path) + (query.empty() ? "" : "?" + query);
}

// Signs `r` and sets up `curl` for it; `list` receives the header list.
static curl_slist* Prepare(CURL* curl, const S3Client::Request& r, const std::string& url, const SigV4Signed& signed_,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) list = curl_slist_append(list, (name + ": " + value).c_str());
  for (const auto& [name, value] : signed_.headers) list = curl_slist_append(list, (name + ": " + value).c_str());
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  if (r.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (r.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (r.method != "DELETE") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    }
  }
  return list;
}

Result<S3Client::Response> S3Client::SendOnce(const Request& r, bool* timeout_or_reset) {
  std::string host, path;
  std::string url = Url(r, &host, &path);
  auto headers = r.headers;
  if (r.method == "PUT" || r.method == "POST") {
    bool has_type = std::any_of(headers.begin(), headers.end(), [](const auto& h) { return h.first == "Content-Type"; });
    if (!has_type) headers.emplace_back("Content-Type", "application/octet-stream");
  }
  SigV4Request sig{r.method, host, path, r.query, headers, Sha256Hex(r.body)};
  SigV4Signed signed_ = SignV4(sig, config_.creds, SigV4Scope{config_.region, "s3", AmzDate(time(nullptr))});
  CURL* curl = ThreadHandle();
  curl_slist* list = Prepare(curl, r, url, signed_, headers);
  Response out;
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &AppendHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(retry_.low_speed_bytes));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(retry_.low_speed_seconds));
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  counters_.requests++;
  counters_.bytes_sent += static_cast<int64_t>(r.body.size());
  counters_.bytes_received += static_cast<int64_t>(out.body.size());
  S3IoScope::Count(&S3Io::requests, 1);
  S3IoScope::Count(&S3Io::bytes_sent, static_cast<int64_t>(r.body.size()));
  S3IoScope::Count(&S3Io::bytes_received, static_cast<int64_t>(out.body.size()));
  if (rc != CURLE_OK) {
    *timeout_or_reset = true;
    Status st = Status::Io(r.method + " " + Where(r) + ": " + curl_easy_strerror(rc));
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) return st.WithKind(ErrorKind::kPermanent);
    return st;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  if (out.status >= 300) {
    auto codes = XmlValues(out.body, "Code");
    auto messages = XmlValues(out.body, "Message");
    out.code = codes.empty() ? "" : codes[0];
    out.message = messages.empty() ? "" : messages[0];
  }
  return out;
}

Result<S3Client::Response> S3Client::Send(const Request& r) {
  int spent = 0;
  Status last;
  for (int attempt = 1;; ++attempt) {
    rate_.Acquire(r.bucket);
    bool transport = false;
    Result<Response> got = SendOnce(r, &transport);
    if (got.ok() && !Retryable(*got)) {
      rate_.Succeeded(r.bucket);
      if (got->status < 300) budget_.Succeeded(spent);
      return got;
    }
    if (!got.ok() && got.status().kind() == ErrorKind::kPermanent) return got.status();
    if (got.ok() && Throttle(*got)) {
      counters_.throttles++;
      S3IoScope::Count(&S3Io::throttles, 1);
      rate_.Throttled(r.bucket);
    }
    last = got.ok() ? ErrorOf(r, *got).WithKind(ErrorKind::kTransientIo) : got.status();
    if (attempt >= retry_.max_attempts)
      return last.WithPrefix("gave up after " + std::to_string(attempt) + " tries");
    if (!budget_.TryTake(transport))
      return last.WithPrefix("not retried: the run's retry budget is spent (the store keeps failing)");
    spent += transport ? retry_.timeout_cost : retry_.retry_cost;
    counters_.retries++;
    S3IoScope::Count(&S3Io::retries, 1);
    double delay;
    {
      MutexLock lock(&rng_mu_);
      delay = BackoffSeconds(retry_, attempt, rng_);
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  }
}

Status S3Client::ErrorOf(const Request& r, const Response& resp) const {
  std::string what = r.method + " " + Where(r) + ": HTTP " + std::to_string(resp.status) +
                     (resp.code.empty() ? "" : " " + resp.code) + (resp.message.empty() ? "" : ": " + resp.message);
  const std::string& c = resp.code;
  if (c == "SignatureDoesNotMatch" || c == "InvalidAccessKeyId" || c == "ExpiredToken" ||
      c == "InvalidToken" || resp.status == 403)
    what += " (credentials: " + config_.creds.Redacted() + " from " + config_.where_creds +
            "; check the secret key, the session token and the region '" + config_.region + "')";
  if (c == "NoSuchBucket") what += " (create the bucket, or fix its name in the job file)";
  if (resp.status >= 500 || Retryable(resp)) return Status::Io(what);
  return Status::Failed(what);
}

namespace {

bool Ok(const S3Client::Response& r) { return r.status >= 200 && r.status < 300; }

std::string HeaderOr(const S3Client::Response& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

}  // namespace

Result<std::string> S3Client::Put(const std::string& bucket, const std::string& key, const std::string& body,
                                  const S3Condition& condition, bool* precondition_failed) {
  Request r{"PUT", bucket, key, {}, {}, body};
  if (condition.if_none_match) r.headers.emplace_back("If-None-Match", "*");
  if (!condition.if_match.empty()) r.headers.emplace_back("If-Match", condition.if_match);
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (precondition_failed) *precondition_failed = resp.status == 412 || resp.code == "ConditionalRequestConflict";
  if (!Ok(resp)) return ErrorOf(r, resp);
  return HeaderOr(resp, "etag");
}

Result<std::string> S3Client::Get(const std::string& bucket, const std::string& key, bool* missing) {
  Request r{"GET", bucket, key, {}, {}, ""};
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (missing) *missing = resp.status == 404 && resp.code == "NoSuchKey";
  if (!Ok(resp)) return ErrorOf(r, resp);
  return std::move(resp.body);
}

Result<std::string> S3Client::GetRange(const std::string& bucket, const std::string& key, int64_t offset,
                                       int64_t length, const std::string& etag, bool* changed) {
  Request r{"GET", bucket, key, {}, {}, ""};
  r.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
  if (!etag.empty()) r.headers.emplace_back("If-Match", etag);
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (changed) *changed = resp.status == 412;
  if (!Ok(resp)) return ErrorOf(r, resp);
  if (static_cast<int64_t>(resp.body.size()) != length)
    return Status::Io("GET " + std::string("s3://") + bucket + "/" + key + ": " + std::to_string(resp.body.size()) +
                      " bytes where " + std::to_string(length) + " were asked");
  return std::move(resp.body);
}

Result<S3Object> S3Client::Head(const std::string& bucket, const std::string& key) {
  Request r{"HEAD", bucket, key, {}, {}, ""};
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (resp.status == 404) return S3Object{};
  if (!Ok(resp)) return ErrorOf(r, resp);
  return S3Object{key, std::stoll(HeaderOr(resp, "content-length").empty() ? "0" : HeaderOr(resp, "content-length")),
                  HeaderOr(resp, "etag")};
}

Status S3Client::Delete(const std::string& bucket, const std::string& key, const std::string& if_match,
                        bool* precondition_failed, bool* unsupported) {
  Request r{"DELETE", bucket, key, {}, {}, ""};
  if (!if_match.empty()) r.headers.emplace_back("If-Match", if_match);
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (precondition_failed) *precondition_failed = resp.status == 412 || resp.code == "ConditionalRequestConflict";
  if (unsupported) *unsupported = resp.status == 501 || resp.code == "NotImplemented";
  if (!Ok(resp) && resp.status != 404) return ErrorOf(r, resp);
  return Status::Ok();
}

Result<std::vector<S3Object>> S3Client::List(const std::string& bucket, const std::string& prefix) {
  std::vector<S3Object> out;
  std::string token;
  do {
    Request r{"GET", bucket, "", {{"list-type", "2"}, {"prefix", prefix}}, {}, ""};
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
    if (!Ok(resp)) return ErrorOf(r, resp);
    for (const std::string& item : XmlValues(resp.body, "Contents")) {
      auto keys = XmlValues(item, "Key"), sizes = XmlValues(item, "Size"), etags = XmlValues(item, "ETag");
      if (keys.empty() || sizes.empty()) continue;
      out.push_back(S3Object{keys[0], std::stoll(sizes[0]), etags.empty() ? "" : etags[0]});
    }
    auto truncated = XmlValues(resp.body, "IsTruncated");
    auto next = XmlValues(resp.body, "NextContinuationToken");
    token = !truncated.empty() && truncated[0] == "true" && !next.empty() ? next[0] : "";
  } while (!token.empty());
  return out;
}

Result<std::string> S3Client::CreateMultipart(const std::string& bucket, const std::string& key) {
  Request r{"POST", bucket, key, {{"uploads", ""}}, {}, ""};
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (!Ok(resp)) return ErrorOf(r, resp);
  auto ids = XmlValues(resp.body, "UploadId");
  if (ids.empty()) return Status::Io("POST " + Where(r) + "?uploads: no UploadId in the answer");
  return ids[0];
}

Result<std::string> S3Client::UploadPart(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, int part_number, const std::string& body) {
  Request r{"PUT", bucket, key, {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}}, {}, body};
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (!Ok(resp)) return ErrorOf(r, resp);
  return HeaderOr(resp, "etag");
}

Result<std::string> S3Client::CompleteMultipart(const std::string& bucket, const std::string& key,
                                                const std::string& upload_id, const std::vector<std::string>& etags) {
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i)
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] + "</ETag></Part>";
  xml += "</CompleteMultipartUpload>";
  Request r{"POST", bucket, key, {{"uploadId", upload_id}}, {{"Content-Type", "application/xml"}}, xml};
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  // S3 may answer 200 with an error in the body.
  auto codes = XmlValues(resp.body, "Code");
  if (!Ok(resp) || !codes.empty()) {
    if (Ok(resp)) resp.code = codes[0], resp.status = 500;
    return ErrorOf(r, resp);
  }
  auto tags = XmlValues(resp.body, "ETag");
  return tags.empty() ? HeaderOr(resp, "etag") : tags[0];
}

Status S3Client::AbortMultipart(const std::string& bucket, const std::string& key, const std::string& upload_id) {
  Request r{"DELETE", bucket, key, {{"uploadId", upload_id}}, {}, ""};
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (!Ok(resp) && resp.status != 404) return ErrorOf(r, resp);
  return Status::Ok();
}

Result<std::vector<S3Upload>> S3Client::ListMultipart(const std::string& bucket, const std::string& prefix) {
  Request r{"GET", bucket, "", {{"uploads", ""}, {"prefix", prefix}}, {}, ""};
  FANOUT_ASSIGN_OR_RETURN(Response resp, Send(r));
  if (!Ok(resp)) return ErrorOf(r, resp);
  std::vector<S3Upload> out;
  for (const std::string& item : XmlValues(resp.body, "Upload")) {
    auto keys = XmlValues(item, "Key"), ids = XmlValues(item, "UploadId");
    if (!keys.empty() && !ids.empty()) out.push_back(S3Upload{keys[0], ids[0]});
  }
  return out;
}

// Equal parts of at least `part_size`, at most 10,000 of them.
static int64_t PartSizeFor(int64_t total, int64_t part_size) {
  const int64_t kMaxParts = 10000;
  return std::max(part_size, (total + kMaxParts - 1) / kMaxParts);
}

Result<std::string> S3Client::UploadFile(const std::string& bucket, const std::string& key, const std::string& path,
                                         int64_t part_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Io("cannot read " + path + " to upload it to s3://" + bucket + "/" + key);
  in.seekg(0, std::ios::end);
  int64_t total = in.tellg();
  in.seekg(0);
  int64_t each = PartSizeFor(total, part_size);
  auto read = [&](int64_t n) {
    std::string buf(static_cast<size_t>(n), '\0');
    in.read(buf.data(), n);
    return buf;
  };
  if (total <= part_size) return Put(bucket, key, read(total));
  FANOUT_ASSIGN_OR_RETURN(std::string upload_id, CreateMultipart(bucket, key));
  std::vector<std::string> etags;
  Status st;
  for (int64_t done = 0; done < total && st.ok(); done += each) {
    Result<std::string> etag = UploadPart(bucket, key, upload_id, static_cast<int>(etags.size() + 1),
                                          read(std::min(each, total - done)));
    if (etag.ok()) etags.push_back(*etag); else st = etag.status();
  }
  if (st.ok() && S3Hooks().at) S3Hooks().at("before-complete");
  Result<std::string> done = st.ok() ? CompleteMultipart(bucket, key, upload_id, etags) : Result<std::string>(st);
  if (!done.ok()) (void)AbortMultipart(bucket, key, upload_id);
  return done;
}

}  // namespace fanout
