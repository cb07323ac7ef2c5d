#include "gateway/backend/call_identity.h"

#include <sstream>

#include "gtest/gtest.h"

namespace pvegw::gateway {
namespace {

CallIdentity Token(const std::string& value) {
  return CallIdentity(RestCredentials{value, "", ""});
}

CallIdentity Ticket(const std::string& ticket, const std::string& csrf) {
  return CallIdentity(RestCredentials{"", ticket, csrf});
}

TEST(CallIdentityTest, DebugFormNamesTheUserNeverTheSecret) {
  EXPECT_EQ(CallIdentity().DebugString(), "configured");
  const CallIdentity alice = Token("PVEAPIToken=alice@pve!ci=5f0c1a2b-secret-uuid");
  EXPECT_EQ(alice.DebugString(), "token alice@pve!ci");
  std::ostringstream streamed;
  streamed << alice;
  EXPECT_EQ(streamed.str(), "token alice@pve!ci");
  const CallIdentity carol = Ticket("PVE:carol@pve:6B07E14B::c2lnbmF0dXJl", "6B07E14B:Y3NyZg");
  EXPECT_EQ(carol.DebugString(), "ticket carol@pve");
  for (const CallIdentity& id : {alice, carol}) {
    EXPECT_EQ(id.DebugString().find("secret"), std::string::npos);
    EXPECT_EQ(id.DebugString().find("c2lnbmF0dXJl"), std::string::npos);
    EXPECT_EQ(id.ShareKey().find("secret"), std::string::npos);
    EXPECT_EQ(id.ShareKey().find("c2lnbmF0dXJl"), std::string::npos);
  }
  EXPECT_EQ(Ticket("garbage", "").DebugString(), "ticket");
}

TEST(CallIdentityTest, EqualCredentialsShareDifferentOnesNever) {
  const CallIdentity a1 = Token("PVEAPIToken=alice@pve!ci=one");
  const CallIdentity a2 = Token("PVEAPIToken=alice@pve!ci=one");
  const CallIdentity other_secret = Token("PVEAPIToken=alice@pve!ci=two");
  EXPECT_EQ(a1, a2);
  EXPECT_EQ(a1.ShareKey(), a2.ShareKey());
  EXPECT_NE(a1, other_secret);
  EXPECT_NE(a1.ShareKey(), other_secret.ShareKey());
  EXPECT_NE(a1, CallIdentity());
  EXPECT_EQ(CallIdentity(), CallIdentity());
  EXPECT_EQ(CallIdentity().ShareKey(), "");
  EXPECT_TRUE(CallIdentity().configured());
  EXPECT_FALSE(a1.configured());
  // Parts cannot be shifted between fields to forge another identity's key.
  EXPECT_NE(Ticket("ab", "c").ShareKey(), Ticket("a", "bc").ShareKey());
  EXPECT_NE(Ticket("x", "").ShareKey(), Token("x").ShareKey());
  EXPECT_EQ(a1.ShareKey().size(), 64u) << "SHA-256 in hex";
}

}  // namespace
}  // namespace pvegw::gateway
