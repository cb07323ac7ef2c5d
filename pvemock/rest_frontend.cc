#include "pvemock/rest_frontend.h"

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/api_index.h"
#include "common/status_mapping.h"
#include "pvemock/multipart.h"

namespace pvegw::pvemock {
namespace {

namespace json = boost::json;

constexpr char kJsonContentType[] = "application/json;charset=UTF-8";

// Length of the valid UTF-8 sequence starting at s[i], 0 if there is none.
std::size_t Utf8SequenceAt(absl::string_view s, std::size_t i);

bool ValidUtf8(absl::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = Utf8SequenceAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Text safe for a reason phrase, a log line and a JSON string: invalid UTF-8 bytes and
// control characters become '?'.
std::string Printable(absl::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = Utf8SequenceAt(s, i);
    if (n == 0 || (n == 1 && (static_cast<unsigned char>(s[i]) < 0x20 || s[i] == 0x7f))) {
      out.push_back('?');
      i += n == 0 ? 1 : n;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

std::size_t Utf8SequenceAt(absl::string_view s, std::size_t i) {
  {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      return 1;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + n >= s.size()) return 0;
    for (std::size_t k = 1; k <= n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond Unicode.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return 0;
    }
    return n + 1;
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// '+' is a space and %XX an escape; nullopt for a malformed escape.
std::optional<std::string> FormUnescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexDigit(s[i + 1]);
      const int lo = HexDigit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Printable text for a reason phrase or a log: the first line, control characters dropped.
std::string ReasonPhrase(absl::string_view message) {
  std::string out = Printable(message.substr(0, message.find('\n')));
  if (out.empty()) out = "error";
  return out;
}

// pveproxy's extract_auth_value: `name=value` at the start or after white space or ';',
// value up to the next ';', percent-decoded.
std::optional<std::string> ExtractAuthValue(absl::string_view header, absl::string_view name) {
  std::size_t pos = 0;
  while ((pos = header.find(name, pos)) != absl::string_view::npos) {
    const bool starts = pos == 0 ||
                        absl::ascii_isspace(static_cast<unsigned char>(header[pos - 1])) ||
                        header[pos - 1] == ';';
    const std::size_t after = pos + name.size();
    if (starts && after < header.size() &&
        (header[after] == '=' || absl::ascii_isspace(static_cast<unsigned char>(header[after])))) {
      std::size_t begin = after + 1;
      while (begin < header.size() &&
             absl::ascii_isspace(static_cast<unsigned char>(header[begin])))
        ++begin;
      std::size_t end = header.find(';', begin);
      if (end == absl::string_view::npos) end = header.size();
      absl::string_view raw = absl::StripTrailingAsciiWhitespace(header.substr(begin, end - begin));
      std::string decoded;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size() && HexDigit(raw[i + 1]) >= 0 &&
            HexDigit(raw[i + 2]) >= 0) {
          decoded.push_back(static_cast<char>(HexDigit(raw[i + 1]) * 16 + HexDigit(raw[i + 2])));
          i += 2;
        } else {
          decoded.push_back(raw[i]);
        }
      }
      return decoded;
    }
    pos = after;
  }
  return std::nullopt;
}

HttpAnswer Unauthorized(absl::string_view reason) {
  // Auth-layer 401s have an empty body (AE authenticate_and_handle_request).
  HttpAnswer a;
  a.status = 401;
  a.reason = std::string(reason);
  a.close = true;
  return a;
}

HttpAnswer FromRest(const RestResponse& r) {
  HttpAnswer a;
  a.status = r.status;
  a.reason = r.status == 200 ? "OK" : ReasonPhrase(r.reason);
  a.content_type = kJsonContentType;
  a.body = r.body;
  a.close = r.status >= 400;
  return a;
}

HttpAnswer ApiError(int status, absl::string_view message) {
  return FromRest(RestResponseFromStatus(HttpError(status, message)));
}

// Calls that need no authentication (HS auth_handler).
bool NoAuthNeeded(absl::string_view verb, absl::string_view path) {
  if (verb == "GET") return path == "/access/domains" || path == "/access/ticket";
  if (verb == "POST") {
    return path == "/access/ticket" || path == "/access/vncticket" ||
           path == "/access/openid/login" || path == "/access/openid/auth-url";
  }
  return false;
}

// "/a//b/" -> "/a/b": pveproxy drops empty segments.
std::string NormalisePath(absl::string_view path) {
  std::string out;
  for (absl::string_view seg : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&out, "/", seg);
  }
  return out.empty() ? "/" : out;
}

bool GlobMatch(const std::vector<std::string>& glob, std::size_t gi,
               const std::vector<absl::string_view>& segs, std::size_t si) {
  if (gi == glob.size()) return si == segs.size();
  if (glob[gi] == "**") {
    for (std::size_t k = si; k <= segs.size(); ++k) {
      if (GlobMatch(glob, gi + 1, segs, k)) return true;
    }
    return false;
  }
  if (si == segs.size()) return false;
  // '*' inside a segment matches any run of characters within it.
  const std::string& g = glob[gi];
  absl::string_view s = segs[si];
  std::vector<absl::string_view> parts = absl::StrSplit(g, '*');
  bool ok = true;
  if (parts.size() == 1) {
    ok = g == s;
  } else {
    std::size_t pos = 0;
    for (std::size_t p = 0; p < parts.size() && ok; ++p) {
      if (p == 0) {
        ok = absl::StartsWith(s, parts[p]);
        pos = parts[p].size();
      } else if (p + 1 == parts.size()) {
        ok = s.size() >= pos + parts[p].size() && absl::EndsWith(s, parts[p]);
      } else {
        const std::size_t found = s.find(parts[p], pos);
        ok = found != absl::string_view::npos;
        if (ok) pos = found + parts[p].size();
      }
    }
  }
  return ok && GlobMatch(glob, gi + 1, segs, si + 1);
}

// JSON body values as Proxmox parameters: strings as they are, numbers as text, booleans
// 1/0, arrays once per element; null is an absent value.
absl::Status AppendJsonParam(const std::string& key, const json::value& v, RestParams* out) {
  switch (v.kind()) {
    case json::kind::null:
      return absl::OkStatus();
    case json::kind::string:
      out->emplace_back(key, std::string(v.get_string()));
      return absl::OkStatus();
    case json::kind::bool_:
      out->emplace_back(key, v.get_bool() ? "1" : "0");
      return absl::OkStatus();
    case json::kind::int64:
      out->emplace_back(key, absl::StrCat(v.get_int64()));
      return absl::OkStatus();
    case json::kind::uint64:
      out->emplace_back(key, absl::StrCat(v.get_uint64()));
      return absl::OkStatus();
    case json::kind::double_:
      out->emplace_back(key, json::serialize(v));
      return absl::OkStatus();
    case json::kind::array:
      for (const json::value& e : v.get_array()) {
        if (e.is_array() || e.is_object()) {
          return absl::InvalidArgumentError(
              absl::StrCat("parameter '", key, "': nested arrays and objects are not parameters"));
        }
        absl::Status st = AppendJsonParam(key, e, out);
        if (!st.ok()) return st;
      }
      return absl::OkStatus();
    case json::kind::object:
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", key, "': an object is not a parameter value"));
  }
  return absl::OkStatus();
}

}  // namespace

HttpAnswer RawError(int status, absl::string_view message) {
  HttpAnswer a;
  a.status = status;
  a.reason = ReasonPhrase(message);
  a.body = absl::StrCat(a.reason, "\n");
  a.close = true;
  return a;
}

absl::StatusOr<RestParams> DecodeFormParams(absl::string_view text) {
  RestParams out;
  for (absl::string_view pair : absl::StrSplit(text, absl::ByAnyChar("&;"), absl::SkipEmpty())) {
    // Only the first two '='-separated pieces count (AE decode_urlencoded).
    std::vector<absl::string_view> pieces = absl::StrSplit(pair, '=');
    if (pieces.size() < 2 || pieces[1].empty()) continue;  // an undefined value: absent
    std::optional<std::string> key = FormUnescape(pieces[0]);
    if (!key) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed percent-escape in parameter name '", Printable(pieces[0]), "'"));
    }
    std::optional<std::string> value = FormUnescape(pieces[1]);
    if (!value) {
      return absl::InvalidArgumentError(absl::StrCat(
          "malformed percent-escape in the value of parameter '", Printable(*key), "'"));
    }
    if (!ValidUtf8(*key) || !ValidUtf8(*value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", ReasonPhrase(*key), "' is not valid UTF-8"));
    }
    if (*key == "_dc") continue;  // ExtJS cache buster
    out.emplace_back(*std::move(key), *std::move(value));
  }
  return out;
}

absl::StatusOr<FaultRule> ParseFaultRule(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fault='", text, "': ", why,
                     " (syntax: '[VERB ]PATH_GLOB=ACTION[,times=N]' with ACTION one of delay:MS, "
                     "status:CODE[:MESSAGE], close, truncate, garbage, hang)"));
  };
  FaultRule rule;
  rule.text = std::string(text);
  const std::size_t eq = text.find('=');
  if (eq == absl::string_view::npos) return bad("no '=' between the path and the action");
  absl::string_view selector = absl::StripAsciiWhitespace(text.substr(0, eq));
  absl::string_view rest = text.substr(eq + 1);
  if (const std::size_t space = selector.find(' '); space != absl::string_view::npos) {
    rule.verb = absl::AsciiStrToUpper(selector.substr(0, space));
    selector = absl::StripAsciiWhitespace(selector.substr(space + 1));
    if (rule.verb != "GET" && rule.verb != "POST" && rule.verb != "PUT" && rule.verb != "DELETE") {
      return bad(absl::StrCat("'", rule.verb, "' is not GET, POST, PUT or DELETE"));
    }
  }
  if (!absl::StartsWith(selector, "/")) return bad("the path must start with '/'");
  for (absl::string_view seg : absl::StrSplit(selector, '/', absl::SkipEmpty())) {
    rule.glob.emplace_back(seg);
  }
  std::vector<absl::string_view> options = absl::StrSplit(rest, ',');
  const absl::string_view action = options[0];
  for (std::size_t i = 1; i < options.size(); ++i) {
    absl::string_view opt = absl::StripAsciiWhitespace(options[i]);
    if (absl::ConsumePrefix(&opt, "times=")) {
      if (!absl::SimpleAtoi(opt, &rule.times) || rule.times < 1) {
        return bad("times= needs a positive whole number");
      }
    } else {
      return bad(absl::StrCat("unknown option '", opt, "'"));
    }
  }
  std::vector<absl::string_view> parts = absl::StrSplit(action, absl::MaxSplits(':', 2));
  const absl::string_view name = parts[0];
  if (name == "delay") {
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &rule.delay_ms) || rule.delay_ms < 0 ||
        rule.delay_ms > 600000) {
      return bad("delay needs milliseconds (0-600000): delay:500");
    }
    rule.action = FaultAction::kDelay;
  } else if (name == "status") {
    if (parts.size() < 2 || !absl::SimpleAtoi(parts[1], &rule.status) || rule.status < 100 ||
        rule.status > 999) {
      return bad("status needs an HTTP status: status:503[:message]");
    }
    rule.message = parts.size() == 3 ? std::string(parts[2]) : "injected fault";
    rule.action = FaultAction::kStatus;
  } else if (name == "close" && parts.size() == 1) {
    rule.action = FaultAction::kClose;
  } else if (name == "truncate" && parts.size() == 1) {
    rule.action = FaultAction::kTruncate;
  } else if (name == "garbage" && parts.size() == 1) {
    rule.action = FaultAction::kGarbage;
  } else if (name == "hang" && parts.size() == 1) {
    rule.action = FaultAction::kHang;
  } else {
    return bad(absl::StrCat("unknown action '", action, "'"));
  }
  return rule;
}

namespace {

// The same for an API path already normalised (below /api2/json).
bool IsUploadPath(absl::string_view method, absl::string_view api_path) {
  if (method != "POST") return false;
  // pve-manager's HTTPServer.pm: m|^/nodes/([^/]+)/storage/([^/]+)/upload$|
  std::vector<absl::string_view> segs = absl::StrSplit(api_path, '/', absl::SkipEmpty());
  return segs.size() == 5 && segs[0] == "nodes" && segs[2] == "storage" && segs[4] == "upload";
}

}  // namespace

bool IsUploadTarget(absl::string_view method, absl::string_view target) {
  if (method != "POST") return false;
  target = target.substr(0, target.find_first_of("?#"));
  if (!absl::ConsumePrefix(&target, "/api2/json/")) return false;
  return IsUploadPath(method, NormalisePath(absl::StrCat("/", target)));
}

std::optional<HttpAnswer> RestFrontend::CheckHead(absl::string_view method,
                                                  std::optional<std::uint64_t> content_length,
                                                  absl::string_view transfer_encoding,
                                                  absl::string_view target) const {
  if (method != "GET" && method != "POST" && method != "PUT" && method != "DELETE") {
    return RawError(501, absl::StrCat("method '", ReasonPhrase(method), "' not available"));
  }
  if (!transfer_encoding.empty()) {
    if (absl::EqualsIgnoreCase(transfer_encoding, "chunked")) {
      return RawError(501, "chunked transfer encoding not supported");
    }
    return RawError(
        501, absl::StrCat("Unknown transfer encoding '", ReasonPhrase(transfer_encoding), "'"));
  }
  const std::uint64_t length = content_length.value_or(0);
  if ((method == "GET" || method == "DELETE") && length > 0) {
    return RawError(501, absl::StrCat("Unexpected content for method '", method, "'"));
  }
  if (IsUploadTarget(method, target)) {
    if (length > options_.max_upload_bytes) {
      return RawError(413, absl::StrCat("upload too large (over ", options_.max_upload_bytes,
                                        " bytes, pve-mock's --max_upload_bytes)"));
    }
    return std::nullopt;
  }
  if (length > kMaxRequestBodyBytes) return RawError(501, "for data too large");
  return std::nullopt;
}

const FaultRule* RestFrontend::MatchFault(absl::string_view verb, absl::string_view api_path) {
  if (options_.faults.empty()) return nullptr;
  std::vector<absl::string_view> segs = absl::StrSplit(api_path, '/', absl::SkipEmpty());
  for (const FaultRule& rule : options_.faults) {
    if (!rule.verb.empty() && rule.verb != verb) continue;
    if (!GlobMatch(rule.glob, 0, segs, 0)) continue;
    if (rule.times >= 0 && rule.used->fetch_add(1) >= rule.times) continue;  // spent
    return &rule;
  }
  return nullptr;
}

HttpAnswer RestFrontend::Handle(const HttpRequest& request) {
  try {
    absl::string_view target = request.target;
    target = target.substr(0, target.find('#'));  // a fragment never reaches the server
    absl::string_view query;
    if (const std::size_t q = target.find('?'); q != absl::string_view::npos) {
      query = target.substr(q + 1);
      target = target.substr(0, q);
    }
    // The path is echoed in messages and JSON: it must be text.
    std::optional<std::string> decoded_path = FormUnescape(target);
    if (!decoded_path || !ValidUtf8(*decoded_path)) {
      return ApiError(400, "invalid URI: malformed percent-escape or not UTF-8");
    }
    absl::string_view rest = target;
    if (!absl::ConsumePrefix(&rest, "/api2/")) return RawError(501, "no such uri");
    // pveproxy's split_abs_uri takes "/api2" then one or more '/' before the format.
    while (absl::ConsumePrefix(&rest, "/")) {
    }
    const std::size_t slash = rest.find('/');
    const absl::string_view format = rest.substr(0, slash);
    bool format_ok =
        format.size() >= 2 && absl::ascii_islower(static_cast<unsigned char>(format[0]));
    for (char c : format) {
      format_ok = format_ok && (absl::ascii_islower(static_cast<unsigned char>(c)) ||
                                absl::ascii_isdigit(static_cast<unsigned char>(c)));
    }
    if (!format_ok) return RawError(501, "no such uri");
    const absl::string_view api_path =
        slash == absl::string_view::npos ? absl::string_view("/") : rest.substr(slash);
    if (format != "json") {
      return RawError(501,
                      absl::StrCat("no formatter for uri ", ReasonPhrase(api_path), ", ", format));
    }
    return HandleApi(request, api_path, query);
  } catch (const std::exception& e) {
    return RawError(500, absl::StrCat("internal mock error: ", e.what()));
  }
}

HttpAnswer RestFrontend::HandleApi(const HttpRequest& request, absl::string_view api_path,
                                   absl::string_view query) {
  const std::string& verb = request.method;
  const std::string path = NormalisePath(api_path);
  const bool is_upload = IsUploadPath(verb, path);

  // 1. Authentication, before routing (an unknown path without credentials is a 401).
  std::string user = "root@pam";
  if (options_.auth) {
    const std::optional<std::string> token_header =
        ExtractAuthValue(request.authorization, "PVEAPIToken");
    if (NoAuthNeeded(verb, path)) {
      if (verb == "POST" && path == "/access/ticket" && token_header) {
        return ApiError(403,
                        "Permission check failed (URI '/access/ticket' not available with API "
                        "token, need proper ticket.\n)");
      }
      user.clear();
    } else {
      std::optional<std::string> ticket = ExtractAuthValue(request.cookie, "PVEAuthCookie");
      if (!ticket) ticket = ExtractAuthValue(request.authorization, "PVEAuthCookie");
      if (ticket) {
        absl::StatusOr<mockstate::MockBackend::Identity> who = mock_.VerifyTicket(*ticket);
        if (!who.ok()) return Unauthorized("Authentication failed!");
        // pve-manager's HTTPServer.pm skips the CSRF check for uploads (HTML forms).
        if (verb != "GET" && !is_upload &&
            !(request.csrf_token && mock_.VerifyCsrfToken(*request.csrf_token, who->userid))) {
          return Unauthorized("Permission denied - invalid csrf token");
        }
        user = who->userid;
      } else if (token_header) {
        // USER@REALM!TOKENID=SECRET: the last '=' separates id and secret.
        const std::size_t eq = token_header->rfind('=');
        if (eq == std::string::npos) return Unauthorized("Authentication failed!");
        absl::StatusOr<mockstate::MockBackend::Identity> who =
            mock_.VerifyApiToken(absl::string_view(*token_header).substr(0, eq),
                                 absl::string_view(*token_header).substr(eq + 1));
        if (!who.ok()) return Unauthorized("Authentication failed!");
        user = who->tokenid;
      } else {
        return Unauthorized("No ticket");
      }
    }
  }

  // 2. Fault rules (after authentication, so they act on real traffic only).
  const FaultRule* fault = MatchFault(verb, path);
  if (fault != nullptr) {
    switch (fault->action) {
      case FaultAction::kStatus: {
        HttpAnswer a = ApiError(fault->status, fault->message);
        a.user = user;
        return a;
      }
      case FaultAction::kClose:
      case FaultAction::kHang: {
        HttpAnswer a;
        a.fault = fault->action;
        a.user = user;
        return a;
      }
      case FaultAction::kGarbage: {
        HttpAnswer a;
        a.content_type = kJsonContentType;
        a.body = "<html>this is not JSON</html>";
        a.user = user;
        return a;
      }
      default:
        break;  // delay and truncate act on the normal answer
    }
  }

  // 3. Parameters: GET/DELETE from the query; POST/PUT from the body, the query on top.
  RestRequest call;
  call.verb = verb;
  call.path = path;
  if (is_upload) {
    absl::StatusOr<RestParams> from_query = DecodeFormParams(query);
    if (!from_query.ok()) return ApiError(400, from_query.status().message());
    call.params = *std::move(from_query);
    HttpAnswer answer = HandleUpload(request, std::move(call), user);
    if (fault != nullptr) {
      answer.fault = fault->action;
      answer.delay_ms = fault->delay_ms;
    }
    return answer;
  }
  if (verb == "POST" || verb == "PUT") {
    std::string media;
    if (request.content_type) {
      media = std::string(
          absl::StripAsciiWhitespace(absl::string_view(*request.content_type)
                                         .substr(0, request.content_type->find_first_of(";,"))));
    }
    if (!request.content_type || media == "application/x-www-form-urlencoded") {
      absl::StatusOr<RestParams> body = DecodeFormParams(request.body);
      if (!body.ok()) return ApiError(400, body.status().message());
      call.params = *std::move(body);
    } else if (media == "application/json") {
      json::error_code ec;
      json::value parsed = json::parse(request.body, ec);
      if (ec) {
        return ApiError(400, absl::StrCat("malformed JSON body: ", ec.message()));
      }
      if (!parsed.is_object()) return ApiError(400, "the JSON body must be an object");
      for (const auto& kv : parsed.get_object()) {
        absl::Status st = AppendJsonParam(std::string(kv.key()), kv.value(), &call.params);
        if (!st.ok()) return ApiError(400, st.message());
      }
    } else {
      return RawError(
          506, absl::StrCat("upload 'Content-Type '", ReasonPhrase(media), "' not implemented"));
    }
  }
  absl::StatusOr<RestParams> from_query = DecodeFormParams(query);
  if (!from_query.ok()) return ApiError(400, from_query.status().message());
  for (const auto& query_param : *from_query) {
    // A query key overrides the same body key (AE extract_params).
    const std::string& key = query_param.first;
    call.params.erase(std::remove_if(call.params.begin(), call.params.end(),
                                     [&](const auto& p) { return p.first == key; }),
                      call.params.end());
  }
  for (auto& kv : *from_query) call.params.push_back(std::move(kv));

  // 4. The mock world answers.
  HttpAnswer answer = FromRest(mock_.Call(call, user.empty() ? "root@pam" : user));
  answer.user = user;
  if (fault != nullptr) {
    answer.fault = fault->action;
    answer.delay_ms = fault->delay_ms;
  }
  return answer;
}

// pve-http-server AnyEvent.pm: an upload must be multipart/form-data with a boundary; the
// form fields `content`, `checksum-algorithm` and `checksum` come before the file, whose part
// must be named `filename` and carry the file name; the file goes to a temporary file
// /var/tmp/pveupload-<hex> passed to the API as `tmpfilename`. Errors there are 500s with
// pveproxy's text; the connection is closed after an upload (keep_alive = 0).
HttpAnswer RestFrontend::HandleUpload(const HttpRequest& request, RestRequest call,
                                      const std::string& user) {
  auto finish = [&](HttpAnswer a) {
    a.user = user;
    a.close = true;
    return a;
  };
  const std::string ctype = request.content_type.value_or("");
  const std::string media = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(ctype).substr(0, ctype.find_first_of(";,"))));
  absl::StatusOr<std::string> boundary = MultipartBoundary(ctype);
  if (media != "multipart/form-data" || !boundary.ok()) {
    return finish(RawError(
        506, absl::StrCat("upload 'Content-Type '", ReasonPhrase(ctype), "' not implemented")));
  }
  if (request.body.empty()) {
    return finish(RawError(500, "upload without content length header not supported"));
  }
  for (const auto& kv : call.params) {
    if (kv.first == "tmpfilename") {
      return finish(RawError(500, "'tmpfilename' query parameter is not allowed for file uploads"));
    }
  }
  absl::StatusOr<std::vector<MultipartPart>> parts = ParseMultipart(request.body, *boundary);
  if (!parts.ok()) {
    return finish(
        RawError(500, absl::StrCat("upload failed: ", ReasonPhrase(parts.status().message()))));
  }
  const MultipartPart* file = nullptr;
  for (const MultipartPart& part : *parts) {
    if (part.disposition != "form-data") {
      return finish(
          RawError(500, absl::StrCat("wrong Content-Disposition '", ReasonPhrase(part.disposition),
                                     "' in multipart, expected 'form-data'")));
    }
    if (file != nullptr) {
      return finish(RawError(500, "upload failed: a part follows the file"));
    }
    if (part.filename) {
      if (part.name != "filename") {
        return finish(RawError(500, absl::StrCat("wrong field name '", ReasonPhrase(part.name),
                                                 "' for file upload, expected 'filename'")));
      }
      file = &part;
      continue;
    }
    if (part.name != "content" && part.name != "checksum" && part.name != "checksum-algorithm") {
      return finish(RawError(500, absl::StrCat("upload failed: unexpected form field '",
                                               ReasonPhrase(part.name), "'")));
    }
    const std::string value(absl::StripAsciiWhitespace(part.data));  // pveproxy trims
    if (!ValidUtf8(value)) {
      return finish(ApiError(400, absl::StrCat("parameter '", part.name, "': not UTF-8")));
    }
    call.params.emplace_back(part.name, value);
  }
  if (file == nullptr) return finish(RawError(500, "upload failed: no file part"));
  const std::string filename(absl::StripAsciiWhitespace(*file->filename));
  if (!ValidUtf8(filename)) return finish(ApiError(400, "parameter 'filename': not UTF-8"));
  call.params.emplace_back("filename", filename);
  mockstate::MockBackend::UploadedFile upload;
  upload.tmpfilename = absl::StrCat("/var/tmp/pveupload-",
                                    absl::Hex(upload_seq_.fetch_add(1) + 1, absl::kZeroPad16));
  upload.data = file->data;
  call.params.emplace_back("tmpfilename", upload.tmpfilename);
  return finish(FromRest(mock_.CallWithUpload(call, user.empty() ? "root@pam" : user, upload)));
}

}  // namespace pvegw::pvemock
