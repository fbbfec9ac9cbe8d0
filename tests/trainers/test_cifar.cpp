// CIFAR-10/100 binary files written record by record in a temp dir: values, file order, and every
// rejection (missing file, truncated file, label out of range) naming the file and the offset.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "trainers/cifar.h"

using namespace mt;
namespace fs = std::filesystem;

namespace {
constexpr int64_t kPixels = 3072;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("mt_cifar_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

uint8_t pixel(int64_t record, int64_t p) { return static_cast<uint8_t>((record * 7 + p) % 251); }

// Records `first`..`first + n - 1` with the given labels bytes before each record's pixels.
void write_records(const fs::path& file, int64_t first, const std::vector<std::vector<uint8_t>>& labels) {
  std::ofstream out(file, std::ios::binary);
  for (size_t r = 0; r < labels.size(); ++r) {
    out.write(reinterpret_cast<const char*>(labels[r].data()), static_cast<std::streamsize>(labels[r].size()));
    for (int64_t p = 0; p < kPixels; ++p) out.put(static_cast<char>(pixel(first + static_cast<int64_t>(r), p)));
  }
}

void write_cifar10(const fs::path& dir) {
  for (int b = 1; b <= 5; ++b)
    write_records(dir / ("data_batch_" + std::to_string(b) + ".bin"), 2 * (b - 1),
                  {{static_cast<uint8_t>(b)}, {static_cast<uint8_t>(9 - b)}});
  write_records(dir / "test_batch.bin", 100, {{0}, {9}, {3}});
}

template <typename F>
std::string data_error(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "no DataError";
}
}  // namespace

TEST_CASE("CIFAR-10 train and test splits load in file order", "[data]") {
  const fs::path dir = fresh_dir("c10");
  write_cifar10(dir);
  const Dataset train = load_cifar(dir.string(), DataSplit::train, CifarVariant::cifar10);
  CHECK(train.sample == Shape({3, 32, 32}));
  CHECK(train.num_classes == 10);
  REQUIRE(train.size() == 10);
  REQUIRE(train.pixels.size() == 10 * kPixels);
  for (int64_t r = 0; r < 10; ++r) {
    const int64_t b = r / 2 + 1;
    CHECK(train.labels[r] == (r % 2 == 0 ? b : 9 - b));
    for (int64_t p : {0L, 1L, 1023L, 1024L, 3071L}) CHECK(train.pixels[r * kPixels + p] == pixel(r, p));
  }
  const Dataset test = load_cifar(dir.string(), DataSplit::test, CifarVariant::cifar10);
  REQUIRE(test.size() == 3);
  CHECK(test.labels == std::vector<int64_t>{0, 9, 3});
  CHECK(test.pixels[2 * kPixels + 2048] == pixel(102, 2048));
  fs::remove_all(dir);
}

TEST_CASE("CIFAR-100 uses the fine label of 3074-byte records", "[data]") {
  const fs::path dir = fresh_dir("c100");
  write_records(dir / "train.bin", 0, {{5, 42}, {19, 99}, {0, 0}});
  write_records(dir / "test.bin", 10, {{3, 7}});
  const Dataset train = load_cifar(dir.string(), DataSplit::train, CifarVariant::cifar100);
  CHECK(train.num_classes == 100);
  CHECK(train.labels == std::vector<int64_t>{42, 99, 0});
  CHECK(train.pixels[1 * kPixels + 5] == pixel(1, 5));
  CHECK(train.pixels[2 * kPixels + 3071] == pixel(2, 3071));
  const Dataset test = load_cifar(dir.string(), DataSplit::test, CifarVariant::cifar100);
  CHECK(test.labels == std::vector<int64_t>{7});
  CHECK(test.pixels[100] == pixel(10, 100));
  fs::remove_all(dir);
}

TEST_CASE("CIFAR rejects missing files, truncated files and labels out of range", "[data]") {
  const fs::path dir = fresh_dir("bad");
  write_cifar10(dir);
  SECTION("missing files are all named") {
    fs::remove(dir / "data_batch_4.bin");
    fs::remove(dir / "data_batch_5.bin");
    const std::string e = data_error([&] { load_cifar(dir.string(), DataSplit::train, CifarVariant::cifar10); });
    CHECK_THAT(e, Catch::Contains("data_batch_4.bin") && Catch::Contains("data_batch_5.bin") &&
                      Catch::Contains("missing"));
    CHECK_THAT(e, !Catch::Contains("data_batch_3.bin"));
    const std::string e100 = data_error([&] { load_cifar(dir.string(), DataSplit::test, CifarVariant::cifar100); });
    CHECK_THAT(e100, Catch::Contains("test.bin") && Catch::Contains("CIFAR-100"));
  }
  SECTION("a truncated file names the file and its size") {
    fs::resize_file(dir / "data_batch_3.bin", 2 * 3073 - 10);
    const std::string e = data_error([&] { load_cifar(dir.string(), DataSplit::train, CifarVariant::cifar10); });
    CHECK_THAT(e, Catch::Contains("data_batch_3.bin") && Catch::Contains("6136 bytes") &&
                      Catch::Contains("3073"));
  }
  SECTION("a CIFAR-10 label >= 10 names the file, record and byte offset") {
    write_records(dir / "test_batch.bin", 0, {{1}, {2}, {10}});
    const std::string e = data_error([&] { load_cifar(dir.string(), DataSplit::test, CifarVariant::cifar10); });
    CHECK_THAT(e, Catch::Contains("test_batch.bin") && Catch::Contains("label 10") &&
                      Catch::Contains("record 2") && Catch::Contains("offset 6146"));
  }
  SECTION("a CIFAR-100 fine label >= 100 names the fine label's offset") {
    write_records(dir / "train.bin", 0, {{1, 1}, {2, 100}});
    const std::string e = data_error([&] { load_cifar(dir.string(), DataSplit::train, CifarVariant::cifar100); });
    CHECK_THAT(e, Catch::Contains("train.bin") && Catch::Contains("label 100") && Catch::Contains("record 1") &&
                      Catch::Contains("offset 3075"));
  }
  SECTION("CIFAR-10 files read as CIFAR-100 do not fit its record size") {
    fs::copy_file(dir / "test_batch.bin", dir / "test.bin");
    const std::string e = data_error([&] { load_cifar(dir.string(), DataSplit::test, CifarVariant::cifar100); });
    CHECK_THAT(e, Catch::Contains("test.bin") && Catch::Contains("3074"));
  }
  fs::remove_all(dir);
}
