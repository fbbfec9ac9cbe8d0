#include "tools/pipeline_report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/json_read.h"
#include "core/executor.h"
#include "core/safetensors.h"
#include "kernels/backends.h"
#include "morph/cost_model.h"
#include "morph/width_expansion.h"
#include "tools/experiment.h"
#include "tools/morph_setup.h"
#include "tools/onnx_export.h"
#include "tools/onnxruntime_speed.h"
#include "tools/run_model.h"
#include "tools/svg_plot.h"

namespace mt::tools {

namespace fs = std::filesystem;

namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// 81.1M, 270.0k, 812: compact figures for tables.
std::string compact(double v) {
  if (std::abs(v) >= 1e9) return fmt("%.2fG", v / 1e9);
  if (std::abs(v) >= 1e6) return fmt("%.2fM", v / 1e6);
  if (std::abs(v) >= 1e3) return fmt("%.1fk", v / 1e3);
  return fmt("%.3g", v);
}

double full_cost(const layers::Model& m, morph::CostTarget target, const morph::Hardware& hw) {
  const morph::ChannelGroups groups(m.graph, m.logits);
  morph::CostOptions o;
  o.target = target;
  o.hardware = hw;
  return morph::CostModel(groups, o).full_cost();
}

// Output channels of every width layer (convs that are not depthwise, hidden linears), in order.
using Widths = std::vector<std::pair<std::string, int64_t>>;

Widths layer_widths(const layers::Model& m) {
  const morph::ChannelGroups groups(m.graph, m.logits);
  const std::vector<Shape> shapes = infer_value_shapes(m.graph, 1);
  std::vector<std::pair<std::string, int64_t>> out;
  for (int n : groups.nodes())
    if (morph::is_width_layer(groups, n)) out.emplace_back(m.graph.node(n).name, shapes[m.graph.node(n).outputs[0]][1]);
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    return m.graph.find_node(a.first) < m.graph.find_node(b.first);
  });
  return out;
}

// metrics.jsonl columns (step -> value) of the lines that have `key`.
Series metric_series(const fs::path& file, const std::string& key, const std::string& label) {
  Series s;
  s.label = label;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::string why;
    const std::optional<nlohmann::json> parsed = try_parse_json(line, why);
    if (!parsed) continue;  // a torn or foreign line: the plot shows the others
    const nlohmann::json& j = *parsed;
    if (!j.contains(key) || !j[key].is_number() || !j.contains("step")) continue;
    s.x.push_back(j["step"].get<double>());
    s.y.push_back(j[key].get<double>());
  }
  return s;
}

// summary.csv rows: epoch, train_loss, train_acc, test_loss, test_acc, seconds, img_per_s.
std::vector<std::vector<double>> summary_rows(const fs::path& file) {
  std::vector<std::vector<double>> rows;
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<double> row;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) row.push_back(cell == "nan" || cell.empty() ? NAN : std::atof(cell.c_str()));
    if (row.size() >= 5) rows.push_back(row);
  }
  return rows;
}

void write_plots(const fs::path& run, const nlohmann::json& r, const std::vector<std::pair<std::string, int64_t>>& before,
                 const std::vector<std::pair<std::string, int64_t>>& after, double budget_fraction, bool resrep) {
  const fs::path dir = run / "plots";
  fs::create_directories(dir);
  LinePlot cost;
  cost.title = "Learned cost during structure learning";
  cost.x_label = "step";
  cost.y_label = r.value("cost_name", std::string("cost")) + " of the dense model";
  cost.y_percent = true;
  cost.y_min = 0;
  cost.series.push_back(metric_series(run / "learn" / "metrics.jsonl", "cost_fraction", "learned structure"));
  if (budget_fraction > 0) cost.reference_lines.push_back({budget_fraction, "budget " + fmt("%.0f%%", 100 * budget_fraction)});
  write_svg((dir / "cost.svg").string(), line_plot(cost));

  if (resrep) {  // ResRep's masks grow on a schedule: how many, step by step
    LinePlot masks;
    masks.title = "ResRep: channel groups masked";
    masks.x_label = "step";
    masks.y_label = "masked groups";
    masks.y_min = 0;
    masks.series.push_back(metric_series(run / "learn" / "metrics.jsonl", "masked_groups", "masked groups"));
    write_svg((dir / "masks.svg").string(), line_plot(masks));
  }

  LinePlot reg;
  reg.title = "Regularization during structure learning";
  reg.x_label = "step";
  reg.y_label = resrep ? "loss terms" : "strength x term (added to the loss)";
  reg.series.push_back(resrep ? metric_series(run / "learn" / "metrics.jsonl", "resrep_penalty", "compactor lasso penalty")
                              : metric_series(run / "learn" / "metrics.jsonl", "reg_loss", "regularization loss"));
  reg.series.push_back(metric_series(run / "learn" / "metrics.jsonl", "loss", "data loss"));
  write_svg((dir / "regularization.svg").string(), line_plot(reg));

  LinePlot acc;
  acc.title = "Accuracy per epoch: learning, then retraining the slim model";
  acc.x_label = "epoch";
  acc.y_label = "accuracy";
  acc.y_percent = true;
  Series train{"train", {}, {}}, test{"test", {}, {}};
  double offset = 0;
  for (const char* phase : {"learn", "retrain"}) {
    const auto rows = summary_rows(run / phase / "summary.csv");
    for (const auto& row : rows) {
      train.x.push_back(offset + row[0]), train.y.push_back(row[2]);
      test.x.push_back(offset + row[0]), test.y.push_back(row[4]);
    }
    if (!rows.empty()) {
      offset += rows.back()[0];
      train.x.push_back(NAN), train.y.push_back(NAN);  // a gap between the phases
      test.x.push_back(NAN), test.y.push_back(NAN);
    }
  }
  while (!train.x.empty() && std::isnan(train.x.back())) train.x.pop_back(), train.y.pop_back(), test.x.pop_back(), test.y.pop_back();
  acc.series = {train, test};
  write_svg((dir / "accuracy.svg").string(), line_plot(acc));

  BarPlot widths;
  widths.title = "Output channels per layer";
  widths.value_label = "output channels";
  BarSeries b{"dense", {}, {}}, a{"slim", {}, {}};
  for (size_t i = 0; i < before.size(); ++i) {
    widths.categories.push_back(before[i].first);
    b.values.push_back(static_cast<double>(before[i].second));
    a.values.push_back(i < after.size() ? static_cast<double>(after[i].second) : NAN);
  }
  widths.series = {b, a};
  write_svg((dir / "widths.svg").string(), bar_plot(widths));
}

}  // namespace

std::pair<double, double> inference_speed(layers::Model& a, layers::Model& b, int64_t batch, int rounds,
                                          std::pair<std::string, std::string>* profiles) {
  KernelBackend& backend = backend_for(Device::cpu());
  Executor::Options eo;
  eo.profile = profiles != nullptr;
  Executor ea(a.graph, backend, eo), eb(b.graph, backend, eo);
  const Shape& sample = a.graph.value(a.images).shape;
  Tensor images = Tensor::zeros({batch, sample[0], sample[1], sample[2]});
  Rng rng(1);
  for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = static_cast<float>(rng.normal());
  const Tensor labels = Tensor::zeros({batch}, DType::i64);
  auto time_one = [&](Executor& e) {
    const auto t0 = std::chrono::steady_clock::now();
    int calls = 0;
    do {
      e.forward({images, labels}, Mode::eval);
      ++calls;
    } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 0.5);
    return calls * batch / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  time_one(ea), time_one(eb);  // warm-up: primitives, buffers
  std::vector<double> sa, sb;
  for (int r = 0; r < rounds; ++r) sa.push_back(time_one(ea)), sb.push_back(time_one(eb));
  std::sort(sa.begin(), sa.end()), std::sort(sb.begin(), sb.end());
  if (profiles)
    *profiles = {ea.profile_report() + ea.profile_nodes_report(24), eb.profile_report() + eb.profile_nodes_report(24)};
  return {sa[sa.size() / 2], sb[sb.size() / 2]};
}

void write_slim_safetensors(const std::string& path, const layers::Model& slim, const fs::path& structure_file) {
  write_model_safetensors(path, slim, read_text_file(structure_file.string()).value_or(""));
}

namespace {

struct Metric {
  const char* key;
  const char* title;
  double dense, slim;
};

std::vector<Metric> cost_metrics(const layers::Model& dense, const layers::Model& slim, morph::Hardware hw) {
  // A measured table is keyed by the dense layers' shapes: the slim layers are not in it, so the
  // row compares the two on the roofline alone (the learned phase's figures hold the measured cost).
  hw.measured = nullptr;
  return {{"flops", "FLOPs", full_cost(dense, morph::CostTarget::flops, hw), full_cost(slim, morph::CostTarget::flops, hw)},
          {"params", "parameters", static_cast<double>(dense.graph.num_parameters()),
           static_cast<double>(slim.graph.num_parameters())},
          {"latency", "latency (ns, roofline)", full_cost(dense, morph::CostTarget::latency, hw),
           full_cost(slim, morph::CostTarget::latency, hw)}};
}

double ratio(const Metric& m) { return m.dense > 0 ? m.slim / m.dense : 0.0; }

// The figures that need no measurement: the run's settings, costs, widths and phases.
nlohmann::json report_figures(const Config& config, const std::vector<Metric>& metrics, const morph::Hardware& hw,
                              const Widths& before, const Widths& after, const nlohmann::json& state) {
  nlohmann::json j;
  j["model"] = config.settings().model.name;
  j["method"] = config.settings().morph.method;
  if (!config.settings().pipeline.report_note.empty()) j["note"] = config.settings().pipeline.report_note;
  j["target"] = config.settings().morph.target.cost;
  j["retrain"] = config.settings().pipeline.retrain;
  j["seed"] = config.settings().seed;
  for (const Metric& m : metrics) j["costs"][m.key] = {{"dense", m.dense}, {"slim", m.slim}, {"ratio", ratio(m)}};
  j["costs"]["latency"]["hardware"] = hw.name;
  for (size_t i = 0; i < before.size(); ++i)
    j["layers"].push_back({{"name", before[i].first}, {"dense", before[i].second},
                           {"slim", i < after.size() ? after[i].second : 0}});
  j["phases"] = state;
  return j;
}

// The dense and the slim ONNX in ONNX Runtime, where it is installed (tools/onnxruntime_speed.h).
void measure_in_onnxruntime(nlohmann::json& j, int batch, const layers::Model& dense, const fs::path& run) {
  if (const std::string missing = onnxruntime_missing(); !missing.empty()) {  // no dense export for nothing
    j["onnxruntime"] = {{"skipped", missing}};
    return;
  }
  const fs::path dense_onnx = run / ".dense_for_onnxruntime.onnx";  // the dense export, timed then removed
  export_onnx(dense, dense_onnx.string());
  const OnnxRuntimeSpeed speed = onnxruntime_speed({dense_onnx.string(), (run / "slim.onnx").string()}, batch, 5,
                                                   static_cast<int>(std::thread::hardware_concurrency()));
  std::error_code ec;
  fs::remove(dense_onnx, ec);
  if (!speed.skipped.empty()) {
    j["onnxruntime"] = {{"skipped", speed.skipped}};
    return;
  }
  std::vector<double> ratios = speed.ratio;
  std::sort(ratios.begin(), ratios.end());
  j["onnxruntime"] = {{"batch", batch},
                      {"dense_img_per_s", speed.img_per_s[0]},
                      {"slim_img_per_s", speed.img_per_s[1]},
                      {"speedup", ratios.empty() ? speed.img_per_s[1] / speed.img_per_s[0] : ratios[ratios.size() / 2]},
                      {"speedup_min", ratios.empty() ? 0.0 : ratios.front()},
                      {"speedup_max", ratios.empty() ? 0.0 : ratios.back()},
                      {"rounds", ratios.size()}};
}

// The measured inference speed of both models (pipeline.benchmark_batch > 0) and the ONNX export.
void measure_and_export(nlohmann::json& j, int64_t batch, const layers::Model& dense, const layers::Model& slim,
                        const fs::path& run) {
  if (batch > 0) {
    layers::Model& d = const_cast<layers::Model&>(dense);
    layers::Model& s = const_cast<layers::Model&>(slim);
    const auto [dense_ips, slim_ips] = inference_speed(d, s, batch);
    j["inference"] = {{"batch", batch}, {"dense_img_per_s", dense_ips}, {"slim_img_per_s", slim_ips},
                      {"speedup", slim_ips / dense_ips}};
  }
  try {
    export_onnx(slim, (run / "slim.onnx").string());
    j["exports"] = {"slim.safetensors", "slim.onnx", "structure.json"};
  } catch (const std::exception& e) {
    j["exports"] = {"slim.safetensors", "structure.json"};
    j["onnx_error"] = e.what();
    return;
  }
  if (batch > 0) measure_in_onnxruntime(j, static_cast<int>(batch), dense, run);
}

double phase_figure(const nlohmann::json& j, const char* phase, const char* key, double fallback) {
  return j["phases"].value(phase, nlohmann::json::object()).value(key, fallback);
}

// The learned structure against the uniform baseline: accuracy, FLOPs, parameters and measured
// speed side by side (report.json "baseline").
void compare_with_baseline(nlohmann::json& j, int64_t batch, const layers::Model& slim, const layers::Model& baseline,
                           const Metric& flops) {
  const nlohmann::json& phase = j["phases"].value("baseline", nlohmann::json::object());
  nlohmann::json b{{"width_multiplier", phase.value("width_multiplier", 0.0)},
                   {"test_accuracy", phase.value("test_accuracy", -1.0)},
                   {"flops", full_cost(baseline, morph::CostTarget::flops, morph::Hardware{})},
                   {"params", baseline.graph.num_parameters()},
                   {"learned_test_accuracy", phase_figure(j, "retrain", "test_accuracy", -1.0)},
                   {"learned_flops", flops.slim},
                   {"learned_params", slim.graph.num_parameters()},
                   {"dense_flops", flops.dense}};
  if (batch > 0) {
    layers::Model& s = const_cast<layers::Model&>(slim);
    layers::Model& u = const_cast<layers::Model&>(baseline);
    const auto [learned_ips, uniform_ips] = inference_speed(s, u, batch);
    b["learned_img_per_s"] = learned_ips;
    b["img_per_s"] = uniform_ips;
  }
  b["accuracy_gain"] = b["learned_test_accuracy"].get<double>() - b["test_accuracy"].get<double>();
  j["baseline"] = b;
}

// Accuracy against FLOPs: the learned structure and the uniform baseline, one point each.
void write_baseline_plot(const fs::path& run, const nlohmann::json& j) {
  const nlohmann::json& b = j["baseline"];
  const double dense = b["dense_flops"].get<double>();
  LinePlot p;
  p.title = "Did structure learning pay? Test accuracy at the same FLOPs";
  p.x_label = "FLOPs of the dense network (%)";
  p.y_label = "test accuracy";
  p.y_percent = true;
  p.series.push_back({"learned structure", {100 * b["learned_flops"].get<double>() / dense},
                      {b["learned_test_accuracy"].get<double>()}});
  p.series.push_back({"uniform width x" + fmt("%.3f", b["width_multiplier"].get<double>()),
                      {100 * b["flops"].get<double>() / dense}, {b["test_accuracy"].get<double>()}});
  write_svg((run / "plots" / "baseline.svg").string(), line_plot(p));
}

void baseline_markdown(std::ostringstream& md, const nlohmann::json& j) {
  const nlohmann::json& b = j["baseline"];
  const double dense = b["dense_flops"].get<double>();
  md << "## Against the uniform baseline\n\nThe dense network with every width scaled by x"
     << fmt("%.3f", b["width_multiplier"].get<double>())
     << " to the slim model's FLOPs, trained with the retrain phase's recipe:\n\n"
     << "| | learned structure | uniform baseline |\n|---|---:|---:|\n"
     << "| test accuracy | " << fmt("%.2f%%", 100 * b["learned_test_accuracy"].get<double>()) << " | "
     << fmt("%.2f%%", 100 * b["test_accuracy"].get<double>()) << " |\n"
     << "| FLOPs (of dense) | " << fmt("%.1f%%", 100 * b["learned_flops"].get<double>() / dense) << " | "
     << fmt("%.1f%%", 100 * b["flops"].get<double>() / dense) << " |\n"
     << "| parameters | " << compact(b["learned_params"].get<double>()) << " | " << compact(b["params"].get<double>())
     << " |\n";
  if (b.contains("img_per_s"))
    md << "| inference img/s (measured) | " << fmt("%.0f", b["learned_img_per_s"]) << " | "
       << fmt("%.0f", b["img_per_s"]) << " |\n";
  const double gain = b["accuracy_gain"].get<double>();
  md << "\n" << (gain > 0 ? "Structure learning paid: " : "Structure learning did not pay here: ")
     << "the learned structure is " << fmt("%.2f", 100 * std::abs(gain)) << " points "
     << (gain > 0 ? "above" : "below") << " the uniform baseline (one seed: a difference within the "
     << "seed-to-seed spread, which repeated runs with other `seed` values show, decides nothing).\n\n"
     << "![baseline](plots/baseline.svg)\n\n";
}

// The slim model exists to run faster: where it measured slower than the dense one, say so.
std::vector<std::string> slower_warnings(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const char* where : {"inference", "onnxruntime"}) {
    if (!j.contains(where) || !j[where].contains("speedup") || j[where]["speedup"].get<double>() >= 1.0) continue;
    out.push_back(std::string("the slim model measured slower than the dense one in ") +
                  (std::string(where) == "inference" ? "morphtrain" : "ONNX Runtime") + " (" +
                  fmt("%.2fx", j[where]["speedup"]) + "); try pipeline.round_to: 16 or morph.target.cost: latency");
  }
  return out;
}

void markdown_tables(std::ostringstream& md, const nlohmann::json& j, const std::vector<Metric>& metrics) {
  md << "| | dense | slim | slim / dense |\n|---|---:|---:|---:|\n";
  for (const Metric& m : metrics)
    md << "| " << m.title << " | " << compact(m.dense) << " | " << compact(m.slim) << " | " << fmt("%.3f", ratio(m))
       << " |\n";
  if (j.contains("inference"))
    md << "| inference img/s (batch " << j["inference"]["batch"].get<int64_t>() << ", measured) | "
       << fmt("%.0f", j["inference"]["dense_img_per_s"]) << " | " << fmt("%.0f", j["inference"]["slim_img_per_s"])
       << " | " << fmt("%.2fx faster", j["inference"]["speedup"]) << " |\n";
  if (j.contains("onnxruntime") && !j["onnxruntime"].contains("skipped")) {
    const nlohmann::json& o = j["onnxruntime"];
    md << "| ONNX Runtime img/s (batch " << o["batch"].get<int64_t>() << ", measured, median of " << o["rounds"]
       << " alternating rounds) | " << fmt("%.0f", o["dense_img_per_s"]) << " | " << fmt("%.0f", o["slim_img_per_s"])
       << " | " << fmt("%.2fx faster", o["speedup"]) << " (" << fmt("%.2f", o["speedup_min"]) << "-"
       << fmt("%.2f", o["speedup_max"]) << ") |\n";
  }
  for (const std::string& w : slower_warnings(j)) md << "\n**" << w << "**\n";
  if (j.contains("onnxruntime") && j["onnxruntime"].contains("skipped"))
    md << "\nONNX Runtime: not measured (" << j["onnxruntime"]["skipped"].get<std::string>() << ").\n";
  const nlohmann::json retrain = j["phases"].value("retrain", nlohmann::json::object());
  md << "\nTest accuracy: learned model " << fmt("%.2f%%", 100 * phase_figure(j, "learn", "test_accuracy", -1.0))
     << " (end of structure learning), slim model " << fmt("%.2f%%", 100 * retrain.value("test_accuracy", -1.0))
     << (retrain.value("merged_only", false) ? " (merged, no fine-tuning).\n\n" : " (after retraining).\n\n");
  md << "| phase | wall time |\n|---|---:|\n| learn | " << fmt("%.1f s", phase_figure(j, "learn", "seconds", 0.0))
     << " |\n| retrain | " << fmt("%.1f s", retrain.value("seconds", 0.0)) << " |\n";
  if (j["phases"].contains("baseline"))
    md << "| uniform baseline | " << fmt("%.1f s", phase_figure(j, "baseline", "seconds", 0.0)) << " |\n";
  md << "\n";
}

std::string report_markdown(const nlohmann::json& j, const std::vector<Metric>& metrics, bool masks_plot) {
  std::ostringstream md;
  md << "# morphtrain report: " << j["model"].get<std::string>() << ", " << j["method"].get<std::string>() << " / "
     << j["target"].get<std::string>() << ", retrain " << j["retrain"].get<std::string>() << "\n\n";
  if (j.contains("note")) md << "> " << j["note"].get<std::string>() << "\n\n";
  markdown_tables(md, j, metrics);
  const nlohmann::json reshape = j["phases"].value("reshape", nlohmann::json::object());
  if (reshape.contains("notes"))
    for (const auto& n : reshape["notes"]) md << "- " << n.get<std::string>() << "\n";
  if (j.contains("baseline")) {
    md << "\n";
    baseline_markdown(md, j);
  }
  md << "\n## Channels per layer\n\n| layer | dense | slim |\n|---|---:|---:|\n";
  for (const auto& l : j["layers"])
    md << "| " << l["name"].get<std::string>() << " | " << l["dense"] << " | " << l["slim"] << " |\n";
  md << "\n## Plots\n\n![cost](plots/cost.svg)\n" << (masks_plot ? "![masks](plots/masks.svg)\n" : "")
     << "![regularization](plots/regularization.svg)\n![accuracy](plots/accuracy.svg)\n![widths](plots/widths.svg)\n";
  return md.str();
}

std::string report_summary(const nlohmann::json& j, const std::vector<Metric>& metrics, const fs::path& run) {
  std::ostringstream s;
  s << "== report: " << (run / "report.md").string() << "\n";
  for (const Metric& m : metrics)
    s << "  " << m.title << ": " << compact(m.dense) << " -> " << compact(m.slim) << " ("
      << fmt("%.1f%%", 100 * ratio(m)) << ")\n";
  if (j.contains("inference"))
    s << "  inference: " << fmt("%.0f", j["inference"]["dense_img_per_s"]) << " -> "
      << fmt("%.0f", j["inference"]["slim_img_per_s"]) << " img/s (" << fmt("%.2fx", j["inference"]["speedup"]) << ")\n";
  if (j.contains("onnxruntime") && !j["onnxruntime"].contains("skipped"))
    s << "  ONNX Runtime: " << fmt("%.0f", j["onnxruntime"]["dense_img_per_s"]) << " -> "
      << fmt("%.0f", j["onnxruntime"]["slim_img_per_s"]) << " img/s (" << fmt("%.2fx", j["onnxruntime"]["speedup"])
      << ")\n";
  for (const std::string& w : slower_warnings(j)) s << "  WARNING: " << w << "\n";
  s << "  test accuracy: learned " << fmt("%.2f%%", 100 * phase_figure(j, "learn", "test_accuracy", -1.0)) << ", slim "
    << fmt("%.2f%%", 100 * phase_figure(j, "retrain", "test_accuracy", -1.0)) << "\n";
  if (j.contains("baseline"))
    s << "  uniform baseline (width x" << fmt("%.3f", j["baseline"]["width_multiplier"]) << ", "
      << fmt("%.1f%%", 100 * j["baseline"]["flops"].get<double>() / j["baseline"]["dense_flops"].get<double>())
      << " of the FLOPs): test accuracy " << fmt("%.2f%%", 100 * j["baseline"]["test_accuracy"].get<double>())
      << (j["baseline"]["accuracy_gain"].get<double>() > 0 ? " (the learned structure is better)\n"
                                                           : " (the learned structure is not better)\n");
  if (j.contains("note")) s << "  note: " << j["note"].get<std::string>() << "\n";
  return s.str();
}

}  // namespace

PipelineReport pipeline_report(const Config& config, const ReportModels& models, const DataSplits& data,
                               const fs::path& run, const nlohmann::json& state) {
  const layers::Model &dense = models.dense, &slim = models.slim;
  const morph::Hardware hw = hardware_from_config(config);
  const std::vector<Metric> metrics = cost_metrics(dense, slim, hw);
  const Widths before = layer_widths(dense), after = layer_widths(slim);
  PipelineReport report;
  report.json = report_figures(config, metrics, hw, before, after, state);
  // The dense architecture is timed with fresh weights: structure learning drives the learned
  // model's dead channels to near-zero scales, whose subnormal products run many times slower
  // on x86 and would credit the slim model with a speed-up that is not the architecture's.
  const layers::Model fresh_dense = plain_model(config, data.train);
  measure_and_export(report.json, config.settings().pipeline.benchmark_batch, fresh_dense, slim, run);
  if (models.baseline)
    compare_with_baseline(report.json, config.settings().pipeline.benchmark_batch, slim, *models.baseline, metrics[0]);
  // A method that masks channel groups on a schedule (ResRep) leaves its masks: plot them.
  const bool masks = fs::exists(run / "learn" / "resrep_masks.json");
  write_plots(run, state.value("learn", nlohmann::json::object()), before, after,
              config.settings().morph.target.fraction, masks);
  if (models.baseline) write_baseline_plot(run, report.json);
  report.markdown = report_markdown(report.json, metrics, masks);
  write_file_atomically((run / "report.json").string(), report.json.dump(2) + "\n");
  write_file_atomically((run / "report.md").string(), report.markdown);
  report.summary = report_summary(report.json, metrics, run);
  return report;
}

}  // namespace mt::tools
