#include "trainers/cifar.h"

#include <algorithm>
#include <filesystem>

#include "trainers/idx.h"

namespace mt {

namespace {
constexpr int64_t kPixels = 3 * 32 * 32;

struct CifarFormat {
  const char* title;
  int64_t label_bytes;   // bytes before the pixels in each record
  int64_t label_offset;  // which of them is the class (CIFAR-100: the fine label, second)
  int64_t classes;
};

CifarFormat format_of(CifarVariant variant) {
  if (variant == CifarVariant::cifar10) return {"CIFAR-10", 1, 0, 10};
  return {"CIFAR-100", 2, 1, 100};
}

std::vector<std::string> files_of(CifarVariant variant, DataSplit split) {
  if (variant == CifarVariant::cifar100) return {split == DataSplit::train ? "train.bin" : "test.bin"};
  if (split == DataSplit::test) return {"test_batch.bin"};
  std::vector<std::string> names;
  for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  return names;
}

// Appends the records of one file to `d`, validating the size and every label.
void append_file(const std::string& path, const CifarFormat& f, Dataset& d) {
  // read_maybe_gzip reads plain files as they are, so a gzipped copy works too.
  const std::vector<uint8_t> bytes = read_maybe_gzip(path);
  const int64_t record = f.label_bytes + kPixels;
  const int64_t size = static_cast<int64_t>(bytes.size());
  MT_CHECK(size % record == 0, DataError, "'", path, "': ", size, " bytes is not a whole number of ",
           f.title, " records of ", record, " bytes (", size / record, " records and ", size % record,
           " bytes left over: truncated or not a ", f.title, " file)");
  const int64_t n = size / record;
  const int64_t first = d.size();
  d.labels.resize(first + n);
  d.pixels.resize((first + n) * kPixels);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* rec = bytes.data() + r * record;
    const int64_t label = rec[f.label_offset];
    MT_CHECK(label < f.classes, DataError, "'", path, "': label ", label, " of record ", r, " (offset ",
             r * record + f.label_offset, ") is outside [0, ", f.classes - 1, "] for ", f.title);
    d.labels[first + r] = label;
    std::copy(rec + f.label_bytes, rec + record, d.pixels.begin() + (first + r) * kPixels);
  }
}
}  // namespace

Dataset load_cifar(const std::string& dir, DataSplit split, CifarVariant variant) {
  const CifarFormat f = format_of(variant);
  const std::vector<std::string> names = files_of(variant, split);
  // Check every file first so a user learns about all the missing ones, not one per run.
  std::string missing;
  for (const std::string& name : names) {
    const std::filesystem::path p = std::filesystem::path(dir) / name;
    if (!std::filesystem::is_regular_file(p)) missing += (missing.empty() ? "'" : ", '") + p.string() + "'";
  }
  MT_CHECK(missing.empty(), DataError, f.title, " ", (split == DataSplit::train ? "train" : "test"),
           " split: missing ", missing, " (expected the binary-version files in '", dir, "')");
  Dataset d;
  d.name = std::string(f.title) + (split == DataSplit::train ? " train" : " test");
  d.sample = Shape{3, 32, 32};
  d.num_classes = f.classes;
  for (const std::string& name : names) append_file((std::filesystem::path(dir) / name).string(), f, d);
  return d;
}

}  // namespace mt
