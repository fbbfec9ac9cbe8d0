// Every malformed safetensors file of ecosystem.md §2.2 and §6.2 row 10 is rejected with a
// specific message, before any tensor memory is allocated.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/safetensors.h"

using namespace mt;
namespace fs = std::filesystem;

namespace {

// 8-byte little-endian length + header + data.
std::vector<uint8_t> craft(const std::string& header, size_t data_bytes = 0,
                           uint64_t declared = UINT64_MAX) {
  const uint64_t n = declared == UINT64_MAX ? header.size() : declared;
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
  bytes += header;
  bytes.append(data_bytes, '\x5A');
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    parse_safetensors(bytes.data(), bytes.size(), "crafted.safetensors");
  } catch (const IoError& e) {
    return e.what();
  }
  return "accepted";
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  uint64_t begin, uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

std::vector<uint8_t> valid_file() {
  Tensor a = Tensor::empty({4, 8}, DType::f32);
  Tensor b = Tensor::empty({16}, DType::f64);
  a.fill(1.5);
  b.fill(-2);
  return serialize_safetensors({{"a", a}, {"b", b}}, {{"format", "pt"}});
}

}  // namespace

TEST_CASE("a valid file parses, leading whitespace and unknown fields tolerated",
          "[io][safetensors]") {
  CHECK(error_of(valid_file()) == "accepted");
  CHECK(error_of(craft(" \n{" + entry("x", "F32", "[2]", 0, 8) + "}", 8)) == "accepted");
  CHECK(error_of(craft("{\"__metadata__\":null,\"x\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[0,8],\"extra\":1}}", 8)) == "accepted");
  // Zero-size tensors may share an offset with their neighbour.
  CHECK(error_of(craft("{" + entry("e", "F32", "[0,3]", 0, 0) + "," +
                       entry("x", "F32", "[1]", 0, 4) + "}", 4)) == "accepted");
}

TEST_CASE("truncated files are rejected with the expected and actual length", "[io][safetensors]") {
  const std::vector<uint8_t> file = valid_file();
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  auto truncated = [&](size_t size) {
    return error_of(std::vector<uint8_t>(file.begin(), file.begin() + size));
  };
  CHECK_THAT(truncated(0), Catch::Contains("0 bytes") && Catch::Contains("HeaderTooSmall"));
  CHECK_THAT(truncated(7), Catch::Contains("HeaderTooSmall"));
  CHECK_THAT(truncated(8), Catch::Contains("InvalidHeaderLength"));
  CHECK_THAT(truncated(8 + n / 2), Catch::Contains("InvalidHeaderLength"));
  CHECK_THAT(truncated(8 + n + 100),
             Catch::Contains("MetadataIncompleteBuffer") && Catch::Contains("truncated"));
  CHECK_THAT(truncated(file.size() - 1),
             Catch::Contains("only 255 follow") && Catch::Contains("MetadataIncompleteBuffer"));
  CHECK_THAT(truncated(file.size() - 1), Catch::Contains("crafted.safetensors"));
}

TEST_CASE("header length attacks", "[io][safetensors]") {
  CHECK_THAT(error_of(craft("{}", 0, UINT64_MAX - 1)), Catch::Contains("HeaderTooLarge"));
  CHECK_THAT(error_of(craft("{}", 0, 100'000'001)), Catch::Contains("HeaderTooLarge"));
  CHECK_THAT(error_of(craft("{}", 0, 3)), Catch::Contains("InvalidHeaderLength"));
  std::vector<uint8_t> max = craft("{}");
  std::memset(max.data(), 0xFF, 8);  // N = 2^64 - 1
  CHECK_THAT(error_of(max), Catch::Contains("HeaderTooLarge"));
}

TEST_CASE("header text attacks", "[io][safetensors]") {
  CHECK_THAT(error_of(craft("[]      ")), Catch::Contains("InvalidHeaderStart"));
  CHECK_THAT(error_of(craft("        ")), Catch::Contains("InvalidHeaderStart"));
  CHECK_THAT(error_of(craft("{\"a\xff\":1}")),
             Catch::Contains("not valid UTF-8") && Catch::Contains("InvalidHeader"));
  CHECK_THAT(error_of(craft("{\"\xed\xa0\x80\":1}")), Catch::Contains("UTF-8"));  // a surrogate
  CHECK_THAT(error_of(craft("{\"x\": {\"dtype\": \"F32\",")), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(craft("{} {}")), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(craft("{\"x\": 5}")), Catch::Contains("not an object"));
  CHECK_THAT(error_of(craft("{" + entry("x", "F32", "[1]", 0, 4) + "," +
                            entry("x", "F32", "[1]", 4, 8) + "}", 8)),
             Catch::Contains("duplicate key \"x\""));
  CHECK_THAT(error_of(craft("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}")),
             Catch::Contains("duplicate key \"k\""));
  CHECK_THAT(error_of(craft("{\"__metadata__\":{\"k\":1}}")),
             Catch::Contains("__metadata__ value of \"k\"") && Catch::Contains("not a string"));
  CHECK_THAT(error_of(craft("{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}}")),
             Catch::Contains("not a string"));
  CHECK_THAT(error_of(craft("{\"__metadata__\":[\"x\"]}")), Catch::Contains("not an object"));
  // 10^6 nested '[': rejected at the depth cap, no stack overflow, no huge DOM.
  CHECK_THAT(error_of(craft("{\"x\":" + std::string(1'000'000, '[') + "}")),
             Catch::Contains("nested deeper"));
  std::string flat = "{\"x\":{\"dtype\":\"F32\",\"shape\":[";
  for (int i = 0; i < 5000; ++i) flat += "1,";
  CHECK_THAT(error_of(craft(flat + "1],\"data_offsets\":[0,4]}}", 4)),
             Catch::Contains("array longer"));
}

TEST_CASE("entry attacks: dtype, shape, offsets, sizes", "[io][safetensors]") {
  auto one = [](const std::string& e, size_t data) { return error_of(craft("{" + e + "}", data)); };
  CHECK_THAT(one(entry("x", "F33", "[1]", 0, 4), 4), Catch::Contains("unknown dtype \"F33\""));
  CHECK_THAT(one(entry("x", "F16", "[2]", 0, 4), 4),
             Catch::Contains("F16") && Catch::Contains("does not support"));
  CHECK_THAT(one(entry("x", "F32", "[2]", 0, 4), 4),
             Catch::Contains("needs 8 bytes but its data_offsets span 4") &&
                 Catch::Contains("TensorInvalidInfo"));
  CHECK_THAT(one(entry("x", "F32", "[-1]", 0, 4), 4), Catch::Contains("not an unsigned integer"));
  CHECK_THAT(one(entry("x", "F32", "[1.5]", 0, 4), 4), Catch::Contains("not an unsigned integer"));
  CHECK_THAT(one("\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}", 4),
             Catch::Contains("not an unsigned integer"));
  CHECK_THAT(one("\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}", 4),
             Catch::Contains("data_offsets"));
  CHECK_THAT(one("\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", 4),
             Catch::Contains("no \"shape\""));
  CHECK_THAT(one(entry("x", "F32", "[4294967296,4294967296,4294967296]", 0, 4), 4),
             Catch::Contains("ValidationOverflow"));
  CHECK_THAT(one(entry("x", "F32", "[18446744073709551615]", 0, 4), 4),
             Catch::Contains("ValidationOverflow"));
  CHECK_THAT(one(entry("x", "F4", "[3]", 0, 1), 1), Catch::Contains("MisalignedSlice"));
  CHECK_THAT(one(entry("x", "F32", "[1]", 4, 8), 8),
             Catch::Contains("leaves a hole") && Catch::Contains("InvalidOffset"));
  CHECK_THAT(one(entry("x", "F32", "[1]", 8, 4), 8), Catch::Contains("InvalidOffset"));
  // A huge tensor the file cannot hold: rejected before allocating 4 TB.
  CHECK_THAT(one(entry("x", "F32", "[1000000000000]", 0, 4000000000000), 16),
             Catch::Contains("MetadataIncompleteBuffer"));
}

TEST_CASE("overlapping, holey and trailing layouts", "[io][safetensors]") {
  const std::string a = entry("a", "F32", "[2]", 0, 8);
  CHECK_THAT(error_of(craft("{" + a + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12)),
             Catch::Contains("tensor 'b'") && Catch::Contains("overlaps") &&
                 Catch::Contains("InvalidOffset"));
  CHECK_THAT(error_of(craft("{" + a + "," + entry("b", "F32", "[2]", 0, 8) + "}", 8)),
             Catch::Contains("overlaps"));  // aliasing: two names, one buffer
  CHECK_THAT(error_of(craft("{" + a + "," + entry("b", "F32", "[2]", 12, 20) + "}", 20)),
             Catch::Contains("tensor 'b'") && Catch::Contains("hole"));
  // A polyglot tail: valid tensors followed by foreign bytes.
  CHECK_THAT(error_of(craft("{" + a + "}", 8 + 100)),
             Catch::Contains("100 trailing bytes") && Catch::Contains("MetadataIncompleteBuffer"));
}

TEST_CASE("errors reading a file name the file", "[io][safetensors]") {
  const fs::path path = fs::temp_directory_path() /
                        ("mt_st_reject_" + std::to_string(::getpid()) + ".safetensors");
  std::vector<uint8_t> bytes = valid_file();
  bytes.pop_back();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  CHECK_THROWS_WITH(read_safetensors(path.string()),
                    Catch::Contains(path.string()) && Catch::Contains("MetadataIncompleteBuffer"));
  fs::remove(path);
}

TEST_CASE("random corruptions are either parsed or rejected with IoError", "[io][safetensors]") {
  // A cheap stand-in for the libFuzzer harness: byte flips, truncations and insertions of a valid
  // file must never crash or escape as another exception type.
  const std::vector<uint8_t> valid = valid_file();
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&](uint64_t bound) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % bound;
  };
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> bytes = valid;
    const int edits = 1 + static_cast<int>(next(3));
    for (int e = 0; e < edits; ++e) {
      const uint64_t pos = next(bytes.size());
      switch (next(3)) {
        case 0: bytes[pos] = static_cast<uint8_t>(next(256)); break;
        case 1: bytes.resize(pos); break;
        default: bytes.insert(bytes.begin() + static_cast<int64_t>(pos), static_cast<uint8_t>(next(256)));
      }
      if (bytes.empty()) bytes.push_back(0);
    }
    try {
      parse_safetensors(bytes.data(), bytes.size(), "fuzz");
      ++accepted;
    } catch (const IoError&) {
      ++rejected;
    }
  }
  CHECK(rejected > 2000);  // most corruptions break the structure
  CHECK(accepted > 0);     // flips inside the tensor data are still valid files
}
