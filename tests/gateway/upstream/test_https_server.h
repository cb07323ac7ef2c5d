// A small blocking HTTPS/1.1 server on 127.0.0.1:0 for client tests: certificates made at
// run time, a handler per request, and misbehaviour on demand (close, hang, reset, raw
// bytes) that a well-behaved server would never produce.
#ifndef PVEGW_TESTS_GATEWAY_UPSTREAM_TEST_HTTPS_SERVER_H_
#define PVEGW_TESTS_GATEWAY_UPSTREAM_TEST_HTTPS_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pvegw::testing {

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
  std::string fingerprint;  // SHA-256, AB:CD:...
};

// A CA (self-signed, CA:TRUE) and leaf certificates it signs.
class TestCa {
 public:
  TestCa();
  ~TestCa();
  const std::string& cert_pem() const { return cert_pem_; }
  // A server certificate for the given SANs ("IP:127.0.0.1,DNS:localhost").
  TestCert Issue(const std::string& san) const;
  // A self-signed certificate (no CA), like a fresh PVE host's.
  static TestCert SelfSigned(const std::string& san);

 private:
  void* key_ = nullptr;   // EVP_PKEY*
  void* cert_ = nullptr;  // X509*
  std::string cert_pem_;
};

struct TestRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int connection = 0;  // 1-based index of the connection it came on
  int index_on_connection = 0;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct TestReply {
  enum Kind { kAnswer, kRaw, kClose, kHang, kReset };
  Kind kind = kAnswer;
  int status = 200;
  std::string reason = "OK";
  std::string body = "{\"data\":null}";
  bool close_after = false;  // close the connection after answering (like pveproxy on >= 400)
  std::string raw;           // kRaw: bytes written as they are, then the connection closes
  static TestReply Json(const std::string& body) {
    TestReply r;
    r.body = body;
    return r;
  }
  static TestReply Error(int status, const std::string& reason) {
    TestReply r;
    r.status = status;
    r.reason = reason;
    r.body = "{\"data\":null,\"message\":\"" + reason + "\\n\"}";
    r.close_after = true;
    return r;
  }
  static TestReply Of(Kind k) {
    TestReply r;
    r.kind = k;
    return r;
  }
};

class TestHttpsServer {
 public:
  using Handler = std::function<TestReply(const TestRequest&)>;
  // Listens on 127.0.0.1:`port` (0: a free port; a given one lets a test "restart" a node).
  TestHttpsServer(const TestCert& cert, Handler handler, int port = 0);
  ~TestHttpsServer();

  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  int closed_connections() const { return closed_; }
  std::vector<TestRequest> seen() const;
  // Waits (bounded) until `pred` holds; true if it did.
  bool WaitFor(const std::function<bool()>& pred,
               std::chrono::milliseconds limit = std::chrono::seconds(10)) const;
  // Unblocks kHang handlers and closes every connection.
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd, int index);
  void Notify();

  Handler handler_;
  void* ctx_ = nullptr;  // SSL_CTX*
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> closed_{0};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<TestRequest> seen_;
  std::vector<int> fds_;
  std::thread acceptor_;
  // One thread per connection, by connection index; those that ended are joined at the
  // next accept, so a long run (a fuzz session: one connection per input) keeps none.
  std::map<int, std::thread> workers_;
  std::vector<int> finished_;
};

}  // namespace pvegw::testing

#endif  // PVEGW_TESTS_GATEWAY_UPSTREAM_TEST_HTTPS_SERVER_H_
