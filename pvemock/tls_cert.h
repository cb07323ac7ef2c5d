// pve-mock's TLS identity: a PEM certificate and key from files, or a self-signed pair
// made at start-up, and the SHA-256 fingerprint in Proxmox's colon-hex form.
#ifndef PVEGW_PVEMOCK_TLS_CERT_H_
#define PVEGW_PVEMOCK_TLS_CERT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pvegw::pvemock {

struct TlsIdentity {
  std::string cert_pem;     // leaf certificate (and chain, if the file had one)
  std::string key_pem;      // private key
  std::string fingerprint;  // SHA-256 of the leaf's DER, "AB:CD:...", as Proxmox shows it
};

// A fresh self-signed certificate (ECDSA P-256, valid for a year from an hour ago) for
// `common_name` with the given DNS and IP subject alternative names.
absl::StatusOr<TlsIdentity> MakeSelfSignedIdentity(absl::string_view common_name,
                                                   const std::vector<std::string>& dns_names,
                                                   const std::vector<std::string>& ip_addresses);

// Reads a PEM certificate (chain) and key, checks that they belong together.
absl::StatusOr<TlsIdentity> LoadIdentity(const std::string& cert_path, const std::string& key_path);

// The fingerprint of the first certificate in `cert_pem`.
absl::StatusOr<std::string> PemFingerprint(absl::string_view cert_pem);

}  // namespace pvegw::pvemock

#endif  // PVEGW_PVEMOCK_TLS_CERT_H_
