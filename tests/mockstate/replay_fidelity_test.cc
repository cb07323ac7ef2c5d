// Compares the mock with answers recorded from real Proxmox VE hosts (../shared/pve-replay):
// for every GET template the corpus covers, each key that all recorded answers of that
// template have (across PVE versions) must be in the mock's answer for the corresponding
// object of the seeded world — recursively, for objects and for list rows.
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "mockstate/mock_backend.h"
#include "tests/testing/get_walker.h"
#include "tests/testing/mockstate_test_util.h"

namespace pvegw::mockstate {
namespace {

namespace json = boost::json;
using testing::ScratchSpace;

// One recorded answer.
struct Record {
  std::string file;
  std::string template_path;
  std::string query;
  json::value data;
};

// What real hosts always send: an object's keys (each with what its value always has), or
// the rows of a list (keys all rows have, and per row "type" the keys rows of that type have).
struct Shape {
  bool is_object = false;
  bool is_list = false;
  std::map<std::string, Shape> keys;       // objects; for lists: keys of every row
  std::map<std::string, Shape> row_types;  // lists: per row "type", a row shape
  std::shared_ptr<Shape> rows;             // lists of objects: the shape all rows share
};

Shape Common(const std::vector<const json::value*>& values) {
  Shape shape;
  if (values.empty()) return shape;
  bool all_objects = true;
  bool all_lists = true;
  for (const json::value* v : values) {
    all_objects = all_objects && v->is_object();
    all_lists = all_lists && v->is_array();
  }
  if (all_objects) {
    shape.is_object = true;
    std::set<std::string> common;
    for (const auto& kv : values[0]->get_object()) common.insert(std::string(kv.key()));
    for (const json::value* v : values) {
      std::set<std::string> keep;
      for (const std::string& k : common) {
        if (v->get_object().contains(k)) keep.insert(k);
      }
      common = std::move(keep);
    }
    for (const std::string& k : common) {
      std::vector<const json::value*> children;
      for (const json::value* v : values) children.push_back(&v->get_object().at(k));
      shape.keys[k] = Common(children);
    }
    return shape;
  }
  if (all_lists) {
    shape.is_list = true;
    std::vector<const json::value*> rows;
    bool object_rows = true;
    bool typed = true;
    for (const json::value* v : values) {
      for (const json::value& row : v->get_array()) {
        rows.push_back(&row);
        object_rows = object_rows && row.is_object();
        typed = typed && row.is_object() && row.get_object().contains("type") &&
                row.get_object().at("type").is_string();
      }
    }
    if (rows.empty() || !object_rows) return shape;
    shape.rows = std::make_shared<Shape>(Common(rows));
    if (typed) {
      std::map<std::string, std::vector<const json::value*>> by_type;
      for (const json::value* row : rows) {
        by_type[std::string(row->get_object().at("type").get_string())].push_back(row);
      }
      for (const auto& [type, typed_rows] : by_type) shape.row_types[type] = Common(typed_rows);
    }
  }
  return shape;
}

// Records every key of `expected` that `actual` lacks.
void Compare(const Shape& expected, const json::value& actual, const std::string& where,
             std::vector<std::string>& missing) {
  if (expected.is_object) {
    if (!actual.is_object()) {
      missing.push_back(absl::StrCat(where, ": expected an object, mock sent ",
                                     json::serialize(actual).substr(0, 80)));
      return;
    }
    for (const auto& [key, inner] : expected.keys) {
      const json::value* v = actual.get_object().if_contains(key);
      if (v == nullptr) {
        missing.push_back(absl::StrCat(where, ".", key));
        continue;
      }
      Compare(inner, *v, absl::StrCat(where, ".", key), missing);
    }
    return;
  }
  if (expected.is_list && expected.rows != nullptr) {
    if (!actual.is_array()) {
      missing.push_back(absl::StrCat(where, ": expected a list"));
      return;
    }
    if (actual.get_array().empty()) {
      missing.push_back(absl::StrCat(where, ": real hosts list rows here, the mock none"));
      return;
    }
    for (const json::value& row : actual.get_array()) {
      const json::value* type = row.is_object() ? row.get_object().if_contains("type") : nullptr;
      const bool typed = type != nullptr && type->is_string();
      // Rows of a kind no real answer showed (pools in /cluster/resources): nothing known.
      if (typed && !expected.row_types.empty() &&
          expected.row_types.count(std::string(type->get_string())) == 0) {
        continue;
      }
      Compare(*expected.rows, row, absl::StrCat(where, "[]"), missing);
      if (!typed) continue;
      auto it = expected.row_types.find(std::string(type->get_string()));
      if (it == expected.row_types.end()) continue;
      Compare(it->second, row, absl::StrCat(where, "[type=", std::string(type->get_string()), "]"),
              missing);
    }
  }
}

std::vector<Record> LoadCorpus(const std::string& dir, std::string& error) {
  std::vector<Record> records;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    error = absl::StrCat("the replay corpus is missing: ", dir,
                         " must hold the recorded Proxmox answers (../shared/pve-replay)");
    return records;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    json::error_code jec;
    json::value v = json::parse(buffer.str(), jec);
    if (jec || !v.is_object()) {
      error = absl::StrCat(path.string(), " is not a JSON object");
      return {};
    }
    const json::object& o = v.get_object();
    auto text = [&](const char* key) {
      const json::value* f = o.if_contains(key);
      return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
    };
    const json::value* status = o.if_contains("status");
    const json::value* body = o.if_contains("body");
    if (text("verb") != "GET" || status == nullptr || !status->is_int64() ||
        status->get_int64() != 200 || text("template").empty() || body == nullptr ||
        !body->is_object()) {
      continue;
    }
    Record r;
    r.file = path.filename().string();
    r.template_path = text("template");
    r.query = text("query");
    const json::value* data = body->get_object().if_contains("data");
    r.data = data != nullptr ? *data : json::value(nullptr);
    records.push_back(std::move(r));
  }
  if (records.empty()) error = absl::StrCat(dir, " holds no recorded GET answers");
  return records;
}

// Keys whose presence depends on how the recorded host was set up (its realms, storage
// types, ceph cluster, what its admins configured), not on Proxmox: the mock's world is
// set up differently, so these are not expected of it.
const std::set<std::string>& SiteSpecific() {
  static const auto* const kKeys = new std::set<std::string>{
      // An LDAP realm's settings; the mock's realms are pam and pve.
      "/access/domains/{realm}",
      // Every privilege of a real host's role/permission table vs the mock's own.
      "/access/permissions",
      "/access/roles/{roleid}",
      // A ceph cluster's full status, OSD tree and pools (the mock runs no ceph).
      "/cluster/ceph/status",
      "/nodes/{node}/ceph/osd",
      "/nodes/{node}/ceph/pool",
      "/nodes/{node}/ceph/mon",
      // The cluster join information of a real corosync cluster.
      "/cluster/config/join",
      // Physical disks of one host.
      "/nodes/{node}/disks/list",
      // Addresses an SDN IPAM handed out to that site's guests (the mock runs no SDN).
      "/cluster/sdn/ipams/{ipam}/status",
  };
  return *kKeys;
}

// Single keys of that kind: (template, key path).
const std::set<std::pair<std::string, std::string>>& KeyExemptions() {
  static const auto* const kKeys = new std::set<std::pair<std::string, std::string>>{
      // A hand-written record (confidence low) gives the 'current' row a snaptime; real
      // hosts list the present state without one.
      {"/nodes/{node}/qemu/{vmid}/snapshot", "data[].snaptime"},
      // Device names of the recorded VM (a CD-ROM on ide2, the tap of VM 1001's net0); the
      // mock's VM 100 reports its own (scsi0, tap100i0).
      {"/nodes/{node}/qemu/{vmid}/status/current", "data.blockstat.ide2"},
      {"/nodes/{node}/qemu/{vmid}/status/current", "data.nics.tap1001i0"},
  };
  return *kKeys;
}

class ReplayFidelityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = testing::SeededWorld(space_);
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
  }
  ScratchSpace space_;
  std::unique_ptr<MockBackend> backend_;
};

TEST_F(ReplayFidelityTest, MockAnswersHaveEveryKeyRealHostsAlwaysSend) {
  std::string error;
  const std::vector<Record> records = LoadCorpus(PVEGW_REPLAY_DIR, error);
  ASSERT_TRUE(error.empty()) << error;

  // Group by template; status/current answers also by the guest's state, which decides
  // what Proxmox reports (a stopped guest has no pid, no balloon statistics, ...).
  std::map<std::pair<std::string, std::string>, std::vector<const Record*>> groups;
  for (const Record& r : records) {
    std::string state;
    if (absl::EndsWith(r.template_path, "/status/current") && r.data.is_object()) {
      if (const json::value* s = r.data.get_object().if_contains("status"); s && s->is_string())
        state = std::string(s->get_string());
    }
    groups[{r.template_path, state}].push_back(&r);
  }

  pvegw::testing::GetWalker walker(backend_->api(),
                                   [&](const RestRequest& r) { return backend_->Call(r); });
  int compared = 0;
  std::vector<std::string> failures;
  for (const auto& [key, group] : groups) {
    const auto& [template_path, state] = key;
    const api::ApiOperation* op = backend_->api().Find("GET", template_path);
    if (op == nullptr) {
      failures.push_back(absl::StrCat(template_path, ": not a GET operation of the schema"));
      continue;
    }
    if (SiteSpecific().count(template_path) != 0) continue;
    std::vector<const json::value*> values;
    for (const Record* r : group) values.push_back(&r->data);
    const Shape expected = Common(values);

    // The corresponding object of the seeded world: the walker's choice (first rows of the
    // parent listings, i.e. pve1, VM 100, ...), a stopped guest for stopped answers.
    pvegw::testing::ResolvedCall call = walker.Resolve(*op);
    std::string path = call.path;
    if (state == "stopped") {
      path = absl::StrContains(template_path, "/lxc/") ? "/nodes/pve2/lxc/201/status/current"
                                                       : "/nodes/pve2/qemu/102/status/current";
    } else if (state == "running") {
      path = absl::StrContains(template_path, "/lxc/") ? "/nodes/pve1/lxc/200/status/current"
                                                       : "/nodes/pve1/qemu/100/status/current";
    }
    RestParams query = call.query;
    if (!group.front()->query.empty()) {
      query.clear();
      for (absl::string_view pair : absl::StrSplit(group.front()->query, '&')) {
        std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
        query.push_back(kv);
      }
    }
    RestResponse r = backend_->Call(RestRequest{"GET", path, query});
    if (r.status != 200) {
      failures.push_back(
          absl::StrCat(template_path, ": GET ", path, " answered ", r.status, " ", r.reason));
      continue;
    }
    json::value body = json::parse(r.body);
    std::vector<std::string> found;
    Compare(expected, body.as_object()["data"], "data", found);
    std::set<std::string> missing;
    for (const std::string& m : found) {
      if (KeyExemptions().count({template_path, m}) == 0) missing.insert(m);
    }
    ++compared;
    if (!missing.empty()) {
      std::vector<std::string> files;
      for (const Record* rec : group) files.push_back(rec->file);
      failures.push_back(absl::StrCat(template_path, state.empty() ? "" : " (" + state + ")",
                                      " vs GET ", path, " [", absl::StrJoin(files, ","),
                                      "] lacks: ", absl::StrJoin(missing, ", ")));
    }
  }
  EXPECT_GE(compared, 40) << "the corpus covers more templates than were compared";
  EXPECT_TRUE(failures.empty()) << failures.size() << " templates differ from real hosts:\n"
                                << absl::StrJoin(failures, "\n");
}

}  // namespace
}  // namespace pvegw::mockstate
