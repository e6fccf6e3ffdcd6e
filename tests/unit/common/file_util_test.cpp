// WriteFileAtomically: the whole new file or the old one, the old file's mode kept, no temporary
// file left behind, and a clear error that touches nothing.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/file_util.h"

namespace holdgate {
namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hg_file_util_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST_CASE("WriteFileAtomically replaces the file and keeps its mode", "[common][file_util]") {
  TempDir dir;
  const std::string file = (dir.path / "policy.json").string();
  { std::ofstream(file) << "old text"; }
  ::chmod(file.c_str(), 0600);
  REQUIRE(WriteFileAtomically(file, "new text").ok());
  std::string text;
  REQUIRE(ReadWholeFile(file, &text));
  CHECK(text == "new text");
  struct stat st;
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    ++entries;
    CHECK(e.path().filename() == "policy.json");  // no temporary file left
  }
  CHECK(entries == 1);
}

TEST_CASE("WriteFileAtomically creates a new file with the given mode", "[common][file_util]") {
  TempDir dir;
  const std::string file = (dir.path / "new.json").string();
  REQUIRE(WriteFileAtomically(file, "{}\n", 0640).ok());
  struct stat st;
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("WriteFileAtomically fails with kIo and names the step when the folder is missing", "[common][file_util]") {
  TempDir dir;
  Status s = WriteFileAtomically((dir.path / "missing" / "x.json").string(), "x");
  CHECK(s.code() == Code::kIo);
  CHECK(s.message().find("cannot create") != std::string::npos);
}

}  // namespace
}  // namespace holdgate
