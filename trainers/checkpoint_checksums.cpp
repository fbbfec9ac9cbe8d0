#include "trainers/checkpoint_checksums.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "trainers/checkpoint_detail.h"

namespace mt::checkpoint_detail {

namespace {

uint32_t content_crc(nlohmann::json state) {
  state.erase("checksum");
  const std::string text = state.dump();
  return bytes_crc32(text.data(), text.size());
}

bool is_hex8(const std::string& s) {
  return s.size() == 8 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MT_CHECK(in.good(), IoError, "[checkpoint] cannot open '", path, "': ", std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MT_CHECK(!in.bad(), IoError, "[checkpoint] cannot read '", path, "'");
  return bytes;
}

uint32_t extend_crc32(uint32_t crc, const void* data, size_t size) {
  uLong c = crc;
  const auto* p = static_cast<const Bytef*>(data);
  while (size > 0) {  // zlib takes a uInt length
    const uInt n = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    c = ::crc32(c, p, n);
    p += n;
    size -= n;
  }
  return static_cast<uint32_t>(c);
}

uint32_t bytes_crc32(const void* data, size_t size) {
  return extend_crc32(static_cast<uint32_t>(::crc32(0L, Z_NULL, 0)), data, size);
}

void seal_state_json(nlohmann::json& state, const std::string& dir, const std::vector<std::string>& files) {
  nlohmann::json crcs = nlohmann::json::object();
  for (const std::string& name : files) {
    // Read back from the page cache: the CRC is of the bytes the file system holds.
    const std::vector<uint8_t> bytes = read_file_bytes(dir + "/" + name);
    crcs[name] = hex32(bytes_crc32(bytes.data(), bytes.size()));
  }
  state["files"] = std::move(crcs);
  state["checksum"] = hex32(content_crc(state));
}

std::map<std::string, std::string> verify_state_json(const nlohmann::json& state, const std::string& source) {
  const auto checksum = state.find("checksum");
  MT_CHECK(checksum != state.end() && checksum->is_string() && is_hex8(checksum->get<std::string>()), IoError,
           "[checkpoint] '", source, "' has no valid 'checksum' entry; it is corrupted or was written ",
           "by a morphtrain without checkpoint checksums");
  const std::string actual = hex32(content_crc(state));
  MT_CHECK(actual == checksum->get<std::string>(), IoError, "[checkpoint] '", source,
           "': CRC32 mismatch: the file records ", checksum->get<std::string>(), ", its content has ", actual,
           "; the file is corrupted");
  const auto files = state.find("files");
  MT_CHECK(files != state.end() && files->is_object(), IoError, "[checkpoint] '", source,
           "' has no 'files' checksums");
  std::map<std::string, std::string> out;
  for (const auto& [name, crc] : files->items()) {
    // Names a checkpoint's own files only: never a path that leads out of its directory.
    MT_CHECK(!name.empty() && name.size() < 64 && name[0] != '.' && name.find('/') == std::string::npos, IoError,
             "[checkpoint] '", source, "': 'files' names something other than a file of the checkpoint");
    MT_CHECK(crc.is_string() && is_hex8(crc.get<std::string>()), IoError, "[checkpoint] '", source,
             "': the checksum of '", name, "' is not 8 hex digits");
    out[name] = crc.get<std::string>();
  }
  return out;
}

void verify_file_crc(const std::string& path, const std::vector<uint8_t>& bytes, const std::string& recorded) {
  const std::string actual = hex32(bytes_crc32(bytes.data(), bytes.size()));
  MT_CHECK(actual == recorded, IoError, "[checkpoint] '", path, "': CRC32 mismatch: trainer_state.json records ",
           recorded, ", the file has ", actual, "; the file is corrupted");
}

}  // namespace mt::checkpoint_detail
