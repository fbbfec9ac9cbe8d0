// The safetensors writer. The reader lives in safetensors_read.cpp.
#include "core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace mt {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host needs byte swaps here");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's DoS bound

std::string_view format_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
  }
  return "?";
}

// The reference writer sorts by its Dtype enum in descending order (which lists dtypes by
// increasing alignment: ..., F32, F64, I64, U64), then by name.
int reference_dtype_rank(DType t) {
  switch (t) {
    case DType::f32: return 0;
    case DType::f64: return 1;
    case DType::i64: return 2;
  }
  return -1;
}

// JSON string literal; nlohmann escapes like serde_json (", \, control characters) and throws on
// invalid UTF-8.
std::string json_string(const std::string& s, const std::string& where, const char* what) {
  try {
    return nlohmann::json(s).dump();
  } catch (const nlohmann::json::exception&) {
    MT_FAIL(IoError, "[safetensors] cannot write '", where, "': ", what, " is not valid UTF-8");
  }
}

struct WritePlan {
  std::string header;  // the JSON, space-padded to a multiple of 8
  std::vector<const std::pair<std::string, Tensor>*> order;
  uint64_t data_bytes = 0;
};

void check_tensor(const std::string& name, const Tensor& t, const std::string& where,
                  std::set<std::string>& seen) {
  MT_CHECK(!name.empty(), IoError, "[safetensors] cannot write '", where, "': empty tensor name");
  MT_CHECK(name != "__metadata__", IoError, "[safetensors] cannot write '", where,
           "': '__metadata__' is reserved and cannot name a tensor");
  MT_CHECK(seen.insert(name).second, IoError, "[safetensors] cannot write '", where,
           "': duplicate tensor name '", name, "'");
  MT_CHECK(t.defined(), IoError, "[safetensors] cannot write '", where, "': tensor '", name,
           "' is undefined");
  MT_CHECK(t.device().kind == DeviceKind::cpu, IoError, "[safetensors] cannot write '", where,
           "': tensor '", name, "' lives on ", t.device().str(), "; copy it to the CPU first");
}

std::string entry_json(const std::string& name, const Tensor& t, uint64_t begin, uint64_t end,
                       const std::string& where) {
  std::string s = json_string(name, where, "a tensor name");
  s += ":{\"dtype\":\"";
  s += format_dtype(t.dtype());
  s += "\",\"shape\":[";
  for (int i = 0; i < t.rank(); ++i) s += (i ? "," : "") + std::to_string(t.dim(i));
  s += "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
  return s;
}

std::string metadata_json(const std::map<std::string, std::string>& metadata,
                          const std::string& where) {
  std::string s = "\"__metadata__\":{";
  bool first = true;
  for (const auto& [key, value] : metadata) {
    if (!first) s += ",";
    first = false;
    s += json_string(key, where, "a metadata key") + ":" +
         json_string(value, where, "a metadata value");
  }
  return s + "}";
}

WritePlan plan_write(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
                     const std::string& where) {
  WritePlan plan;
  std::set<std::string> seen;
  for (const auto& entry : tensors) {
    check_tensor(entry.first, entry.second, where, seen);
    plan.order.push_back(&entry);
  }
  std::stable_sort(plan.order.begin(), plan.order.end(), [](const auto* a, const auto* b) {
    const int ra = reference_dtype_rank(a->second.dtype());
    const int rb = reference_dtype_rank(b->second.dtype());
    return ra != rb ? ra > rb : a->first < b->first;
  });
  std::string& h = plan.header;
  h = "{";
  if (!metadata.empty()) h += metadata_json(metadata, where);
  for (const auto* entry : plan.order) {
    const uint64_t begin = plan.data_bytes;
    plan.data_bytes += entry->second.nbytes();
    if (h.size() > 1) h += ",";
    h += entry_json(entry->first, entry->second, begin, plan.data_bytes, where);
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');  // so that the data buffer starts 8-aligned
  MT_CHECK(h.size() <= kMaxHeaderBytes, IoError, "[safetensors] cannot write '", where,
           "': the header would take ", h.size(), " bytes, over the format's limit of ",
           kMaxHeaderBytes, " (too many tensors or too long names)");
  return plan;
}

std::string size_prefix(uint64_t n) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &n, 8);  // little-endian host (static_assert above)
  return s;
}

// The row-major bytes of a tensor: itself when already row-major, else a converted copy.
Tensor row_major(const Tensor& t) {
  return t.layout() == Layout::nchw ? t : t.to(Layout::nchw);
}

}  // namespace

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const WritePlan plan = plan_write(tensors, metadata, path);
  AtomicFile file(path);
  const std::string head = size_prefix(plan.header.size()) + plan.header;
  file.write(head.data(), head.size());
  for (const auto* entry : plan.order) {
    const Tensor rows = row_major(entry->second);  // one tensor converted at a time
    if (rows.nbytes() > 0) file.write(rows.raw(), rows.nbytes());
  }
  file.commit();
}

std::vector<uint8_t> serialize_safetensors(const NamedTensors& tensors,
                                           const std::map<std::string, std::string>& metadata) {
  const WritePlan plan = plan_write(tensors, metadata, "<memory>");
  const std::string head = size_prefix(plan.header.size()) + plan.header;
  std::vector<uint8_t> out(head.begin(), head.end());
  out.reserve(head.size() + plan.data_bytes);
  for (const auto* entry : plan.order) {
    const Tensor rows = row_major(entry->second);
    const auto* p = static_cast<const uint8_t*>(rows.raw());
    if (rows.nbytes() > 0) out.insert(out.end(), p, p + rows.nbytes());
  }
  return out;
}

}  // namespace mt
