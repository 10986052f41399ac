#include "sequence.h"

#include <gtest/gtest.h>

namespace fanout {
namespace {

SequenceSpec Grid(std::vector<GridAxis> axes) {
  SequenceSpec seq;
  seq.kind = SequenceSpec::Kind::kGrid;
  seq.grid = std::move(axes);
  return seq;
}

TEST(SequenceTest, AGridIsTheCrossProductTheLastAxisFastestNumberedFromOne) {
  auto items = ExpandParamSets(Grid({{"alpha", {Value(0.1), Value(0.2)}, "", ""},
                                     {"depth", {Value(3), Value(5), Value(8)}, "", ""}}),
                               nullptr);
  ASSERT_TRUE(items.ok()) << items.status().message();
  ASSERT_EQ(items->size(), 6u);
  EXPECT_EQ((*items)[0].n, Value(1));
  EXPECT_EQ((*items)[0].params, (ValueMap{{"alpha", Value(0.1)}, {"depth", Value(3)}}));
  EXPECT_EQ((*items)[2].params, (ValueMap{{"alpha", Value(0.1)}, {"depth", Value(8)}}));
  EXPECT_EQ((*items)[3].params, (ValueMap{{"alpha", Value(0.2)}, {"depth", Value(3)}}));
  EXPECT_EQ((*items)[5].n, Value(6));
}

TEST(SequenceTest, AGridAxisNamedNOrKindNamesTheIterations) {
  auto items = ExpandParamSets(Grid({{"n", {Value("a"), Value("b")}, "", ""}, {"kind", {Value("fit")}, "", ""}}),
                               nullptr);
  ASSERT_TRUE(items.ok()) << items.status().message();
  EXPECT_EQ((*items)[1].n, Value("b"));
  EXPECT_EQ((*items)[1].kind, "fit");
  EXPECT_TRUE((*items)[1].params.empty());
  auto bad = ExpandParamSets(Grid({{"n", {Value(1.5)}, "", ""}}), nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("n must be an integer or a name"), std::string::npos);
}

TEST(SequenceTest, AnSqlAxisTakesTheRowsAndCrossesThem) {
  SequenceSpec seq = Grid({{"alpha", {Value(1), Value(2)}, "", ""}, {"rows", {}, "SELECT ...", ""}});
  int calls = 0;
  auto items = ExpandParamSets(seq, [&](const GridAxis& axis) -> Result<std::vector<ValueMap>> {
    ++calls;
    EXPECT_EQ(axis.name, "rows");
    return std::vector<ValueMap>{{{"region", Value("north")}, {"w", Value(0.5)}}, {{"region", Value("east")}, {"w", Value(1.5)}}};
  });
  ASSERT_TRUE(items.ok()) << items.status().message();
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(items->size(), 4u);
  EXPECT_EQ((*items)[3].params, (ValueMap{{"alpha", Value(2)}, {"region", Value("east")}, {"w", Value(1.5)}}));
  auto empty = ExpandParamSets(seq, [](const GridAxis&) { return Result<std::vector<ValueMap>>(std::vector<ValueMap>{}); });
  EXPECT_FALSE(empty.ok());
}

TEST(SequenceTest, AHugeGridIsRefusedBeforeItIsExpanded) {
  ValueList thousand;
  for (int i = 0; i < 1000; ++i) thousand.push_back(Value(i));
  auto items = ExpandParamSets(Grid({{"a", thousand, "", ""}, {"b", thousand, "", ""}, {"c", thousand, "", ""}}), nullptr);
  ASSERT_FALSE(items.ok());
  EXPECT_NE(items.status().message().find("more than 10 million"), std::string::npos);
}

TEST(SequenceTest, SetsTakeTheirNOrTheirPosition) {
  SequenceSpec seq;
  seq.kind = SequenceSpec::Kind::kSets;
  seq.sets = {ValueMap{{"alpha", Value(0.1)}}, ValueMap{{"n", Value("fit")}, {"kind", Value("agg")}, {"cfg", Value(ValueMap{{"a", Value(true)}})}}};
  auto items = ExpandParamSets(seq, nullptr);
  ASSERT_TRUE(items.ok()) << items.status().message();
  EXPECT_EQ((*items)[0].n, Value(1));
  EXPECT_EQ((*items)[1].n, Value("fit"));
  EXPECT_EQ((*items)[1].kind, "agg");
  EXPECT_EQ((*items)[1].params, (ValueMap{{"cfg", Value(ValueMap{{"a", Value(true)}})}}));
}

TEST(SequenceTest, OutputNamesComeFromTheParams) {
  Params p{{"alpha", Value(0.1)}, {"depth", Value(3)}, {"on", Value(true)}, {"region", Value("north")}};
  EXPECT_EQ(*ExpandOutputName("iter_{alpha}_{depth}", "7", "", p), "iter_0.1_3");
  EXPECT_EQ(*ExpandOutputName("{region}-{on}-{n}-{kind}", "7", "agg", p), "north-true-7-agg");
  auto unknown = ExpandOutputName("iter_{alpah}", "1", "", p);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("{alpah} is not n, kind or a param"), std::string::npos);
  Params nested{{"l", Value(ValueList{Value(1)})}, {"z", Value()}};
  EXPECT_FALSE(ExpandOutputName("i_{l}", "1", "", nested).ok());
  EXPECT_FALSE(ExpandOutputName("i_{z}", "1", "", nested).ok());
}

TEST(SequenceTest, FolderNamesAreOneSafeComponent) {
  EXPECT_EQ(FolderNameProblem("iter_0.1_3"), "");
  for (const char* bad : {"", ".", "..", "a/b", "../x", ".hidden", "_fanout", "a b", "tab\there", "nl\nx", "x\x01y",
                          "CON", "nul", "Com1", "lpt9.txt", "aux.parquet"})
    EXPECT_NE(FolderNameProblem(bad), "") << bad;
  EXPECT_EQ(FolderNameProblem("console"), "");  // only the device names themselves
  EXPECT_EQ(FolderNameProblem("com10"), "");
  EXPECT_NE(FolderNameProblem(std::string(201, 'a')), "");
}

}  // namespace
}  // namespace fanout
