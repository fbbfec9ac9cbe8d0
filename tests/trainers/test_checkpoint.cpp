// Checkpoints: exact round trip, retention, and every way a checkpoint can go bad (truncation,
// a flipped byte, a graph it does not fit, non-finite weights, a full disk, an interrupted save).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/safetensors.h"
#include "kernels/backends.h"
#include "layers/builder.h"
#include "layers/zoo/model.h"
#include "python_env.h"
#include "temp_dir.h"
#include "trainers/checkpoint.h"
#include "trainers/sgd.h"

using namespace mt;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

// conv + bn + relu + pool + linear, with gradients we set by hand and an SGD with momentum.
struct Net {
  Graph graph;
  std::vector<Tensor> grads;
  std::unique_ptr<Sgd> sgd;

  explicit Net(uint64_t seed, int64_t conv_channels = 4, double momentum = 0.9) {
    layers::ModelBuilder b(graph, seed);
    ValueId x = b.input("images", {3, 6, 6});
    x = b.conv2d("conv1", x, conv_channels, 3, {.padding = 1});
    x = b.relu("relu", b.batchnorm2d("bn1", x));
    x = b.flatten("flatten", b.global_avgpool2d("pool", x));
    graph.mark_output(b.linear("fc", x, 3));
    std::vector<ParamRef> refs;
    for (ValueId v : graph.params()) grads.push_back(Tensor::zeros(graph.value(v).shape));
    for (size_t i = 0; i < graph.params().size(); ++i) {
      Value& p = graph.value(graph.params()[i]);
      refs.push_back({p.name, &p.data, &grads[i]});
    }
    sgd = std::make_unique<Sgd>(refs, SgdOptions{.lr = 0.1, .momentum = momentum});
  }
  // One optimizer step with gradients that depend on `t`; BN statistics move too.
  void step(int t) {
    for (size_t i = 0; i < grads.size(); ++i)
      for (int64_t k = 0; k < grads[i].numel(); ++k)
        grads[i].data<float>()[k] = static_cast<float>(std::cos(0.37 * k + 1.3 * i + t));
    sgd->step(*make_backend("reference"));
    graph.value(graph.at("bn1.running_mean")).data.fill(0.01 * (t + 1));
    graph.value(graph.at("bn1.num_batches_tracked")).data.fill(t + 1);
  }
  Tensor& tensor(const std::string& name) { return graph.value(graph.at(name)).data; }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor x = a.to(Layout::nchw), y = b.to(Layout::nchw);
  return std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

bool same_tensors(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !same_bits(a[i].second, b[i].second)) return false;
  return true;
}

NamedTensors snapshot(const NamedTensors& live) {
  NamedTensors out;
  for (const auto& [name, t] : live) out.emplace_back(name, t.clone());
  return out;
}

TrainerState state_at(int64_t step) {
  TrainerState s;
  s.step = step;
  s.epoch = step / 10;
  s.step_in_epoch = step % 10;
  s.seed = 0xfedcba9876543210ull;  // above 2^63: must survive the JSON round trip
  std::mt19937_64 engine(step);
  engine.discard(1000);
  s.rng["shuffle"] = rng_state(engine);
  s.best_accuracy = 0.25;
  s.extra = {{"lr", 0.05}, {"note", "hello"}};
  return s;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("checkpoint round trip is bit-identical and resumes exactly", "[checkpoint][reference]") {
  TempDir dir;
  std::ostringstream log;
  CheckpointManager manager({(dir.path / "checkpoints").string(), 3, "tiny"}, log);
  Net a(1);
  a.step(0);
  a.step(1);
  const std::string saved = manager.save(a.graph, *a.sgd, state_at(7), 0.5);
  CHECK(fs::path(saved).filename() == "ckpt-00000007");
  CHECK(names_in(saved) == std::vector<std::string>{"model.safetensors", "optimizer.safetensors",
                                                     "trainer_state.json"});
  CHECK(manager.last() == "ckpt-00000007");
  CHECK(manager.best() == "ckpt-00000007");
  const SafetensorsContent file = read_safetensors(saved + "/model.safetensors");
  CHECK(file.metadata.at("format") == "pt");
  CHECK(file.metadata.at("step") == "7");
  CHECK(file.metadata.at("epoch") == "0");
  CHECK(file.metadata.at("model") == "tiny");
  CHECK(file.metadata.at("data_crc32").size() == 8);

  Net b(2);  // other initial weights, no optimizer state yet
  REQUIRE_FALSE(same_tensors(a.graph.state_dict(), b.graph.state_dict()));
  TrainerState restored;
  const CheckpointLoad loaded = manager.load("auto", b.graph, b.sgd.get(), restored);
  CHECK(loaded.warnings.empty());
  CHECK(loaded.step == 7);
  CHECK(loaded.test_accuracy == 0.5);
  CHECK(same_tensors(a.graph.state_dict(), b.graph.state_dict()));
  CHECK(same_tensors(a.sgd->state_dict(), b.sgd->state_dict()));
  const TrainerState expected = state_at(7);
  CHECK(restored.step == 7);
  CHECK(restored.epoch == 0);
  CHECK(restored.step_in_epoch == 7);
  CHECK(restored.seed == expected.seed);
  CHECK(restored.best_accuracy == expected.best_accuracy);
  CHECK(restored.extra == expected.extra);
  std::mt19937_64 e1, e2(7);
  restore_rng(e1, restored.rng.at("shuffle"), "shuffle");
  e2.discard(1000);
  CHECK(e1() == e2());

  a.step(2);  // the resumed run continues bit for bit
  b.step(2);
  CHECK(same_tensors(a.graph.state_dict(), b.graph.state_dict()));

  SECTION("by name and by path, without an optimizer") {
    Net c(3), d(4);
    TrainerState s;
    manager.load("ckpt-00000007", c.graph, nullptr, s);
    manager.load(saved, d.graph, nullptr, s);
    CHECK(same_tensors(c.graph.state_dict(), d.graph.state_dict()));
    CHECK(s.step == 7);
  }
}

TEST_CASE("checkpoints keep the last N and the best", "[checkpoint][reference]") {
  TempDir dir;
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 2, "tiny"}, log);
  Net net(1);
  const double accuracy[] = {0.3, 0.9, 0.4, 0.5, 0.6};
  for (int step = 1; step <= 5; ++step) manager.save(net.graph, *net.sgd, state_at(step), accuracy[step - 1]);
  auto steps = [&] {
    std::vector<int64_t> s;
    for (const auto& p : manager.list()) s.push_back(checkpoint_step(fs::path(p).filename()));
    return s;
  };
  CHECK(steps() == std::vector<int64_t>{2, 4, 5});
  CHECK(manager.best() == "ckpt-00000002");
  CHECK(manager.last() == "ckpt-00000005");
  manager.save(net.graph, *net.sgd, state_at(6), 0.95);
  CHECK(steps() == std::vector<int64_t>{5, 6});
  CHECK(manager.best() == "ckpt-00000006");
  CHECK(manager.last() == "ckpt-00000006");
  // Saving a step again (a run resumed from an older checkpoint) replaces it.
  manager.save(net.graph, *net.sgd, state_at(6), 0.1);
  CHECK(steps() == std::vector<int64_t>{5, 6});
  CHECK(names_in(dir.path) == std::vector<std::string>{"best", "ckpt-00000005", "ckpt-00000006", "last"});
}

TEST_CASE("a damaged newest checkpoint falls back to the previous one", "[checkpoint][reference]") {
  TempDir dir;
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
  Net a(1);
  a.step(0);
  manager.save(a.graph, *a.sgd, state_at(1), 0.1);
  const NamedTensors at_step1 = snapshot(a.graph.state_dict());
  a.step(1);
  const std::string newest = manager.save(a.graph, *a.sgd, state_at(2), 0.2);
  const fs::path model = fs::path(newest) / "model.safetensors";
  const std::string original = read_all(model);
  const size_t size = original.size();

  auto expect_fallback = [&](const std::string& what) {
    Net b(9);
    const NamedTensors before = snapshot(b.graph.state_dict());
    TrainerState s;
    CHECK_THROWS_WITH(manager.load(newest, b.graph, b.sgd.get(), s), Catch::Contains(what));
    CHECK(same_tensors(before, b.graph.state_dict()));  // a failed load changes nothing
    const CheckpointLoad loaded = manager.load("auto", b.graph, b.sgd.get(), s);
    CHECK(loaded.step == 1);
    REQUIRE(loaded.warnings.size() == 1);
    CHECK_THAT(loaded.warnings[0], Catch::Contains("ckpt-00000002") && Catch::Contains(what));
    CHECK(same_tensors(at_step1, b.graph.state_dict()));
    CHECK(s.step == 1);
    CHECK(fs::exists(newest));  // nothing is deleted
  };
  SECTION("truncated model.safetensors") {
    for (size_t cut : {size_t{0}, size_t{7}, size_t{8}, size_t{20}, size - 40, size - 1}) {
      INFO("truncated at " << cut << " of " << size);
      write_all(model, original.substr(0, cut));
      expect_fallback("model.safetensors");
    }
  }
  SECTION("one flipped data byte is a CRC mismatch") {
    std::string bytes = original;
    bytes[size - 3] ^= 0x10;
    write_all(model, bytes);
    expect_fallback("CRC32 mismatch");
  }
  SECTION("a missing or malformed trainer_state.json") {
    write_all(fs::path(newest) / "trainer_state.json", "{\"step\": 2, \"epoch\": 0}");
    expect_fallback("missing key 'step_in_epoch'");
    fs::remove(fs::path(newest) / "trainer_state.json");
    expect_fallback("trainer_state.json");
  }
  SECTION("the 'last' pointer names a removed checkpoint") {
    fs::remove_all(newest);
    Net b(9);
    TrainerState s;
    const CheckpointLoad loaded = manager.load("auto", b.graph, b.sgd.get(), s);
    CHECK(loaded.step == 1);
    CHECK(loaded.warnings.size() == 1);
  }
  SECTION("no usable checkpoint at all") {
    write_all(model, original.substr(0, 8));
    write_all(fs::path(manager.list().front()) / "optimizer.safetensors", "garbage");
    Net b(9);
    TrainerState s;
    CHECK_THROWS_WITH(manager.load("auto", b.graph, b.sgd.get(), s),
                      Catch::Contains("no usable checkpoint") && Catch::Contains("ckpt-00000001"));
  }
}

TEST_CASE("a checkpoint that does not fit is rejected and changes nothing", "[checkpoint][reference]") {
  TempDir dir;
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
  Net a(1);
  a.step(0);
  manager.save(a.graph, *a.sgd, state_at(1), 0.1);
  TrainerState s;
  SECTION("other widths") {
    Net wide(2, 5);
    const NamedTensors before = snapshot(wide.graph.state_dict());
    CHECK_THROWS_WITH(manager.load("auto", wide.graph, wide.sgd.get(), s),
                      Catch::Contains("Size mismatch for") && Catch::Contains("conv1.weight"));
    CHECK(same_tensors(before, wide.graph.state_dict()));
  }
  SECTION("the optimizer refuses its state after the graph accepted the weights") {
    Net plain(2, 4, /*momentum=*/0);  // no momentum buffers expected
    const NamedTensors before = snapshot(plain.graph.state_dict());
    CHECK_THROWS_WITH(manager.load("auto", plain.graph, plain.sgd.get(), s),
                      Catch::Contains("momentum_buffer"));
    CHECK(same_tensors(before, plain.graph.state_dict()));
    CHECK(s.step == 0);
  }
}

TEST_CASE("non-finite weights are never saved", "[checkpoint][reference]") {
  TempDir dir;
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
  Net net(1);
  manager.save(net.graph, *net.sgd, state_at(1), 0.1);
  net.tensor("bn1.weight").data<float>()[2] = std::nanf("");
  CHECK_THROWS_AS(manager.save(net.graph, *net.sgd, state_at(2), 0.2), DataError);
  CHECK_THROWS_WITH(manager.save(net.graph, *net.sgd, state_at(2), 0.2),
                    Catch::Contains("'bn1.weight'") && Catch::Contains("non-finite"));
  CHECK(names_in(dir.path) == std::vector<std::string>{"best", "ckpt-00000001", "last"});
  CHECK(manager.last() == "ckpt-00000001");
}

TEST_CASE("a failed write leaves the previous checkpoint and 'last' intact", "[checkpoint][reference]") {
  TempDir dir;
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
  Net net(1);
  net.step(0);
  const std::string first = manager.save(net.graph, *net.sgd, state_at(1), 0.1);
  const std::string first_model = read_all(first + "/model.safetensors");
  const auto model_size = static_cast<rlim_t>(first_model.size());
  const auto optim_size = static_cast<rlim_t>(fs::file_size(first + "/optimizer.safetensors"));
  net.step(1);

  // The child saves under a file-size limit: writes past it fail with EFBIG, as on a full disk.
  auto save_in_child = [&](rlim_t limit, std::string* message) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit rl{limit, limit};
      if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(4);
      int code = 3;  // no error: the limit did not bite
      try {
        manager.save(net.graph, *net.sgd, state_at(2), 0.2);
      } catch (const IoError& e) {
        const std::string what = e.what();
        if (::write(fds[1], what.data(), what.size()) < 0) ::_exit(5);
        code = 0;
      } catch (...) {
        code = 2;
      }
      ::_exit(code);
    }
    ::close(fds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) message->append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::vector<std::pair<rlim_t, std::string>> cases = {
      {0, "model.safetensors"}, {64, "model.safetensors"}, {model_size - 1, "model.safetensors"}};
  if (optim_size > model_size) cases.push_back({model_size, "optimizer.safetensors"});
  for (const auto& [limit, file] : cases) {
    INFO("file size limit " << limit << " bytes");
    std::string message;
    CHECK(save_in_child(limit, &message) == 0);
    CHECK_THAT(message, Catch::Contains(file) && Catch::Contains("File too large"));
    CHECK(names_in(dir.path) == std::vector<std::string>{"best", "ckpt-00000001", "last"});
    CHECK(manager.last() == "ckpt-00000001");
    CHECK(read_all(first + "/model.safetensors") == first_model);
    Net b(5);
    TrainerState s;
    CHECK(manager.load("auto", b.graph, b.sgd.get(), s).warnings.empty());
    CHECK(s.step == 1);
  }
}

TEST_CASE("leftovers of an interrupted save are removed at start", "[checkpoint][reference]") {
  TempDir dir;
  {
    std::ostringstream log;
    CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
    Net net(1);
    manager.save(net.graph, *net.sgd, state_at(1), 0.1);
  }
  fs::create_directories(dir.path / "ckpt-00000002.tmp");
  write_all(dir.path / "ckpt-00000002.tmp" / "model.safetensors", "partial");
  write_all(dir.path / ".last.tmp.4242.0", "ckpt-0000");
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 3, "tiny"}, log);
  CHECK(names_in(dir.path) == std::vector<std::string>{"best", "ckpt-00000001", "last"});
  CHECK_THAT(log.str(), Catch::Contains("removed") && Catch::Contains("ckpt-00000002.tmp") &&
                            Catch::Contains(".last.tmp.4242.0"));
  CHECK(manager.list().size() == 1);
}

TEST_CASE("trainer state JSON round trip and its errors", "[checkpoint]") {
  const TrainerState s = state_at(13);
  const TrainerState back = trainer_state_from_json(to_json(s), "state.json");
  CHECK(back.step == 13);
  CHECK(back.epoch == 1);
  CHECK(back.step_in_epoch == 3);
  CHECK(back.seed == s.seed);
  CHECK(back.rng == s.rng);
  CHECK(back.extra == s.extra);
  nlohmann::json j = to_json(s);
  j.erase("epoch");
  CHECK_THROWS_WITH(trainer_state_from_json(j, "state.json"),
                    Catch::Contains("state.json") && Catch::Contains("missing key 'epoch'"));
  j = to_json(s);
  j["step"] = "13";
  CHECK_THROWS_WITH(trainer_state_from_json(j, "state.json"), Catch::Contains("'step' must be an integer"));
  std::mt19937_64 engine;
  CHECK_THROWS_AS(restore_rng(engine, s.rng.at("shuffle").substr(0, 100), "shuffle"), IoError);
}

TEST_CASE("a saved ResNet-20 loads into the PyTorch twin with strict load_state_dict",
          "[checkpoint][torch]") {
  MT_REQUIRE_TORCH();
  TempDir dir;
  layers::ModelOptions o;
  o.seed = 3;
  layers::Model model = layers::build_model("resnet20", o);
  model.graph.value(model.graph.at("layer2.1.bn1.running_var")).data.fill(1.5);
  model.graph.value(model.graph.at("layer2.1.bn1.num_batches_tracked")).data.fill(12);
  std::vector<ParamRef> refs;
  for (ValueId v : model.graph.params()) refs.push_back({model.graph.value(v).name, &model.graph.value(v).data, nullptr});
  Sgd sgd(refs, SgdOptions{});
  std::ostringstream log;
  CheckpointManager manager({dir.path.string(), 1, "resnet20"}, log);
  const std::string saved = manager.save(model.graph, sgd, state_at(3), 0.5);
  mt::testing::run_python("tests/parity/check_checkpoint_torch.py", saved + "/model.safetensors");
}
