"""PyTorch's side of bench/data_pipeline.sh: torchvision's ImageFolder with RandomResizedCrop,
RandomHorizontalFlip, ToTensor and Normalize, through a DataLoader with the same number of
workers and batch size as morphtrain's loader; prints one JSON line like bench_loader.

usage: torch_loader.py FOLDER [--size 224] [--batch 64] [--workers 2] [--batches 0]"""
import argparse
import json
import resource
import time

import torch
from torchvision import datasets, transforms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batches", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    t = transforms.Compose([transforms.RandomResizedCrop(a.size), transforms.RandomHorizontalFlip(),
                            transforms.ToTensor(),
                            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    data = datasets.ImageFolder(a.folder, transform=t)
    loader = torch.utils.data.DataLoader(data, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                                         drop_last=True, persistent_workers=False)
    total = len(loader) if a.batches <= 0 else min(a.batches, len(loader))
    it = iter(loader)
    next(it)  # the first batch: workers start
    t0 = time.perf_counter()
    checksum = 0.0
    for _ in range(total - 1):
        images, _ = next(it)
        checksum += float(images[0, 0, 0, 0])
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"images": len(data), "batches": total - 1, "img_per_s": (total - 1) * a.batch / seconds,
                      "peak_rss_mb": peak / 1024.0, "checksum": checksum}))


if __name__ == "__main__":
    main()
