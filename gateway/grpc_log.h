// gRPC core logs errors to stderr in a format of its own; the gateway routes them through
// common/log so a JSON log stays one object per line.
#ifndef PVEGW_GATEWAY_GRPC_LOG_H_
#define PVEGW_GATEWAY_GRPC_LOG_H_

namespace pvegw::gateway {

// Sends gRPC core's messages to the process logger (source=grpc, file=FILE:LINE).
void ForwardGrpcLogs();

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_GRPC_LOG_H_
