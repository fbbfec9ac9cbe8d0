#pragma once
// CIFAR-10 and CIFAR-100 in their "binary version" files: fixed-size records of label byte(s)
// followed by 3072 pixel bytes (3 x 32 x 32, channel planes R, G, B, rows top to bottom).
#include <string>

#include "trainers/dataset.h"

namespace mt {

enum class CifarVariant { cifar10, cifar100 };
enum class DataSplit { train, test };

// Loads one split from `dir`, which holds the files as the official archives unpack them:
//   CIFAR-10:  data_batch_1.bin .. data_batch_5.bin (train), test_batch.bin (test);
//              record = 1 label byte + 3072 pixel bytes, 10 classes.
//   CIFAR-100: train.bin, test.bin; record = coarse label byte, fine label byte, 3072 pixel bytes;
//              the fine label (100 classes) is the class.
// Every defect (a missing file, a size that is not a whole number of records, a label out of range)
// throws DataError naming the file, and for a label the record index and its byte offset.
Dataset load_cifar(const std::string& dir, DataSplit split, CifarVariant variant);

}  // namespace mt
