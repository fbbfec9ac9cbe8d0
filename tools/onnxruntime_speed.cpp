#include "tools/onnxruntime_speed.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

namespace mt::tools {

namespace fs = std::filesystem;

namespace {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Where onnxruntime-node is looked for, and the script that times with it.
fs::path ort_dir() {
  const char* env = std::getenv("MORPHTRAIN_ORT_DIR");
  return env && *env ? fs::path(env) : fs::path(MORPHTRAIN_SOURCE_DIR) / "bench" / ".ort";
}

fs::path ort_script() { return fs::path(MORPHTRAIN_SOURCE_DIR) / "bench" / "ort_speed.js"; }

}  // namespace

std::string onnxruntime_missing() {
  if (!fs::is_directory(ort_dir() / "node_modules" / "onnxruntime-node"))
    return "ONNX Runtime is not installed (npm install --ignore-scripts --prefix " + ort_dir().string() +
           " onnxruntime-node, or set MORPHTRAIN_ORT_DIR)";
  if (std::system("command -v node >/dev/null 2>&1") != 0 || !fs::exists(ort_script()))
    return "node or " + ort_script().string() + " is missing";
  return "";
}

OnnxRuntimeSpeed onnxruntime_speed(const std::vector<std::string>& files, int batch, int rounds, int threads) {
  OnnxRuntimeSpeed out;
  out.skipped = onnxruntime_missing();
  if (!out.skipped.empty()) return out;
  const fs::path script = ort_script();
  std::string cmd = "MORPHTRAIN_ORT_DIR=" + shell_quote(ort_dir().string()) + " node " + shell_quote(script.string()) +
                    " --batch " + std::to_string(batch) + " --rounds " + std::to_string(rounds) + " --threads " +
                    std::to_string(threads) + " --reps 5";
  for (const auto& f : files) cmd += " " + shell_quote(f);
  cmd += " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    out.skipped = "cannot start node";
    return out;
  }
  std::string text;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe)) text += buf.data();
  const int status = pclose(pipe);
  // One JSON line per model and round: {"model", "round", "img_s"}; models in the order given.
  std::map<int, std::vector<double>> by_round;
  std::vector<std::vector<double>> per_file(files.size());
  size_t line_start = 0, k = 0;
  while (line_start < text.size()) {
    const size_t end = text.find('\n', line_start);
    const std::string line = text.substr(line_start, end == std::string::npos ? std::string::npos : end - line_start);
    line_start = end == std::string::npos ? text.size() : end + 1;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("img_s") || !j["img_s"].is_number()) continue;
    const size_t file = k++ % files.size();
    per_file[file].push_back(j["img_s"].get<double>());
    by_round[j.value("round", 0)].push_back(j["img_s"].get<double>());
  }
  if (status != 0 || per_file.empty() || per_file[0].empty()) {
    out.skipped = "ONNX Runtime failed: " + text.substr(0, 300);
    return out;
  }
  for (const auto& v : per_file) out.img_per_s.push_back(median(v));
  for (const auto& [round, v] : by_round)
    if (v.size() >= 2) out.ratio.push_back(v[1] / v[0]);
  return out;
}

}  // namespace mt::tools
