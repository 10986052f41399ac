#include "util.h"

#include <unistd.h>

#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <regex>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

namespace fanout {

Result<std::string> ExpandEnv(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "${") == 0) {
      size_t end = text.find('}', i + 2);
      if (end == std::string::npos) return Status::Invalid("unterminated ${ in '" + text + "'");
      std::string name = text.substr(i + 2, end - i - 2);
      const char* value = std::getenv(name.c_str());
      if (!value) return Status::Invalid("environment variable " + name + " is not set (export it or change the path)");
      out += value;
      i = end + 1;
    } else {
      out += text[i++];
    }
  }
  return out;
}

Value InferScalar(const std::string& text) {
  static const std::regex int_re(R"(^[-+]?[0-9]+$)");
  static const std::regex float_re(R"(^[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$)");
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return Value();
  if (text == "true" || text == "True" || text == "TRUE") return Value(true);
  if (text == "false" || text == "False" || text == "FALSE") return Value(false);
  if (std::regex_match(text, int_re)) {
    errno = 0;
    long long v = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return Value(static_cast<int64_t>(v));
  }
  if (std::regex_match(text, float_re)) return Value(std::strtod(text.c_str(), nullptr));
  return Value(text);
}

namespace {

// One past the quoted text opening at sql[i] ('...' or "...", where a doubled
// quote is part of the text), or the end of `sql` when it is not closed.
size_t QuotedEnd(const std::string& sql, size_t i) {
  const char quote = sql[i];
  size_t j = i + 1;
  while (j < sql.size()) {
    if (sql[j] == quote && j + 1 < sql.size() && sql[j + 1] == quote) {
      j += 2;
      continue;
    }
    if (sql[j] == quote) break;
    ++j;
  }
  return std::min(sql.size(), j + 1);
}

// One past the comment starting at sql[i] (-- to the end of the line, /* to
// */, or to the end of `sql`), or `i` when no comment starts there.
size_t CommentEnd(const std::string& sql, size_t i) {
  if (sql.compare(i, 2, "--") == 0) {
    size_t j = sql.find('\n', i);
    return j == std::string::npos ? sql.size() : j;
  }
  if (sql.compare(i, 2, "/*") == 0) {
    size_t j = sql.find("*/", i + 2);
    return j == std::string::npos ? sql.size() : j + 2;
  }
  return i;
}

}  // namespace

std::vector<std::string> SplitStatements(const std::string& sql, std::vector<std::string>* params) {
  std::vector<std::string> out;
  std::string cur;
  bool has_code = false;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t\r\n");
    size_t e = cur.find_last_not_of(" \t\r\n");
    if (has_code && b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
    has_code = false;
  };
  size_t i = 0, n = sql.size();
  auto copy_until = [&](size_t end) {  // copies sql[i, end) into cur
    cur.append(sql, i, end - i);
    i = end;
  };
  while (i < n) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      copy_until(QuotedEnd(sql, i));
      has_code = true;
    } else if (size_t end = CommentEnd(sql, i); end != i) {
      copy_until(end);
    } else if (c == '$') {
      size_t j = i + 1;
      while (j < n && (isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_')) ++j;
      if (j < n && sql[j] == '$' && !(j > i + 1 && isdigit(static_cast<unsigned char>(sql[i + 1])))) {
        std::string tag = sql.substr(i, j - i + 1);
        size_t close = sql.find(tag, j + 1);
        copy_until(close == std::string::npos ? n : close + tag.size());
      } else {
        if (params && j > i + 1) params->push_back(sql.substr(i + 1, j - i - 1));
        copy_until(j);
      }
      has_code = true;
    } else if (c == '?' && params) {
      params->push_back("?");
      cur += c;
      ++i;
      has_code = true;
    } else if (c == ';') {
      ++i;
      flush();
    } else {
      if (!isspace(static_cast<unsigned char>(c))) has_code = true;
      cur += c;
      ++i;
    }
  }
  flush();
  return out;
}

std::vector<std::string> SqlWords(const std::string& sql) {
  std::vector<std::string> out;
  auto lower = [](std::string w) {
    for (char& c : w) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    return w;
  };
  size_t i = 0, n = sql.size();
  while (i < n) {
    char c = sql[i];
    if (c == '\'') {
      size_t j = i + 1;
      while (j < n && !(sql[j] == '\'' && (j + 1 >= n || sql[j + 1] != '\''))) j += sql[j] == '\'' ? 2 : 1;
      i = j + 1;
    } else if (c == '"') {
      size_t j = sql.find('"', i + 1);
      if (j == std::string::npos) j = n;
      out.push_back(lower(sql.substr(i + 1, j - i - 1)));
      i = j + 1;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      size_t j = sql.find('\n', i);
      i = j == std::string::npos ? n : j;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      size_t j = sql.find("*/", i + 2);
      i = j == std::string::npos ? n : j + 2;
    } else if (isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < n && (isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_')) ++j;
      out.push_back(lower(sql.substr(i, j - i)));
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

bool IsSafePathComponent(const std::string& name) {
  static const std::regex re(R"(^[A-Za-z0-9._=+-]+$)");
  return !name.empty() && name.size() <= 200 && name != "." && name != ".." && std::regex_match(name, re);
}

bool IsInsideOrSame(const std::string& path, const std::string& dir) {
  auto rel = std::filesystem::path(path).lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

double ThreadCpuSeconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string FormatUtc(double unix_seconds) {
  time_t secs = static_cast<time_t>(unix_seconds);
  int millis = static_cast<int>((unix_seconds - static_cast<double>(secs)) * 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t len = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + len, sizeof buf - len, ".%03dZ", millis);
  return buf;
}

void ParallelFor(size_t n, int width, const std::function<void(size_t)>& fn) {
  const size_t threads = std::min(n, static_cast<size_t>(std::max(width, 1)));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr thrown;  // the first: rethrown on the caller's thread
  auto loop = [&] {
    try {
      for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!thrown) thrown = std::current_exception();
      next = n;  // the others stop after their current call
    }
  };
  std::vector<std::thread> pool;
  try {
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(loop);
  } catch (const std::system_error&) {
    // No more threads to be had: those started, and this one, do it all.
  }
  loop();
  for (std::thread& t : pool) t.join();
  if (thrown) std::rethrow_exception(thrown);
}

namespace {
std::string Hex128(XXH128_hash_t h) {
  char buf[33];
  snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
           static_cast<unsigned long long>(h.low64));
  return buf;
}
}  // namespace

std::string HashHex(const std::string& data) { return Hex128(XXH3_128bits(data.data(), data.size())); }

Xxh3Stream::Xxh3Stream() : state_(XXH3_createState()) { XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_)); }
Xxh3Stream::~Xxh3Stream() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Xxh3Stream::Update(const std::string& piece) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), piece.data(), piece.size());
}
std::string Xxh3Stream::Hex() const { return Hex128(XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_))); }

std::string HostName() {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace fanout
