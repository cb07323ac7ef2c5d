#include "codegen/naming.h"

#include "gtest/gtest.h"

namespace pvegw::codegen {
namespace {

TEST(NamingTest, OperationIdFollowsProxmoxSdk) {
  EXPECT_EQ(OperationId("GET", "/nodes/{node}/qemu"), "get_nodes_node_qemu");
  EXPECT_EQ(OperationId("POST", "/nodes/{node}/qemu/{vmid}/status/start"),
            "post_nodes_node_qemu_vmid_status_start");
  EXPECT_EQ(OperationId("POST", "/cluster/bulk-action/guest/start"),
            "post_cluster_bulk_action_guest_start");
  EXPECT_EQ(OperationId("GET", "/nodes/{node}/storage/{storage}/download-url/"),
            "get_nodes_node_storage_storage_download_url");
}

TEST(NamingTest, UpperCamel) {
  EXPECT_EQ(UpperCamel("get_nodes_node_qemu"), "GetNodesNodeQemu");
  EXPECT_EQ(UpperCamel("bulk-action"), "BulkAction");
  EXPECT_EQ(UpperCamel("numa_n"), "NumaN");
  EXPECT_EQ(UpperCamel("2fa"), "X2fa");
}

TEST(NamingTest, FieldNames) {
  EXPECT_EQ(FieldNameFor("node"), "node");
  EXPECT_EQ(FieldNameFor("running-machine"), "running_machine");
  EXPECT_EQ(FieldNameFor("CSRFPreventionToken"), "csrf_prevention_token");
  EXPECT_EQ(FieldNameFor("caaIdentities"), "caa_identities");
  EXPECT_EQ(FieldNameFor("2fa-code"), "x_2fa_code");
  EXPECT_EQ(FieldNameFor("option"), "option_");
  EXPECT_EQ(FieldNameFor("string"), "string_");
  EXPECT_EQ(FieldNameFor("--"), "field");
  EXPECT_EQ(FieldNameFor("a..b__c"), "a_b_c");
}

TEST(NamingTest, ConflictKeyMatchesProtocProto3Rule) {
  EXPECT_EQ(FieldConflictKey("foo_bar"), FieldConflictKey("foobar"));
  EXPECT_NE(FieldConflictKey("foo_bar"), FieldConflictKey("foo_bar_2"));
}

TEST(NamingTest, IndexedBase) {
  EXPECT_EQ(IndexedBase("net[n]"), "net");
  EXPECT_EQ(IndexedBase("net"), "");
  EXPECT_EQ(IndexedBase("[n]"), "");
}

TEST(NamingTest, Keywords) {
  EXPECT_TRUE(IsProtoKeyword("message"));
  EXPECT_TRUE(IsProtoKeyword("syntax"));
  EXPECT_FALSE(IsProtoKeyword("node"));
}

}  // namespace
}  // namespace pvegw::codegen
