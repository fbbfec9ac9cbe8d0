#!/usr/bin/python3
"""PyTorch side of bench/resnet20_vs_torch.sh: times training steps (forward, cross-entropy,
backward, SGD momentum 0.9 + weight decay 5e-4) and inference (eval, no_grad) of the CIFAR
ResNet-20 on synthetic data, and prints one JSON line per mode: median img/s over timed steps.
Run it as the script does, with the tuned settings of notes/performance.md (channels_last, malloc
thresholds, OpenBLAS with one thread, torch.set_num_threads = cores)."""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
from torch_models import ResNetCifar  # noqa: E402


def timed(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["train", "infer"], default="train")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cl = torch.channels_last
    model = ResNetCifar(args.channels).to(memory_format=cl)
    x = torch.randn(args.batch, args.channels, args.size, args.size).to(memory_format=cl)
    y = torch.randint(0, 10, (args.batch,))
    if args.mode == "train":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss()
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    seconds = timed(step, args.warmup, args.steps)
    print(json.dumps({"impl": "pytorch", "version": torch.__version__, "mode": args.mode,
                      "batch": args.batch, "img_per_s": args.batch / seconds}))


if __name__ == "__main__":
    main()
