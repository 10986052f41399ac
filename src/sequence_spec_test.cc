// The job file's parameter sets, grids and after: as parsed (spec.cc).
#include <gtest/gtest.h>

#include "fanout/job_spec.h"
#include "temp_dir.h"

namespace fanout {
namespace {

class SequenceSpecTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    Write("data.csv", "id,x\n1,2\n");
  }
  Result<JobSpec> Parse(const std::string& body) {
    return ParseJobSpec("inputs: {t: data.csv}\ntransform: SELECT 1\n" + body, dir_ + "/job.yaml");
  }
  std::string Error(const std::string& body) {
    auto r = Parse(body);
    EXPECT_FALSE(r.ok()) << body;
    return r.ok() ? "" : r.status().message().substr(dir_.size() + 10);  // after "<dir>/job.yaml:"
  }
};

TEST_F(SequenceSpecTest, AGridKeepsItsAxesInOrderWithTypedValues) {
  auto spec = Parse("sequence:\n  grid:\n    depth: [3, 5]\n    alpha: [0.1, \"0.2\", true]\n"
                    "    rows: {sql: SELECT 1 AS r}\noutput: {name: \"i_{depth}_{n}\"}\n");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const auto& g = spec->sequence.grid;
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].name, "depth");
  EXPECT_EQ(g[1].values, (ValueList{Value(0.1), Value("0.2"), Value(true)}));
  EXPECT_EQ(g[2].sql, "SELECT 1 AS r");
  EXPECT_EQ(spec->sequence.kind, SequenceSpec::Kind::kGrid);
}

TEST_F(SequenceSpecTest, AfterTakesIterationsKindsOrBoth) {
  auto spec = Parse("sequence: [1, 2, 3, fit]\nafter:\n  1: fit\n  2: [1, fit]\n  3: [{kind: [a, b]}, 2]\n");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_EQ(spec->after.size(), 3u);
  EXPECT_EQ(spec->after[0].needs, std::vector<std::string>{"fit"});
  EXPECT_EQ(spec->after[1].needs, (std::vector<std::string>{"1", "fit"}));
  EXPECT_EQ(spec->after[2].kinds, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spec->after[2].needs, std::vector<std::string>{"2"});
  EXPECT_EQ(spec->after[2].needs_where.size(), 3u);
  EXPECT_EQ(spec->after[2].where, dir_ + "/job.yaml:7:3");
}

TEST_F(SequenceSpecTest, MistakesAreNamedWhereTheyAre) {
  EXPECT_EQ(Error("sequence: {grid: {alpha: []}}\n"), "3:26: sequence.grid.alpha is empty: give at least one value");
  EXPECT_EQ(Error("sequence: {grid: {alpha: 3}}\n").substr(0, 56),
            "3:26: sequence.grid.alpha must be a list of values or {s");
  EXPECT_EQ(Error("sequence: {grid: {}}\n").substr(0, 35), "3:18: sequence.grid must map each p");
  EXPECT_EQ(Error("sequence: [{a: 1}, 2]\n").substr(0, 60),
            "3:20: each item of a list of parameter sets must be a map, e");
  EXPECT_EQ(Error("sequence: [{\"a b\": 1}]\n").substr(0, 25), "3:13: param name 'a b' mu");
  EXPECT_EQ(Error("sequence: [{N: 1}]\n").substr(0, 14), "3:13: 'N' is r");
  EXPECT_EQ(Error("sequence: [{n: [1]}]\n").substr(0, 38), "3:12: n must be an integer or a name, ");
  EXPECT_EQ(Error("sequence: [{a: 1}]\noutput: {name: fixed}\n").substr(0, 40),
            "4:16: output.name must contain {n} or a ");
  EXPECT_EQ(Error("sequence: [1]\nafter: {1: {kinds: a}}\n").substr(0, 33), "4:13: unknown key 'kinds' in afte");
  EXPECT_EQ(Error("sequence: [1]\nafter: {1: []}\n").substr(0, 30), "4:12: after.1 is empty: list w");
}

}  // namespace
}  // namespace fanout
