// fanout_gen_data: writes the benchmark inputs, deterministically (splitmix64,
// fixed seed), into DIR:
//   transactions.csv  txn_id, customer_id, amount, txn_date, category
//   customers.csv     customer_id, region, segment, signup_date, credit_score, is_active  (1% of transactions)
//   model_params.csv  n, scale, min_amount, kind, lookback_days, weight                  (n = 1..64)
// A stamp file records the row counts and file sizes; when it matches, nothing
// is written again.
//
//   fanout_gen_data --size small|medium|large --out DIR
//   fanout_gen_data --rows N --out DIR
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSeed = 0x5eed'f00d'2026'0001ULL;
constexpr int kModelParams = 64;
constexpr int kDays = 731;  // 2024-01-01 .. 2025-12-31
constexpr const char* kStampName = ".stamp";
constexpr const char* kFormatVersion = "fanout-bench-data v1";

const char* const kCategories[] = {"grocery", "fuel",   "travel",    "dining", "electronics", "clothing",
                                   "health",  "utilities", "entertainment", "home", "education", "other"};
const char* const kRegions[] = {"north", "south", "east", "west", "central"};
const char* const kSegments[] = {"retail", "smb", "enterprise", "public"};
const char* const kKinds[] = {"linear", "log", "flat"};

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  uint64_t state_;
};

template <size_t N>
const char* Pick(SplitMix64& rng, const char* const (&names)[N]) {
  return names[rng.Below(N)];
}

// Buffered CSV writer into `path`.tmp; Commit() renames it into place.
class CsvWriter {
 public:
  explicit CsvWriter(std::string path) : path_(std::move(path)), file_(std::fopen((path_ + ".tmp").c_str(), "wb")) {
    if (!file_) Die("cannot write " + path_ + ".tmp");
    buf_.reserve(kFlushAt + 4096);
  }
  ~CsvWriter() {
    if (file_) std::fclose(file_);
  }
  CsvWriter& Text(const char* s) { return Sep(), buf_.append(s), *this; }
  CsvWriter& Int(int64_t v) {
    Sep();
    char tmp[24];
    auto [end, ec] = std::to_chars(tmp, tmp + sizeof tmp, v);
    buf_.append(tmp, end);
    return *this;
  }
  // A fixed-point number with two decimals, e.g. cents 12345 -> 123.45.
  CsvWriter& Cents(int64_t cents) {
    Int(cents / 100);
    char frac[4] = {'.', static_cast<char>('0' + cents % 100 / 10), static_cast<char>('0' + cents % 10), 0};
    buf_.append(frac);
    return *this;
  }
  void EndRow() {
    buf_.push_back('\n');
    first_ = true;
    if (buf_.size() >= kFlushAt) Flush();
  }
  int64_t Commit() {
    Flush();
    if (std::fclose(file_) != 0) Die("cannot write " + path_ + ".tmp");
    file_ = nullptr;
    fs::rename(path_ + ".tmp", path_);
    return static_cast<int64_t>(fs::file_size(path_));
  }

  [[noreturn]] static void Die(const std::string& message) {
    std::fprintf(stderr, "fanout_gen_data: %s\n", message.c_str());
    std::exit(1);
  }

 private:
  static constexpr size_t kFlushAt = 1 << 20;
  void Sep() {
    if (!first_) buf_.push_back(',');
    first_ = false;
  }
  void Flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) Die("short write: " + path_);
    buf_.clear();
  }
  std::string path_;
  FILE* file_;
  std::string buf_;
  bool first_ = true;
};

// "YYYY-MM-DD" for 2024-01-01 + i, i in [0, kDays).
std::vector<std::string> DateStrings() {
  using namespace std::chrono;
  std::vector<std::string> out;
  sys_days first = year{2024} / January / 1;
  for (int i = 0; i < kDays; ++i) {
    year_month_day ymd{first + days{i}};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    out.emplace_back(buf);
  }
  return out;
}

int64_t WriteTransactions(const std::string& path, int64_t rows, int64_t customers, SplitMix64& rng,
                          const std::vector<std::string>& dates) {
  CsvWriter w(path);
  w.Text("txn_id").Text("customer_id").Text("amount").Text("txn_date").Text("category").EndRow();
  for (int64_t i = 1; i <= rows; ++i) {
    // Amounts: exponential with a mean of 80.00, at least 0.01.
    auto cents = static_cast<int64_t>(-std::log(1.0 - rng.Unit()) * 8000.0) + 1;
    w.Int(i).Int(1 + static_cast<int64_t>(rng.Below(customers))).Cents(cents);
    w.Text(dates[rng.Below(kDays)].c_str()).Text(Pick(rng, kCategories)).EndRow();
  }
  return w.Commit();
}

int64_t WriteCustomers(const std::string& path, int64_t customers, SplitMix64& rng,
                       const std::vector<std::string>& dates) {
  CsvWriter w(path);
  w.Text("customer_id").Text("region").Text("segment").Text("signup_date").Text("credit_score").Text("is_active");
  w.EndRow();
  for (int64_t i = 1; i <= customers; ++i) {
    w.Int(i).Text(Pick(rng, kRegions)).Text(Pick(rng, kSegments)).Text(dates[rng.Below(kDays)].c_str());
    w.Int(300 + static_cast<int64_t>(rng.Below(551))).Text(rng.Below(10) < 9 ? "true" : "false").EndRow();
  }
  return w.Commit();
}

int64_t WriteModelParams(const std::string& path) {
  CsvWriter w(path);
  w.Text("n").Text("scale").Text("min_amount").Text("kind").Text("lookback_days").Text("weight").EndRow();
  for (int n = 1; n <= kModelParams; ++n) {
    w.Int(n).Cents(100 + (n % 7) * 25).Cents((n % 5) * 500).Text(kKinds[n % 3]);
    w.Int(30 + 11 * n).Cents(50 + (n * 37) % 150).EndRow();
  }
  return w.Commit();
}

struct Sizes {
  int64_t transactions = 0, customers = 0, model_params = 0;
};

std::string StampText(int64_t rows, int64_t customers, const Sizes& bytes) {
  std::ostringstream s;
  s << kFormatVersion << " seed=" << kSeed << " transactions=" << rows << " customers=" << customers
    << " model_params=" << kModelParams << " bytes=" << bytes.transactions << "," << bytes.customers << ","
    << bytes.model_params << "\n";
  return s.str();
}

// The stamp as it would be for the files now in `dir` (sizes from stat).
std::string CurrentStamp(const fs::path& dir, int64_t rows, int64_t customers) {
  std::error_code ec;
  Sizes s{static_cast<int64_t>(fs::file_size(dir / "transactions.csv", ec)),
          static_cast<int64_t>(fs::file_size(dir / "customers.csv", ec)),
          static_cast<int64_t>(fs::file_size(dir / "model_params.csv", ec))};
  return ec ? "" : StampText(rows, customers, s);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int64_t RowsForSize(const std::string& size) {
  if (size == "small") return 200'000;
  if (size == "medium") return 2'000'000;
  if (size == "large") return 10'000'000;
  CsvWriter::Die("unknown --size '" + size + "' (small | medium | large)");
}

int Usage() {
  std::fprintf(stderr, "usage: fanout_gen_data (--size small|medium|large | --rows N) --out DIR\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 0;
  std::string out;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--size") {
      rows = RowsForSize(value);
    } else if (flag == "--rows") {
      rows = std::atoll(value.c_str());
    } else if (flag == "--out") {
      out = value;
    } else {
      return Usage();
    }
  }
  if (rows < 100 || out.empty() || argc % 2 == 0) return Usage();
  int64_t customers = rows / 100;
  fs::path dir(out);
  fs::create_directories(dir);
  std::string stamp = ReadFile(dir / kStampName);
  if (!stamp.empty() && stamp == CurrentStamp(dir, rows, customers)) {
    std::fprintf(stderr, "fanout_gen_data: %s is up to date (%lld transactions)\n", out.c_str(),
                 static_cast<long long>(rows));
    return 0;
  }
  fs::remove(dir / kStampName);
  auto started = std::chrono::steady_clock::now();
  SplitMix64 rng(kSeed);
  std::vector<std::string> dates = DateStrings();
  Sizes bytes;
  bytes.customers = WriteCustomers((dir / "customers.csv").string(), customers, rng, dates);
  bytes.transactions = WriteTransactions((dir / "transactions.csv").string(), rows, customers, rng, dates);
  bytes.model_params = WriteModelParams((dir / "model_params.csv").string());
  std::ofstream(dir / kStampName) << StampText(rows, customers, bytes);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "fanout_gen_data: wrote %lld transactions, %lld customers, %d model params to %s in %.1fs\n",
               static_cast<long long>(rows), static_cast<long long>(customers), kModelParams, out.c_str(), seconds);
  return 0;
}
