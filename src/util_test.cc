#include "util.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fanout {

TEST(SplitStatements, SplitsAtTopLevelSemicolonsOnly) {
  auto s = SplitStatements("CREATE TEMP TABLE t AS SELECT ';' AS x; -- a ; comment\nSELECT \"a;b\" FROM t /* ; */;\n\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], "CREATE TEMP TABLE t AS SELECT ';' AS x");
  EXPECT_EQ(s[1], "-- a ; comment\nSELECT \"a;b\" FROM t /* ; */");
}

TEST(SplitStatements, DollarQuotesAndCommentOnlyTail) {
  auto s = SplitStatements("SELECT $$a;b$$; -- trailing comment only");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], "SELECT $$a;b$$");
}

TEST(SplitStatements, CollectsNamedParamsOutsideQuotes) {
  std::vector<std::string> params;
  SplitStatements("SELECT $n, '$not_a_param', $scale -- $comment\n WHERE x = ?", &params);
  EXPECT_EQ(params, (std::vector<std::string>{"n", "scale", "?"}));
}

TEST(InferScalar, TypesPlainScalars) {
  EXPECT_EQ(InferScalar("42"), Value(int64_t{42}));
  EXPECT_EQ(InferScalar("-1.5"), Value(-1.5));
  EXPECT_EQ(InferScalar("true"), Value(true));
  EXPECT_TRUE(InferScalar("null").is_null());
  EXPECT_EQ(InferScalar("north"), Value("north"));
  EXPECT_EQ(InferScalar("99999999999999999999"), Value(1e20));
}

TEST(IsSafePathComponent, RejectsTraversalAndSeparators) {
  EXPECT_TRUE(IsSafePathComponent("iter_56"));
  EXPECT_TRUE(IsSafePathComponent("model-a.v2"));
  EXPECT_FALSE(IsSafePathComponent("../x"));
  EXPECT_FALSE(IsSafePathComponent("a/b"));
  EXPECT_FALSE(IsSafePathComponent(".."));
  EXPECT_FALSE(IsSafePathComponent(""));
  EXPECT_FALSE(IsSafePathComponent("a b"));
}

TEST(ExpandEnv, ExpandsAndRejectsUnset) {
  setenv("FANOUT_TEST_DIR", "/data", 1);
  EXPECT_EQ(*ExpandEnv("${FANOUT_TEST_DIR}/x.csv"), "/data/x.csv");
  unsetenv("FANOUT_TEST_NOPE");
  auto r = ExpandEnv("${FANOUT_TEST_NOPE}/x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("FANOUT_TEST_NOPE"), std::string::npos);
}

}  // namespace fanout

namespace fanout {

TEST(SqlWords, IdentifiersOutsideStringsAndComments) {
  auto w = SqlWords("SELECT a.x FROM Transactions a JOIN \"Customers\" c -- regions\n WHERE y = 'weights' /* t2 */");
  std::set<std::string> words(w.begin(), w.end());
  EXPECT_TRUE(words.count("transactions"));
  EXPECT_TRUE(words.count("customers"));
  EXPECT_FALSE(words.count("regions"));
  EXPECT_FALSE(words.count("weights"));
  EXPECT_FALSE(words.count("t2"));
}

// Planning's checks on S3 (16 at once): each index exactly once, on several
// threads; width 1 on the caller's alone; a throw comes back to the caller
// (not std::terminate on a pool thread).
TEST(ParallelForTest, CallsEachIndexOnceAndBringsAThrowBack) {
  std::vector<std::atomic<int>> calls(1000);
  std::mutex mu;
  std::set<std::thread::id> threads;
  ParallelFor(calls.size(), 8, [&](size_t i) {
    ++calls[i];
    std::lock_guard<std::mutex> lock(mu);
    threads.insert(std::this_thread::get_id());
  });
  for (const auto& c : calls) EXPECT_EQ(c.load(), 1);
  threads.clear();
  ParallelFor(10, 1, [&](size_t) { threads.insert(std::this_thread::get_id()); });
  EXPECT_EQ(threads, std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_THROW(ParallelFor(100, 4,
                           [](size_t i) {
                             if (i == 37) throw std::runtime_error("bad answer");
                           }),
               std::runtime_error);
  ParallelFor(0, 4, [](size_t) { FAIL() << "called for no index"; });
}

}  // namespace fanout
