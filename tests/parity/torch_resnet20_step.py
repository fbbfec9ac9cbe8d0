#!/usr/bin/python3
"""PyTorch side of the ResNet-20 parity test (tests/trainers/test_torch_parity.cpp).

Builds the CIFAR ResNet-20 with option-A shortcuts under the same state_dict names as morphtrain's
zoo, draws weights, a batch and labels from a seed, runs one training-mode forward, the
cross-entropy loss, the backward and one SGD step (momentum 0.9, Nesterov off, weight decay 5e-4),
and writes everything the C++ side compares to one safetensors file:
  input.images, input.labels, init.<name>        what both sides start from
  out.logits, out.loss                           the forward
  grad.<param>                                   every gradient
  new.<name>                                     every parameter and buffer after the step
Usage: torch_resnet20_step.py OUT.safetensors [--batch 8] [--channels 3] [--size 32] [--seed 0]
"""
import argparse
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_models import ResNetCifar


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().numpy().copy(order="C")  # ascontiguousarray would make 0-d arrays 1-d
        dtype = {np.float32: "F32", np.int64: "I64", np.float64: "F64"}[a.dtype.type]
        blob = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    model = ResNetCifar(args.channels)
    # Non-trivial BN affine parameters and running statistics, so that every term is exercised.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.2)
    images = torch.randn(args.batch, args.channels, args.size, args.size)
    labels = torch.randint(0, 10, (args.batch,))

    out = {"input.images": images, "input.labels": labels}
    for k, v in model.state_dict().items():
        out["init." + k] = v.clone()

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    model.train()
    logits = model(images)
    loss = F.cross_entropy(logits, labels)
    opt.zero_grad()
    loss.backward()
    for k, p in model.named_parameters():
        out["grad." + k] = p.grad.clone()
    opt.step()
    out["out.logits"] = logits.detach()
    out["out.loss"] = loss.detach().reshape(())
    for k, v in model.state_dict().items():
        out["new." + k] = v.clone()
    write_safetensors(args.out, out)


if __name__ == "__main__":
    main()
