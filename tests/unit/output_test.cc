// The report sink: log_path files per process, and what happens when one cannot be opened.
#include "report/output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace tally {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

class OutputTest : public testing::Test {
 protected:
  void TearDown() override { output_set_log_path(""); }
};

TEST_F(OutputTest, LogPathWritesTextAndJsonToFilesNamedForTheProcess) {
  char directory[] = "/tmp/tally-output-test-XXXXXX";
  ASSERT_NE(mkdtemp(directory), nullptr);
  std::string prefix = std::string(directory) + "/report";
  output_set_log_path(prefix.c_str());
  testing::internal::CaptureStderr();
  output_write("a report\n", 9);
  output_write_json("{\"kind\":\"x\"}\n", 13);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  std::string text_path = prefix + "." + std::to_string(getpid());
  EXPECT_EQ(ReadFile(text_path), "a report\n");
  EXPECT_EQ(ReadFile(text_path + ".json"), "{\"kind\":\"x\"}\n");
  unlink(text_path.c_str());
  unlink((text_path + ".json").c_str());
  rmdir(directory);
}

// A program that closes descriptors it does not know and opens its own files got tally's
// next report appended to whichever of its files took the log's old number.
TEST_F(OutputTest, AReportNeverGoesToAFileThatTookTheLogsDescriptor) {
  char directory[] = "/tmp/tally-output-test-XXXXXX";
  ASSERT_NE(mkdtemp(directory), nullptr);
  std::string prefix = std::string(directory) + "/report";
  output_set_log_path(prefix.c_str());
  output_write("first report\n", 13);
  std::string log_path = prefix + "." + std::to_string(getpid());
  // The program closes every descriptor above stderr (tally's log among them) and opens a
  // file of its own, which takes the lowest free number: the log's.
  int closed_up_to = 0;
  for (int fd = 3; fd < 64; ++fd)
    if (close(fd) == 0) closed_up_to = fd;
  ASSERT_GT(closed_up_to, 0);
  std::string programs_path = std::string(directory) + "/programs-data";
  int programs_file = open(programs_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(programs_file, 0);
  output_write("second report\n", 14);
  output_write_json("{}\n", 3);
  EXPECT_EQ(ReadFile(programs_path), "") << "tally wrote into the program's file";
  EXPECT_EQ(ReadFile(log_path), "first report\nsecond report\n");
  EXPECT_EQ(ReadFile(log_path + ".json"), "{}\n");
  close(programs_file);
  output_set_log_path("");
  unlink(programs_path.c_str());
  unlink(log_path.c_str());
  unlink((log_path + ".json").c_str());
  rmdir(directory);
}

// A log_path in a directory that does not exist sent every report to stderr, and every JSON
// one nowhere, without a word: the user waiting for the file saw nothing.
TEST_F(OutputTest, AnUnopenableLogPathIsSaidOnceAndReportsGoToStderr) {
  output_set_log_path("/nonexistent-tally-directory/report");
  testing::internal::CaptureStderr();
  output_write("first\n", 6);
  output_write("second\n", 7);
  output_write_json("{}\n", 3);
  output_write_json("{}\n", 3);
  std::string errors = testing::internal::GetCapturedStderr();
  std::string text_file = "/nonexistent-tally-directory/report." + std::to_string(getpid());
  std::string text_warning =
      "WARNING: tally: cannot open " + text_file + " (errno 2): reports go to stderr";
  std::string json_warning =
      "WARNING: tally: cannot open " + text_file + ".json (errno 2): JSON reports are not written";
  size_t first = errors.find(text_warning);
  ASSERT_NE(first, std::string::npos) << errors;
  EXPECT_EQ(errors.find(text_warning, first + 1), std::string::npos) << "said twice: " << errors;
  size_t json = errors.find(json_warning);
  ASSERT_NE(json, std::string::npos) << errors;
  EXPECT_EQ(errors.find(json_warning, json + 1), std::string::npos) << "said twice: " << errors;
  EXPECT_NE(errors.find("first\nsecond\n"), std::string::npos) << errors;
}

}  // namespace
}  // namespace tally
