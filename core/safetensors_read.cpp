// The safetensors reader: every structural check runs on the header before any tensor memory is
// allocated, so a hostile file costs at most its own size (ecosystem.md §2.2, §6.2 row 10).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/json_read.h"
#include "core/safetensors.h"

namespace mt {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests object > entry > shape array: depth 3. Deeper is an attack (10^6 '[').
constexpr int kMaxDepth = 3;
// Shapes and offsets are short; a 1e8-byte header of one flat array would inflate ~10x as JSON.
constexpr size_t kMaxArrayLength = 1024;

using Json = nlohmann::json;

// Raw bytes at an offset, from a file (pread) or from memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  virtual void read(uint64_t offset, void* dst, size_t bytes) const = 0;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t bytes) const override {
    std::memcpy(dst, data_ + offset, bytes);
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    MT_CHECK(fd_ >= 0, IoError, "[safetensors] cannot open '", path, "': ", std::strerror(errno));
    struct stat st {};
    const bool stat_ok = ::fstat(fd_, &st) == 0;
    const int err = errno;
    if (!stat_ok || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      MT_FAIL(IoError, "[safetensors] cannot read '", path, "': ",
              stat_ok ? "not a regular file" : std::strerror(err));
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t bytes) const override {
    auto* p = static_cast<char*>(dst);
    while (bytes > 0) {
      const ssize_t n = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      MT_CHECK(n > 0, IoError, "[safetensors] cannot read '", path_, "' at byte ", offset, ": ",
               n < 0 ? std::strerror(errno) : "unexpected end of file (did it change while read?)");
      p += n;
      offset += static_cast<uint64_t>(n);
      bytes -= static_cast<size_t>(n);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct DtypeInfo {
  std::string_view name;
  uint64_t bits;
  std::optional<DType> ours;  // empty: a valid safetensors dtype morphtrain cannot hold
};

constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 8, {}},     {"U8", 8, {}},       {"I8", 8, {}},      {"F8_E5M2", 8, {}},
    {"F8_E4M3", 8, {}},  {"F8_E8M0", 8, {}},  {"I16", 16, {}},    {"U16", 16, {}},
    {"F16", 16, {}},     {"BF16", 16, {}},    {"I32", 32, {}},    {"U32", 32, {}},
    {"F32", 32, DType::f32}, {"F64", 64, DType::f64}, {"I64", 64, DType::i64},
    {"U64", 64, {}},     {"C64", 64, {}},     {"F4", 4, {}},      {"F6_E2M3", 6, {}},
    {"F6_E3M2", 6, {}},
};

struct Entry {
  std::string name;
  const DtypeInfo* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// Every message names the source and, in parentheses, the reference implementation's error kind
// so that users can look the defect up.
template <typename... Args>
[[noreturn]] void reject(std::string_view source, const Args&... args) {
  MT_FAIL(IoError, "[safetensors] invalid file '", source, "': ", args...);
}

bool valid_utf8(const std::string& s, size_t& bad_at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bad_at = i;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Parses the header JSON, rejecting duplicate keys at any level (nlohmann would keep one
// silently), nesting deeper than a valid header and over-long arrays, while it parses.
Json parse_header_json(const std::string& text, std::string_view source) {
  struct Defect { std::string what; };
  struct Container { bool is_array; size_t count; std::set<std::string> keys; };
  std::vector<Container> stack;
  using Event = Json::parse_event_t;
  auto count_element = [&]() {
    if (!stack.empty() && stack.back().is_array && ++stack.back().count > kMaxArrayLength)
      throw Defect{"an array longer than " + std::to_string(kMaxArrayLength) + " elements"};
  };
  auto callback = [&](int depth, Event event, Json& parsed) {
    if (event == Event::object_start || event == Event::array_start) {
      if (depth >= kMaxDepth) throw Defect{"JSON nested deeper than a valid header"};
      count_element();
      stack.push_back({event == Event::array_start, 0, {}});
    } else if (event == Event::object_end || event == Event::array_end) {
      stack.pop_back();
    } else if (event == Event::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!stack.back().keys.insert(key).second) throw Defect{"duplicate key \"" + key + "\""};
    } else if (event == Event::value) {
      count_element();
    }
    return true;
  };
  try {
    return Json::parse(text, callback);
  } catch (const Defect& d) {
    reject(source, "header rejected: ", d.what, " (InvalidHeaderDeserialization)");
  } catch (const Json::exception& e) {
    reject(source, "header is not valid JSON: ", e.what(), " (InvalidHeaderDeserialization)");
  }
}

uint64_t unsigned_field(const Json& v, std::string_view source, const std::string& name,
                        const char* field) {
  if (!v.is_number_unsigned())
    reject(source, "tensor '", name, "': ", field, " holds ", describe_json(v),
           ", not an unsigned integer (InvalidHeaderDeserialization)");
  return v.get<uint64_t>();
}

Entry parse_entry(const std::string& name, const Json& info, std::string_view source) {
  if (!info.is_object())
    reject(source, "tensor '", name, "' is described by ", info.type_name(),
           ", not an object (InvalidHeaderDeserialization)");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!info.contains(field))
      reject(source, "tensor '", name, "' has no \"", field, "\" (InvalidHeaderDeserialization)");
  Entry e;
  e.name = name;
  const Json& dtype = info["dtype"];
  for (const auto& d : kDtypes)
    if (dtype.is_string() && dtype.get_ref<const std::string&>() == d.name) e.dtype = &d;
  if (!e.dtype)
    reject(source, "tensor '", name, "' has unknown dtype ", describe_json(dtype),
           " (InvalidHeaderDeserialization)");
  const Json& shape = info["shape"];
  if (!shape.is_array())
    reject(source, "tensor '", name, "': shape is not an array (InvalidHeaderDeserialization)");
  for (const Json& d : shape) {
    const uint64_t dim = unsigned_field(d, source, name, "a shape dimension");
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      reject(source, "tensor '", name, "': dimension ", dim, " is too large (ValidationOverflow)");
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  const Json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    reject(source, "tensor '", name,
           "': data_offsets is not an array [begin, end] (InvalidHeaderDeserialization)");
  e.begin = unsigned_field(offsets[0], source, name, "data_offsets[0]");
  e.end = unsigned_field(offsets[1], source, name, "data_offsets[1]");
  return e;
}

std::map<std::string, std::string> parse_metadata(const Json& m, std::string_view source) {
  std::map<std::string, std::string> out;
  if (m.is_null()) return out;
  if (!m.is_object())
    reject(source, "__metadata__ is ", m.type_name(),
           ", not an object of strings (InvalidHeaderDeserialization)");
  for (const auto& [key, value] : m.items()) {
    if (!value.is_string())
      reject(source, "__metadata__ value of \"", key, "\" is ", value.type_name(),
             ", not a string (InvalidHeaderDeserialization)");
    out[key] = value.get<std::string>();
  }
  return out;
}

// The reference's Metadata::validate: sorted by offsets, contiguous from 0, sizes that match.
uint64_t validate_layout(std::vector<Entry>& entries, std::string_view source) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    return a.end != b.end ? a.end < b.end : a.name < b.name;
  });
  uint64_t next = 0;
  for (const Entry& e : entries) {
    if (e.begin != next || e.end < e.begin)
      reject(source, "tensor '", e.name, "' has data_offsets [", e.begin, ", ", e.end, "] but ",
             e.begin < next ? "overlaps the previous tensor" : "",
             e.begin > next ? "leaves a hole after the previous tensor" : "",
             e.begin == next ? "ends before it begins" : "", "; expected to begin at ", next,
             " (InvalidOffset)");
    uint64_t bits = e.dtype->bits;
    for (int64_t d : e.shape)
      if (__builtin_mul_overflow(bits, static_cast<uint64_t>(d), &bits))
        reject(source, "tensor '", e.name, "': the size of its shape overflows (ValidationOverflow)");
    if (bits % 8 != 0)
      reject(source, "tensor '", e.name, "' of dtype ", e.dtype->name,
             " does not end on a byte boundary (MisalignedSlice)");
    if (e.end - e.begin != bits / 8)
      reject(source, "tensor '", e.name, "' of dtype ", e.dtype->name, " and shape ",
             Shape(e.shape).str(), " needs ", bits / 8, " bytes but its data_offsets span ",
             e.end - e.begin, " (TensorInvalidInfo)");
    next = e.end;
  }
  return next;
}

std::string read_header(const ByteSource& src, std::string_view source, uint64_t& header_bytes) {
  const uint64_t file_bytes = src.size();
  if (file_bytes < 8)
    reject(source, "the file is ", file_bytes,
           " bytes, shorter than the 8-byte header length (HeaderTooSmall)");
  uint8_t prefix[8];
  src.read(0, prefix, 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[i];
  if (n > kMaxHeaderBytes)
    reject(source, "header length ", n, " exceeds the limit of ", kMaxHeaderBytes,
           " (HeaderTooLarge)");
  if (n > file_bytes - 8)
    reject(source, "header length ", n, " runs past the end of the ", file_bytes,
           "-byte file (InvalidHeaderLength)");
  std::string text(n, '\0');
  src.read(8, text.data(), n);
  size_t bad_at = 0;
  if (!valid_utf8(text, bad_at))
    reject(source, "header is not valid UTF-8 at header byte ", bad_at, " (InvalidHeader)");
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{')
    reject(source, "header does not start with '{' (InvalidHeaderStart)");
  header_bytes = n;
  return text;
}

SafetensorsContent parse(const ByteSource& src, std::string_view source) {
  uint64_t n = 0;
  const Json header = parse_header_json(read_header(src, source, n), source);
  SafetensorsContent out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") out.metadata = parse_metadata(value, source);
    else entries.push_back(parse_entry(key, value, source));
  }
  const uint64_t data_bytes = validate_layout(entries, source);
  const uint64_t follows = src.size() - 8 - n;  // read_header proved 8 + n <= size
  if (data_bytes > follows)
    reject(source, "the header declares ", data_bytes, " bytes of tensor data but only ", follows,
           " follow it: the file is ", src.size(), " bytes, truncated? (MetadataIncompleteBuffer)");
  if (data_bytes < follows)
    reject(source, "expected ", 8 + n + data_bytes, " bytes (8 + header ", n, " + data ",
           data_bytes, ") but the file has ", src.size(), ": ", follows - data_bytes,
           " trailing bytes (MetadataIncompleteBuffer)");
  for (const Entry& e : entries) {
    if (!e.dtype->ours)
      reject(source, "tensor '", e.name, "' has dtype ", e.dtype->name,
             ", which morphtrain does not support (F32, F64, I64)");
  }
  // Only now, with every size proven to fit in the file, does memory get allocated.
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(Shape(e.shape), *e.dtype->ours);
    if (t.nbytes() > 0) src.read(8 + n + e.begin, t.raw(), t.nbytes());
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace

SafetensorsContent read_safetensors(const std::string& path) {
  const FileSource src(path);
  return parse(src, path);
}

SafetensorsContent parse_safetensors(const uint8_t* data, size_t size, std::string_view source) {
  const MemorySource src(data, size);
  return parse(src, source);
}

}  // namespace mt
