"""Checks that a morphtrain ResNet-20 checkpoint is what a PyTorch user expects: the file parses
with a reader written from the safetensors spec (numpy only, no safetensors package), the
metadata's data_crc32 is zlib.crc32 of the data buffer, and the tensors load into the PyTorch
twin (torch_models.ResNetCifar) with strict load_state_dict and come back unchanged.

usage: check_checkpoint_torch.py MODEL.safetensors"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import ResNetCifar  # noqa: E402

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta, data


def main():
    tensors, meta, data = read_safetensors(sys.argv[1])
    assert meta["format"] == "pt", meta
    crc = "%08x" % zlib.crc32(data)
    assert meta["data_crc32"] == crc, (meta["data_crc32"], crc)
    model = ResNetCifar(3)
    model.load_state_dict(tensors, strict=True)
    for name, t in model.state_dict().items():
        assert t.dtype == tensors[name].dtype, (name, t.dtype, tensors[name].dtype)
        assert torch.equal(t, tensors[name]), name
    assert model.state_dict()["layer2.1.bn1.num_batches_tracked"].item() == 12
    model.eval()
    out = model(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    print("checkpoint loads into the PyTorch twin: %d tensors, crc %s" % (len(tensors), crc))


if __name__ == "__main__":
    main()
