// util: small helpers shared by several modules (text, time, hashing).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fanout/status.h"
#include "fanout/value.h"

namespace fanout {

// Expands ${NAME}; an unset variable is an error naming it.
Result<std::string> ExpandEnv(const std::string& text);

// Types a plain YAML/CLI scalar: null, true/false, integer, float, else text.
Value InferScalar(const std::string& text);

// Splits SQL into statements at top-level semicolons, honouring quotes,
// comments and $tag$ dollar quotes. Drops empty statements. When `params` is
// given, collects every $name reference outside quotes and comments ("?" and
// "$1" are collected as "?" and "1").
std::vector<std::string> SplitStatements(const std::string& sql, std::vector<std::string>* params = nullptr);

// The identifiers in `sql` (lower-cased; quoted "identifiers" too), outside
// string literals and comments. Used to tell which inputs a transform reads.
std::vector<std::string> SqlWords(const std::string& sql);

// True when `name` is a safe single path component: [A-Za-z0-9._=+-]+, not "."
// or "..", at most 200 bytes.
bool IsSafePathComponent(const std::string& name);

// True when `path` is `dir` or inside it, judged on the text (resolve links
// first where they matter).
bool IsInsideOrSame(const std::string& path, const std::string& dir);

// This machine's name ("?" when it has none).
std::string HostName();
double NowSeconds();                     // unix time, sub-second
double ThreadCpuSeconds();               // CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID)
std::string FormatUtc(double unix_seconds);  // 2026-11-23T05:22:16.123Z

// Calls fn(0) .. fn(n - 1), on up to `width` threads at once (on the
// caller's alone when width <= 1); returns when every call has.
void ParallelFor(size_t n, int width, const std::function<void(size_t)>& fn);

// 128-bit xxh3 as 32 hex characters.
std::string HashHex(const std::string& data);

// The same hash over data given in pieces: Hex() of the pieces equals
// HashHex of them joined (a file read back in chunks, never whole in memory).
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;
  void Update(const std::string& piece);
  std::string Hex() const;

 private:
  void* state_;  // XXH3_state_t (xxhash.h stays out of this header)
};

}  // namespace fanout
