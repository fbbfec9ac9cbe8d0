// Training-batch throughput of a streamed image folder: images decoded by the loader's workers,
// random-resized crop and flip to SIZE, normalised into float batches (what the trainer consumes),
// and the process's peak resident memory, as one JSON line.
//   build/bench/bench_loader --folder DIR [--size 224] [--batch 64] [--workers 2] [--batches 0]
// --batches 0: one whole epoch. bench/data_pipeline.sh runs it against PyTorch's DataLoader.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "trainers/image_folder.h"
#include "trainers/loader.h"

int main(int argc, char** argv) {
  using namespace mt;
  CLI::App app{"streamed image-folder loader throughput"};
  std::string folder;
  int64_t size = 224, batch = 64, batches = 0;
  int workers = 2;
  app.add_option("--folder", folder, "an image folder: <class>/<image>.jpg|png")->required()->check(CLI::ExistingDirectory);
  app.add_option("--size", size, "training crop size");
  app.add_option("--batch", batch, "batch size");
  app.add_option("--workers", workers, "decoding threads");
  app.add_option("--batches", batches, "batches to time (0: one epoch)");
  CLI11_PARSE(app, argc, argv);
  try {
    ImageFolderOptions o;
    o.size = size;
    o.channels = 3;
    o.stream = true;
    const Dataset data = load_image_folder(folder, o);
    LoaderOptions lo;
    lo.batch_size = batch;
    lo.workers = workers;
    BatchLoader loader(data, Normalization{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}}, lo);
    loader.start_epoch(0);
    const int64_t total = batches > 0 ? std::min(batches, loader.steps_per_epoch()) : loader.steps_per_epoch();
    loader.next();  // the first batch: threads start, caches fill (PyTorch's first batch is skipped too)
    const auto t0 = std::chrono::steady_clock::now();
    double checksum = 0;
    for (int64_t b = 1; b < total; ++b) checksum += loader.next()->images.data<float>()[0];
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("{\"images\": %lld, \"batches\": %lld, \"img_per_s\": %.1f, \"peak_rss_mb\": %.1f, \"checksum\": %.3f}\n",
                static_cast<long long>(data.size()), static_cast<long long>(total - 1),
                static_cast<double>((total - 1) * batch) / seconds, usage.ru_maxrss / 1024.0, checksum);
  } catch (const std::exception& e) {
    std::cerr << "bench_loader: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
