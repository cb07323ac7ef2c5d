#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/support/byte_buffer.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/api_service.h"
#include "gtest/gtest.h"

namespace pvegw::gateway {
namespace {

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// A dynamic message, as the gateway's replies are: built and serialized by libprotobuf alone
// (the generated Struct's inline Map code differs under ThreadSanitizer from Debian's
// uninstrumented library).
std::unique_ptr<google::protobuf::Message> Rows(int n) {
  static google::protobuf::DynamicMessageFactory* factory =
      new google::protobuf::DynamicMessageFactory();
  std::string json = "{";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&json, i > 0 ? "," : "", "\"vm", i, "\":\"virtio=BC:24:11:00:00:", i % 100,
                    ",bridge=vmbr0,firewall=1\"");
  }
  json += "}";
  std::unique_ptr<google::protobuf::Message> message(
      factory->GetPrototype(google::protobuf::Struct::descriptor())->New());
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, message.get()).ok());
  return message;
}

// Every reply reaches the client as exactly the message's wire bytes: empty, a few bytes
// (one inlined slice) and several megabytes (many blocks of gRPC's writer).
TEST(SerializeReplyTest, WritesTheWireBytesOfEmptySmallAndLargeMessages) {
  for (int rows : {0, 1, 100, 60000}) {
    const std::unique_ptr<google::protobuf::Message> message = Rows(rows);
    grpc::ByteBuffer buffer;
    ASSERT_TRUE(SerializeReply(*message, &buffer).ok()) << rows;
    const std::string bytes = Flatten(buffer);
    EXPECT_EQ(bytes, message->SerializeAsString()) << rows << " rows";
    EXPECT_EQ(buffer.Length(), message->ByteSizeLong());
  }
  EXPECT_GT(Rows(60000)->ByteSizeLong(), 2u << 20);
}

}  // namespace
}  // namespace pvegw::gateway
