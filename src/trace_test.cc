#include "trace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace fanout {
namespace {

TEST(TraceTsv, OneRowPerAttemptAndEveryFieldOnItsLine) {
  Manifest m;
  IterationReport it;
  it.n = Value("a\tb");
  it.target = "iter_a";
  it.trace = {AttemptTrace{1, "retried", 0, 1, 2, 3, 4, 0, 4.5, 0, 0, 0, 0, "IO Error:\n\tdisk", "transient I/O", ""},
              AttemptTrace{2, "committed", 1, 5, 6, 7, 8, 9, 9.5, 10, 20, 1, 0.5, "", "", ""}};
  m.iterations = {it, IterationReport{}};  // the second never ran: no row
  std::string tsv = TraceTsv(m);
  std::istringstream in(tsv);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << tsv;
  auto tabs = [](const std::string& s) { return std::count(s.begin(), s.end(), '\t'); };
  EXPECT_EQ(tabs(lines[1]), tabs(lines[0]));
  EXPECT_EQ(tabs(lines[2]), tabs(lines[0]));
  EXPECT_EQ(lines[1].rfind("a\\tb\titer_a\t\t1\tretried\t0\t1.000000\t2.000000\t", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("\tIO Error:\\n\\tdisk\t"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\t1.000000\t1.000000\t3.500000\t10\t20\t1\t0.500000\t"), std::string::npos) << lines[2];
}

}  // namespace
}  // namespace fanout
