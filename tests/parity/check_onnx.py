"""Checks a morphtrain ONNX export with Debian's python3-onnx (1.12) and numpy only:
  1. the header: ir_version 7, opset 13 (ai.onnx only), producer "morphtrain", one input
     `images` [batch, C, H, W] and one output `logits` [batch, K], `batch` symbolic;
  2. onnx.checker.check_model(full_check=True), then onnx.shape_inference.infer_shapes in strict
     mode on a copy whose output shape is erased: the inferred logits shape must be [batch, K];
  3. the graph evaluated by the small numpy interpreter below (onnx.reference only exists from
     onnx 1.13; no onnxruntime in Debian) on IMAGES.npy, against EXPECTED.npy, morphtrain's eval
     logits: max|a - b| / max|b| within --tol.
The interpreter knows exactly the ops morphtrain exports; any other op fails the check.

usage: check_onnx.py MODEL.onnx IMAGES.npy EXPECTED.npy [--tol 1e-4] [--require Op,..] [--forbid Op,..]"""
import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


def fail(msg):
    print("check_onnx: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def dims_of(value_info):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


def check_header(model, images, k):
    if model.ir_version != 7:
        fail("ir_version %d, expected 7" % model.ir_version)
    opsets = [(o.domain, o.version) for o in model.opset_import]
    if opsets != [("", 13)]:
        fail("opset_import %s, expected [('', 13)]" % opsets)
    if model.producer_name != "morphtrain":
        fail("producer_name %r" % model.producer_name)
    g = model.graph
    if [i.name for i in g.input] != ["images"] or [o.name for o in g.output] != ["logits"]:
        fail("inputs %s outputs %s" % ([i.name for i in g.input], [o.name for o in g.output]))
    in_dims, out_dims = dims_of(g.input[0]), dims_of(g.output[0])
    if not isinstance(in_dims[0], str) or in_dims[0] == "" or in_dims[1:] != list(images.shape[1:]):
        fail("images dims %s for a batch of %s" % (in_dims, images.shape))
    if out_dims != [in_dims[0], k]:
        fail("logits dims %s, expected [%s, %d]" % (out_dims, in_dims[0], k))
    return in_dims[0]


def check_inferred_shapes(model, batch, k):
    stripped = onnx.ModelProto()
    stripped.CopyFrom(model)
    stripped.graph.output[0].type.tensor_type.ClearField("shape")
    inferred = shape_inference.infer_shapes(stripped, check_type=True, strict_mode=True)
    dims = dims_of(inferred.graph.output[0])
    if dims != [batch, k]:
        fail("inferred logits shape %s, expected [%s, %d]" % (dims, batch, k))
    # The symbolic batch must reach every activation, not only the output.
    for v in inferred.graph.value_info:
        d = dims_of(v)
        if not d or d[0] != batch:
            fail("inferred shape of %s is %s: the batch dimension is lost" % (v.name, d))


# ---- the interpreter: float64, NCHW ------------------------------------------------------------

def conv(x, w, b=None, kernel_shape=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1):
    n = x.shape[0]
    m, cg, kh, kw = w.shape
    if kernel_shape is not None and list(kernel_shape) != [kh, kw]:
        fail("Conv kernel_shape %s vs weight %s" % (kernel_shape, w.shape))
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    ho = (x.shape[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    wo = (x.shape[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    xg = x.reshape(n, group, cg, x.shape[2], x.shape[3])
    wg = w.reshape(group, m // group, cg, kh, kw)
    y = np.zeros((n, group, m // group, ho, wo))
    for i in range(kh):
        for j in range(kw):
            r, c = i * dilations[0], j * dilations[1]
            patch = xg[:, :, :, r:r + strides[0] * (ho - 1) + 1:strides[0], c:c + strides[1] * (wo - 1) + 1:strides[1]]
            y += np.einsum("ngchw,goc->ngohw", patch, wg[:, :, :, i, j], optimize=True)
    y = y.reshape(n, m, ho, wo)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def pool(x, kind, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), ceil_mode=0, count_include_pad=0):
    h, w = x.shape[2:]
    size = []
    for ax, n in enumerate((h, w)):
        span = n + pads[ax] + pads[ax + 2] - kernel_shape[ax]
        size.append((-(-span // strides[ax]) if ceil_mode else span // strides[ax]) + 1)
    extra = [max(0, (size[a] - 1) * strides[a] + kernel_shape[a] - ((h, w)[a] + pads[a] + pads[a + 2]))
             for a in range(2)]
    spec = ((pads[0], pads[2] + extra[0]), (pads[1], pads[3] + extra[1]))
    xp = np.pad(x, ((0, 0), (0, 0)) + spec, constant_values=-np.inf if kind == "max" else 0.0)
    # Which positions count in an average: the input (and its padding with count_include_pad).
    inside = np.pad(np.ones((h, w)), spec)
    if count_include_pad:
        inside = np.pad(np.ones((h + pads[0] + pads[2], w + pads[1] + pads[3])), ((0, extra[0]), (0, extra[1])))
    acc = np.full(x.shape[:2] + tuple(size), -np.inf if kind == "max" else 0.0)
    count = np.zeros(size)
    for i in range(kernel_shape[0]):
        for j in range(kernel_shape[1]):
            sl = (slice(i, i + strides[0] * (size[0] - 1) + 1, strides[0]),
                  slice(j, j + strides[1] * (size[1] - 1) + 1, strides[1]))
            win = xp[(slice(None), slice(None)) + sl]
            acc = np.maximum(acc, win) if kind == "max" else acc + win
            count += inside[sl]
    return acc if kind == "max" else acc / count


def batchnorm(x, scale, bias, mean, var, epsilon=1e-5, momentum=0.9):
    s = lambda v: v.reshape(1, -1, 1, 1)
    return (x - s(mean)) / np.sqrt(s(var) + epsilon) * s(scale) + s(bias)


def gemm(a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0):
    y = alpha * ((a.T if transA else a) @ (b.T if transB else b))
    return y if c is None else y + beta * c


def slice_(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(index)]


def pad(x, pads, constant_value=None, mode="constant"):
    if mode != "constant":
        fail("Pad mode %r" % mode)
    r = x.ndim
    value = 0.0 if constant_value is None else float(constant_value)
    return np.pad(x, [(int(pads[i]), int(pads[i + r])) for i in range(r)], constant_values=value)


def reshape(x, shape):
    shape = [x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(shape)


def unsqueeze(x, axes):
    for a in sorted(int(a) for a in axes):
        x = np.expand_dims(x, a)
    return x


OPS = {
    "Conv": conv,
    "BatchNormalization": batchnorm,
    "Relu": lambda x: np.maximum(x, 0),
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    # ONNX's definitions (opset 13), not PyTorch's: the export must map one onto the other.
    "Clip": lambda x, lo=None, hi=None: np.clip(x, -np.inf if lo is None else lo,
                                                np.inf if hi is None else hi),
    "HardSigmoid": lambda x, alpha=0.2, beta=0.5: np.clip(alpha * x + beta, 0, 1),
    "Add": lambda a, b: a + b,
    "Mul": lambda a, b: a * b,
    "Concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    "MaxPool": lambda x, **a: pool(x, "max", **a),
    "AveragePool": lambda x, **a: pool(x, "avg", **a),
    "GlobalAveragePool": lambda x: x.mean(axis=(2, 3), keepdims=True),
    "Flatten": lambda x, axis=1: x.reshape(int(np.prod(x.shape[:axis])), -1),
    "Gemm": gemm,
    "Slice": slice_,
    "Pad": pad,
    "Reshape": reshape,
    "Unsqueeze": unsqueeze,
    "Identity": lambda x: x,
}


def attributes(node):
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def evaluate(model, images):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64)
           if t.data_type == onnx.TensorProto.FLOAT else numpy_helper.to_array(t)
           for t in model.graph.initializer}
    env["images"] = images.astype(np.float64)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in OPS:
            fail("node %s: op %s is not in the interpreter" % (node.name, node.op_type))
        args = [env[i] if i else None for i in node.input]
        while args and args[-1] is None:
            args.pop()
        if len(node.output) != 1:
            fail("node %s has %d outputs" % (node.name, len(node.output)))
        env[node.output[0]] = OPS[node.op_type](*args, **attributes(node))
    return env["logits"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("images")
    p.add_argument("expected")
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--require", default="", help="op types that must appear")
    p.add_argument("--forbid", default="", help="op types that must not appear")
    a = p.parse_args()

    model = onnx.load(a.model)
    images, expected = np.load(a.images), np.load(a.expected)
    k = expected.shape[1]
    batch = check_header(model, images, k)
    onnx.checker.check_model(model, full_check=True)
    check_inferred_shapes(model, batch, k)

    ops = sorted({n.op_type for n in model.graph.node})
    for op in filter(None, a.require.split(",")):
        if op not in ops:
            fail("op %s missing (ops: %s)" % (op, ops))
    for op in filter(None, a.forbid.split(",")):
        if op in ops:
            fail("op %s present (ops: %s)" % (op, ops))

    logits = evaluate(model, images)
    if logits.shape != expected.shape:
        fail("logits shape %s, expected %s" % (logits.shape, expected.shape))
    rel = np.abs(logits - expected).max() / max(np.abs(expected).max(), 1e-30)
    print("check_onnx: %s: %d nodes, ops %s, max rel diff %.3g" % (a.model, len(model.graph.node), ops, rel))
    if not rel <= a.tol:
        fail("logits differ from morphtrain's: max rel diff %.3g > %.3g" % (rel, a.tol))


if __name__ == "__main__":
    main()
