#include "pvemock/tls_cert.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pvegw::pvemock {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// The newest OpenSSL error as text (the queue is cleared).
std::string OpensslError() {
  unsigned long code = ERR_get_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

absl::StatusOr<std::string> ToPem(int (*write)(BIO*, void*), void* object) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get(), object) != 1) return absl::InternalError(OpensslError());
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

int WriteCert(BIO* bio, void* cert) { return PEM_write_bio_X509(bio, static_cast<X509*>(cert)); }
int WriteKey(BIO* bio, void* key) {
  return PEM_write_bio_PrivateKey(bio, static_cast<EVP_PKEY*>(key), nullptr, nullptr, 0, nullptr,
                                  nullptr);
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  std::vector<std::string> bytes;
  for (unsigned int i = 0; i < len; ++i) {
    bytes.push_back(absl::StrCat(absl::Hex(md[i], absl::kZeroPad2)));
  }
  std::string out = absl::StrJoin(bytes, ":");
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

absl::StatusOr<TlsIdentity> MakeSelfSignedIdentity(absl::string_view common_name,
                                                   const std::vector<std::string>& dns_names,
                                                   const std::vector<std::string>& ip_addresses) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return absl::InternalError(absl::StrCat("key generation: ", OpensslError()));
  X509Ptr cert(X509_new());
  if (!cert) return absl::InternalError(OpensslError());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return absl::InternalError(OpensslError());
  serial[0] &= 0x7f;  // a positive serial number
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(common_name);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("pve-mock"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  std::vector<std::string> sans;
  for (const std::string& d : dns_names) sans.push_back("DNS:" + d);
  for (const std::string& ip : ip_addresses) sans.push_back("IP:" + ip);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san_value = absl::StrJoin(sans, ",");
  struct Ext {
    int nid;
    std::string value;
  };
  // A self-signed leaf that is also its own CA, so clients can use it as a CA file.
  for (const Ext& e :
       {Ext{NID_subject_alt_name, san_value}, Ext{NID_basic_constraints, "critical,CA:TRUE"},
        Ext{NID_key_usage, "critical,digitalSignature,keyCertSign"},
        Ext{NID_ext_key_usage, "serverAuth"}, Ext{NID_subject_key_identifier, "hash"}}) {
    if (e.value.empty()) continue;
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, e.nid, e.value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return absl::InternalError(absl::StrCat("certificate extension: ", OpensslError()));
    }
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return absl::InternalError(absl::StrCat("certificate signing: ", OpensslError()));
  }
  TlsIdentity id;
  auto cert_pem = ToPem(WriteCert, cert.get());
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = ToPem(WriteKey, key.get());
  if (!key_pem.ok()) return key_pem.status();
  id.cert_pem = *std::move(cert_pem);
  id.key_pem = *std::move(key_pem);
  id.fingerprint = Fingerprint(cert.get());
  return id;
}

absl::StatusOr<std::string> PemFingerprint(absl::string_view cert_pem) {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM certificate (", OpensslError(), ")"));
  }
  return Fingerprint(cert.get());
}

absl::StatusOr<TlsIdentity> LoadIdentity(const std::string& cert_path,
                                         const std::string& key_path) {
  TlsIdentity id;
  auto cert = ReadFile(cert_path, "TLS certificate");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(key_path, "TLS key");
  if (!key.ok()) return key.status();
  id.cert_pem = *std::move(cert);
  id.key_pem = *std::move(key);
  BioPtr cert_bio(BIO_new_mem_buf(id.cert_pem.data(), static_cast<int>(id.cert_pem.size())));
  X509Ptr x509(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!x509) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_path, ": not a PEM certificate (", OpensslError(), ")"));
  }
  BioPtr key_bio(BIO_new_mem_buf(id.key_pem.data(), static_cast<int>(id.key_pem.size())));
  PkeyPtr pkey(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_path, ": not an unencrypted PEM private key (", OpensslError(), ")"));
  }
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(key_path, " is not the private key of the certificate in ", cert_path));
  }
  id.fingerprint = Fingerprint(x509.get());
  return id;
}

}  // namespace pvegw::pvemock
