// The morphtrain command end to end: exit codes, messages and a short real training run.
#include <catch2/catch.hpp>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

#include "cli_run.h"
#include "temp_dir.h"
#include "tensor_compare.h"
#include "trainers/tfevents.h"

#include <nlohmann/json.hpp>

namespace {

using Result = mt::testing::CliResult;

Result run(const std::string& args) { return mt::testing::run_morphtrain(args); }

}  // namespace

TEST_CASE("a bad config exits 2 with the file, line and key", "[cli]") {
  const auto path = std::filesystem::temp_directory_path() / ("mt_cli_" + std::to_string(::getpid()) + ".yaml");
  mt::testing::TempDir tmp("cli");
  const auto root = tmp.path / "runs";
  std::ofstream(path) << "output:\n  root: " << root.string() << "\ntrain:\n  epochs: 1\n  batchsize: 64\n";
  const Result r = run("--config " + path.string());
  std::filesystem::remove(path);
  CHECK_FALSE(std::filesystem::exists(root));  // nothing is created for a run that never starts
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains(":5:3: unknown key 'train.batchsize'") &&
                           Catch::Contains("did you mean 'train.batch_size'"));
  CHECK(run("--config configs/resnet20_fmnist.yaml --set optim.lr=-1").exit_code == 2);
}

TEST_CASE("a missing data folder exits 1 naming it", "[cli]") {
  mt::testing::TempDir tmp("cli");
  const auto root = tmp.path / "runs";
  const Result r = run("--config configs/resnet20_fmnist.yaml --set data.path=/nonexistent --set output.root=" + root.string());
  CHECK_FALSE(std::filesystem::exists(root));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("/nonexistent") && Catch::Contains("is not a folder"));
  // A folder without the data set's files names the first one missing.
  const Result empty = run("--config configs/resnet20_fmnist.yaml --set data.path=" + tmp.path.string() +
                           " --set output.root=" + root.string());
  CHECK(empty.exit_code == 1);
  CHECK_THAT(empty.output, Catch::Contains("train-images-idx3-ubyte"));
}

TEST_CASE("morphtrain trains, fills its run directory, resumes and evaluates", "[cli][train]") {
  mt::testing::TempDir tmp("cli");
  const std::string base =
      "--config configs/resnet20_fmnist.yaml --set output.root=" + tmp.path.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic"
      " --set data.synthetic_size=512 --set train.batch_size=32 --set train.log_every=4"
      " --set schedule.warmup_steps=5 --set optim.lr=0.05 --set data.augment.hflip=true";
  Result r = run(base + " --set train.epochs=2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // The synthetic classes differ in brightness: a model that trains beats chance (10%) clearly.
  auto at = r.output.find("final test accuracy ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(r.output.substr(at + 20)) > 50.0);
  CHECK_THAT(r.output, Catch::Contains("epoch 2/2 done in"));

  // One run directory with everything a user reads.
  const auto runs = tmp.path / "resnet20_fmnist";
  REQUIRE(std::filesystem::is_directory(runs));
  const auto dir = (*std::filesystem::directory_iterator(runs)).path();
  CHECK(std::filesystem::exists(dir / "config.yaml"));
  std::ifstream csv(dir / "summary.csv");
  std::string header, row1, row2;
  std::getline(csv, header), std::getline(csv, row1), std::getline(csv, row2);
  CHECK(header == "epoch,train_loss,train_acc,test_loss,test_acc,seconds,img_per_s");
  CHECK(row1.rfind("1,", 0) == 0);
  CHECK(row2.rfind("2,", 0) == 0);
  std::ifstream jsonl(dir / "metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(jsonl, line)) lines += line.find("\"loss\"") != std::string::npos;
  CHECK(lines == 8);  // 32 steps, one line every 4
  std::string events;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) events = e.path().string();
  REQUIRE_FALSE(events.empty());
  int losses = 0;
  for (const mt::TfEvent& e : mt::read_tfevents(events))  // CRCs are checked while reading
    for (const mt::TfScalar& s : e.scalars) losses += s.tag == "train/loss";
  CHECK(losses == 8);
  CHECK(std::filesystem::exists(dir / "checkpoints" / "ckpt-00000032" / "model.safetensors"));

  // --resume auto continues the same run directory from its last checkpoint.
  r = run(base + " --set train.epochs=3 --resume auto");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("resumed from") && Catch::Contains("at step 32 (epoch 3, batch 0)") &&
                           Catch::Contains("epoch 3/3 done in") && !Catch::Contains("epoch 1/3"));
  CHECK(std::distance(std::filesystem::directory_iterator(runs), std::filesystem::directory_iterator{}) == 1);
  CHECK(std::filesystem::exists(dir / "checkpoints" / "ckpt-00000048"));

  // --evaluate a run directory: its best checkpoint on the test set, with the run's own config.
  r = run("--evaluate " + dir.string());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("test accuracy") && Catch::Contains("(128 samples)"));
  r = run("--evaluate " + (tmp.path / "nowhere").string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("nowhere") && Catch::Contains("does not exist"));
}

TEST_CASE("structure learning from the command line: metrics, structure files, the cost report", "[cli][morph]") {
  mt::testing::TempDir tmp("cli");
  const std::string base =
      "--config configs/resnet20_fmnist.yaml --set output.root=" + tmp.path.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic"
      " --set data.synthetic_size=256 --set train.batch_size=32 --set train.log_every=4"
      " --set morph.method=gamma";
  Result r = run(base + " --set morph.strength=1e-4 --set train.epochs=2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("structure learning: GammaFlops") && Catch::Contains("structure at step 16"));
  const auto dir = (*std::filesystem::directory_iterator(tmp.path / "resnet20_fmnist")).path();
  CHECK(std::filesystem::exists(dir / "learned_structure.json"));
  CHECK(std::filesystem::exists(dir / "structure" / "learned_structure_8.json"));
  CHECK(std::filesystem::exists(dir / "structure" / "structure_16.json"));
  std::ifstream jsonl(dir / "metrics.jsonl");
  std::string line;
  int with_cost = 0;
  while (std::getline(jsonl, line)) with_cost += line.find("\"cost_fraction\"") != std::string::npos;
  CHECK(with_cost == 4);
  std::string events;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) events = e.path().string();
  int costs = 0;
  for (const mt::TfEvent& e : mt::read_tfevents(events))
    for (const mt::TfScalar& s : e.scalars) costs += s.tag == "train/cost";
  CHECK(costs == 4);

  // The cost report of fresh weights: everything alive, the full cost.
  const std::string json = (tmp.path / "report.json").string();
  r = run(base + " --set morph.target.cost=model_size --morph-report --json " + json);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("layer1.0.conv1") && Catch::Contains("(100.0%)"));
  std::ifstream report(json);
  const std::string text((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Catch::Contains("\"regularizer\": \"GammaModelSize\"") && Catch::Contains("\"cost_fraction\": 1.0"));
  // ... and of the trained checkpoint.
  r = run(base + " --morph-report " + dir.string() + " --json " + json);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("ckpt-00000016"));
}

TEST_CASE("the pipeline learns, reshapes, retrains and reports in one run directory", "[cli][pipeline]") {
  mt::testing::TempDir tmp("cli");
  const std::string base =
      "--config configs/resnet20_fmnist_morph.yaml --set output.root=" + tmp.path.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic --set data.mean=[]"
      " --set data.std=[] --set data.synthetic_size=256 --set train.batch_size=32 --set train.epochs=2"
      " --set pipeline.retrain_epochs=1 --set pipeline.benchmark_batch=16";
  Result r = run(base);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("== learn") && Catch::Contains("== reshape") && Catch::Contains("== retrain") &&
                           Catch::Contains("== report"));
  // Never slower: the slim structure was timed against the dense one before the retrain.
  CHECK_THAT(r.output, Catch::Contains("structure: speed check, widths rounded to 16: ") &&
                           Catch::Contains("the dense model's speed in morphtrain"));
  // The config's pipeline.report_note ends the summary (and heads report.md).
  CHECK_THAT(r.output, Catch::Contains("  note: A short run (4 + 5 epochs)."));
  const auto dir = (*std::filesystem::directory_iterator(tmp.path / "resnet20_fmnist_morph")).path();
  {
    std::ifstream pj(dir / "pipeline.json");
    const nlohmann::json state = nlohmann::json::parse(pj);
    const nlohmann::json& check = state["reshape"]["speed_check"];
    INFO(state.dump(2));
    REQUIRE(check.is_object());
    CHECK(check["morphtrain_speedup"].get<double>() > 0);
    CHECK((check["round_to"] == 16 || check["round_to"] == 32));
    CHECK(!std::filesystem::exists(dir / ".speed_check"));  // its ONNX files are removed
  }
  for (const char* f : {"config.yaml", "pipeline.json", "structure.json", "report.md", "report.json", "slim.safetensors",
                        "slim.onnx", "plots/cost.svg", "plots/accuracy.svg", "plots/widths.svg", "plots/regularization.svg",
                        "learn/metrics.jsonl", "retrain/summary.csv", "baseline/summary.csv", "plots/baseline.svg"})
    CHECK(std::filesystem::exists(dir / f));
  std::ifstream in(dir / "report.json");
  const std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Budget 50% of the FLOPs: trimmed to at most the budget if learning stopped above it.
  const auto at = report.find("\"flops\"");
  REQUIRE(at != std::string::npos);
  const auto ratio = report.find("\"ratio\": ", at);
  REQUIRE(ratio != std::string::npos);
  CHECK(std::stod(report.substr(ratio + 9)) <= 0.5);
  // The uniform baseline (on in this config) is the dense network narrowed to at most the slim
  // model's FLOPs, trained and compared in the report.
  CHECK_THAT(r.output, Catch::Contains("== baseline: the dense network at width x") &&
                           Catch::Contains("uniform baseline (width x"));
  const nlohmann::json figures = nlohmann::json::parse(report);
  REQUIRE(figures.contains("baseline"));
  CHECK(figures["baseline"]["width_multiplier"].get<double>() < 1.0);
  CHECK(figures["baseline"]["flops"].get<double>() <= figures["baseline"]["learned_flops"].get<double>());
  CHECK(figures["baseline"]["flops"].get<double>() >= 0.9 * figures["baseline"]["learned_flops"].get<double>());
  CHECK(figures["baseline"]["test_accuracy"].get<double>() >= 0.0);
  // ONNX Runtime, where installed, times the dense and the slim export; elsewhere the report says why not.
  REQUIRE(figures.contains("onnxruntime"));
  if (figures["onnxruntime"].contains("skipped"))
    CHECK_THAT(figures["onnxruntime"]["skipped"].get<std::string>(), Catch::Contains("onnxruntime-node"));
  else
    CHECK(figures["onnxruntime"]["slim_img_per_s"].get<double>() > 0);

  // --export writes the slim model the pipeline left (its structure, its retrained weights).
  const auto exported = tmp.path / "slim_again.safetensors";
  Result e = run("--export " + exported.string() + " --from " + dir.string());
  INFO(e.output);
  CHECK(e.exit_code == 0);
  CHECK(mt::testing::same_state_dict(exported.string(), (dir / "slim.safetensors").string()));

  // Fine-tuning starts the slim model from the learned weights instead.
  Result ft = run(base + " --set pipeline.retrain=finetune --set name=ft");
  INFO(ft.output);
  REQUIRE(ft.exit_code == 0);
  CHECK_THAT(ft.output, Catch::Contains("retrain: the slim model (finetune)") && Catch::Contains("== report"));

  // Resuming a finished pipeline runs no phase again.
  r = run(base + " --resume auto");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("== learn: done") && Catch::Contains("== retrain: done"));

  // The structure file alone rebuilds the slim model (fresh weights) for plain training.
  r = run("--config configs/resnet20_fmnist.yaml --set output.root=" + tmp.path.string() +
          " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic --set data.mean=[] "
          "--set data.std=[] --set data.synthetic_size=256 --set train.batch_size=32 --set model.structure=" +
          (dir / "structure.json").string() + " --summary");
  REQUIRE(r.exit_code == 0);
  const auto total = r.output.find("total parameters: ");
  REQUIRE(total != std::string::npos);
  std::string digits;
  for (size_t i = total + 18; i < r.output.size() && (std::isdigit(r.output[i]) || r.output[i] == ','); ++i)
    if (r.output[i] != ',') digits += r.output[i];
  CHECK(std::stoll(digits) == figures["costs"]["params"]["slim"].get<int64_t>());
}

TEST_CASE("a ResRep pipeline masks to the target and merges into a plain slim model", "[cli][pipeline][resrep]") {
  mt::testing::TempDir tmp("cli");
  const Result r = run(
      "--config configs/resnet20_fmnist_morph.yaml --set output.root=" + tmp.path.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic --set data.mean=[]"
      " --set data.std=[] --set data.synthetic_size=256 --set train.batch_size=32 --set train.epochs=3"
      " --set morph.method=resrep --set morph.resrep.warmup_steps=4 --set morph.resrep.mask_interval=2"
      " --set morph.resrep.mask_step=6 --set pipeline.retrain=finetune --set pipeline.benchmark_batch=16");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("structure learning: ResRep") && Catch::Contains("== merge:") &&
                           Catch::Contains("merged model: test accuracy") && !Catch::Contains("inexact"));
  const auto dir = (*std::filesystem::directory_iterator(tmp.path / "resnet20_fmnist_morph")).path();
  for (const char* f : {"learn/resrep_masks.json", "structure.json", "report.md", "slim.onnx", "slim.safetensors",
                        "plots/masks.svg"})
    CHECK(std::filesystem::exists(dir / f));
  auto text_of = [](const std::filesystem::path& p) {
    std::ifstream f(p);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  CHECK_THAT(text_of(dir / "report.md"),
             Catch::Contains("(merged, no fine-tuning)") && Catch::Contains("plots/masks.svg"));
  CHECK_THAT(text_of(dir / "plots/masks.svg"), Catch::Contains("masked groups"));
  // --export rebuilds the merged slim model from structure.json and slim.safetensors.
  const auto exported = tmp.path / "merged_again.safetensors";
  const Result e = run("--export " + exported.string() + " --from " + dir.string());
  INFO(e.output);
  CHECK(e.exit_code == 0);
  CHECK(mt::testing::same_state_dict(exported.string(), (dir / "slim.safetensors").string()));
  CHECK_THAT(text_of(dir / "plots/regularization.svg"), Catch::Contains("compactor lasso penalty"));
  std::ifstream in(dir / "report.json");
  const std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto ratio = report.find("\"ratio\": ", report.find("\"flops\""));
  REQUIRE(ratio != std::string::npos);
  CHECK(std::stod(report.substr(ratio + 9)) <= 0.5);
}

TEST_CASE("the summary and help-config flags print without training", "[cli]") {
  Result r = run("--config configs/resnet20_fmnist.yaml --summary");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("total parameters: 269,434"));
  // The planned memory of a step, before anything runs.
  CHECK_THAT(r.output, Catch::Contains("memory, planned: training step at batch 128: ") &&
                           Catch::Contains("without reuse") && Catch::Contains("evaluation at batch 500"));
  r = run("--help-config");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("optim.lr (default 0.05)"));
}

TEST_CASE("a diverging run stops naming the step, or skips such steps when asked", "[cli][train]") {
  mt::testing::TempDir tmp("cli");
  const auto root = tmp.path;
  const std::string base =
      "--config configs/resnet20_fmnist.yaml --set output.root=" + root.string() +
      " --set model.name=resnet_cifar --set model.depth=8 --set data.dataset=synthetic"
      " --set data.synthetic_size=256 --set data.mean=[0.5] --set data.std=[0.25]"
      " --set train.batch_size=32 --set debug.inject_nonfinite_at_step=3";
  Result r = run(base);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("gradient norm is not finite at step 3"));
  // Nothing non-finite was saved: the run stopped before its first checkpoint.
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    CHECK(e.path().filename().string().rfind("ckpt-", 0) != 0);
  r = run(base + " --set train.on_nonfinite=skip_step");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("skipped 1 steps"));
}
