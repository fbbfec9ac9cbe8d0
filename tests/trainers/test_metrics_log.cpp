// metrics.jsonl and summary.csv: every line parses, fields survive, headers are written once,
// and failures name the file.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "trainers/metrics_log.h"

using namespace mt;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("mt_metrics_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("metrics.jsonl: one JSON object per line with the fields", "[trainers][metrics]") {
  const fs::path dir = fresh_dir("jsonl");
  const fs::path path = dir / "metrics.jsonl";
  {
    MetricsLog log(path.string());
    for (int64_t step = 1; step <= 5; ++step) {
      log.log(StepMetrics{step, step / 3, 1.0 / step, 0.1, 1000.0 + step, {{"reg_loss", 0.01 * step}, {"alive", 42}}});
    }
    log.log(StepMetrics{6, 2, std::nan(""), 0.1, 0.0, {}});
  }
  {
    MetricsLog resumed(path.string());  // appends
    resumed.log(Json{{"event", "eval"}, {"test_acc", 0.9}});
  }
  const auto lines = lines_of(path);
  REQUIRE(lines.size() == 7);
  for (int64_t step = 1; step <= 5; ++step) {
    const Json j = Json::parse(lines[static_cast<size_t>(step) - 1]);
    CHECK(j.at("step") == step);
    CHECK(j.at("epoch") == step / 3);
    CHECK(j.at("loss").get<double>() == Approx(1.0 / step));
    CHECK(j.at("lr").get<double>() == 0.1);
    CHECK(j.at("img_per_s").get<double>() == 1000.0 + step);
    CHECK(j.at("reg_loss").get<double>() == Approx(0.01 * step));
    CHECK(j.at("alive").get<double>() == 42);
  }
  CHECK(Json::parse(lines[5]).at("loss").is_null());  // NaN has no JSON spelling
  CHECK(Json::parse(lines[6]).at("event") == "eval");
  fs::remove_all(dir);
}

TEST_CASE("metrics.jsonl rejects bad records and names unwritable files", "[trainers][metrics]") {
  const fs::path dir = fresh_dir("jsonl_err");
  MetricsLog log((dir / "m.jsonl").string());
  CHECK_THROWS_AS(log.log(StepMetrics{1, 0, 1.0, 0.1, 1.0, {{"loss", 2.0}}}), ConfigError);
  CHECK_THROWS_AS(log.log(Json::array({1, 2})), ConfigError);
  CHECK(lines_of(dir / "m.jsonl").empty());  // nothing half-written
  const std::string bad = (dir / "no_such_dir" / "metrics.jsonl").string();
  CHECK_THROWS_AS(MetricsLog(bad), IoError);
  CHECK_THROWS_WITH(MetricsLog(bad), Catch::Contains(bad));
  if (fs::exists("/dev/full")) {
    MetricsLog full("/dev/full");
    CHECK_THROWS_WITH(full.log(StepMetrics{}), Catch::Contains("/dev/full"));
  }
  fs::remove_all(dir);
}

TEST_CASE("summary.csv: header once, one row per epoch", "[trainers][metrics]") {
  const fs::path dir = fresh_dir("csv");
  const fs::path path = dir / "summary.csv";
  {
    SummaryCsv csv(path.string());
    csv.add(EpochSummary{1, 1.25, 0.5, 1.5, 0.45, 12.3456, 987.65});
    csv.add(EpochSummary{2, 0.75, 0.75, 0.8, 0.7, 11.0, 1010.0});
  }
  {
    SummaryCsv resumed(path.string());  // existing file: no second header
    resumed.add(EpochSummary{3, 0.5, 0.8, std::nan(""), std::nan(""), 10.0, 1000.0});
  }
  const auto lines = lines_of(path);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "epoch,train_loss,train_acc,test_loss,test_acc,seconds,img_per_s");
  CHECK(lines[1] == "1,1.25,0.5,1.5,0.45,12.346,987.6");
  CHECK(lines[2] == "2,0.75,0.75,0.8,0.7,11.000,1010.0");
  CHECK(lines[3] == "3,0.5,0.8,nan,nan,10.000,1000.0");
  const std::string bad = (dir / "missing" / "summary.csv").string();
  CHECK_THROWS_WITH(SummaryCsv(bad), Catch::Contains(bad));
  fs::remove_all(dir);
}

TEST_CASE("a torn last line (a full disk, a kill) is trimmed before a resumed run appends", "[trainers][metrics]") {
  const fs::path dir = fresh_dir("torn");
  const fs::path jsonl = dir / "metrics.jsonl", csv = dir / "summary.csv";
  std::ofstream(jsonl) << "{\"step\": 1}\n{\"step\": 2, \"lo";
  std::ofstream(csv) << "epoch,train_loss,train_acc,test_loss,test_acc,seconds,img_per_s\n1,0.5,0.5,0.5,0.5,1.000,1.0\n2,0.";
  {
    MetricsLog log(jsonl.string());
    log.log(Json{{"step", 3}});
    SummaryCsv summary(csv.string());
    summary.add(EpochSummary{2, 0.25, 0.75, 0.3, 0.7, 2.0, 10.0});
  }
  CHECK(lines_of(jsonl) == std::vector<std::string>{"{\"step\": 1}", "{\"step\":3}"});
  const auto rows = lines_of(csv);
  REQUIRE(rows.size() == 3);
  CHECK(rows[2] == "2,0.25,0.75,0.3,0.7,2.000,10.0");
  // A file whose only line is torn starts over; a whole file is left as it is.
  std::ofstream(jsonl, std::ios::trunc) << "{\"st";
  { MetricsLog log(jsonl.string()); }
  CHECK(fs::file_size(jsonl) == 0);
  std::ofstream(jsonl, std::ios::trunc) << "{}\n";
  { MetricsLog log(jsonl.string()); }
  CHECK(fs::file_size(jsonl) == 3);
  fs::remove_all(dir);
}
