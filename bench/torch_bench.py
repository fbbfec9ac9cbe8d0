#!/usr/bin/python3
"""PyTorch side of bench/resnet20_vs_torch.sh: times training steps (forward, cross-entropy,
backward, SGD momentum 0.9 + weight decay 5e-4) and inference (eval, no_grad) of the CIFAR
ResNet-20 on synthetic data, and prints one JSON line per mode: median img/s over timed steps.
Run it as the script does, with the tuned settings of notes/performance.md (channels_last, malloc
thresholds, OpenBLAS with one thread, torch.set_num_threads = cores).
On a GPU (--device cuda, bench/gpu_vs_torch.sh) it runs eager PyTorch with cudnn.benchmark and
waits for the device at the end of every step; --model resnet50 takes torchvision's ResNet-50."""
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
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--model", choices=["resnet20", "resnet50"], default="resnet20")
    ap.add_argument("--tf32", type=int, default=1, help="cuda: TF32 convolutions (PyTorch's default)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("torch_bench: this PyTorch has no CUDA device (torch.cuda.is_available() is False)")
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = bool(args.tf32)
    cl = torch.channels_last
    if args.model == "resnet50":
        import torchvision  # noqa: E402  (only this model needs it)
        model = torchvision.models.resnet50(num_classes=10)
    else:
        model = ResNetCifar(args.channels)
    model = model.to(device=device, memory_format=cl)
    x = torch.randn(args.batch, args.channels, args.size, args.size).to(device=device, memory_format=cl)
    y = torch.randint(0, 10, (args.batch,)).to(device)
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    if args.mode == "train":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss()
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
            sync()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
            sync()
    seconds = timed(step, args.warmup, args.steps)
    print(json.dumps({"impl": "pytorch", "version": torch.__version__, "device": args.device,
                      "model": args.model, "mode": args.mode, "batch": args.batch,
                      "img_per_s": args.batch / seconds}))


if __name__ == "__main__":
    main()
