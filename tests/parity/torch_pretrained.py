"""Writes what a PyTorch user brings to morphtrain's model.weights: the state_dict of a trained
ResNet-20 (torch_models.ResNetCifar, random weights and batch-norm statistics standing in for a
trained network) as safetensors.torch.save_file writes it, and its eval-mode logits on a batch of
images, for the test that loads the file into morphtrain's zoo model and compares the logits.

Debian has no python3-safetensors, so save_file below follows the format's specification: an
8-byte little-endian header length, the JSON header (dtype, shape, data_offsets per tensor and
__metadata__ {"format": "pt"}) space-padded to a multiple of 8, then the tensors' bytes.

usage: torch_pretrained.py WEIGHTS.safetensors CHECK.safetensors
  CHECK holds "images" [4, 3, 32, 32] and "logits" [4, 10]."""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import ResNetCifar  # noqa: E402

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def save_file(tensors, path, metadata=None):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def trained_looking(model):
    """Moves every batch norm away from its initial state (scale, shift, running statistics), so
    that a wrongly loaded normalisation changes the logits; returns the model in eval mode."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(123)
    return model.eval()


def main():
    torch.manual_seed(0)
    model = trained_looking(ResNetCifar(3))
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        logits = model(images)
    save_file(model.state_dict(), sys.argv[1], {"format": "pt"})
    save_file({"images": images, "logits": logits}, sys.argv[2])


if __name__ == "__main__":
    main()
