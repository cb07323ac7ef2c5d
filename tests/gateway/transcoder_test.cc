#include "gateway/transcoder.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_mapping.h"
#include "gateway/grpc_status.h"
#include "gateway/method_table.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace pvegw::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

class TranscoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(PVEGW_API_DESCRIPTORS, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto api = api::ApiIndex::FromDescriptorSet(buffer.str());
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = api->release();
    table_ = new MethodTable(*api_);
    transcoder_ = new Transcoder(*api_);
    strict_ = new Transcoder(*api_, TranscoderOptions{/*strict_decoding=*/true});
  }

  // "Nodes.GetNodes" -> "/proxmox.ve.v1.Nodes/GetNodes"
  static const MethodEntry& Method(const std::string& name) {
    std::string full = "/proxmox.ve.v1." + name;
    full[full.find('.', std::string("/proxmox.ve.v1.").size())] = '/';
    const MethodEntry* e = table_->Find(full);
    if (e == nullptr) {
      ADD_FAILURE() << "no method " << full;
      std::abort();
    }
    return *e;
  }
  static std::unique_ptr<google::protobuf::Message> Request(const std::string& method,
                                                            const std::string& json) {
    std::unique_ptr<google::protobuf::Message> m(Method(method).request->New());
    auto st = google::protobuf::util::JsonStringToMessage(json, m.get());
    EXPECT_TRUE(st.ok()) << st.ToString();
    return m;
  }
  static absl::Status Encode(const std::string& method, const std::string& json, RestRequest* out) {
    auto req = Request(method, json);
    return transcoder_->Encode(*Method(method).op, *req, out);
  }
  static absl::Status Decode(const std::string& method, const std::string& body,
                             std::string* json_out, const Transcoder* t = transcoder_) {
    std::unique_ptr<google::protobuf::Message> m(Method(method).response->New());
    RestResponse r;
    r.body = body;
    absl::Status st = t->Decode(*Method(method).op, r, m.get());
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = false;
    json_out->clear();
    (void)google::protobuf::util::MessageToJsonString(*m, json_out, opts);
    return st;
  }

  static api::ApiIndex* api_;
  static MethodTable* table_;
  static Transcoder* transcoder_;
  static Transcoder* strict_;
};
api::ApiIndex* TranscoderTest::api_ = nullptr;
MethodTable* TranscoderTest::table_ = nullptr;
Transcoder* TranscoderTest::transcoder_ = nullptr;
Transcoder* TranscoderTest::strict_ = nullptr;

TEST_F(TranscoderTest, MethodLookupIsByFullGrpcName) {
  EXPECT_EQ(table_->size(), 646u);
  EXPECT_EQ(table_->Find("/proxmox.ve.v1.Nodes/GetNodesNodeQemu")->op->path, "/nodes/{node}/qemu");
  EXPECT_EQ(table_->Find("/proxmox.ve.v1.Nodes/Nope"), nullptr);
}

TEST_F(TranscoderTest, EncodesPathQueryAndBodyParameters) {
  RestRequest r;
  ASSERT_TRUE(Encode("Nodes.PostNodesNodeQemu",
                     R"({"node":"pve1","vmid":150,"name":"web","onboot":true,"cores":2,
                         "net":{"0":"virtio,bridge=vmbr0","1":"e1000,bridge=vmbr1"}})",
                     &r)
                  .ok());
  EXPECT_EQ(r.verb, "POST");
  EXPECT_EQ(r.path, "/nodes/pve1/qemu");
  EXPECT_THAT(r.params,
              UnorderedElementsAre(Pair("vmid", "150"), Pair("name", "web"), Pair("onboot", "1"),
                                   Pair("cores", "2"), Pair("net0", "virtio,bridge=vmbr0"),
                                   Pair("net1", "e1000,bridge=vmbr1")));
}

TEST_F(TranscoderTest, PlainAndIndexedFieldsWithOnePrefixBothEncode) {
  RestRequest r;
  absl::Status st =
      Encode("Nodes.PostNodesNodeQemu",
             R"({"node":"pve1","vmid":150,"numa":true,"numa_n":{"0":"cpus=0-1"}})", &r);
  ASSERT_TRUE(st.ok()) << std::string(st.message());
  EXPECT_THAT(r.params, UnorderedElementsAre(Pair("vmid", "150"), Pair("numa", "1"),
                                             Pair("numa0", "cpus=0-1")));
}

TEST_F(TranscoderTest, UnsetFieldsAreNeverSentButExplicitZerosAre) {
  RestRequest r;
  ASSERT_TRUE(Encode("Nodes.GetNodesNodeQemu", R"({"node":"pve1"})", &r).ok());
  EXPECT_TRUE(r.params.empty());
  ASSERT_TRUE(Encode("Nodes.GetNodesNodeQemu", R"({"node":"pve1","full":false})", &r).ok());
  EXPECT_THAT(r.params, UnorderedElementsAre(Pair("full", "0")));
}

// 100,000 map entries (2.8 MB, under the gRPC limit) can never reach Proxmox, whose
// pveproxy takes at most 512 KiB: refused at once, not validated entry by entry.
TEST_F(TranscoderTest, ParametersAboveProxmoxBodyLimitAreRefusedBeforeValidation) {
  auto req = Request("Nodes.PostNodesNodeQemu", R"({"node":"pve1","vmid":150})");
  const auto* net = req->GetDescriptor()->FindFieldByName("net");
  ASSERT_NE(net, nullptr);
  for (int i = 0; i < 100000; ++i) {
    google::protobuf::Message* entry = req->GetReflection()->AddMessage(req.get(), net);
    entry->GetReflection()->SetUInt32(entry, net->message_type()->map_key(), i);
    entry->GetReflection()->SetString(entry, net->message_type()->map_value(),
                                      "virtio,bridge=vmbr0");
  }
  RestRequest r;
  const absl::Status st = transcoder_->Encode(*Method("Nodes.PostNodesNodeQemu").op, *req, &r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("512 KiB"));
  EXPECT_TRUE(FieldViolationsOf(st).empty());
}

TEST_F(TranscoderTest, PathParametersAreEscaped) {
  RestRequest r;
  ASSERT_TRUE(Encode("Nodes.GetNodesNodeStorageStorageContentVolume",
                     R"({"node":"pve1","storage":"local","volume":"local:iso/debian 12.iso"})", &r)
                  .ok());
  EXPECT_EQ(r.path, "/nodes/pve1/storage/local/content/local%3Aiso%2Fdebian%2012.iso");
}

TEST_F(TranscoderTest, RepeatedParametersRepeatTheKey) {
  RestRequest r;
  ASSERT_TRUE(Encode("Cluster.PostClusterBulkActionGuestStart", R"({"vms":[100,101]})", &r).ok());
  EXPECT_THAT(r.params, UnorderedElementsAre(Pair("vms", "100"), Pair("vms", "101")));
}

TEST_F(TranscoderTest, ValidationFailsWithBadRequestNamingEveryViolation) {
  RestRequest r;
  absl::Status st =
      Encode("Nodes.PostNodesNodeQemu", R"({"node":"pve1","vmid":5,"ostype":"beos"})", &r);
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("vmid: value must have a minimum value of 100"));
  // Sent to the client as one google.rpc.BadRequest (gateway/grpc_status.h).
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(ToGrpcStatus(st).error_details()));
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(rich.details(0).UnpackTo(&bad));
  std::map<std::string, std::string> by_field;
  for (const auto& v : bad.field_violations()) by_field[v.field()] = v.description();
  EXPECT_EQ(by_field["vmid"], "value must have a minimum value of 100");
  EXPECT_THAT(by_field["ostype"], HasSubstr("does not have a value in the enumeration"));
  // Missing required path and body parameters.
  st = Encode("Nodes.PostNodesNodeQemu", R"({})", &r);
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("node: property is missing"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("vmid: property is missing"));
}

TEST_F(TranscoderTest, DecodesWhatProxmoxReallySends) {
  std::string out;
  // Integers and booleans as strings or 0/1, numbers as strings, nulls, unknown keys.
  const std::uint64_t unlisted_before = transcoder_->unlisted_keys_kept();
  ASSERT_TRUE(
      Decode("Nodes.GetNodesNodeQemu",
             R"({"data":[{"vmid":"100","name":"web","status":"running","maxmem":"4294967296",
                                   "cpu":"0.25","template":"1","lock":null,"brand-new-key":7},
                                  {"vmid":101,"status":"stopped","template":0,"cpu":0}]})",
             &out)
          .ok());
  EXPECT_THAT(out, HasSubstr(R"("vmid":100)"));
  EXPECT_THAT(out, HasSubstr(R"("maxmem":"4294967296")"));
  EXPECT_THAT(out, HasSubstr(R"("cpu":0.25)"));
  EXPECT_THAT(out, HasSubstr(R"("template":true)"));
  EXPECT_THAT(out, Not(HasSubstr("lock")));
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"brand-new-key":7})"));
  EXPECT_EQ(transcoder_->unlisted_keys_kept(), unlisted_before + 1);
  EXPECT_EQ(transcoder_->unknown_fields_ignored(), 0u);
  // Indexed keys become map entries; a list sent as "a,b" becomes a list.
  ASSERT_TRUE(
      Decode("Nodes.GetNodesNodeQemuVmidConfig",
             R"({"data":{"digest":"abc","net0":"virtio,bridge=vmbr0","net2":"e1000","numa":1}})",
             &out)
          .ok());
  EXPECT_THAT(out, HasSubstr(R"("net":{"0":"virtio,bridge=vmbr0","2":"e1000"})"));
  ASSERT_TRUE(
      Decode("Access.GetAccessUsersUserid", R"({"data":{"groups":"admins,ops"}})", &out).ok());
  EXPECT_THAT(out, HasSubstr(R"("groups":["admins","ops"])"));
  // Untyped results keep whatever Proxmox sent.
  ASSERT_TRUE(
      Decode(
          "Pools.GetPoolsPoolid",
          R"({"data":{"members":[{"id":"qemu/100","type":"qemu","node":"pve1","extra":{"x":[1,2]}}]}})",
          &out)
          .ok());
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"extra":{"x":[1,2]}})"));
  // A null result leaves data unset.
  ASSERT_TRUE(Decode("Nodes.PutNodesNodeQemuVmidConfig", R"({"data":null})", &out).ok());
  EXPECT_EQ(out, "{}");
}

TEST_F(TranscoderTest, StrictDecodingFailsUnconvertibleValuesNamingTheField) {
  std::string out;
  absl::Status st = Decode("Nodes.GetNodesNodeQemu",
                           R"({"data":[{"vmid":"one hundred","status":"x"}]})", &out, strict_);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(st.message()), HasSubstr("'GetNodesNodeQemu.data[0].vmid'"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("one hundred"));
  st = Decode("Nodes.GetNodesNodeQemuVmidConfig", R"({"data":[1,2]})", &out, strict_);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(st.message()), HasSubstr("an object"));
  st = Decode("Nodes.GetNodesNodeQemuVmidConfig", R"({"data":{"cores":1e300}})", &out, strict_);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  // Unlisted keys are no failure, even in strict mode: they are kept.
  st = Decode("Nodes.GetNodesNodeQemu", R"({"data":[{"vmid":1,"status":"x","new":1}]})", &out,
              strict_);
  EXPECT_TRUE(st.ok()) << std::string(st.message());
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"new":1})"));
}

TEST_F(TranscoderTest, BodiesThatAreNotJsonObjectsAreInternalInEveryMode) {
  std::string out;
  for (const Transcoder* t :
       {static_cast<const Transcoder*>(transcoder_), static_cast<const Transcoder*>(strict_)}) {
    absl::Status st = Decode("Nodes.GetNodesNodeQemu", R"(not json)", &out, t);
    EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(st.message()), HasSubstr("not a JSON object"));
    st = Decode("Nodes.GetNodesNodeQemu", R"([1])", &out, t);
    EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  }
}

// --- Lossless decoding: one rule per test -------------------------------------------------

// A value its typed field cannot hold stays under its Proxmox key in the Struct of the
// object it was in; the typed field stays unset and the rest of the answer decodes.
TEST_F(TranscoderTest, UnconvertibleValueIsKeptInTheStructOfItsObject) {
  std::string out;
  // PVE sends the monitor's host name in `host`, which its schema declares boolean (the
  // example of docs/api.md "Lossless answers").
  absl::Status st = Decode("Nodes.GetNodesNodeCephMon",
                           R"({"data": [{"name": "srv-proxmox-01", "rank": 0, "quorum": 1,
                                         "direxists": 1, "host": "srv-proxmox-01",
                                         "addr": "192.168.1.21:6789/0", "state": "running"}]})",
                           &out);
  ASSERT_TRUE(st.ok()) << std::string(st.message());
  EXPECT_EQ(out,
            R"({"data":[{"addr":"192.168.1.21:6789/0","direxists":"1","name":"srv-proxmox-01",)"
            R"("quorum":true,"rank":"0","state":"running",)"
            R"("additionalProperties":{"host":"srv-proxmox-01"}}]})");
}

TEST_F(TranscoderTest, IntegersFromStringsBooleansAndIntegralNumbers) {
  std::string out;
  ASSERT_TRUE(Decode("Cluster.GetClusterNextid", R"({"data":"105"})", &out).ok());
  EXPECT_EQ(out, R"({"data":"105"})");  // int64: proto3 JSON writes a string
  ASSERT_TRUE(Decode("Cluster.GetClusterNextid", R"({"data":105.0})", &out).ok());
  EXPECT_EQ(out, R"({"data":"105"})");
  ASSERT_TRUE(Decode("Cluster.GetClusterNextid", R"({"data":" 7 "})", &out).ok());
  EXPECT_EQ(out, R"({"data":"7"})");
  ASSERT_TRUE(Decode("Cluster.GetClusterNextid", R"({"data":true})", &out).ok());
  EXPECT_EQ(out, R"({"data":"1"})");
  // Not integers: kept as sent.
  for (const char* odd : {R"("1.5")", "1.5", R"("N/A")", "[1]", "{}", "1e300"}) {
    ASSERT_TRUE(
        Decode("Cluster.GetClusterNextid", absl::StrCat(R"({"data":)", odd, "}"), &out).ok())
        << odd;
    EXPECT_THAT(out, HasSubstr(R"({"additionalProperties":{"data":)")) << odd;
  }
}

TEST_F(TranscoderTest, Int32RangeIsChecked) {
  std::string out;
  // `vmid` is int32 (100 - 999999999); 2^40 does not fit and is kept as sent.
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeQemu",
                     R"({"data":[{"vmid":1099511627776,"status":"running"}]})", &out)
                  .ok());
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"vmid":1099511627776})"));
}

TEST_F(TranscoderTest, NumbersFromStringsButNotWords) {
  std::string out;
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeQemu",
                     R"({"data":[{"vmid":100,"status":"running","cpu":"0.5"},
                                 {"vmid":101,"status":"stopped","cpu":"nan"},
                                 {"vmid":102,"status":"stopped","cpu":true}]})",
                     &out)
                  .ok());
  EXPECT_THAT(out, HasSubstr(R"("cpu":0.5)"));
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"cpu":"nan"})"));
  EXPECT_THAT(out, HasSubstr(R"("cpu":1)"));
}

TEST_F(TranscoderTest, BooleansFromZeroOneAndProxmoxWords) {
  std::string out;
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeQemu",
                     R"({"data":[{"vmid":1,"status":"s","template":1},
                                 {"vmid":2,"status":"s","template":"0"},
                                 {"vmid":3,"status":"s","template":"yes"},
                                 {"vmid":4,"status":"s","template":2}]})",
                     &out)
                  .ok());
  EXPECT_THAT(out, HasSubstr(R"("template":true,"vmid":1)"));
  EXPECT_THAT(out, HasSubstr(R"("template":false,"vmid":2)"));
  EXPECT_THAT(out, HasSubstr(R"("template":true,"vmid":3)"));
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"template":2})"));
}

TEST_F(TranscoderTest, NullAndEmptyStringLeaveNonTextFieldsUnset) {
  std::string out;
  // PVE 5/6 send "template": "" for guests that are not templates.
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeQemu",
                     R"({"data":[{"vmid":100,"status":"running","template":"","pid":null,
                                  "name":""}]})",
                     &out)
                  .ok());
  EXPECT_THAT(out, Not(HasSubstr("template")));
  EXPECT_THAT(out, Not(HasSubstr("pid")));
  EXPECT_THAT(out, Not(HasSubstr("additionalProperties")));
  EXPECT_THAT(out, HasSubstr(R"("name":"")")) << "text keeps its empty string";
}

TEST_F(TranscoderTest, TextFromNumbersAndBooleansButNotFromObjects) {
  std::string out;
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeQemu",
                     R"({"data":[{"vmid":1,"status":1,"name":true,"lock":{"a":1}}]})", &out)
                  .ok());
  EXPECT_THAT(out, HasSubstr(R"("status":"1")"));
  EXPECT_THAT(out, HasSubstr(R"("name":"1")"));
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"lock":{"a":1}})"));
}

TEST_F(TranscoderTest, ListsKeepTheirElementsOrGoWholeToTheStruct) {
  std::string out;
  // A list with an element its field cannot hold, or with a gap, is kept whole.
  ASSERT_TRUE(
      Decode("Access.GetAccessUsersUserid", R"({"data":{"groups":["a",{"b":1}]}})", &out).ok());
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"groups":["a",{"b":1}]})"));
  EXPECT_THAT(out, Not(HasSubstr(R"("groups":["a"])")));
  ASSERT_TRUE(
      Decode("Access.GetAccessUsersUserid", R"({"data":{"groups":["a",null]}})", &out).ok());
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"groups":["a",null]})"));
  ASSERT_TRUE(Decode("Access.GetAccessUsersUserid", R"({"data":{"groups":["a","b"]}})", &out).ok());
  EXPECT_THAT(out, HasSubstr(R"("groups":["a","b"])"));
}

TEST_F(TranscoderTest, IndexedKeysThatDoNotFitStayUnderTheirProxmoxKey) {
  std::string out;
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeQemuVmidConfig",
                     R"({"data":{"net0":"virtio","net1":{"odd":true},"net2":null}})", &out)
                  .ok());
  EXPECT_THAT(out, HasSubstr(R"("net":{"0":"virtio"})"));
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"net1":{"odd":true}})"));
}

TEST_F(TranscoderTest, ObjectWhereTextOrAnObjectWhereAListIsExpected) {
  std::string out;
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeQemuVmidConfig", R"({"data":[1,2]})", &out).ok());
  EXPECT_EQ(out, R"({"additionalProperties":{"data":[1,2]}})");
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeQemu", R"({"data":{"vmid":1}})", &out).ok());
  EXPECT_THAT(out, HasSubstr(R"("vmid":1)")) << "a single object where a list was expected";
}

TEST_F(TranscoderTest, EnvelopeKeysBesideDataAreKept) {
  std::string out;
  ASSERT_TRUE(Decode("Nodes.GetNodesNodeTasks",
                     R"({"total":236,"data":[{"upid":"UPID:x","node":"n","pid":1,"pstart":2,
                                               "starttime":3,"type":"t","user":"u"}]})",
                     &out)
                  .ok());
  EXPECT_THAT(out, HasSubstr(R"("additionalProperties":{"total":236})"));
}

TEST_F(TranscoderTest, FallbacksAreCountedPerMethodAndField) {
  // A transcoder of its own, so counts from other tests do not mix in.
  Transcoder t(*api_);
  std::string out;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        Decode("Nodes.GetNodesNodeCephMon", R"({"data":[{"name":"a","host":"h1"}]})", &out, &t)
            .ok());
  }
  ASSERT_TRUE(Decode("Cluster.GetClusterNextid", R"({"data":"N/A"})", &out, &t).ok());
  ASSERT_TRUE(Decode("Cluster.GetClusterNextid", R"({"data":"1","extra":1})", &out, &t).ok());
  const std::vector<DecodeFallbackCount> counts = t.DecodeFallbacks();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].method, "proxmox.ve.v1.Cluster.GetClusterNextid");
  EXPECT_EQ(counts[0].field, "proxmox.ve.v1.GetClusterNextidResponse.data");
  EXPECT_EQ(counts[0].count, 1u);
  EXPECT_EQ(counts[1].method, "proxmox.ve.v1.Nodes.GetNodesNodeCephMon");
  EXPECT_EQ(counts[1].field, "proxmox.ve.v1.GetNodesNodeCephMonResponse.DataItem.host");
  EXPECT_EQ(counts[1].count, 3u);
  EXPECT_EQ(t.unlisted_keys_kept(), 1u);
}

TEST(EscapeTest, OnlyUnreservedCharactersStay) {
  EXPECT_EQ(EscapePathSegment("a-Z_0.9~"), "a-Z_0.9~");
  EXPECT_EQ(EscapePathSegment("local:iso/x y.iso"), "local%3Aiso%2Fx%20y.iso");
  EXPECT_EQ(EscapePathSegment("UPID:pve1:0000:"), "UPID%3Apve1%3A0000%3A");
}

// --- Typed property strings (DESIGN.md §11) -----------------------------------------------

TEST_F(TranscoderTest, TypedAndRawRequestsMakeTheSameRestCall) {
  RestRequest raw;
  ASSERT_TRUE(Encode("Nodes.PostNodesNodeQemu",
                     R"({"node":"pve1","vmid":150,"name":"web","cores":2,
                         "net":{"0":"virtio=BC:24:11:2A:7E:01,bridge=vmbr0,firewall=1,tag=20"},
                         "scsi":{"0":"local-lvm:8,iothread=1"},
                         "memory":"2048"})",
                     &raw)
                  .ok());
  RestRequest typed;
  absl::Status st = Encode("Nodes.PostNodesNodeQemu",
                           R"({"node":"pve1","vmid":150,"name":"web","cores":2,
                               "netTyped":{"0":{"tag":20,"firewall":true,"bridge":"vmbr0",
                                                "macaddr":"BC:24:11:2A:7E:01","model":"virtio"}},
                               "scsiTyped":{"0":{"file":"local-lvm:8","iothread":true}},
                               "memoryTyped":{"current":2048}})",
                           &typed);
  ASSERT_TRUE(st.ok()) << std::string(st.message());
  EXPECT_EQ(typed.verb, raw.verb);
  EXPECT_EQ(typed.path, raw.path);
  EXPECT_EQ(typed.params, raw.params) << "same parameters in the same order";
  EXPECT_THAT(
      typed.params,
      ::testing::Contains(Pair("net0", "virtio=BC:24:11:2A:7E:01,bridge=vmbr0,firewall=1,tag=20")));
}

// The formats the schema only names (ipconfig, boot, cpu, hostpci) work the same way.
TEST_F(TranscoderTest, NamedFormatsTypedAndRawMakeTheSameRestCall) {
  RestRequest raw;
  absl::Status st = Encode("Nodes.PostNodesNodeQemu",
                           R"({"node":"pve1","vmid":150,"boot":"order=scsi0;net0",
                               "cpu":"host,flags=+aes;-pcid",
                               "hostpci":{"0":"0000:01:00.0,pcie=1"},
                               "ipconfig":{"0":"gw=192.0.2.1,ip=192.0.2.10/24,ip6=auto"}})",
                           &raw);
  ASSERT_TRUE(st.ok()) << std::string(st.message());
  RestRequest typed;
  st = Encode("Nodes.PostNodesNodeQemu",
              R"({"node":"pve1","vmid":150,"bootTyped":{"order":"scsi0;net0"},
                  "cpuTyped":{"flags":"+aes;-pcid","cputype":"host"},
                  "hostpciTyped":{"0":{"pcie":true,"host":"0000:01:00.0"}},
                  "ipconfigTyped":{"0":{"ip6":"auto","ip":"192.0.2.10/24","gw":"192.0.2.1"}}})",
              &typed);
  ASSERT_TRUE(st.ok()) << std::string(st.message());
  EXPECT_EQ(typed.params, raw.params) << "same parameters in the same order";
  EXPECT_THAT(typed.params, ::testing::Contains(Pair("cpu", "host,flags=+aes;-pcid")));
  EXPECT_THAT(typed.params, ::testing::Contains(Pair("hostpci0", "0000:01:00.0,pcie=1")));

  // Validated by the keys of the table: a CPU flag needs its +/- (Proxmox's pattern).
  RestRequest bad;
  st = Encode("Nodes.PostNodesNodeQemu",
              R"({"node":"pve1","vmid":150,"cpuTyped":{"cputype":"host","flags":"aes"}})", &bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("cpu.flags"));
}

TEST_F(TranscoderTest, RawAndTypedBothSetIsInvalidArgumentNamingTheField) {
  RestRequest r;
  absl::Status st = Encode("Nodes.PostNodesNodeLxc",
                           R"({"node":"pve1","vmid":150,"ostemplate":"local:vztmpl/x.tar.zst",
                               "rootfs":"local-lvm:8","rootfsTyped":{"volume":"local-lvm:8"}})",
                           &r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("rootfs_typed: set either 'rootfs' or 'rootfs_typed'"));
  const std::vector<FieldViolation> violations = FieldViolationsOf(st);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "rootfs_typed");
}

TEST_F(TranscoderTest, TypedRequestsAreValidatedLikeRawOnes) {
  RestRequest r;
  absl::Status st = Encode("Nodes.PostNodesNodeQemu",
                           R"({"node":"pve1","vmid":150,"netTyped":{"0":{"model":"nope"}}})", &r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("net0.model: value 'nope' does not have a value"));
  st = Encode("Nodes.PostNodesNodeQemu",
              R"({"node":"pve1","vmid":150,"netTyped":{"0":{"model":"virtio","bridge":"a,b"}}})",
              &r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("net_typed[0]: illegal value with commas for bridge"));
}

TEST_F(TranscoderTest, AnswersFillRawAndTypedAndKeepWhatDoesNotParse) {
  std::string json;
  const std::string body = R"({"data":{"digest":"x","net0":"virtio=BC:24:11:2A:7E:01,bridge=vmbr0",
      "net1":"e1000,bridge=vmbr1,newkey=7","net2":"virtio,tag=abc",
      "scsi0":"local-lvm:vm-100-disk-0,iothread=1,size=32G"}})";
  absl::Status st = Decode("Nodes.GetNodesNodeQemuVmidConfig", body, &json);
  ASSERT_TRUE(st.ok()) << std::string(st.message());
  EXPECT_THAT(json, HasSubstr(R"("net":{"0":"virtio=BC:24:11:2A:7E:01,bridge=vmbr0")"));
  EXPECT_THAT(
      json,
      HasSubstr(
          R"("netTyped":{"0":{"bridge":"vmbr0","macaddr":"BC:24:11:2A:7E:01","model":"virtio"},"1":{"bridge":"vmbr1","model":"e1000","additionalProperties":{"newkey":"7"}}})"));
  EXPECT_THAT(json, HasSubstr(R"("2":"virtio,tag=abc")")) << "the raw string stays";
  EXPECT_THAT(
      json,
      HasSubstr(
          R"("scsiTyped":{"0":{"file":"local-lvm:vm-100-disk-0","iothread":true,"size":"32G"}})"));
  bool counted = false;
  for (const auto& f : transcoder_->DecodeFallbacks()) {
    if (absl::EndsWith(f.field, "GetNodesNodeQemuVmidConfigResponse.Data.net_typed"))
      counted = true;
  }
  EXPECT_TRUE(counted) << "an unparsable property string is a decode fallback";

  st = Decode("Nodes.GetNodesNodeQemuVmidConfig", body, &json, strict_);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(st.message()), HasSubstr("net2"));
}

}  // namespace
}  // namespace pvegw::gateway
