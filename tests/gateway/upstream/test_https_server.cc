#include "tests/gateway/upstream/test_https_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace pvegw::testing {
namespace {

std::string Pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    if (i > 0) out.push_back(':');
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* NewCert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key,
              const std::string& san, bool ca) {
  static std::atomic<long> serial{1000};
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  if (ca) {
    AddExt(cert, issuer ? issuer : cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert, issuer ? issuer : cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(cert, issuer ? issuer : cert, NID_basic_constraints, "CA:FALSE");
  }
  if (!san.empty()) AddExt(cert, issuer ? issuer : cert, NID_subject_alt_name, san.c_str());
  X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

bool ReadSome(SSL* ssl, std::string& buf) {
  char chunk[16384];
  const int n = SSL_read(ssl, chunk, sizeof chunk);
  if (n <= 0) return false;
  buf.append(chunk, static_cast<std::size_t>(n));
  return true;
}

bool WriteAll(SSL* ssl, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const int n = SSL_write(ssl, data.data() + off, static_cast<int>(data.size() - off));
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

TestCa::TestCa() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = NewCert(key, "pvegw test CA", nullptr, nullptr, "", true);
  key_ = key;
  cert_ = cert;
  cert_pem_ = Pem(cert);
}

TestCa::~TestCa() {
  X509_free(static_cast<X509*>(cert_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
}

TestCert TestCa::Issue(const std::string& san) const {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert =
      NewCert(key, "pve1", static_cast<X509*>(cert_), static_cast<EVP_PKEY*>(key_), san, false);
  TestCert out{Pem(cert), Pem(key), Fingerprint(cert)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

TestCert TestCa::SelfSigned(const std::string& san) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = NewCert(key, "pve1", nullptr, nullptr, san, false);
  TestCert out{Pem(cert), Pem(key), Fingerprint(cert)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

TestHttpsServer::TestHttpsServer(const TestCert& cert, Handler handler, int port)
    : handler_(std::move(handler)) {
  // Writes to a client that went away must fail, not kill the test process.
  ::signal(SIGPIPE, SIG_IGN);
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  BIO* cb = BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size()));
  X509* x = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  SSL_CTX_use_certificate(ctx, x);
  SSL_CTX_use_PrivateKey(ctx, k);
  X509_free(x);
  EVP_PKEY_free(k);
  ctx_ = ctx;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(port));
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestHttpsServer::~TestHttpsServer() {
  Stop();
  SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
}

void TestHttpsServer::Stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& [index, t] : workers_) t.join();
}

std::vector<TestRequest> TestHttpsServer::seen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_;
}

bool TestHttpsServer::WaitFor(const std::function<bool()>& pred,
                              std::chrono::milliseconds limit) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return pred(); });
}

void TestHttpsServer::Notify() {
  { std::lock_guard<std::mutex> lock(mu_); }
  cv_.notify_all();
}

void TestHttpsServer::AcceptLoop() {
  for (;;) {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    if (stopping_) {
      ::close(fd);
      return;
    }
    const int index = ++connections_;
    std::vector<std::thread> ended;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int done : finished_) {
        ended.push_back(std::move(workers_[done]));
        workers_.erase(done);
      }
      finished_.clear();
      fds_.push_back(fd);
      workers_.emplace(index, std::thread([this, fd, index] { Serve(fd, index); }));
    }
    // Joined without the lock: an ending worker still takes it once more (Notify).
    for (std::thread& t : ended) t.join();
  }
}

void TestHttpsServer::Serve(int fd, int index) {
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  SSL_set_fd(ssl, fd);
  bool reset = false;
  if (SSL_accept(ssl) == 1) {
    std::string buf;
    for (int n = 1;; ++n) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!ReadSome(ssl, buf)) goto done;
      }
      TestRequest req;
      req.connection = index;
      req.index_on_connection = n;
      {
        const std::string head = buf.substr(0, end);
        buf.erase(0, end + 4);
        std::size_t line_end = head.find("\r\n");
        const std::string first = head.substr(0, line_end);
        const auto sp1 = first.find(' ');
        const auto sp2 = first.rfind(' ');
        req.method = first.substr(0, sp1);
        req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
        while (line_end != std::string::npos) {
          const std::size_t start = line_end + 2;
          line_end = head.find("\r\n", start);
          const std::string line = head.substr(
              start, line_end == std::string::npos ? std::string::npos : line_end - start);
          const auto colon = line.find(':');
          if (colon == std::string::npos) continue;
          std::string value = line.substr(colon + 1);
          value.erase(0, value.find_first_not_of(' '));
          req.headers[Lower(line.substr(0, colon))] = value;
        }
        const std::size_t length =
            req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
        while (buf.size() < length) {
          if (!ReadSome(ssl, buf)) goto done;
        }
        req.body = buf.substr(0, length);
        buf.erase(0, length);
      }
      ++requests_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back(req);
      }
      Notify();
      TestReply reply = handler_(req);
      if (reply.kind == TestReply::kClose) break;
      if (reply.kind == TestReply::kReset) {
        reset = true;
        break;
      }
      if (reply.kind == TestReply::kHang) {
        // Until the client goes away or the server stops.
        while (!stopping_) {
          pollfd p{fd, POLLIN, 0};
          if (::poll(&p, 1, 20) > 0) {
            char c;
            if (::recv(fd, &c, 1, MSG_PEEK) <= 0 || (p.revents & (POLLHUP | POLLERR))) break;
            break;  // anything from the client (a TLS alert, a close) ends the wait
          }
        }
        break;
      }
      if (reply.kind == TestReply::kRaw) {
        WriteAll(ssl, reply.raw);
        break;
      }
      std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reply.reason + "\r\n";
      out += "Server: pve-api-daemon/3.0\r\nContent-Type: application/json;charset=UTF-8\r\n";
      out += reply.close_after ? "Connection: close\r\n" : "Connection: Keep-Alive\r\n";
      out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
      if (!WriteAll(ssl, out) || reply.close_after) break;
    }
  }
done:
  if (reset) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  SSL_free(ssl);
  {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
    ::close(fd);
    finished_.push_back(index);
  }
  ++closed_;
  Notify();
}

}  // namespace pvegw::testing
