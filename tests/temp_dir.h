// A test fixture owning a fresh temporary folder, removed after the test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fanout {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fanout-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Writes `text` to dir_/name.
  void Write(const std::string& name, const std::string& text) const { std::ofstream(dir_ + "/" + name) << text; }

  std::string dir_;
};

}  // namespace fanout
