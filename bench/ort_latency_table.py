#!/usr/bin/env python3
"""A latency table measured in ONNX Runtime, in the format morph.hardware reads.

  python3 bench/ort_latency_table.py models TEMPLATE.json WORKDIR
  python3 bench/ort_latency_table.py table TEMPLATE.json WORKDIR TIMINGS.jsonl OUT.json

`morphtrain --calibrate FILE --config CFG` measures every conv2d and linear shape of a model through
morphtrain's kernels; this re-measures the same cells (the same keys, grids and batch) in another
runtime. `models` writes one small ONNX model per cell (the layer followed by a ReLU, as the
exported network runs it: ONNX Runtime fuses the two) and a manifest; bench/ort_latency_table.js
times them; `table` writes the table. The roofline figures for the ops without a table are kept
from the template (they were measured on this machine, not in ONNX Runtime). Driven by
bench/ort_latency_table.sh.
"""
import json
import os
import re
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CONV_KEY = re.compile(r"conv2d (\d+)x(\d+) (\d+)x(\d+) k(\d+)x(\d+) s(\d+)x(\d+) p(\d+)x(\d+) d(\d+)x(\d+) g(\d+)$")
LINEAR_KEY = re.compile(r"linear (\d+)x(\d+)$")


def fail(message):
    sys.exit("ort_latency_table: " + message)


def conv_model(spec, cin, cout, batch):
    _, dense_out, h, w, kh, kw, sh, sw, ph, pw, dh, dw, groups = spec
    depthwise = groups > 1
    if depthwise:  # measured with as many groups as channels, as the table's format says
        cin, groups = cout, cout
    elif groups != 1:
        fail("grouped convolutions other than depthwise are not supported (groups %d)" % groups)
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((cout, cin // groups, kh, kw)).astype(np.float32) * 0.1
    bias = np.zeros(cout, np.float32)
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[kh, kw], strides=[sh, sw],
                            pads=[ph, pw, ph, pw], dilations=[dh, dw], group=groups)
    relu = helper.make_node("Relu", ["c"], ["y"])
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    graph = helper.make_graph([conv, relu], "cell", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, cin, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, cout, oh, ow])],
                              [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    return graph, [batch, cin, h, w]


def linear_model(cin, cout, batch):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((cout, cin)).astype(np.float32) * 0.1
    gemm = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)
    graph = helper.make_graph([gemm], "cell", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, cin])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, cout])],
                              [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.zeros(cout, np.float32), "b")])
    return graph, [batch, cin]


def write_models(template, workdir):
    batch = int(template["batch"])
    cells = []
    for li, layer in enumerate(template["layers"]):
        key = layer["key"]
        conv, linear = CONV_KEY.match(key), LINEAR_KEY.match(key)
        if not conv and not linear:
            fail("layer %d: key '%s' is neither a conv2d nor a linear key" % (li, key))
        for i, cin in enumerate(layer["in"]):
            for j, cout in enumerate(layer["out"]):
                cin, cout = int(cin), int(cout)
                graph, shape = conv_model([int(g) for g in conv.groups()], cin, cout, batch) if conv else linear_model(cin, cout, batch)
                model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
                model.ir_version = 7  # what ONNX Runtime 1.30 and Debian's onnx 1.12 both read
                onnx.checker.check_model(model)
                path = os.path.join(workdir, "cell_%d_%d_%d.onnx" % (li, i, j))
                onnx.save(model, path)
                cells.append({"layer": li, "i": i, "j": j, "file": path, "shape": shape})
    with open(os.path.join(workdir, "manifest.json"), "w") as f:
        json.dump({"cells": cells}, f)
    print("%d cells over %d layers" % (len(cells), len(template["layers"])), file=sys.stderr)


def write_table(template, workdir, timings_path, out_path, runtime):
    with open(os.path.join(workdir, "manifest.json")) as f:
        cells = json.load(f)["cells"]
    ns = {}
    with open(timings_path) as f:
        for line in f:
            r = json.loads(line)
            ns[r["file"]] = r["ns"]
    table = {"format": template["format"], "name": runtime, "batch": template["batch"],
             "peak_gflops": template["peak_gflops"], "memory_gbps": template["memory_gbps"],
             "details": {"runtime": runtime, "cells_from": "the layers and grids of a morphtrain --calibrate table",
                         "roofline": "peak_gflops and memory_gbps kept from that table (this machine, morphtrain's kernels)"},
             "layers": []}
    for li, layer in enumerate(template["layers"]):
        grid = [[None] * len(layer["out"]) for _ in layer["in"]]
        table["layers"].append({"key": layer["key"], "in": layer["in"], "out": layer["out"], "ns": grid})
    for c in cells:
        if c["file"] not in ns:
            fail("no timing for " + c["file"])
        table["layers"][c["layer"]]["ns"][c["i"]][c["j"]] = ns[c["file"]]
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(table, f, indent=1)
    os.replace(tmp, out_path)  # a half-written table never replaces a good one


def main(argv):
    if len(argv) < 4 or argv[1] not in ("models", "table"):
        fail("usage: models TEMPLATE WORKDIR | table TEMPLATE WORKDIR TIMINGS OUT [RUNTIME]")
    with open(argv[2]) as f:
        template = json.load(f)
    if template.get("format") != "morphtrain.latency_table" or not template.get("layers"):
        fail("%s: not a latency table with per-layer entries (make one with morphtrain --calibrate FILE --config CFG)" % argv[2])
    if argv[1] == "models":
        write_models(template, argv[3])
    else:
        if len(argv) < 6:
            fail("usage: table TEMPLATE WORKDIR TIMINGS OUT [RUNTIME]")
        write_table(template, argv[3], argv[4], argv[5], argv[6] if len(argv) > 6 else "onnxruntime-cpu")


if __name__ == "__main__":
    main(sys.argv)
