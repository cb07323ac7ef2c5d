#include "common/utf8.h"

#include "gtest/gtest.h"

namespace pvegw {
namespace {

TEST(CutUtf8Test, KeepsShortTextAndCutsOnCharacterBoundaries) {
  EXPECT_EQ(CutUtf8("abc", 3), "abc");
  EXPECT_EQ(CutUtf8("abcdef", 3), "abc");
  EXPECT_EQ(CutUtf8("", 0), "");
  // "ä" is two bytes (C3 A4), "€" three (E2 82 AC): a limit inside one drops all of it.
  EXPECT_EQ(CutUtf8("aä", 2), "a");
  EXPECT_EQ(CutUtf8("aä", 3), "aä");
  EXPECT_EQ(CutUtf8("€x", 1), "");
  EXPECT_EQ(CutUtf8("€x", 2), "");
  EXPECT_EQ(CutUtf8("€x", 3), "€");
}

}  // namespace
}  // namespace pvegw
