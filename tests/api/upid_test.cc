#include "api/upid.h"

#include "gtest/gtest.h"

namespace pvegw::api {
namespace {

TEST(UpidTest, ParsesWhatProxmoxWrites) {
  auto upid = ParseUpid("UPID:pve1:000003ED:CE42F039:6B05CA15:qmcreate:150:root@pam:");
  ASSERT_TRUE(upid.ok()) << upid.status();
  EXPECT_EQ(upid->node, "pve1");
  EXPECT_EQ(upid->pid, 0x3EDu);
  EXPECT_EQ(upid->pstart, 0xCE42F039u);
  EXPECT_EQ(upid->starttime, 0x6B05CA15);
  EXPECT_EQ(upid->type, "qmcreate");
  EXPECT_EQ(upid->id, "150");
  EXPECT_EQ(upid->user, "root@pam");
  EXPECT_EQ(FormatUpid(*upid), "UPID:pve1:000003ED:CE42F039:6B05CA15:qmcreate:150:root@pam:");
}

TEST(UpidTest, AcceptsEmptyIdTokensLowerCaseAndNinePstartDigits) {
  auto upid = ParseUpid("UPID:node-a:0000abcd:1ce42f039:6b05ca15:aptupdate::ci@pve!deploy:");
  ASSERT_TRUE(upid.ok()) << upid.status();
  EXPECT_EQ(upid->id, "");
  EXPECT_EQ(upid->user, "ci@pve!deploy");
  EXPECT_EQ(upid->pstart, 0x1ce42f039u);
  EXPECT_EQ(FormatUpid(*upid), "UPID:node-a:0000ABCD:1CE42F039:6B05CA15:aptupdate::ci@pve!deploy:");
}

TEST(UpidTest, MalformedNamesThePart) {
  struct Case {
    const char* upid;
    const char* mentions;
  };
  for (const Case& c : {
           Case{"", "does not start with 'UPID:'"},
           Case{"TASK:pve1:000003ED:CE42F039:6B05CA15:qmcreate:150:root@pam:", "'UPID:'"},
           Case{"UPID:pve1:000003ED:CE42F039:6B05CA15:qmcreate:150:root@pam", "instead of 8"},
           Case{"UPID:pve1:3ED:CE42F039:6B05CA15:qmcreate:150:root@pam:", "pid '3ED'"},
           Case{"UPID:pve1:000003EG:CE42F039:6B05CA15:qmcreate:150:root@pam:", "pid"},
           Case{"UPID:pve1:000003ED:CE4:6B05CA15:qmcreate:150:root@pam:", "pstart 'CE4'"},
           Case{"UPID:pve1:000003ED:CE42F039:6B05CA1:qmcreate:150:root@pam:", "starttime"},
           Case{"UPID:-pve1:000003ED:CE42F039:6B05CA15:qmcreate:150:root@pam:", "node '-pve1'"},
           Case{"UPID:pve1:000003ED:CE42F039:6B05CA15::150:root@pam:", "type ''"},
           Case{"UPID:pve1:000003ED:CE42F039:6B05CA15:qm create:150:root@pam:", "type"},
           Case{"UPID:pve1:000003ED:CE42F039:6B05CA15:qmcreate:1/0:root@pam:", "id '1/0'"},
           Case{"UPID:pve1:000003ED:CE42F039:6B05CA15:qmcreate:150::", "user ''"},
       }) {
    auto upid = ParseUpid(c.upid);
    ASSERT_FALSE(upid.ok()) << c.upid;
    EXPECT_EQ(upid.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(upid.status().message().find(c.mentions), std::string::npos)
        << c.upid << " -> " << upid.status().message();
  }
  EXPECT_FALSE(ParseUpid(std::string(10000, 'U')).ok());
}

}  // namespace
}  // namespace pvegw::api
