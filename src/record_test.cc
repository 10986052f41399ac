// record: _SUCCESS and the run manifest read back as written, older files
// (no "format") still read, newer ones and damaged ones refused with a
// message saying what is wrong.
#include "fanout/record.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fanout {
namespace {

using Json = nlohmann::ordered_json;

Marker FullMarker() {
  Marker m;
  m.n = Value("région-2 \"q\"\\\n\t✓");
  m.run_id = "20261123T054917.123Z-e3d899";
  m.kind = "naïve 模型 🚀";
  m.rows = 9007199254740993;  // beyond a double's integers
  m.attempt = 3;
  m.started_at = "2026-11-23T05:49:17.123Z";
  m.committed_at = "2026-11-23T05:49:18.456Z";
  m.seconds = 1.3330000000000002;
  m.fingerprint = "0123456789abcdef0123456789abcdef";
  m.fingerprint_parts = {"s", "p", "i", "o", "t"};
  m.params = {{"n", m.n},
              {"scale", Value(1.5)},
              {"big", Value(int64_t{-9223372036854775807 - 1})},
              {"flag", Value(true)},
              {"none", Value()},
              {"list", Value(ValueList{Value(1), Value("two"), Value(3.25)})},
              {"map", Value(ValueMap{{"z", Value(1)}, {"a", Value(ValueList{})}})}};
  m.engine = "duckdb v1.4.4";
  m.bytes = 1234 + 5;
  m.files = {{"part-00000.parquet", 1234, std::string(32, 'a'), "", ""},
             {"part-00001.parquet", 5, std::string(32, 'b'), "", ""}};
  return m;
}

IterationReport Iteration(Value n, IterationStatus status) {
  IterationReport r;
  r.n = std::move(n);
  r.kind = "k";
  r.target = "iter_" + r.n.ToString();
  r.status = status;
  r.rows = 42;
  r.bytes = 1 << 20;
  r.files = 2;
  r.attempts = 2;
  r.started_at = 1795000000.123456;
  r.finished_at = 1795000001.654321;
  r.commit_seconds = 0.000123;
  r.fingerprint = "fp";
  return r;
}

Manifest FullManifest() {
  Manifest m;
  m.run_id = "20261123T054917.123Z-e3d899";
  m.job = "model «sequence»";
  m.out_dir = "/data/out dir/ü";
  m.started_at = "2026-11-23T05:49:17.123Z";
  m.finished_at = "2026-11-23T05:50:17.123Z";
  m.seconds = 60.000001;
  m.status = "failed";
  m.exit_code = 1;
  m.error = "engine: Binder Error: 列 \"x\" not found\nLINE 1: SELECT x\n               ^";
  m.max_workers = 4;
  m.threads = 2;
  m.memory_limit = "75%";
  m.host = "node-1";
  m.release = "0.1.0";
  m.iterations.push_back(Iteration(Value(2), IterationStatus::kCommitted));
  m.iterations.back().trace = {AttemptTrace{1, "committed", 3, 10.5, 10.75, 10.8, 11.25, 11.5, 11.6, 42, 1024, 1,
                                            0.125, "", "", ""}};
  IterationReport failed = Iteration(Value("β-7"), IterationStatus::kFailed);
  failed.error = "Conversion Error: «Could not convert» \x01 \"quoted\" \\ ✗";
  failed.trace = {AttemptTrace{1, "retried", 0, 1, 2, 3, 4, 0, 4.5, 0, 0, 0, 0.5, "IO Error: x", "transient I/O", ""},
                  AttemptTrace{2, "failed", 1, 5, 6, 7, 8, 0, 8.5, 0, 0, 0, 0.25, failed.error, "", "SELECT\n\t1"}};
  failed.run_reason = "changed: params, inputs";
  failed.s3 = S3Io{7, 2, 1, 4096, 512};  // an S3 output's counters
  m.iterations.push_back(failed);
  IterationReport skipped = Iteration(Value(2.5), IterationStatus::kSkipped);
  skipped.skip_reason = "up to date (--resume)";
  m.iterations.push_back(skipped);
  IterationReport pending = Iteration(Value(ValueList{Value(1), Value("a")}), IterationStatus::kPending);
  pending.started_at = pending.finished_at = pending.commit_seconds = 0;
  m.iterations.push_back(pending);
  m.iterations.push_back(Iteration(Value(-7), IterationStatus::kCancelled));
  m.counts = Manifest::CountsOf(m.iterations, false);
  return m;
}

// A manifest file as the release before "format" wrote it.
constexpr char kManifestWithoutFormat[] = R"json({
  "fanout_version": 1,
  "run_id": "20260101T000000.000Z-000001",
  "job": "j",
  "out_dir": "out",
  "started_at": "2026-01-01T00:00:00.000Z",
  "finished_at": "2026-01-01T00:00:01.500Z",
  "seconds": 1.5,
  "status": "succeeded",
  "exit_code": 0,
  "max_workers": 2,
  "threads": 1,
  "counts": {"total": 2, "committed": 1, "failed": 0, "skipped": 1, "cancelled": 0},
  "iterations": [
    {"n": 1, "kind": "", "target": "iter_1", "status": "committed", "rows": 10, "bytes": 300, "files": 1,
     "attempts": 1, "started_at": "2026-01-01T00:00:00.100Z", "finished_at": "2026-01-01T00:00:01.100Z",
     "start_unix": 1767225600.1, "end_unix": 1767225601.1, "seconds": 1.0, "commit_seconds": 0.25,
     "error": null, "fingerprint": "f1"},
    {"n": "two", "kind": "", "target": "iter_two", "status": "skipped", "rows": 0, "bytes": 0, "files": 0,
     "attempts": 0, "started_at": null, "finished_at": null, "start_unix": 0, "end_unix": 0, "seconds": 0,
     "commit_seconds": 0, "error": null, "skip_reason": "up to date (--resume)", "fingerprint": "f2"}
  ]
})json";

// A _SUCCESS as the release before "format" wrote it.
constexpr char kMarkerWithoutFormat[] = R"({
  "fanout_version": 1,
  "run_id": "r1",
  "n": 3,
  "kind": "",
  "rows": 7,
  "attempt": 1,
  "started_at": "2026-01-01T00:00:00.000Z",
  "committed_at": "2026-01-01T00:00:00.010Z",
  "seconds": 0.01,
  "fingerprint": "fp",
  "fingerprint_parts": {"sql": "a", "params": "b", "inputs": "c", "output": "d", "settings": "e"},
  "params": {"n": 3, "scale": 1.5},
  "engine": "duckdb v1.4.4",
  "bytes": 300,
  "files": [{"name": "part-00000.parquet", "bytes": 300, "xxh3": "x"}]
})";

void ExpectInvalid(const Status& st, const std::string& part) {
  EXPECT_EQ(st.code(), Status::Code::kInvalid) << st.ToString();
  EXPECT_NE(st.message().find(part), std::string::npos) << st.message();
}

TEST(RecordTest, MarkerRoundTripsEveryField) {
  Marker m = FullMarker();
  auto back = Marker::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(back->ToJson(), m.ToJson());
  Json j = Json::parse(m.ToJson());
  EXPECT_EQ(j["format"], 1);
  EXPECT_EQ(j["fanout_version"], 1);
  EXPECT_EQ(j["n"], "région-2 \"q\"\\\n\t✓");
  EXPECT_EQ(j["rows"], 9007199254740993);
  EXPECT_EQ(j["files"][1]["name"], "part-00001.parquet");
  EXPECT_EQ(j["fingerprint_parts"]["settings"], "t");
  // Params keep their map order and types.
  EXPECT_EQ(j["params"]["map"].dump(), R"({"z":1,"a":[]})");
}

// An object store's marker lists each file's key and ETag; a filesystem's
// marker has neither field (its JSON is unchanged).
TEST(RecordTest, MarkerFileKeyAndEtagRoundTripOnlyWhenSet) {
  Marker m = FullMarker();
  EXPECT_EQ(Json::parse(m.ToJson())["files"][0].count("key"), 0u);
  m.files[0].key = "out/iter_1/.a-run-1/part-00000.parquet";
  m.files[0].etag = "\"9b2cf535f27731c974343645a3985328\"";
  auto back = Marker::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, m);
}

TEST(RecordTest, MarkerNOfEveryScalarKindRoundTrips) {
  for (const Value& n : {Value(0), Value(-12), Value(2.0), Value(0.1), Value("007"), Value(""), Value(true),
                         Value(ValueMap{{"k", Value("v")}})}) {
    Marker m = FullMarker();
    m.n = n;
    auto back = Marker::FromJson(m.ToJson());
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->n, n) << m.ToJson();
  }
  // "007" stays text and 2.0 a double: the output name and SQL type depend on it.
  Marker m = FullMarker();
  m.n = Value("007");
  EXPECT_TRUE(std::holds_alternative<std::string>(Marker::FromJson(m.ToJson())->n.v));
  m.n = Value(2.0);
  EXPECT_TRUE(std::holds_alternative<double>(Marker::FromJson(m.ToJson())->n.v));
}

TEST(RecordTest, ManifestRoundTripsEveryField) {
  Manifest m = FullManifest();
  auto back = Manifest::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(back->ToJson(), m.ToJson());
  Json j = Json::parse(m.ToJson());
  EXPECT_EQ(j["format"], 1);
  EXPECT_EQ(j["counts"]["failed"], 1);
  EXPECT_FALSE(j["counts"].contains("pending"));
  EXPECT_EQ(j["iterations"][1]["error"], "Conversion Error: «Could not convert» \x01 \"quoted\" \\ ✗");
  EXPECT_EQ(j["iterations"][1]["n"], "β-7");
  EXPECT_TRUE(j["iterations"][3]["started_at"].is_null());
  EXPECT_EQ(j["iterations"][0]["started_at"], "2026-11-18T11:06:40.123Z");
  EXPECT_NEAR(j["iterations"][0]["seconds"].get<double>(), 1.530865, 1e-6);
}

// "s3" (an S3 output's requests per iteration) is optional: manifests of
// local outputs and older ones have none; written only when there is one.
TEST(RecordTest, S3CountersAreOptionalAndChecked) {
  auto old = Manifest::FromJson(kManifestWithoutFormat);
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_FALSE(old->iterations[0].s3.has_value());
  Manifest m = FullManifest();
  Json j = Json::parse(m.ToJson());
  EXPECT_FALSE(j["iterations"][0].contains("s3"));
  EXPECT_EQ(j["iterations"][1]["s3"]["requests"], 7);
  EXPECT_EQ(j["iterations"][1]["s3"]["throttles"], 1);
  j["iterations"][1]["s3"]["retries"] = -1;
  ExpectInvalid(Manifest::FromJson(j.dump()).status(), "iterations[1].s3.retries");
  j["iterations"][1]["s3"] = "many";
  ExpectInvalid(Manifest::FromJson(j.dump()).status(), "s3");
}

TEST(RecordTest, RunningManifestRoundTrips) {
  Manifest m = FullManifest();
  m.status = "running";
  m.finished_at = "";
  m.exit_code.reset();
  m.updated_at = "2026-11-23T05:49:30.000Z";
  m.pid = 4242;
  m.error = "";
  m.counts = Manifest::CountsOf(m.iterations, true);
  Json j = Json::parse(m.ToJson());
  EXPECT_TRUE(j["finished_at"].is_null());
  EXPECT_TRUE(j["exit_code"].is_null());
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(j["counts"]["pending"], 1);
  EXPECT_FALSE(j.contains("error"));
  auto back = Manifest::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, m);
}

TEST(RecordTest, StatusFieldsAndAnEmptyRunRoundTrip) {
  Manifest m;
  m.run_id = "r";
  m.status = "killed";
  m.note = "the run did not finish";
  m.verify = std::vector<ManifestCheck>{{"iter_1", "mismatch", "part-00000.parquet: missing"}, {"x", "ignored", ""}};
  auto back = Manifest::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, m);
  EXPECT_TRUE(Json::parse(m.ToJson())["iterations"].empty());
}

// The serialised manifest is the text one dump(2) of the whole document
// would give (it is written one iteration at a time).
TEST(RecordTest, ManifestTextIsOneIndentedDocument) {
  Manifest m = FullManifest();
  for (IterationReport& it : m.iterations) it.trace.clear();
  std::string text = m.ToJson();
  EXPECT_EQ(text, Json::parse(text).dump(2, ' ', false) + "\n");
}

TEST(RecordTest, EachAttemptOfATraceIsOneLine) {
  Manifest m = FullManifest();
  std::string text = m.ToJson();
  EXPECT_NE(text.find("\n        {\"attempt\":1,\"status\":\"retried\",\"worker\":0,\"queued\":1.0,"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\"retry_reason\":\"transient I/O\"},\n        {\"attempt\":2,"), std::string::npos) << text;
  EXPECT_EQ(Json::parse(text).dump(2), Json::parse(Json::parse(text).dump()).dump(2)) << "still one JSON document";
}

TEST(RecordTest, FilesWithoutFormatAreFormatOne) {
  auto marker = Marker::FromJson(kMarkerWithoutFormat);
  ASSERT_TRUE(marker.ok()) << marker.status().message();
  EXPECT_EQ(marker->n, Value(3));
  EXPECT_EQ(marker->fingerprint_parts.settings, "e");
  EXPECT_EQ(marker->files, (std::vector<MarkerFile>{{"part-00000.parquet", 300, "x", "", ""}}));
  EXPECT_EQ(marker->params.at("scale"), Value(1.5));

  auto manifest = Manifest::FromJson(kManifestWithoutFormat);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->status, "succeeded");
  EXPECT_EQ(manifest->exit_code, 0);
  ASSERT_EQ(manifest->iterations.size(), 2u);
  EXPECT_EQ(manifest->iterations[0].commit_seconds, 0.25);
  EXPECT_NEAR(manifest->iterations[0].seconds(), 1.0, 1e-6);
  EXPECT_EQ(manifest->iterations[1].n, Value("two"));
  EXPECT_EQ(manifest->iterations[1].status, IterationStatus::kSkipped);
  EXPECT_EQ(manifest->counts.skipped, 1);
  EXPECT_EQ(RecordFormatOf(kManifestWithoutFormat), 1);
}

// The smallest marker fanout takes as its own (what commit tests and
// earlier outputs hold): the other fields are optional.
TEST(RecordTest, MinimalMarkerIsRead) {
  auto m = Marker::FromJson(R"({"fanout_version": 1, "run_id": "old", "fingerprint": "f",
                                "files": [{"name": "part-00000.parquet", "bytes": 3, "xxh3": "x"}]})");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->run_id, "old");
  EXPECT_TRUE(m->n.is_null());
  EXPECT_EQ(m->fingerprint_parts, FingerprintParts{});
}

TEST(RecordTest, NewerFormatsAreRefusedSayingToUpgrade) {
  Json marker = Json::parse(FullMarker().ToJson());
  marker["format"] = 2;
  auto m = Marker::FromJson(marker.dump());
  ExpectInvalid(m.status(),
                "_SUCCESS was written by a newer fanout (format 2; this one reads format 1): upgrade fanout");
  EXPECT_EQ(RecordFormatOf(marker.dump()), 2);

  Json manifest = Json::parse(FullManifest().ToJson());
  manifest["format"] = 7;
  manifest["iterations"] = "whatever format 7 holds";
  ExpectInvalid(Manifest::FromJson(manifest.dump()).status(),
                "run manifest was written by a newer fanout (format 7; this one reads format 1): upgrade fanout");
}

TEST(RecordTest, MalformedTextIsAnErrorNotACrash) {
  const std::string marker = FullMarker().ToJson(), manifest = FullManifest().ToJson();
  for (size_t cut : {size_t{0}, size_t{1}, marker.size() / 2, marker.size() - 3})
    ExpectInvalid(Marker::FromJson(marker.substr(0, cut)).status(), "_SUCCESS is not valid JSON");
  for (size_t cut : {size_t{1}, manifest.size() / 3, manifest.size() - 4})
    ExpectInvalid(Manifest::FromJson(manifest.substr(0, cut)).status(), "run manifest is not valid JSON");
  ExpectInvalid(Manifest::FromJson("[1,2,3]").status(), "run manifest is an array, not a JSON object");
  ExpectInvalid(Marker::FromJson("\"x\"").status(), "_SUCCESS is a string, not a JSON object");
  ExpectInvalid(Marker::FromJson("{\"format\": \"1\"}").status(), "\"format\" is \"1\", not a positive integer");
  ExpectInvalid(Marker::FromJson("{\"format\": 0}").status(), "not a positive integer");
  ExpectInvalid(Marker::FromJson("{\"a\": 1e999}").status(), "not valid JSON");
  EXPECT_EQ(RecordFormatOf("{"), 0);
  // A value nested a million deep is refused, not a stack overflow.
  std::string deep = R"({"fanout_version": 1, "run_id": "r", "fingerprint": "f", )"
                     R"("files": [{"name": "p", "bytes": 1, "xxh3": "x"}], "n": )" +
                     std::string(1000000, '[') + std::string(1000000, ']') + "}";
  ExpectInvalid(Marker::FromJson(deep).status(), "levels");
}

// Each case: one field of a valid document replaced; the message names it.
TEST(RecordTest, WrongTypesAreNamed) {
  const Json marker = Json::parse(FullMarker().ToJson());
  const std::vector<std::tuple<std::string, Json, std::string>> marker_cases = {
      {"rows", "7", "_SUCCESS: rows is a string, not an integer"},
      {"rows", 1.5, "rows is a number, not an integer"},
      {"run_id", nullptr, "run_id is null, not a string"},
      {"fingerprint", 5, "fingerprint is an integer, not a string"},
      {"fanout_version", 2, "fanout_version is 2, not 1"},
      {"files", Json::array(), "files is empty"},
      {"files", Json::object(), "files is an object, not an array"},
      {"files", Json::array({{{"name", "../x"}, {"bytes", 1}, {"xxh3", "x"}}}), "\"../x\" is not a part file's name"},
      {"files", Json::array({{{"name", "_SUCCESS"}, {"bytes", 1}, {"xxh3", "x"}}}), "not a part file's name"},
      {"files", Json::array({{{"name", "p"}, {"bytes", -1}, {"xxh3", "x"}}}), "files[0].bytes is -1, less than 0"},
      {"files", Json::array({{{"name", "p"}, {"bytes", 1}}}), "files[0].xxh3 is missing"},
      {"files", Json::array({7}), "files[0] is an integer, not an object"},
      {"fingerprint_parts", {{"sql", 1}}, "fingerprint_parts.sql is an integer, not a string"},
      {"params", {{"x", 18446744073709551615ULL}}, "params.x is an integer beyond 64 bits"},
      {"attempt", 1LL << 40, "attempt is 1099511627776, beyond 32 bits"},
  };
  for (const auto& [key, value, message] : marker_cases) {
    Json j = marker;
    j[key] = value;
    ExpectInvalid(Marker::FromJson(j.dump()).status(), message);
  }
  Json missing = marker;
  missing.erase("fanout_version");
  ExpectInvalid(Marker::FromJson(missing.dump()).status(), "fanout_version is missing");

  const Json manifest = Json::parse(FullManifest().ToJson());
  const std::vector<std::tuple<std::string, Json, std::string>> manifest_cases = {
      {"seconds", "x", "run manifest: seconds is a string, not a number"},
      {"exit_code", "0", "exit_code is a string, not an integer"},
      {"counts", {{"committed", "1"}}, "counts.committed is a string, not an integer"},
      {"iterations",
       {{{"n", 1}, {"target", "iter_1"}, {"status", "done"}}},
       "iterations[0].status is \"done\", not pending, committed, failed, skipped or cancelled"},
      {"iterations",
       {{{"n", 1}, {"target", "iter_1"}, {"status", "committed"}, {"seconds", "x"}, {"rows", "1"}}},
       "iterations[0].rows is a string, not an integer"},
      {"iterations", {{{"target", "iter_1"}, {"status", "committed"}}}, "iterations[0].n is missing"},
      {"iterations", Json::array({7}), "iterations[0] is an integer, not an object"},
      {"iterations", Json::object(), "iterations is an object, not an array"},
      {"verify", {{{"target", 1}}}, "verify[0].target is an integer, not a string"},
  };
  for (const auto& [key, value, message] : manifest_cases) {
    Json j = manifest;
    j[key] = value;
    ExpectInvalid(Manifest::FromJson(j.dump()).status(), message);
  }
}

// A manifest without counts (hand-written) gets them from its iterations.
TEST(RecordTest, CountsDefaultToTheIterations) {
  Json j = Json::parse(kManifestWithoutFormat);
  j.erase("counts");
  auto m = Manifest::FromJson(j.dump());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->counts, (ManifestCounts{2, 1, 0, 1, 0, std::nullopt}));
}

// An error message with bytes that are not UTF-8 (an engine quoting a
// Latin-1 file) is written, as U+FFFD, instead of failing the write.
TEST(RecordTest, InvalidUtf8IsReplacedNotThrown) {
  Manifest m = FullManifest();
  m.iterations[1].error = "caf\xe9 au lait";
  std::string text = m.ToJson();
  auto back = Manifest::FromJson(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->iterations[1].error, "caf\xef\xbf\xbd au lait");
}

}  // namespace
}  // namespace fanout

namespace fanout {
namespace {

TEST(RecordTest, ShardManifestRoundTripsAndABadShardIsNamed) {
  Manifest m;
  m.run_id = "slurm-77";
  m.status = "succeeded";
  m.shard = ManifestShard{2, 3, 9, "d1", "node-b"};
  IterationReport it;
  it.n = Value(4);
  it.target = "iter_4";
  it.status = IterationStatus::kCommitted;
  it.shard = 2;
  it.host = "node-b";
  m.iterations = {it};
  m.counts = Manifest::CountsOf(m.iterations, false);
  auto back = Manifest::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(ShardManifestName("slurm-77", 2, 3), "slurm-77.shard-2-of-3.json");
  std::string bad = m.ToJson();
  bad.replace(bad.find("\"index\": 2"), 10, "\"index\": 4");
  auto refused = Manifest::FromJson(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("shard.index"), std::string::npos) << refused.status().message();
}

}  // namespace
}  // namespace fanout
