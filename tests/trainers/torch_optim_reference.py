#!/usr/bin/python3
"""Optimizer trajectories from torch.optim, for tests/trainers/test_optim_torch.cpp.

Usage: torch_optim_reference.py CASES.json   (prints a JSON list of results to stdout)

Each case: {"kind": "sgd"|"adamw", "steps": T, options..., "no_decay_bias": bool}.
Two float64 params, w (5 elements, decayed) and b (3, no decay when no_decay_bias); at step t
(0-based) lr = 0.05 * (t + 1), grad[i] = sin(1.3 * i + 0.7 * t + offset) with offset 0 for w and
0.4 for b; initial value[i] = 0.3 * i - 1.0. The C++ test builds exactly the same.
Exit code 3 when torch is not importable (the caller skips with a warning).
"""
import json
import math
import sys

try:
    import torch
except ImportError:
    sys.exit(3)


def param(n):
    return torch.nn.Parameter(torch.tensor([0.3 * i - 1.0 for i in range(n)], dtype=torch.float64))


def grad(n, t, offset):
    return torch.tensor([math.sin(1.3 * i + 0.7 * t + offset) for i in range(n)], dtype=torch.float64)


def run(case):
    w, b = param(5), param(3)
    bias_group = {"params": [b]}
    if case.get("no_decay_bias"):
        bias_group["weight_decay"] = 0.0
    groups = [{"params": [w]}, bias_group]
    if case["kind"] == "sgd":
        opt = torch.optim.SGD(groups, lr=0.1, momentum=case["momentum"], dampening=case["dampening"],
                              weight_decay=case["weight_decay"], nesterov=case["nesterov"])
    else:
        opt = torch.optim.AdamW(groups, lr=0.1, betas=(case["beta1"], case["beta2"]),
                                eps=case["eps"], weight_decay=case["weight_decay"])
    for t in range(case["steps"]):
        for g in opt.param_groups:
            g["lr"] = 0.05 * (t + 1)
        w.grad = grad(5, t, 0.0)
        b.grad = grad(3, t, 0.4)
        opt.step()
    return {"w": w.detach().tolist(), "b": b.detach().tolist()}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    json.dump([run(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
