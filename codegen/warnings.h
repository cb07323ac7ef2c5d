// Counted, de-duplicated warnings about schema constructs pve-protogen cannot map.
#ifndef PVEGW_CODEGEN_WARNINGS_H_
#define PVEGW_CODEGEN_WARNINGS_H_

#include <map>
#include <string>
#include <vector>

namespace pvegw::codegen {

// Unknown constructs are not failures: each distinct message is counted, so a schema
// with 300 occurrences of one oddity yields one line "... (300 times)".
class Warnings {
 public:
  // `kind` is the stable message; `example` names one place it occurred.
  void Add(const std::string& kind, const std::string& example) {
    Entry& e = entries_[kind];
    if (e.count++ == 0) e.example = example;
  }
  // Like Add, but the warning keeps every place (printed as one line naming them all), for
  // oddities a reader must be able to check one by one.
  void AddListed(const std::string& kind, const std::string& place) {
    Add(kind, place);
    entries_[kind].places.push_back(place);
  }
  int Total() const {
    int total = 0;
    for (const auto& [kind, e] : entries_) total += e.count;
    return total;
  }
  struct Entry {
    int count = 0;
    std::string example;
    std::vector<std::string> places;  // every place, for AddListed warnings only
  };
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_WARNINGS_H_
