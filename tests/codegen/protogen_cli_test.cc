// The pve-protogen command line: help, exit codes, and every kind of bad input giving a
// clear message (file + place), a non-zero exit and no half-written output.
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/codegen/codegen_test_util.h"

namespace pvegw::codegen {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProtogenBinary;
using testing::ReadFileOrDie;
using testing::ReadTree;
using testing::SourcePath;
using testing::TempDir;
using testing::WriteFileOrDie;

constexpr int kExitError = 2;

CommandResult Protogen(const std::string& args) {
  return testing::Run(absl::StrCat("env -u PROXMOX_SCHEMA ", ProtogenBinary(), " ", args));
}

TEST(ProtogenCliTest, HelpExplainsEveryFlag) {
  CommandResult r = Protogen("--help");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  for (const char* flag : {"--schema", "--out", "--lock", "--package", "--check"}) {
    EXPECT_THAT(r.out, HasSubstr(flag)) << r.out;
  }
  EXPECT_THAT(r.out, HasSubstr("apidoc.js"));
}

TEST(ProtogenCliTest, SuccessPrintsOneSummaryLine) {
  TempDir dir;
  CommandResult r =
      Protogen(absl::StrCat("--schema=", SourcePath("tests/codegen/fixtures/mini.openapi.json"),
                            " --out=", dir.Sub("out"), " --lock=", dir.Sub("l.json")));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("pve-protogen: 5 services, 18 RPCs, 48 messages, 137 fields, 3 warnings"));
  EXPECT_THAT(r.out, HasSubstr("137 added"));
  EXPECT_TRUE(fs::exists(dir.Sub("l.json")));

  CommandResult check =
      Protogen(absl::StrCat("--schema=", SourcePath("tests/codegen/fixtures/mini.apidoc.js"),
                            " --lock=", dir.Sub("l.json"), " --check"));
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_THAT(check.out, HasSubstr("up to date"));
}

// A real Backup Server apidoc.js routes directory indexes by placeholders it never
// declares; they convert, and the operator reads one warning line naming each operation.
TEST(ProtogenCliTest, UndeclaredPlaceholdersConvertWithOneWarningLine) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("undeclared.js"), R"(const apiSchema = [
    {"path": "/n/{node}", "info": {"GET": {"name": "index"}}},
    {"path": "/n/{node}/x/{id}", "info": {"GET": {"name": "x", "parameters":
        {"properties": {"node": {"type": "string"}}}}, "DELETE": {"name": "rm"}}}];)");
  CommandResult r = Protogen(absl::StrCat("--schema=", dir.Sub("undeclared.js"),
                                          " --out=", dir.Sub("out"), " --package=example.v1"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("pve-protogen: warning: path placeholder without a parameter "
                               "definition became a string path parameter (3 times: "
                               "GET /n/{node}, DELETE /n/{node}/x/{id}, GET /n/{node}/x/{id})"));
  EXPECT_EQ(r.out.find("path placeholder"), r.out.rfind("path placeholder")) << r.out;
  EXPECT_THAT(ReadFileOrDie(dir.Sub("out/example/v1/n.proto")),
              HasSubstr("get: \"/n/{node}/x/{id}\""));
}

TEST(ProtogenCliTest, CheckExitsOneOnDrift) {
  TempDir dir;
  CommandResult r =
      Protogen(absl::StrCat("--schema=", SourcePath("tests/codegen/fixtures/mini.apidoc.js"),
                            " --lock=", dir.Sub("missing.lock.json"), " --check"));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("the lock would change"));
  EXPECT_FALSE(fs::exists(dir.Sub("missing.lock.json")));
}

TEST(ProtogenCliTest, SchemaFromEnvironment) {
  TempDir dir;
  CommandResult r = testing::Run(
      absl::StrCat("PROXMOX_SCHEMA=", SourcePath("tests/codegen/fixtures/mini.apidoc.js"), " ",
                   ProtogenBinary(), " --out=", dir.Sub("out")));
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

struct BadInput {
  std::string name;
  std::string content;
  std::vector<std::string> expected;  // substrings of the error message
  friend void PrintTo(const BadInput& input, std::ostream* os) { *os << input.name; }
};

class BadInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadInputTest, ClearErrorNonZeroExitNoHalfWrittenOutput) {
  const BadInput& input = GetParam();
  TempDir dir;
  // A previous good run left output behind; a failed run must not touch it.
  const std::string out = dir.Sub("out");
  ASSERT_EQ(Protogen(absl::StrCat("--schema=", SourcePath("tests/codegen/fixtures/mini.apidoc.js"),
                                  " --out=", out))
                .exit_code,
            0);
  const auto before = ReadTree(out);
  const std::string schema = dir.Sub(input.name);
  WriteFileOrDie(schema, input.content);

  CommandResult r =
      Protogen(absl::StrCat("--schema=", schema, " --out=", out, " --lock=", dir.Sub("lock.json")));
  EXPECT_EQ(r.exit_code, kExitError) << r.out;
  EXPECT_THAT(r.out, HasSubstr("pve-protogen: error: "));
  EXPECT_THAT(r.out, HasSubstr(schema)) << "the message must name the file";
  for (const std::string& s : input.expected) EXPECT_THAT(r.out, HasSubstr(s));
  EXPECT_THAT(r.out, Not(HasSubstr("terminate called")));
  EXPECT_EQ(ReadTree(out), before);
  EXPECT_FALSE(fs::exists(dir.Sub("lock.json")));
}

const char kOneOp[] =
    R"([{"path": "/x", "info": {"GET": {"name": "x", "parameters": {"properties": %s}, "returns": {"type": "null"}}}}])";

std::string OneOp(const std::string& properties) {
  std::string s = kOneOp;
  return s.replace(s.find("%s"), 2, properties);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, BadInputTest,
    ::testing::Values(
        BadInput{"empty.json", "", {"file is empty"}},
        BadInput{"blank.js", "  \n\t\n", {"file is empty"}},
        BadInput{"truncated.js",
                 "const apiSchema = [\n {\"path\": \"/x\", \"info\": {\"GET\": {\"name\"",
                 {":2:", "truncated"}},
        BadInput{
            "invalid.json", "{\"openapi\": \"3.1.0\",\n \"paths\": {,}}", {":2:", "invalid JSON"}},
        BadInput{"nomarker.js",
                 "var somethingElse = [1, 2, 3];\nconsole.log(1);",
                 {"not a Proxmox schema", "apiSchema"}},
        BadInput{"notopenapi.json", "{\"swagger\": \"2.0\"}", {"not an OpenAPI document"}},
        BadInput{"noops.js", "const apiSchema = [];", {"describes no operations"}},
        BadInput{"emptypaths.json",
                 "{\"openapi\": \"3.1.0\", \"paths\": {}}",
                 {"describes no operations"}},
        BadInput{"param-kind.json",
                 OneOp(R"({"node": 5})"),
                 {"GET /x: parameter 'node': must be an object, got number"}},
        BadInput{"min-kind.json",
                 OneOp(R"({"n": {"type": "integer", "minimum": "lots"}})"),
                 {"GET /x: parameter 'n': 'minimum' must be a number, got string"}},
        BadInput{"type-kind.json",
                 OneOp(R"({"n": {"type": 7}})"),
                 {"GET /x: parameter 'n': 'type' must be a string, got number"}},
        BadInput{"enum-kind.json",
                 OneOp(R"({"n": {"type": "string", "enum": "a|b"}})"),
                 {"GET /x: parameter 'n': 'enum' must be an array, got string"}},
        BadInput{"path-kind.json", R"([{"path": 5}])", {"'path' must be a string, got number"}},
        BadInput{"props-kind.json",
                 R"([{"path": "/x", "info": {"GET": {"parameters": {"properties": [1]}}}}])",
                 {"GET /x: 'parameters.properties' must be an object, got array"}},
        BadInput{
            "returns-kind.json",
            R"([{"path": "/x", "info": {"GET": {"returns": {"type": "object", "properties": {"a": 1}}}}}])",
            {"GET /x: returns", "property 'a' must be an object, got number"}},
        BadInput{"dup-path.js",
                 R"(const apiSchema = [{"path": "/x", "info": {"GET": {}}}, {"path": "/x"}];)",
                 {"/x: duplicate path"}},
        BadInput{"dup-method.js",
                 "const apiSchema = [{\"path\": \"/x\", \"info\": {\"GET\": {},\n \"GET\": {}}}];",
                 {":2:", "duplicate key \"GET\""}},
        BadInput{"dup-openapi-path.json",
                 "{\"openapi\": \"3.1.0\", \"paths\": {\"/x\": {\"get\": {}},\n \"/x\": {}}}",
                 {":2:", "duplicate key \"/x\""}},
        BadInput{"slash-dup.json",
                 R"({"openapi": "3.1.0", "paths": {"/x": {"get": {}}, "/x/": {"get": {}}}})",
                 {"duplicate path"}},
        BadInput{"bad-path.json", R"([{"path": "nodes/{node"}])", {"must start with '/'"}},
        BadInput{"unclosed.json", R"([{"path": "/nodes/{node"}])", {"unclosed '{'"}},
        BadInput{"binary.json", std::string("[\x01\xff\xfe", 4), {"invalid JSON"}}),
    [](const ::testing::TestParamInfo<BadInput>& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(ProtogenCliTest, MissingSchemaFileIsAClearError) {
  TempDir dir;
  CommandResult r =
      Protogen(absl::StrCat("--schema=", dir.Sub("nope.json"), " --out=", dir.Sub("o")));
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_THAT(r.out, AllOf(HasSubstr("cannot read schema"), HasSubstr("nope.json")));
  EXPECT_FALSE(fs::exists(dir.Sub("o")));
}

TEST(ProtogenCliTest, NoSchemaAtAllSaysHowToGiveOne) {
  CommandResult r = Protogen("--out=/tmp/unused");
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_THAT(r.out, HasSubstr("--schema=PATH or set PROXMOX_SCHEMA"));
}

TEST(ProtogenCliTest, UnwritableOutputDirectoryIsAClearError) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("a-file"), "x");
  const std::string schema = SourcePath("tests/codegen/fixtures/mini.apidoc.js");
  CommandResult as_file = Protogen(absl::StrCat("--schema=", schema, " --out=", dir.Sub("a-file")));
  EXPECT_EQ(as_file.exit_code, kExitError);
  EXPECT_THAT(as_file.out, HasSubstr("is not a directory"));
  CommandResult below_file =
      Protogen(absl::StrCat("--schema=", schema, " --out=", dir.Sub("a-file/sub")));
  EXPECT_EQ(below_file.exit_code, kExitError);
  EXPECT_THAT(below_file.out, HasSubstr("cannot create output directory"));
  EXPECT_EQ(ReadFileOrDie(dir.Sub("a-file")), "x");
}

TEST(ProtogenCliTest, MalformedLockIsAClearError) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("lock.json"),
                 "{\"lock_version\": 1, \"messages\": {\"M\": {\"fields\": {\"a\": 3}}}}");
  CommandResult r =
      Protogen(absl::StrCat("--schema=", SourcePath("tests/codegen/fixtures/mini.apidoc.js"),
                            " --out=", dir.Sub("o"), " --lock=", dir.Sub("lock.json")));
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_THAT(r.out, HasSubstr("not a pve-protogen lock"));
  EXPECT_THAT(r.out, HasSubstr("M.fields.a"));
  EXPECT_FALSE(fs::exists(dir.Sub("o")));
}

TEST(ProtogenCliTest, InvalidPackageIsRejected) {
  TempDir dir;
  CommandResult r =
      Protogen(absl::StrCat("--schema=", SourcePath("tests/codegen/fixtures/mini.apidoc.js"),
                            " --out=", dir.Sub("o"), " --package=proxmox..v1"));
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_THAT(r.out, HasSubstr("not a dotted proto package name"));
}

}  // namespace
}  // namespace pvegw::codegen
