// CIFAR binary files: the input is the test split's file of CIFAR-10 (test_batch.bin) and of
// CIFAR-100 (test.bin), each loaded in turn.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "scratch_file.h"
#include "trainers/cifar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mt::fuzz::scratch_file("test_batch.bin", data, size);
  mt::fuzz::scratch_file("test.bin", data, size);
  for (const mt::CifarVariant v : {mt::CifarVariant::cifar10, mt::CifarVariant::cifar100}) {
    try {
      const mt::Dataset d = mt::load_cifar(mt::fuzz::scratch_dir().string(), mt::DataSplit::test, v);
      (void)d.size();
    } catch (const std::exception&) {
    }
  }
  return 0;
}
