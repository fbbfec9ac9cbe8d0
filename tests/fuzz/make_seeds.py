#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora (tests/fuzz/corpus/<harness>/seed_*): small valid
inputs of each format, from which libFuzzer mutates. Run from the repository root; the JPEG seeds
come from make_jpeg_seeds.c (libjpeg), the trainer_state seeds from a real checkpoint's layout."""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def idx_pair(n, h, w):
    labels = struct.pack(">I I", 0x801, n) + bytes(i % 10 for i in range(n))
    images = struct.pack(">I I I I", 0x803, n, h, w) + bytes((i * 37) % 256 for i in range(n * h * w))
    return labels, images


def idx_input(labels, images):
    rest = len(labels) + len(images)
    share = next(b for b in range(256) if rest * b // 256 == len(labels))
    return bytes([share]) + labels + images


def png(width, height, color_type, channels):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\0" + bytes((x * 50 + y * 20 + c) % 256 for x in range(width) for c in range(channels))
                    for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def trainer_state(rng):
    state = {"step": 4, "epoch": 1, "step_in_epoch": 0, "seed": "0", "rng": rng, "best_accuracy": 0.25,
             "extra": {"batch_size": 32, "skipped_steps": 0}, "test_accuracy": 0.25,
             "files": {"model.safetensors": "0badf00d", "optimizer.safetensors": "12345678"}}
    body = json.dumps(state, separators=(",", ":"), sort_keys=True)
    state["checksum"] = "%08x" % zlib.crc32(body.encode())
    return json.dumps(state, indent=2, sort_keys=True) + "\n"


def main():
    f32 = struct.pack("<6f", 0.5, -1.0, 2.0, 0.0, 3.5, -0.25)
    i64 = struct.pack("<q", 7)
    put("safetensors", "two_tensors", safetensors(
        [("fc.bias", "F32", [2], f32[:8]), ("fc.weight", "F32", [2, 2], f32[8:] + f32[:8])],
        {"format": "pt", "step": "4"}))
    put("safetensors", "i64_scalar", safetensors([("bn.num_batches_tracked", "I64", [], i64)], None))
    put("safetensors", "empty", safetensors([], {"note": "no tensors"}))

    labels, images = idx_pair(4, 3, 3)
    put("idx", "raw", idx_input(labels, images))
    put("idx", "gzip", idx_input(gzip.compress(labels, mtime=0), gzip.compress(images, mtime=0)))

    record10 = bytes([3]) + bytes((i * 7) % 256 for i in range(3072))
    put("cifar", "cifar10_two_records", record10 + bytes([9]) + record10[1:])
    put("cifar", "cifar100_one_record", bytes([1, 42]) + record10[1:])

    put("image", "gray.png", png(3, 2, 0, 1))
    put("image", "rgb.png", png(4, 3, 2, 3))
    put("image", "rgba.png", png(2, 2, 6, 4))

    put("config", "minimal.yaml", "name: fuzz\nmodel:\n  name: resnet_cifar\n  depth: 8\ntrain:\n  epochs: 1\n")
    with open(os.path.join(os.path.dirname(ROOT), "..", "..", "configs", "resnet20_fmnist_morph.yaml")) as f:
        put("config", "morph.yaml", f.read())

    put("yaml_graph", "small.yaml",
        "layers:\n"
        "  - {name: conv1, op: conv2d, out_channels: 4, kernel: 3, padding: 1}\n"
        "  - {name: bn1, op: batchnorm2d}\n"
        "  - {name: relu, op: relu}\n"
        "  - {name: pool, op: maxpool2d, kernel: 2}\n"
        "  - {name: gap, op: global_avgpool2d}\n"
        "  - {name: flatten, op: flatten}\n"
        "  - {name: fc, op: linear}\n")
    put("yaml_graph", "branches.yaml",
        "- {name: a, op: conv2d, out_channels: 2, kernel: 1}\n"
        "- {name: b, op: conv2d, out_channels: 2, kernel: 1, inputs: [images]}\n"
        "- {name: cat, op: concat, inputs: [a, b]}\n"
        "- {name: g, op: sigmoid}\n"
        "- {name: m, op: mul, inputs: [g, cat]}\n"
        "- {name: gap, op: global_avgpool2d}\n"
        "- {name: flatten, op: flatten}\n"
        "- {name: fc, op: linear}\n")

    # Anchors and aliases, which the loader walks through (core/yaml_read.h bounds their expansion).
    put("yaml_graph", "aliases.yaml",
        "- {name: a, op: conv2d, out_channels: &w 2, kernel: *w}\n"
        "- {name: b, op: conv2d, out_channels: *w, kernel: *w, inputs: &in [images]}\n"
        "- {name: c, op: add, inputs: [a, b]}\n"
        "- {name: gap, op: global_avgpool2d}\n"
        "- {name: flatten, op: flatten}\n"
        "- {name: fc, op: linear}\n")
    put("config", "inline_graph.yaml",
        "model:\n  name: yaml\n  input_shape: [1, 8, 8]\n  graph:\n"
        "    - {name: conv1, op: conv2d, out_channels: &w 4, kernel: 3}\n"
        "    - {name: gap, op: global_avgpool2d}\n    - {name: flat, op: flatten}\n"
        "    - {name: fc, op: linear}\ndata:\n  dataset: synthetic\n")

    put("structure", "flat.json", '{"layer1.0.conv1": 5, "layer2.0.conv1": 20}\n')
    put("structure", "counts.json", json.dumps({"format": "morphtrain.structure", "version": 1, "model": "resnet_cifar",
                                                "learned_structure": {"layer3.0.conv1": 9}}))
    put("structure", "layers.json", json.dumps({"format": "morphtrain.structure", "version": 1, "model": "resnet_cifar",
                                                "layers": {"layer1.0.conv1": {"width": 16, "channels": [0, 2, 5, 5]}}}))

    put("trainer_state", "no_rng.json", trainer_state({}))
    engine = " ".join(str((i * 2654435761) % (1 << 64)) for i in range(312)) + " 312"
    put("trainer_state", "rng.json", trainer_state({"shuffle": engine}))
    onnx_seeds()


def onnx_seeds():
    """ONNX files as PyTorch writes them: a tiny net with each imported construct (batch norm,
    ReLU6, hardswish, squeeze-excitation, concat, zero pad, pools, a classifier), and the files
    of tests/parity/onnx_bad_models.py; skipped where torch cannot be imported."""
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "..", "parity", "onnx_bad_models.py"),
                    os.path.join(ROOT, "onnx")], check=True)
    try:
        import torch
    except ImportError:
        return
    import io
    import warnings
    nn = torch.nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU6())
            self.dw = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.BatchNorm2d(4), nn.Hardswish())
            self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(4, 2, 1), nn.ReLU(), nn.Conv2d(2, 4, 1),
                                    nn.Hardsigmoid())
            self.side = nn.Conv2d(4, 2, 1)
            self.pool = nn.Sequential(nn.ZeroPad2d(1), nn.AvgPool2d(2, ceil_mode=True), nn.MaxPool2d(2))
            self.fc = nn.Linear(6, 10)

        def forward(self, x):
            x = self.dw(self.conv(x))
            x = x * self.se(x)
            x = torch.cat([x, self.side(x)], 1)
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.pool(x), 1), 1))

    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tiny().eval(), torch.randn(1, 3, 8, 8), out, training=torch.onnx.TrainingMode.PRESERVE,
                          input_names=["images"], output_names=["logits"])
    put("onnx", "tiny_torch.onnx", out.getvalue())


if __name__ == "__main__":
    main()
