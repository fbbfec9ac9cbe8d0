"""Writes small ONNX files that morphtrain's model.onnx must refuse, each with one defect, and one
that it must accept, for the import error tests. Each is checker-valid ONNX unless its name says
otherwise, so the refusal is morphtrain's.

usage: onnx_bad_models.py OUT_DIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_weight(name, out, cin, k=3):
    return numpy_helper.from_array(np.random.RandomState(0).randn(out, cin, k, k).astype(np.float32), name)


def model(nodes, initializers, opset=13, input_channels=3, output_shape=(1, 10)):
    graph = helper.make_graph(
        nodes, "net",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, input_channels, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, list(output_shape))],
        initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def head(x, classes=10):
    """GlobalAveragePool, Flatten and a Gemm to `classes` after x (4 channels)."""
    return ([helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"),
             helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1),
             helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1)],
            [numpy_helper.from_array(np.ones((classes, 4), np.float32), "fc.weight"),
             numpy_helper.from_array(np.zeros(classes, np.float32), "fc.bias")])


def with_body(body_nodes, body_out, extra_inits=(), **kw):
    h_nodes, h_inits = head(body_out)
    conv = helper.make_node("Conv", ["images", "conv1.weight"], ["c1"], name="conv1", pads=[1, 1, 1, 1])
    return model([conv] + body_nodes + h_nodes, [conv_weight("conv1.weight", 4, 3)] + h_inits + list(extra_inits), **kw)


def main():
    out = sys.argv[1]
    cases = {
        "good": with_body([helper.make_node("Relu", ["c1"], ["r"], name="relu1")], "r"),
        "thousand_classes": model(
            [helper.make_node("Conv", ["images", "conv1.weight"], ["c1"], name="conv1", pads=[1, 1, 1, 1])]
            + head("c1", 1000)[0], [conv_weight("conv1.weight", 4, 3)] + head("c1", 1000)[1],
            output_shape=(1, 1000)),
        "unknown_op": with_body([helper.make_node("Softsign", ["c1"], ["r"], name="soft1")], "r"),
        "clip_range": with_body([helper.make_node("Clip", ["c1", "lo", "hi"], ["r"], name="clip1")], "r",
                                [numpy_helper.from_array(np.array(0, np.float32), "lo"),
                                 numpy_helper.from_array(np.array(1, np.float32), "hi")]),
        "asymmetric_pads": model(
            [helper.make_node("Conv", ["images", "conv1.weight"], ["c1"], name="conv1", pads=[1, 1, 0, 0])]
            + head("c1")[0], [conv_weight("conv1.weight", 4, 3)] + head("c1")[1]),
        "channel_mixing_reshape": with_body(
            [helper.make_node("Reshape", ["c1", "shape"], ["r"], name="shuffle"),
             helper.make_node("Relu", ["r"], ["r2"], name="relu1")], "r2",
            [numpy_helper.from_array(np.array([1, 4, 4, 16], np.int64), "shape")]),
        "old_opset": with_body([helper.make_node("Relu", ["c1"], ["r"], name="relu1")], "r", opset=9),
        "one_channel_input": with_body([helper.make_node("Relu", ["c1"], ["r"], name="relu1")], "r"),
    }
    for name, m in cases.items():
        onnx.save(m, os.path.join(out, name + ".onnx"))
    with open(os.path.join(out, "not_onnx.onnx"), "wb") as f:
        f.write(b"this is not a protobuf \xff\xff\xff")


if __name__ == "__main__":
    main()
