// safetensors: byte-exact agreement with the reference writer, round trips, atomic writes.
// The rejection cases live in test_safetensors_reject.cpp.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/atomic_file.h"
#include "core/safetensors.h"
#include "temp_dir.h"

using namespace mt;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

std::vector<uint8_t> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Tensor arange(const Shape& shape, DType dtype, double start = 0) {
  Tensor t = Tensor::empty(shape, dtype);
  for (int64_t i = 0; i < shape.numel(); ++i) {
    const double v = start + static_cast<double>(i);
    switch (dtype) {
      case DType::f32: t.data<float>()[i] = static_cast<float>(v); break;
      case DType::f64: t.data<double>()[i] = v; break;
      case DType::i64: t.data<int64_t>()[i] = static_cast<int64_t>(v); break;
    }
  }
  return t;
}

}  // namespace

TEST_CASE("serialization matches the reference writer byte for byte", "[io][safetensors]") {
  // safetensors tensor.rs test_serialization: "attn.0" F32 [1, 2, 3] = 0..5.
  const std::vector<uint8_t> expected = {
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
      116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
      101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
  CHECK(serialize_safetensors({{"attn.0", arange({1, 2, 3}, DType::f32)}}) == expected);

  // test_empty: no tensors, then no tensors with metadata {"framework": "pt"}.
  const std::vector<uint8_t> empty = {8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32};
  CHECK(serialize_safetensors({}) == empty);
  const std::string with_meta =
      std::string("\x28\0\0\0\0\0\0\0", 8) + "{\"__metadata__\":{\"framework\":\"pt\"}}     ";
  const std::vector<uint8_t> meta(with_meta.begin(), with_meta.end());
  CHECK(serialize_safetensors({}, {{"framework", "pt"}}) == meta);
}

TEST_CASE("tensors are ordered like the reference writer and the data is 8-aligned",
          "[io][safetensors]") {
  const NamedTensors tensors = {{"b.weight", arange({3}, DType::f32)},
                                {"a.weight", arange({2}, DType::f32)},
                                {"bn.num_batches_tracked", arange({}, DType::i64, 7)},
                                {"z.double", arange({2}, DType::f64)}};
  const std::vector<uint8_t> bytes = serialize_safetensors(tensors);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  const SafetensorsContent back = parse_safetensors(bytes.data(), bytes.size(), "mem");
  std::vector<std::string> order;
  for (const auto& [name, t] : back.tensors) order.push_back(name);
  // Descending reference dtype rank (I64 > F64 > F32), then name.
  CHECK(order == std::vector<std::string>{"bn.num_batches_tracked", "z.double", "a.weight", "b.weight"});
}

TEST_CASE("safetensors round trip: dtypes, rank 0, empty, nhwc, metadata", "[io][safetensors]") {
  TempDir dir;
  const std::string path = (dir.path / "model.safetensors").string();
  Tensor nchw = arange({2, 3, 4, 5}, DType::f32, -10);
  const Tensor nhwc = nchw.to(Layout::nhwc);
  const NamedTensors tensors = {{"conv.weight", nhwc},
                                {"bn.running_var", arange({3}, DType::f64, 0.5)},
                                {"bn.num_batches_tracked", arange({}, DType::i64, 42)},
                                {"pruned.weight", Tensor::empty({0, 4}, DType::f32)},
                                {"labels", arange({4}, DType::i64, -2)}};
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"arch", "{\"w\":[16,32]}"}};
  write_safetensors(path, tensors, meta);
  CHECK(fs::file_size(path) % 8 == 0);  // padded header, and every tensor here fills 8-byte words

  const SafetensorsContent back = read_safetensors(path);
  CHECK(back.metadata == meta);
  REQUIRE(back.tensors.size() == tensors.size());
  for (const auto& [name, want] : tensors) {
    INFO(name);
    auto it = std::find_if(back.tensors.begin(), back.tensors.end(),
                           [&](const auto& e) { return e.first == name; });
    REQUIRE(it != back.tensors.end());
    CHECK(it->second.shape() == want.shape());
    CHECK(it->second.dtype() == want.dtype());
    CHECK(it->second.layout() == Layout::nchw);
    if (want.numel() > 0 && want.dtype() != DType::i64) CHECK(max_rel_diff(it->second, want) == 0);
    if (want.dtype() == DType::i64)
      for (int64_t i = 0; i < want.numel(); ++i)
        CHECK(it->second.data<int64_t>()[i] == want.data<int64_t>()[i]);
  }
  // nhwc is stored in logical NCHW order: the same bytes as the nchw tensor.
  CHECK(serialize_safetensors({{"x", nhwc}}) == serialize_safetensors({{"x", nchw}}));
  const auto& conv = back.tensors.back();  // F32 names sort: conv.weight < pruned.weight
  CHECK(back.tensors[back.tensors.size() - 2].first == "conv.weight");
  CHECK(conv.first == "pruned.weight");
  CHECK(back.tensors[back.tensors.size() - 2].second.at({1, 2, 3, 4}) == nchw.at({1, 2, 3, 4}));
}

TEST_CASE("writer rejects what the format cannot hold", "[io][safetensors]") {
  TempDir dir;
  const std::string path = (dir.path / "bad.safetensors").string();
  const Tensor t = arange({2}, DType::f32);
  CHECK_THROWS_WITH(write_safetensors(path, {{"a", t}, {"a", t}}),
                    Catch::Contains("duplicate tensor name 'a'") && Catch::Contains(path));
  CHECK_THROWS_WITH(write_safetensors(path, {{"__metadata__", t}}), Catch::Contains("reserved"));
  CHECK_THROWS_WITH(write_safetensors(path, {{"", t}}), Catch::Contains("empty tensor name"));
  CHECK_THROWS_WITH(write_safetensors(path, {{"u", Tensor{}}}), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(write_safetensors(path, {{"bad\xff", t}}), Catch::Contains("not valid UTF-8"));
  CHECK(dir.entries().empty());  // nothing written, no temporary left behind
}

TEST_CASE("a failed write leaves the previous file byte-identical", "[io][safetensors]") {
  TempDir dir;
  const fs::path path = dir.path / "ckpt.safetensors";
  write_safetensors(path.string(), {{"w", arange({4}, DType::f32)}}, {{"step", "1"}});
  const std::vector<uint8_t> before = file_bytes(path);
  const NamedTensors big = {{"w", arange({64, 1024}, DType::f32)}};  // 256 KiB

  SECTION("no space: the file-size limit makes write() fail with EFBIG") {
    struct rlimit old {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);  // else the kernel kills the process
    struct rlimit small = old;
    small.rlim_cur = 64 * 1024;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string error;
    try {
      write_safetensors(path.string(), big);
    } catch (const IoError& e) {
      error = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
    CHECK_THAT(error, Catch::Contains(path.string()) && Catch::Contains("File too large"));
  }
  SECTION("the destination directory does not exist") {
    const fs::path missing = dir.path / "no_such_dir" / "ckpt.safetensors";
    CHECK_THROWS_WITH(write_safetensors(missing.string(), big),
                      Catch::Contains(missing.string()) && Catch::Contains("No such file"));
  }
  SECTION("the rename fails: a directory sits at the destination") {
    const fs::path blocker = dir.path / "blocker";
    fs::create_directories(blocker / "inside");
    CHECK_THROWS_WITH(write_safetensors(blocker.string(), big),
                      Catch::Contains("renaming over the destination"));
    CHECK(fs::is_directory(blocker / "inside"));
    fs::remove_all(blocker);
  }
  CHECK(file_bytes(path) == before);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});  // no temporary left
  // And a write that succeeds replaces it whole.
  write_safetensors(path.string(), big);
  CHECK(read_safetensors(path.string()).tensors.at(0).second.shape() == Shape{64, 1024});
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("write_file_atomically replaces small files whole", "[io]") {
  TempDir dir;
  const std::string path = (dir.path / "last").string();
  write_file_atomically(path, "ckpt-100\n");
  write_file_atomically(path, "ckpt-200\n");
  const std::vector<uint8_t> bytes = file_bytes(path);
  CHECK(std::string(bytes.begin(), bytes.end()) == "ckpt-200\n");
  CHECK_THROWS_AS(write_file_atomically((dir.path / "x" / "y").string(), "z"), IoError);
  CHECK(dir.entries() == std::vector<std::string>{"last"});
}

TEST_CASE("reading a missing file or a directory names it", "[io][safetensors]") {
  TempDir dir;
  const std::string missing = (dir.path / "nope.safetensors").string();
  CHECK_THROWS_WITH(read_safetensors(missing),
                    Catch::Contains(missing) && Catch::Contains("No such file"));
  CHECK_THROWS_WITH(read_safetensors(dir.path.string()), Catch::Contains("not a regular file"));
}
