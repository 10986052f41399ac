#include <gtest/gtest.h>

#include "temp_dir.h"

#include <filesystem>
#include <fstream>

#include "fanout/job_spec.h"

namespace fanout {
namespace {

class SpecTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    Write("data.csv", "id,x\n1,2\n");
  }
  Result<JobSpec> Parse(const std::string& yaml, std::vector<std::string> sets = {}) {
    return ParseJobSpec(yaml, dir_ + "/job.yaml", sets);
  }
  std::string Error(const std::string& yaml) {
    auto r = Parse(yaml);
    EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
    return r.ok() ? "" : r.status().message();
  }
};

TEST_F(SpecTest, FullJobWithDefaults) {
  Write("p.json", R"({"min_amount": 5.0, "scale": 1.0})");
  auto spec = Parse(R"(
inputs:
  t: data.csv
params:
  include: p.json
  scale: 1.5
  regions: [north, south]
  cfg: {a: 1, b: "2"}
sequence: [2, 3, "x1"]
transform: SELECT $n
overrides:
  3: {scale: 2.0}
)");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->inputs[0].name, "t");
  EXPECT_EQ(spec->inputs[0].format, "csv");
  EXPECT_EQ(spec->inputs[0].path, dir_ + "/data.csv");
  EXPECT_EQ(spec->params.at("scale"), Value(1.5));       // inline wins over include
  EXPECT_EQ(spec->params.at("min_amount"), Value(5.0));  // from include
  EXPECT_EQ(spec->params.at("regions"), Value(ValueList{Value("north"), Value("south")}));
  EXPECT_EQ(spec->params.at("cfg"), Value(ValueMap{{"a", Value(1)}, {"b", Value("2")}}));  // quoted stays text
  ASSERT_EQ(spec->sequence.items.size(), 3u);
  EXPECT_EQ(spec->sequence.items[2], Value("x1"));
  EXPECT_EQ(spec->overrides.at("3").at("scale"), Value(2.0));
  EXPECT_EQ(spec->output.dir, dir_ + "/out");
  EXPECT_EQ(spec->output.format, "parquet");
  EXPECT_EQ(spec->output.mode, OutputSpec::Mode::kOverwrite);
  EXPECT_EQ(spec->run.max_workers, 0);
  EXPECT_DOUBLE_EQ(spec->run.timeout_seconds, 1800);
  EXPECT_FALSE(spec->run.stop_on_failure);
}

TEST_F(SpecTest, TransformFromFileAndRunSection) {
  Write("t.sql", "SELECT $n AS n;");
  auto spec = Parse(R"(
sequence: {range: [1, 64]}
transform: t.sql
run: {max_workers: 4, threads: auto, retries: 2, timeout: 90s, on_failure: stop, memory_limit: 4GB}
output: {dir: /tmp/x, format: csv, mode: skip_existing, max_file_size: 256MB}
)");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->transform->sql, "SELECT $n AS n;");
  EXPECT_EQ(spec->transform->source, dir_ + "/t.sql");
  EXPECT_EQ(spec->sequence.kind, SequenceSpec::Kind::kRange);
  EXPECT_EQ(spec->sequence.last, 64);
  EXPECT_EQ(spec->run.max_workers, 4);
  EXPECT_EQ(spec->run.retries, 2);
  EXPECT_DOUBLE_EQ(spec->run.timeout_seconds, 90);
  EXPECT_TRUE(spec->run.stop_on_failure);
  EXPECT_EQ(spec->output.compression, "none");
  EXPECT_EQ(spec->output.max_file_bytes, 256LL << 20);
}

// Params of every type, for the --set tests.
constexpr const char* kTypedParams =
    "sequence: [1]\ntransform: SELECT 1\n"
    "params: {scale: 1.0, k: 3, on: true, region: north, regions: [a, b], cfg: {a: 1}, free: null}\n";

TEST_F(SpecTest, SetKeepsTheParamsType) {
  auto spec = Parse(kTypedParams, {"scale=3", "k=-4", "on=false", "region=2", "regions=[c]", "cfg={a: 2, b: x}",
                                   "free=[1, 2]"});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->params.at("scale"), Value(3.0));  // an integer widens to the param's double
  EXPECT_EQ(spec->params.at("k"), Value(-4));
  EXPECT_EQ(spec->params.at("on"), Value(false));
  EXPECT_EQ(spec->params.at("region"), Value("2"));  // a text param takes the raw text
  EXPECT_EQ(spec->params.at("regions"), Value(ValueList{Value("c")}));
  EXPECT_EQ(spec->params.at("cfg"), Value(ValueMap{{"a", Value(2)}, {"b", Value("x")}}));
  EXPECT_EQ(spec->params.at("free"), Value(ValueList{Value(1), Value(2)}));  // null in the job: any value

  spec = Parse(kTypedParams, {"scale=2.5", "region=a: b #c", "free=7"});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->params.at("scale"), Value(2.5));
  EXPECT_EQ(spec->params.at("region"), Value("a: b #c"));
  EXPECT_EQ(spec->params.at("free"), Value(7));

  // One YAML quoted scalar is unquoted: "" is how to give an empty string.
  spec = Parse(kTypedParams, {"region=\"\""});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->params.at("region"), Value(""));
  spec = Parse(kTypedParams, {"region='x y'"});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->params.at("region"), Value("x y"));
}

TEST_F(SpecTest, SetSetsParamsFromIncludeFiles) {
  Write("p.yaml", "min_amount: 5\n");
  auto spec = Parse("sequence: [1]\ntransform: SELECT 1\nparams: {include: p.yaml}\n", {"min_amount=7"});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->params.at("min_amount"), Value(7));
}

TEST_F(SpecTest, SetRejectsWhatItCannotSet) {
  auto error = [&](std::vector<std::string> sets) {
    auto r = Parse(kTypedParams, sets);
    EXPECT_FALSE(r.ok()) << "expected an error for --set " << sets.back();
    return r.ok() ? "" : r.status().message();
  };
  std::string e = error({"scael=2"});
  EXPECT_NE(e.find("--set scael=2: unknown param 'scael'"), std::string::npos) << e;
  EXPECT_NE(e.find("the job's params: cfg, free, k, on, region, regions, scale"), std::string::npos) << e;
  EXPECT_NE(e.find("under params: in the job file"), std::string::npos) << e;
  e = error({"Scale=2"});
  EXPECT_NE(e.find("--set Scale=2: unknown param 'Scale': the job's param is 'scale'"), std::string::npos) << e;
  EXPECT_NE(Parse("sequence: [1]\ntransform: SELECT 1\n", {"x=1"}).status().message().find("the job has no params"),
            std::string::npos);

  e = error({"k="});
  EXPECT_NE(e.find("--set k=: the value is empty; give a value ('k' is 3 in the job)"), std::string::npos) << e;
  EXPECT_NE(e.find("--set 'k=\"\"'"), std::string::npos) << e;
  e = error({"k=1", "scale=2", "k=2"});
  EXPECT_NE(e.find("'k' is set twice (--set k=1 and --set k=2)"), std::string::npos) << e;
  EXPECT_NE(error({"k"}).find("--set k: expected name=value"), std::string::npos);
  for (std::string reserved : {"n", "kind", "N", "Kind"}) {
    e = error({reserved + "=3"});
    EXPECT_NE(e.find("--set " + reserved + "=3: '" + reserved + "' cannot be set: $n and $kind are bound by fanout"),
              std::string::npos)
        << e;
  }

  // The value keeps the param's type, and the message says which and why.
  e = error({"scale=abc"});
  EXPECT_NE(e.find("--set scale=abc: 'scale' is a number, so the value must be an integer or a decimal number (it is "
                   "1.0 in the job), got the text 'abc'"),
            std::string::npos)
      << e;
  e = error({"k=2x"});
  EXPECT_NE(e.find("--set k=2x: 'k' is an integer, so the value must be an integer (it is 3 in the job), got the "
                   "text '2x'"),
            std::string::npos)
      << e;
  EXPECT_NE(error({"k=2.5"}).find("got the number 2.5"), std::string::npos);
  EXPECT_NE(error({"k=\"2\""}).find("got the text '2'"), std::string::npos);
  EXPECT_NE(error({"k=null"}).find("got null"), std::string::npos);
  EXPECT_NE(error({"k=99999999999999999999"}).find("'k' is an integer"), std::string::npos);
  EXPECT_NE(error({"on=yes"}).find("'on' is a boolean, so the value must be true or false"), std::string::npos);
  EXPECT_NE(error({"on=1"}).find("got the integer 1"), std::string::npos);
  EXPECT_NE(error({"regions=a"}).find("'regions' is a list, so the value must be a YAML list"), std::string::npos);
  EXPECT_NE(error({"cfg=[1]"}).find("'cfg' is a map, so the value must be a YAML map"), std::string::npos);
  EXPECT_NE(error({"cfg={a: 1, a: 2}"}).find("duplicate key 'a'"), std::string::npos);
  EXPECT_NE(error({"regions=[a"}).find("--set regions=[a: the value is not valid YAML"), std::string::npos);
}

TEST_F(SpecTest, ErrorsNameLineAndColumn) {
  EXPECT_NE(Error("sequence: [1]\ntransform: SELECT 1\nrun:\n  max_workers: many\n")
                .find("job.yaml:4:16: run.max_workers must be a positive integer or 'auto', got 'many'"),
            std::string::npos);
  EXPECT_NE(Error("sequence: [1]\ntransform: SELECT 1\nbogus: 1\n").find("job.yaml:3:1: unknown key 'bogus'"),
            std::string::npos);
  EXPECT_NE(Error("sequence: [1\ntransform: x\n").find("YAML syntax error"), std::string::npos);
  EXPECT_NE(Error("inputs: {t: nope.csv}\nsequence: [1]\ntransform: SELECT 1\n").find("input file not found"),
            std::string::npos);
  EXPECT_NE(Error("sequence: [1]\n").find("needs a transform"), std::string::npos);
  EXPECT_NE(Error("sequence: [1]\ntransform: SELECT 1\noutput: {name: fixed}\n").find("must contain {n}"),
            std::string::npos);
  EXPECT_NE(Error("sequence: [1]\ntransform: missing.sql\n").find("SQL file not found"), std::string::npos);
  EXPECT_NE(Error("sequence: [1]\ntransform: SELECT 1\nparams: {n: 1}\n").find("reserved"), std::string::npos);
  EXPECT_NE(Error("sequence: {range: [5, 1]}\ntransform: SELECT 1\n").find("range is empty"), std::string::npos);
}

// Error() must contain `fragment`.
#define EXPECT_ERROR(yaml, fragment)                                                \
  do {                                                                              \
    std::string e_ = Error(yaml);                                                   \
    EXPECT_NE(e_.find(fragment), std::string::npos) << "no '" << (fragment) << "' in: " << e_; \
  } while (0)

TEST_F(SpecTest, DuplicateKeysAnywhereAreRejectedWithBothLines) {
  const std::string job = dir_ + "/job.yaml";
  EXPECT_ERROR("sequence: [1]\ntransform: SELECT 1\ntransform: SELECT 2\n",
               job + ":3:1: duplicate key 'transform' (lines 2 and 3)");
  EXPECT_ERROR("sequence: [1]\ntransform: SELECT 1\nsequence: [2]\n", job + ":3:1: duplicate key 'sequence' (lines 1 and 3)");
  EXPECT_ERROR("inputs:\n  t: data.csv\n  t: data.csv\nsequence: [1]\ntransform: SELECT 1\n",
               job + ":3:3: duplicate key 't' (lines 2 and 3)");
  EXPECT_ERROR("params:\n  a: 1\n  b: 2\n  a: 3\nsequence: [1]\ntransform: SELECT 1\n",
               job + ":4:3: duplicate key 'a' (lines 2 and 4)");
  EXPECT_ERROR("params: {a: 1, a: 1}\nsequence: [1]\ntransform: SELECT 1\n",
               "duplicate key 'a' (line 1, columns 10 and 16)");
  EXPECT_ERROR("params: {cfg: {x: [{y: 1, y: 2}]}}\nsequence: [1]\ntransform: SELECT 1\n", "duplicate key 'y'");
  EXPECT_ERROR("sequence: [1]\ntransform: SELECT 1\nrun:\n  retries: 1\n  retries: 2\n",
               job + ":5:3: duplicate key 'retries' (lines 4 and 5)");
  EXPECT_ERROR("sequence: [1]\ntransform: SELECT 1\noutput: {format: csv, format: parquet}\n", "duplicate key 'format'");
  EXPECT_ERROR("params: {s: 1}\nsequence: [1, 2]\ntransform: SELECT 1\noverrides:\n  1: {s: 2}\n  1: {s: 3}\n",
               job + ":6:3: duplicate key '1' (lines 5 and 6)");
  EXPECT_ERROR("params: {s: 1}\nsequence: [1]\ntransform: SELECT 1\noverrides:\n  1: {s: 2, s: 3}\n", "duplicate key 's'");
  EXPECT_ERROR("sequence: [1]\ntransforms:\n  a: SELECT 1\n  a: SELECT 2\n", job + ":4:3: duplicate key 'a'");
  // A quoted key is the same key.
  EXPECT_ERROR("sequence: [1]\ntransform: SELECT 1\n\"transform\": SELECT 2\n", "duplicate key 'transform'");
}

TEST_F(SpecTest, DuplicateKeysInIncludeFiles) {
  Write("p.yaml", "a: 1\nb: 2\na: 3\n");
  EXPECT_ERROR("params: {include: p.yaml}\nsequence: [1]\ntransform: SELECT 1\n",
               dir_ + "/p.yaml:3:1: duplicate key 'a' (lines 1 and 3)");
  Write("p.json", "{\n  \"a\": 1,\n  \"cfg\": {\"x\": 1,\n          \"x\": 2},\n  \"b\": 2\n}\n");
  EXPECT_ERROR("params: {include: p.json}\nsequence: [1]\ntransform: SELECT 1\n",
               dir_ + "/p.json:4: duplicate key 'x' (lines 3 and 4)");
  Write("q.json", "{\"a\": 1,\n\n \"b\": 2, \"a\": {}}");
  EXPECT_ERROR("params: {include: q.json}\nsequence: [1]\ntransform: SELECT 1\n",
               dir_ + "/q.json:3: duplicate key 'a' (lines 1 and 3)");
}

TEST_F(SpecTest, NamesThatDifferOnlyInCaseAreRejected) {
  const std::string job = dir_ + "/job.yaml";
  EXPECT_ERROR("inputs:\n  t: data.csv\n  T: data.csv\nsequence: [1]\ntransform: SELECT 1\n",
               job + ":3:3: input 'T' and 't' (" + job + ":2:3) differ only in case");
  EXPECT_ERROR("params:\n  a: 1\n  A: 2\nsequence: [1]\ntransform: SELECT 1\n",
               job + ":3:3: param 'A' and 'a' (" + job + ":2:3) differ only in case: SQL names are case-insensitive");
  for (std::string reserved : {"N", "Kind", "KIND"})
    EXPECT_ERROR("params: {" + reserved + ": 1}\nsequence: [1]\ntransform: SELECT 1\n",
                 job + ":1:10: '" + reserved + "' is reserved: $n and $kind are bound by fanout");

  // fanout's own SQL names (a batch transform's fanout_sequence, the fused
  // query's __fanout_ tables and columns) cannot be taken by an input or a param.
  for (std::string own : {"fanout_sequence", "Fanout_Sequence"})
    EXPECT_ERROR("inputs:\n  " + own + ": data.csv\nsequence: [1]\ntransform: SELECT 1\n",
                 job + ":2:3: input name '" + own + "' is reserved: fanout_sequence is the table a batch_transform reads");
  EXPECT_ERROR("inputs:\n  __FANOUT_seq: data.csv\nsequence: [1]\ntransform: SELECT 1\n",
               job + ":2:3: input name '__FANOUT_seq' is reserved: names starting with __fanout_ are fanout's own");
  EXPECT_ERROR("params: {__fanout_p0: 1}\nsequence: [1]\ntransform: SELECT 1\n",
               job + ":1:10: param name '__fanout_p0' is reserved: names starting with __fanout_ are fanout's own");

  // An inline param overrides an included one of the same name; a case
  // variant is a second name for it.
  Write("p.json", "{\n  \"Scale\": 1.0\n}\n");
  Write("p.yaml", "x: 1\nScale: 1.0\n");
  auto same = Parse("params:\n  include: p.json\n  Scale: 2.0\nsequence: [1]\ntransform: SELECT 1\n");
  ASSERT_TRUE(same.ok()) << same.status().message();
  EXPECT_EQ(same->params.at("Scale"), Value(2.0));
  EXPECT_ERROR("params:\n  include: p.json\n  scale: 2.0\nsequence: [1]\ntransform: SELECT 1\n",
               job + ":3:3: param 'scale' and 'Scale' (" + dir_ + "/p.json:2) differ only in case");
  EXPECT_ERROR("params:\n  include: [p.yaml]\n  scale: 2.0\nsequence: [1]\ntransform: SELECT 1\n",
               "param 'scale' and 'Scale' (" + dir_ + "/p.yaml:2:1) differ only in case");
  Write("q.json", "{\"SCALE\": 1, \"y\": 2}");
  EXPECT_ERROR("params:\n  include: [p.json, q.json]\nsequence: [1]\ntransform: SELECT 1\n",
               dir_ + "/q.json:1: param 'SCALE' and 'Scale' (" + dir_ + "/p.json:2) differ only in case");

  EXPECT_ERROR("sequence: {sql: SELECT 1 AS n}\ntransforms:\n  agg: SELECT 1\n  AGG: SELECT 2\n",
               job + ":4:3: kind 'AGG' and 'agg' (" + job + ":3:3) differ only in case");
}

TEST_F(SpecTest, OverridesSetOnlyDeclaredParams) {
  const std::string job = dir_ + "/job.yaml";
  EXPECT_ERROR("params: {scale: 1}\nsequence: [1, 2]\ntransform: SELECT 1\noverrides:\n  2: {sacle: 2}\n",
               job + ":5:7: unknown param 'sacle' in overrides.2 (the job's params: scale); to add one, give it a "
                     "default under params: in the job file");
  EXPECT_ERROR("params: {scale: 1}\nsequence: [1, 2]\ntransform: SELECT 1\noverrides:\n  2: {Scale: 2}\n",
               job + ":5:7: unknown param 'Scale' in overrides.2: the job's param is 'scale'");
  EXPECT_ERROR("sequence: [1, 2]\ntransform: SELECT 1\noverrides:\n  2: {k: 2}\n", "(the job has no params)");
  EXPECT_ERROR("params: {scale: 1}\nsequence: [1, 2]\ntransform: SELECT 1\noverrides:\n  2: {N: 2}\n",
               job + ":5:7: 'N' is reserved");
  Write("p.json", "{\"scale\": 1}");
  auto spec = Parse("params: {include: p.json}\nsequence: [1, 2]\ntransform: SELECT 1\noverrides: {2: {scale: 2}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->overrides.at("2").at("scale"), Value(2));
}

TEST_F(SpecTest, CarelessRunAndOutputValuesAreRejected) {
  const std::string job = dir_ + "/job.yaml";
  const std::string head = "sequence: [1]\ntransform: SELECT 1\n";
  EXPECT_ERROR(head + "run: {memory_limit: 500%}\n",
               job + ":3:21: run.memory_limit is a share of RAM, so it must be more than 0% and at most 100%, got '500%'");
  EXPECT_ERROR(head + "run: {memory_limit: 0%}\n", "must be more than 0% and at most 100%");
  EXPECT_ERROR(head + "run: {memory_limit: 0MB}\n", job + ":3:21: run.memory_limit must be at least 64MB");
  EXPECT_ERROR(head + "run: {memory_limit: 32MiB}\n", "must be at least 64MB");
  EXPECT_ERROR(head + "run: {memory_limit: 99999999999999999999999GB}\n", "must be a percentage of RAM");
  EXPECT_ERROR(head + "output: {max_file_size: 0}\n", job + ":3:25: output.max_file_size must be at least 1MiB");
  EXPECT_ERROR(head + "output: {max_file_size: 64KB}\n", "one row group");
  EXPECT_ERROR(head + "output: {max_file_size: 99999999999999999999}\n", "must be a size such as 256MB");
  EXPECT_ERROR(head + "output: {max_file_size: 999999999999GB}\n", "must be at most 1PiB");
  EXPECT_ERROR(head + "run: {timeout: 0}\n", job + ":3:16: run.timeout must be more than 0");
  EXPECT_ERROR(head + "run: {timeout: 0ms}\n", "run.timeout must be more than 0");
  EXPECT_ERROR(head + "run: {timeout: " + std::string(400, '9') + "}\n", "run.timeout must be a duration");
  EXPECT_ERROR(head + "run: {retries: 1000000}\n", job + ":3:16: run.retries must be an integer from 0 to 100");
  EXPECT_ERROR(head + "run: {retries: -1}\n", "run.retries must be an integer from 0 to 100");
  EXPECT_ERROR(head + "run: {threads: 99999}\n", "run.threads must be a positive integer or 'auto', got '99999' (at most 1024");
  EXPECT_ERROR(head + "run: {max_workers: 0}\n", "run.max_workers must be a positive integer");
  auto ok = Parse(head + "run: {memory_limit: 100%, threads: 1024, retries: 100, timeout: 1ms}\n"
                         "output: {max_file_size: 1MB}\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->output.max_file_bytes, 1 << 20);
  EXPECT_EQ(ok->run.threads, 1024);
}

TEST_F(SpecTest, IncludeMustBeJsonOrYaml) {
  Write("p.txt", "scale=1");
  Write("bad.json", "{\"scale\": ");
  EXPECT_NE(Error("sequence: [1]\ntransform: SELECT 1\nparams: {include: p.txt}\n").find("must be JSON"),
            std::string::npos);
  EXPECT_NE(Error("sequence: [1]\ntransform: SELECT 1\nparams: {include: bad.json}\n").find("not valid JSON"),
            std::string::npos);
}

}  // namespace
}  // namespace fanout
