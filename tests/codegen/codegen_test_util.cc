#include "tests/codegen/codegen_test_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace pvegw::codegen::testing {

namespace fs = std::filesystem;

std::string SourcePath(const std::string& relative) {
  return absl::StrCat(PVEGW_SOURCE_DIR, "/", relative);
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFileOrDie(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/pvegw-test-XXXXXX");
  char* made = ::mkdtemp(templ.data());
  if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CommandResult Run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed for " << command;
    return result;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string ProtogenBinary() { return PVEGW_PROTOGEN; }

std::map<std::string, std::string> ReadTree(const std::string& dir) {
  std::map<std::string, std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), dir).string()] = ReadFileOrDie(entry.path().string());
    }
  }
  return files;
}

void ProtoCompiler::Collector::AddError(const std::string& filename, int line, int column,
                                        const std::string& message) {
  errors.push_back(absl::StrCat(filename, ":", line + 1, ":", column + 1, ": ", message));
}

ProtoCompiler::ProtoCompiler(const std::string& root) {
  tree_.MapPath("", root);
  for (absl::string_view import_root : absl::StrSplit(PVEGW_IMPORT_ROOTS, ':', absl::SkipEmpty())) {
    tree_.MapPath("", std::string(import_root));
  }
  importer_ = std::make_unique<google::protobuf::compiler::Importer>(&tree_, &collector_);
}

const google::protobuf::FileDescriptor* ProtoCompiler::Compile(const std::string& file) {
  return importer_->Import(file);
}

}  // namespace pvegw::codegen::testing
