#include "pvemock/multipart.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw::pvemock {
namespace {

using ::testing::HasSubstr;

TEST(MultipartBoundaryTest, TokenAndQuoted) {
  EXPECT_EQ(*MultipartBoundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(*MultipartBoundary("multipart/form-data;boundary=\"a b'()+_,-./:=?\""),
            "a b'()+_,-./:=?");
  EXPECT_EQ(*MultipartBoundary("multipart/form-data; charset=utf-8; BOUNDARY=x"), "x");
}

TEST(MultipartBoundaryTest, RefusesWhatRfc2046Forbids) {
  for (const char* ct :
       {"multipart/form-data",
        "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"a ", "multipart/form-data; boundary=\"a<b\"",
        "multipart/form-data; boundary=\"ends with space \"",
        "multipart/form-data; boundary=a; boundary=b", "multipart/form-data; boundary"}) {
    EXPECT_FALSE(MultipartBoundary(ct).ok()) << ct;
  }
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'a')).ok());
  EXPECT_TRUE(MultipartBoundary("multipart/form-data; boundary=" + std::string(70, 'a')).ok());
}

// What curl -F and python-requests send.
TEST(ParseMultipartTest, FieldsAndFile) {
  const std::string body =
      "--xyz\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
      "--xyz\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"a.iso\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n"
      "line1\r\n--xyzz not a boundary\r\n\r\n--xyz--\r\n";
  auto parts = ParseMultipart(body, "xyz");
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].disposition, "form-data");
  EXPECT_EQ((*parts)[0].name, "content");
  EXPECT_FALSE((*parts)[0].filename.has_value());
  EXPECT_EQ((*parts)[0].data, "iso");
  EXPECT_EQ((*parts)[1].name, "filename");
  EXPECT_EQ((*parts)[1].filename, "a.iso");
  EXPECT_EQ((*parts)[1].content_type, "application/octet-stream");
  EXPECT_EQ((*parts)[1].data, "line1\r\n--xyzz not a boundary\r\n");
}

TEST(ParseMultipartTest, PreambleEpilogueLfAndEmptyParts) {
  auto parts = ParseMultipart(
      "ignored\n--b\nContent-Disposition: form-data; name=e\n\n\n--b\n"
      "content-disposition: form-data; name=\"q\\\"x\"; filename=\"\"\n\nbinary data\n--b--"
      "epilogue",
      "b");
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].data, "");
  EXPECT_EQ((*parts)[1].name, "q\"x");
  EXPECT_EQ((*parts)[1].filename, "");
  const std::string binary("\x00\xff\r\n--", 5);
  // The parts are views into the body: it must outlive them.
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n" + binary + "\r\n--b--";
  auto bin = ParseMultipart(body, "b");
  ASSERT_TRUE(bin.ok()) << bin.status();
  EXPECT_EQ((*bin)[0].data, binary);
}

TEST(ParseMultipartTest, MalformedBodiesSayWhy) {
  const std::string head = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n";
  const std::pair<std::string, const char*> cases[] = {
      {"", "no boundary line"},
      {"no delimiter at all", "no boundary line"},
      {head + "data", "no closing boundary"},
      {head + "x\r\n--b", "no closing boundary"},
      {head + "x\r\n--bzz", "no closing boundary"},
      {"--bzz\r\n", "no boundary line"},
      {"--b\r\nContent-Disposition: form-data; name=a\r\n", "headers do not end"},
      {"--b\r\nX: y\r\n\r\nd\r\n--b--", "without Content-Disposition"},
      {"--b\r\nContent-Disposition: form-data\r\n\r\nd\r\n--b--", "has no name"},
      {"--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nd\r\n--b--", "unterminated"},
      {"--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nd\r\n--b--", "duplicate"},
      {"--b\r\nbroken header\r\n\r\nd\r\n--b--", "without a name and ':'"},
      {"--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nd\r\n--b--", "folded"},
      {"--b\r\nContent-Disposition: form-data; name=a\r\nX: " + std::string(5000, 'x') +
           "\r\n\r\nd\r\n--b--",
       "too long"},
  };
  for (const auto& [body, why] : cases) {
    auto parts = ParseMultipart(body, "b");
    ASSERT_FALSE(parts.ok()) << body;
    EXPECT_THAT(std::string(parts.status().message()), HasSubstr(why)) << body;
  }
  std::string many;
  for (int i = 0; i < 17; ++i) many += head + "x\r\n";
  EXPECT_THAT(std::string(ParseMultipart(many + "--b--", "b").status().message()),
              HasSubstr("more than 16 parts"));
}

}  // namespace
}  // namespace pvegw::pvemock
