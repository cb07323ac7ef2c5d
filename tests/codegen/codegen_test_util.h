// Helpers shared by the codegen tests: files, subprocesses, in-process protoc.
#ifndef PVEGW_TESTS_CODEGEN_CODEGEN_TEST_UTIL_H_
#define PVEGW_TESTS_CODEGEN_CODEGEN_TEST_UTIL_H_

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pvegw::codegen::testing {

// Absolute path of a file in the source tree.
std::string SourcePath(const std::string& relative);

std::string ReadFileOrDie(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& content);

// A fresh directory under the test's temp dir, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr, interleaved
};
// Runs `command` through /bin/sh, capturing both streams.
CommandResult Run(const std::string& command);

// The pve-protogen binary built alongside the tests.
std::string ProtogenBinary();

// All regular files under `dir`, path relative to it -> content.
std::map<std::string, std::string> ReadTree(const std::string& dir);

// In-process protoc: parses `files` (relative to `root`) with the project's import roots
// (proto/, protobuf's includes, google/api). `errors` collects what protoc would print.
class ProtoCompiler {
 public:
  explicit ProtoCompiler(const std::string& root);
  // nullptr when a file does not compile; see errors().
  const google::protobuf::FileDescriptor* Compile(const std::string& file);
  const google::protobuf::DescriptorPool* pool() const { return importer_->pool(); }
  const std::vector<std::string>& errors() const { return collector_.errors; }

 private:
  struct Collector : google::protobuf::compiler::MultiFileErrorCollector {
    void AddError(const std::string& filename, int line, int column,
                  const std::string& message) override;
    std::vector<std::string> errors;
  };
  google::protobuf::compiler::DiskSourceTree tree_;
  Collector collector_;
  std::unique_ptr<google::protobuf::compiler::Importer> importer_;
};

}  // namespace pvegw::codegen::testing

#endif  // PVEGW_TESTS_CODEGEN_CODEGEN_TEST_UTIL_H_
