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

TEST_F(SpecTest, SetOverridesParamsWithTypedValues) {
  auto spec = Parse("sequence: [1]\ntransform: SELECT 1\nparams: {scale: 1.0}\n", {"scale=3", "tag=abc"});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->params.at("scale"), Value(3));
  EXPECT_EQ(spec->params.at("tag"), Value("abc"));
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
