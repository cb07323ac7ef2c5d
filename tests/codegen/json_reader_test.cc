#include "codegen/json_reader.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw::codegen {
namespace {

using ::testing::HasSubstr;

TEST(JsonReaderTest, ParsesValueAndReportsWhereItEnds) {
  const std::string text = "x = [1, {\"a\": true}]; trailing();";
  absl::StatusOr<ParsedJson> parsed = ParseJsonStrict(text, 4, "f.js", /*allow_trailing=*/true);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->value.is_array());
  EXPECT_EQ(parsed->value.get_array().size(), 2u);
  EXPECT_EQ(text.substr(parsed->end_offset), "; trailing();");
}

TEST(JsonReaderTest, RejectsDuplicateKeysWithPosition) {
  const std::string text = "{\n  \"GET\": {},\n  \"GET\": {}\n}";
  absl::StatusOr<ParsedJson> parsed = ParseJsonStrict(text, 0, "dup.json", false);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("dup.json:3:"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("duplicate key \"GET\""));
}

TEST(JsonReaderTest, DuplicateKeysInDifferentObjectsAreFine) {
  absl::StatusOr<ParsedJson> parsed =
      ParseJsonStrict(R"({"a": {"x": 1}, "b": {"x": 2}})", 0, "ok.json", false);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
}

TEST(JsonReaderTest, TruncatedDocumentSaysSo) {
  absl::StatusOr<ParsedJson> parsed =
      ParseJsonStrict("[{\"a\": 1},\n {\"b\"", 0, "cut.json", false);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("cut.json:2:"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("truncated"));
}

TEST(JsonReaderTest, SyntaxErrorNamesLineAndColumn) {
  absl::StatusOr<ParsedJson> parsed = ParseJsonStrict("{\n \"a\": 1,\n ,}", 0, "bad.json", false);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("bad.json:3:2"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("invalid JSON"));
}

TEST(JsonReaderTest, TrailingGarbageRejectedUnlessAllowed) {
  EXPECT_FALSE(ParseJsonStrict("[1] x", 0, "t.json", false).ok());
  EXPECT_TRUE(ParseJsonStrict("[1] x", 0, "t.json", true).ok());
  EXPECT_TRUE(ParseJsonStrict("[1]  \n", 0, "t.json", false).ok());
}

TEST(JsonReaderTest, DeepNestingIsBoundedNotACrash) {
  const std::string deep(100000, '[');
  absl::StatusOr<ParsedJson> parsed = ParseJsonStrict(deep, 0, "deep.json", false);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("deep.json:1:"));
}

TEST(JsonReaderTest, LineColumnIsOneBased) {
  EXPECT_EQ(LineColumn("ab\ncd", 0), "1:1");
  EXPECT_EQ(LineColumn("ab\ncd", 4), "2:2");
}

}  // namespace
}  // namespace pvegw::codegen
