#include "gateway/method_table.h"

#include "absl/strings/str_cat.h"

namespace pvegw::gateway {

MethodTable::MethodTable(const api::ApiIndex& api) : factory_(api.pool()) {
  for (const auto& op : api.operations()) {
    MethodEntry entry;
    entry.op = op.get();
    entry.request = factory_.GetPrototype(op->method->input_type());
    entry.response = factory_.GetPrototype(op->method->output_type());
    std::string name =
        absl::StrCat("/", op->method->service()->full_name(), "/", op->method->name());
    entry.index = names_.size();
    if (methods_.emplace(name, entry).second) names_.push_back(std::move(name));
  }
}

const MethodEntry* MethodTable::Find(absl::string_view method) const {
  auto it = methods_.find(method);
  return it == methods_.end() ? nullptr : &it->second;
}

}  // namespace pvegw::gateway
