#include "pvemock/rest_frontend.h"

#include <atomic>
#include <random>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "boost/json.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/get_walker.h"
#include "tests/testing/mockstate_test_util.h"

namespace pvegw::pvemock {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(DecodeFormParamsTest, SplitsLikePveproxy) {
  auto params = DecodeFormParams("a=1&b=two+words;c=%3D%3B%26&d&e=&_dc=123&f=x=y");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(*params, ::testing::ElementsAre(Pair("a", "1"), Pair("b", "two words"),
                                              Pair("c", "=;&"), Pair("f", "x")));
  auto repeated = DecodeFormParams("k=1&k=2");
  ASSERT_TRUE(repeated.ok());
  EXPECT_EQ(repeated->size(), 2u);
  EXPECT_TRUE(DecodeFormParams("").ok());
}

TEST(DecodeFormParamsTest, BadEscapesAndUtf8AreNamed) {
  EXPECT_THAT(std::string(DecodeFormParams("name=%4").status().message()),
              HasSubstr("malformed percent-escape in the value of parameter 'name'"));
  EXPECT_THAT(std::string(DecodeFormParams("%zz=1").status().message()),
              HasSubstr("parameter name '%zz'"));
  EXPECT_THAT(std::string(DecodeFormParams("n=%C3%28").status().message()),
              HasSubstr("parameter 'n' is not valid UTF-8"));
  EXPECT_FALSE(DecodeFormParams("n=%ED%A0%80").ok()) << "a UTF-16 surrogate";
  EXPECT_FALSE(DecodeFormParams("n=%C0%80").ok()) << "an overlong NUL";
  auto ok = DecodeFormParams("n=%C3%A9t%C3%A9%F0%9F%98%80");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)[0].second, "\xC3\xA9t\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(FaultRuleTest, ParsesEveryAction) {
  auto delay = ParseFaultRule("GET /nodes/*/qemu=delay:250");
  ASSERT_TRUE(delay.ok()) << delay.status();
  EXPECT_EQ(delay->verb, "GET");
  EXPECT_EQ(delay->action, FaultAction::kDelay);
  EXPECT_EQ(delay->delay_ms, 250);
  auto status = ParseFaultRule("/cluster/**=status:503:busy: try later,times=3");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->status, 503);
  EXPECT_EQ(status->message, "busy: try later");
  EXPECT_EQ(status->times, 3);
  EXPECT_EQ(status->verb, "");
  for (const char* text : {"/x=close", "/x=truncate", "/x=garbage", "POST /x=hang"}) {
    EXPECT_TRUE(ParseFaultRule(text).ok()) << text;
  }
}

TEST(FaultRuleTest, RejectsWithTheSyntax) {
  for (const char* text :
       {"", "/x", "x=close", "/x=explode", "/x=delay", "/x=delay:-1", "/x=status:42",
        "/x=close,times=0", "/x=close,every=2", "PATCH /x=close", "/x=close:now"}) {
    auto rule = ParseFaultRule(text);
    ASSERT_FALSE(rule.ok()) << text;
    EXPECT_THAT(std::string(rule.status().message()), HasSubstr("syntax: '[VERB ]PATH_GLOB="))
        << text;
  }
}

class RestFrontendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mockstate::MockOptions options;
    options.store = scratch_.Options();
    options.task_duration_ms = 0;
    options.ticket_lifetime_s = 60;
    options.now_ms = [this] { return now_ms_.load(); };
    auto mock = mockstate::MockBackend::Create(mockstate::testing::FullApi(), options);
    ASSERT_TRUE(mock.ok()) << mock.status();
    mock_ = std::move(*mock);
    frontend_ = std::make_unique<RestFrontend>(*mock_, FrontendOptions{});
  }

  HttpAnswer Send(const std::string& method, const std::string& target,
                  const std::string& body = "",
                  std::optional<std::string> content_type = std::nullopt) {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.content_type = std::move(content_type);
    r.cookie = cookie_;
    r.authorization = authorization_;
    r.csrf_token = csrf_;
    return frontend_->Handle(r);
  }

  void Login(const std::string& user = "root@pam", const std::string& password = "pve-mock") {
    HttpAnswer a =
        Send("POST", "/api2/json/access/ticket", "username=" + user + "&password=" + password);
    ASSERT_EQ(a.status, 200) << a.reason;
    json::object data = json::parse(a.body).at("data").as_object();
    cookie_ = "PVEAuthCookie=" + std::string(data.at("ticket").as_string());
    csrf_ = std::string(data.at("CSRFPreventionToken").as_string());
  }

  mockstate::testing::ScratchSpace scratch_;
  std::atomic<std::int64_t> now_ms_{1'750'000'000'000};
  std::unique_ptr<mockstate::MockBackend> mock_;
  std::unique_ptr<RestFrontend> frontend_;
  std::string cookie_;
  std::string authorization_;
  std::optional<std::string> csrf_;
};

TEST_F(RestFrontendTest, TicketsExpireAtTheirLifetimeAndToleratesClockSkew) {
  Login();
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 200);
  now_ms_ += 59'000;
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 200);
  now_ms_ += 1'000;
  HttpAnswer expired = Send("GET", "/api2/json/version");
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.reason, "Authentication failed!");
  EXPECT_EQ(expired.body, "");
  EXPECT_TRUE(expired.close);
  // A ticket from a clock up to 300 s ahead is accepted, beyond that not.
  now_ms_ -= 60'000 + 299'000;
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 200);
  now_ms_ -= 1'000;
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 401);
}

TEST_F(RestFrontendTest, CsrfTokensBelongToTheirUser) {
  Login();
  const std::string root_csrf = *csrf_;
  ASSERT_EQ(Send("POST", "/api2/json/access/users", "userid=bob@pve&password=bob-password").status,
            200);
  Login("bob@pve", "bob-password");
  csrf_ = root_csrf;
  HttpAnswer refused = Send("POST", "/api2/json/pools", "poolid=p1");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.reason, "Permission denied - invalid csrf token");
}

TEST_F(RestFrontendTest, DisabledAndExpiredUsersLoseAccess) {
  Login();
  ASSERT_EQ(Send("POST", "/api2/json/access/users",
                 "userid=carol@pve&password=carol-password&expire=" +
                     std::to_string(now_ms_.load() / 1000 + 10))
                .status,
            200);
  const std::string root_cookie = cookie_;
  const std::optional<std::string> root_csrf = csrf_;
  Login("carol@pve", "carol-password");
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 200);
  now_ms_ += 11'000;
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 401) << "the user expired";
  cookie_ = root_cookie;
  csrf_ = root_csrf;
  ASSERT_EQ(Send("PUT", "/api2/json/access/users/carol@pve", "expire=0&enable=0").status, 200);
  EXPECT_EQ(
      Send("POST", "/api2/json/access/ticket", "username=carol@pve&password=carol-password").status,
      401)
      << "a disabled user cannot log in";
}

TEST_F(RestFrontendTest, ExpiredApiTokensAreRefused) {
  Login();
  HttpAnswer created = Send("POST", "/api2/json/access/users/root@pam/token/short",
                            "expire=" + std::to_string(now_ms_.load() / 1000 + 5));
  ASSERT_EQ(created.status, 200) << created.reason;
  const std::string secret(json::parse(created.body).at("data").at("value").as_string());
  cookie_.clear();
  csrf_.reset();
  authorization_ = "PVEAPIToken=root@pam!short=" + secret;
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 200);
  now_ms_ += 5'000;
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 401);
  authorization_ = "PVEAPIToken root@pam!short=" + secret;  // space separator, still expired
  EXPECT_EQ(Send("GET", "/api2/json/version").status, 401);
}

TEST_F(RestFrontendTest, DuplicateAndMissingTokensInProxmoxWords) {
  Login();
  ASSERT_EQ(Send("POST", "/api2/json/access/users/root@pam/token/t1").status, 200);
  HttpAnswer again = Send("POST", "/api2/json/access/users/root@pam/token/t1");
  EXPECT_EQ(again.status, 500);
  EXPECT_EQ(again.reason, "Token already exists.");
  HttpAnswer missing = Send("DELETE", "/api2/json/access/users/root@pam/token/nope");
  EXPECT_EQ(missing.status, 500);
  EXPECT_EQ(missing.reason, "no such token 'nope' for user 'root@pam'");
  HttpAnswer no_user = Send("POST", "/api2/json/access/users/ghost@pve/token/t1");
  EXPECT_EQ(no_user.status, 500);
  EXPECT_THAT(no_user.reason, HasSubstr("ghost@pve"));
}

TEST_F(RestFrontendTest, TasksRecordTheCallerLikeProxmox) {
  // Proxmox records the authenticated user in the UPID and the task list; for an API token
  // it is the full token id (pveproxy sets the request's user to what verify_token returns).
  Login();
  ASSERT_EQ(
      Send("POST", "/api2/json/access/users", "userid=dave@pve&password=dave-password").status,
      200);
  HttpAnswer created = Send("POST", "/api2/json/access/users/root@pam/token/ci");
  ASSERT_EQ(created.status, 200) << created.reason;
  const std::string secret(json::parse(created.body).at("data").at("value").as_string());

  Login("dave@pve", "dave-password");
  HttpAnswer by_dave = Send("POST", "/api2/json/nodes/pve1/qemu", "vmid=4101&name=by-dave");
  ASSERT_EQ(by_dave.status, 200) << by_dave.reason;
  const std::string dave_upid(json::parse(by_dave.body).at("data").as_string());
  EXPECT_THAT(dave_upid, ::testing::EndsWith(":qmcreate:4101:dave@pve:"));

  cookie_.clear();
  csrf_.reset();
  authorization_ = "PVEAPIToken=root@pam!ci=" + secret;
  HttpAnswer by_token = Send("POST", "/api2/json/nodes/pve1/qemu", "vmid=4102&name=by-token");
  ASSERT_EQ(by_token.status, 200) << by_token.reason;
  const std::string token_upid(json::parse(by_token.body).at("data").as_string());
  EXPECT_THAT(token_upid, ::testing::EndsWith(":qmcreate:4102:root@pam!ci:"));

  HttpAnswer status = Send("GET", "/api2/json/nodes/pve1/tasks/" + token_upid + "/status");
  ASSERT_EQ(status.status, 200) << status.reason;
  EXPECT_EQ(json::parse(status.body).at("data").at("user").as_string(), "root@pam!ci");
  HttpAnswer listed = Send("GET", "/api2/json/nodes/pve1/tasks?userfilter=dave");
  ASSERT_EQ(listed.status, 200) << listed.reason;
  const json::array rows = json::parse(listed.body).at("data").as_array();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("upid").as_string(), dave_upid);
}

TEST_F(RestFrontendTest, HeadChecksLikePveproxy) {
  EXPECT_EQ(frontend_->CheckHead("HEAD", std::nullopt, "")->reason, "method 'HEAD' not available");
  EXPECT_EQ(frontend_->CheckHead("DELETE", 1, "")->reason,
            "Unexpected content for method 'DELETE'");
  EXPECT_EQ(frontend_->CheckHead("POST", kMaxRequestBodyBytes + 1, "")->reason,
            "for data too large");
  EXPECT_EQ(frontend_->CheckHead("PUT", std::nullopt, "gzip")->reason,
            "Unknown transfer encoding 'gzip'");
  EXPECT_FALSE(frontend_->CheckHead("POST", kMaxRequestBodyBytes, "").has_value());
  EXPECT_FALSE(frontend_->CheckHead("GET", 0, "").has_value());
}

TEST_F(RestFrontendTest, UploadsHaveTheirOwnLimit) {
  const std::string upload = "/api2/json/nodes/pve1/storage/local/upload";
  EXPECT_FALSE(frontend_->CheckHead("POST", kMaxRequestBodyBytes + 1, "", upload).has_value());
  EXPECT_FALSE(frontend_
                   ->CheckHead("POST", kDefaultMaxUploadBytes, "",
                               "/api2/json//nodes/pve1/storage/local/upload/?x=1")
                   .has_value());
  std::optional<HttpAnswer> over =
      frontend_->CheckHead("POST", kDefaultMaxUploadBytes + 1, "", upload);
  ASSERT_TRUE(over.has_value());
  EXPECT_EQ(over->status, 413);
  EXPECT_EQ(frontend_->CheckHead("POST", kMaxRequestBodyBytes + 1, "", "/api2/json/nodes/pve1/qemu")
                ->reason,
            "for data too large");
  EXPECT_TRUE(IsUploadTarget("POST", upload));
  EXPECT_FALSE(IsUploadTarget("PUT", upload));
  EXPECT_FALSE(IsUploadTarget("POST", "/api2/json/nodes/pve1/storage/local/upload/x"));
}

TEST_F(RestFrontendTest, UploadAsPveproxyReceivesIt) {
  Login();
  const std::string target = "/api2/json/nodes/pve1/storage/local/upload";
  const std::string ct = "multipart/form-data; boundary=B";
  auto body = [](const std::string& file_field, const std::string& file) {
    return "--B\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
           "--B\r\nContent-Disposition: form-data; name=\"" +
           file_field + "\"; filename=\"my disk.iso\"\r\n\r\n" + file + "\r\n--B--\r\n";
  };
  // No CSRF token needed (pve-manager skips it for uploads); the connection closes after.
  csrf_.reset();
  HttpAnswer ok = Send("POST", target, body("filename", "12345"), ct);
  ASSERT_EQ(ok.status, 200) << ok.reason;
  EXPECT_TRUE(ok.close);
  EXPECT_THAT(ok.body, HasSubstr(":imgcopy::root@pam:"));
  HttpAnswer volume =
      Send("GET", "/api2/json/nodes/pve1/storage/local/content/local:iso/my_disk.iso");
  ASSERT_EQ(volume.status, 200) << volume.reason;
  EXPECT_EQ(json::parse(volume.body).at("data").at("size"), 5);

  EXPECT_EQ(Send("POST", target, body("file", "x"), ct).reason,
            "wrong field name 'file' for file upload, expected 'filename'");
  EXPECT_EQ(
      Send("POST", target + "?tmpfilename=/var/tmp/pveupload-1", body("filename", "x"), ct).reason,
      "'tmpfilename' query parameter is not allowed for file uploads");
  HttpAnswer form = Send("POST", target, "content=iso&filename=a.iso",
                         std::string("application/x-www-form-urlencoded"));
  EXPECT_EQ(form.status, 506);
  HttpAnswer broken = Send("POST", target, "--B\r\nContent-Disposition: form-data; name=a", ct);
  EXPECT_EQ(broken.status, 500);
  EXPECT_THAT(broken.reason, HasSubstr("upload failed: "));
  // Without the file (the gateway's call carries none), there is no temporary file.
  RestRequest call;
  call.verb = "POST";
  call.path = "/nodes/pve1/storage/local/upload";
  call.params = {{"content", "iso"}, {"filename", "a.iso"}};
  EXPECT_EQ(mock_->Call(call).reason, "missing temporary file name");
  call.params.emplace_back("tmpfilename", "/var/tmp/pveupload-0123");
  EXPECT_EQ(mock_->Call(call).reason, "temporary file '/var/tmp/pveupload-0123' does not exist");
}

TEST_F(RestFrontendTest, UrlLayout) {
  Login();
  EXPECT_EQ(Send("GET", "/api2/").reason, "no such uri");
  EXPECT_EQ(Send("GET", "/index.html").reason, "no such uri");
  EXPECT_EQ(Send("GET", "/api2/extjs/version").reason, "no formatter for uri /version, extjs");
  // Empty segments and a trailing slash are harmless; _dc is dropped.
  EXPECT_EQ(Send("GET", "/api2/json//nodes/pve1/?_dc=1").status, 200);
  EXPECT_EQ(Send("GET", "/api2/json/nodes/pve1/qemu/100/config#frag").status, 200);
}

// Bounded random input (runs under ASan/UBSan in CI): mutated requests never crash the
// handler and always get a well-formed answer.
TEST_F(RestFrontendTest, RandomRequestsGetAnswersNotCrashes) {
  Login();
  std::mt19937 rng(20261126);
  const std::vector<std::string> seeds = {
      "/api2/json/nodes/pve1/qemu/100/config?digest=abc",
      "/api2/json/access/ticket",
      "/api2/json/nodes/pve1/qemu",
      "/api2/json/pools/production",
      "/api2/json/nodes/pve1/tasks/UPID:pve1:000003ED:CE42F039:6B05CA15:qmcreate:150:root@pam:/log",
  };
  const std::vector<std::string> bodies = {
      "vmid=900&name=x&net0=virtio", "{\"vmid\": 901}", "", "a=%ZZ", "[1]",
      "{\"x\":{\"y\":[1,[2]]}}"};
  const std::string alphabet = "/%?&=;+#:!@{}[]\"\\\x01\x7f\xc3\xff az09._-";
  for (int i = 0; i < 20000; ++i) {
    std::string target = seeds[rng() % seeds.size()];
    std::string body = bodies[rng() % bodies.size()];
    for (int m = rng() % 6; m > 0; --m) {
      std::string& victim = (rng() % 2 != 0) ? target : body;
      const std::size_t pos = victim.empty() ? 0 : rng() % victim.size();
      switch (rng() % 3) {
        case 0:
          victim.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (!victim.empty()) victim.erase(pos, 1);
          break;
        default:
          if (!victim.empty()) victim[pos] = alphabet[rng() % alphabet.size()];
      }
    }
    const char* methods[] = {"GET", "POST", "PUT", "DELETE"};
    const char* types[] = {"application/json", "application/x-www-form-urlencoded", "text/plain"};
    HttpAnswer a =
        Send(methods[rng() % 4], target, body,
             rng() % 4 == 0 ? std::nullopt : std::optional<std::string>(types[rng() % 3]));
    ASSERT_GE(a.status, 200) << target;
    ASSERT_LT(a.status, 600) << target;
    ASSERT_FALSE(a.reason.empty()) << target;
    for (char c : a.reason) ASSERT_TRUE(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    if (a.content_type == "application/json;charset=UTF-8") {
      json::error_code ec;
      json::value v = json::parse(a.body, ec);
      ASSERT_FALSE(ec) << target << " -> " << a.body;
      ASSERT_TRUE(v.is_object() && v.as_object().contains("data")) << a.body;
    }
  }
}

std::string FormEncode(const RestParams& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += "&";
    for (const std::string* s : {&k, &v}) {
      for (unsigned char c : *s) {
        if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
          out.push_back(static_cast<char>(c));
        } else {
          absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
        }
      }
      if (s == &k) out += "=";
    }
  }
  return out;
}

// Every GET of the schema, on a freshly seeded world, through pve-mock's REST handling (as a
// client sends it: authenticated, parameters in the query): also the answers the mock
// generates for what it does not store must hold values a real host could send.
TEST_F(RestFrontendTest, EveryGetAnswersWithoutPlaceholders) {
  Login();
  auto call = [&](const RestRequest& r) {
    const std::string encoded = FormEncode(r.params);
    HttpAnswer a =
        r.verb == "GET" || r.verb == "DELETE"
            ? Send(r.verb, absl::StrCat("/api2/json", r.path, encoded.empty() ? "" : "?", encoded))
            : Send(r.verb, absl::StrCat("/api2/json", r.path), encoded);
    RestResponse out;
    out.status = a.status;
    out.reason = a.reason;
    out.body = a.body;
    return out;
  };
  pvegw::testing::GetWalker walker(mock_->api(), call);
  std::vector<std::string> found;
  int walked = 0;
  for (const auto& op : mock_->api().operations()) {
    if (op->verb != "GET") continue;
    const pvegw::testing::ResolvedCall resolved = walker.Resolve(*op);
    RestParams query = resolved.query;
    if (op->path == "/access/users") query.emplace_back("full", "1");
    RestResponse r = call(RestRequest{"GET", resolved.path, query});
    ASSERT_EQ(r.status, 200) << resolved.path << ": " << r.reason << " " << r.body;
    pvegw::testing::FindPlaceholders(json::parse(r.body).as_object()["data"], resolved.path, found);
    ++walked;
  }
  EXPECT_EQ(walked, 326);
  EXPECT_TRUE(found.empty()) << found.size() << " placeholders:\n" << absl::StrJoin(found, "\n");
}

}  // namespace
}  // namespace pvegw::pvemock
