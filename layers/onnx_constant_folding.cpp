// Constant folding at import: the shape arithmetic PyTorch leaves in a graph (ZeroPad2d's pads
// built from ConstantOfShape, Concat, Reshape, Slice, Transpose and Cast; x.view(x.size(0), -1)
// through Shape, Gather and Unsqueeze) is evaluated on constants, so the ops that read it (Pad,
// Reshape) see plain values. Only nodes whose inputs are all constants (or, for Shape, a value of
// known shape) are folded; anything else goes to the op table.
#include <algorithm>
#include <cmath>

#include "layers/onnx_import_walk.h"

namespace mt::layers {

namespace {

using onnx::NodeProto;

constexpr int64_t kMaxCount = int64_t{1} << 31;  // more values than any shape tensor holds

// The number of values of `dims`, or -1 when it passes kMaxCount (a header's claim, not checked yet).
int64_t count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && n > kMaxCount / d)) return -1;
    n *= d;
  }
  return n;
}

// A value of the file used as an integer: finite and within `limit` of zero, else an error.
int64_t whole(OnnxWalk& w, const NodeProto& n, double v, int64_t limit = int64_t{1} << 62) {
  if (!(std::abs(v) <= static_cast<double>(limit))) w.fail(n, "a value out of range (" + std::to_string(v) + ")");
  return static_cast<int64_t>(v);
}

// A negative axis counts from the end, as ONNX allows.
int64_t axis_of(OnnxWalk& w, const NodeProto& n, int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) w.fail(n, "axis " + std::to_string(axis) + " is out of range");
  return axis < 0 ? axis + r : axis;
}

OnnxConstant make(std::vector<int64_t> dims, std::vector<double> values) {
  OnnxConstant c;
  c.dims = std::move(dims);
  c.values = std::move(values);
  return c;
}

OnnxConstant concat(OnnxWalk& w, const NodeProto& n) {
  const OnnxConstant& first = w.constant(n, 0);
  const int64_t axis = axis_of(w, n, w.int_attr(n, "axis", 0), first.dims.size());
  if (axis != 0) w.fail(n, "constant Concat is folded on axis 0 only");
  OnnxConstant out = make(first.dims, {});
  out.dims[0] = 0;
  for (int i = 0; i < n.input_size(); ++i) {
    const OnnxConstant& c = w.constant(n, static_cast<size_t>(i));
    if (c.dims.size() != first.dims.size()) w.fail(n, "inputs of different ranks");
    out.dims[0] += c.dims.empty() ? 1 : c.dims[0];
    out.values.insert(out.values.end(), c.values.begin(), c.values.end());
  }
  return out;
}

OnnxConstant reshape(OnnxWalk& w, const NodeProto& n) {
  const OnnxConstant& data = w.constant(n, 0);
  std::vector<int64_t> dims;
  int64_t unknown = -1, known = 1;
  for (double d : w.constant(n, 1).values) {
    int64_t v = whole(w, n, d, kMaxCount);
    if (v == 0 && dims.size() < data.dims.size()) v = data.dims[dims.size()];
    if (v < -1) w.fail(n, "a negative dimension");
    if (v == -1) unknown = static_cast<int64_t>(dims.size());
    else known *= v;
    dims.push_back(v);
  }
  if (unknown >= 0) dims[static_cast<size_t>(unknown)] = known ? count(data.dims) / known : 0;
  if (count(dims) < 0 || count(dims) != static_cast<int64_t>(data.values.size()))
    w.fail(n, "the new shape does not hold the values");
  return make(dims, data.values);
}

// 1-d Slice (what PyTorch's padding arithmetic uses), with negative starts, ends and steps.
OnnxConstant slice(OnnxWalk& w, const NodeProto& n) {
  const OnnxConstant& data = w.constant(n, 0);
  if (data.dims.empty()) w.fail(n, "cannot slice a scalar");
  const auto one = [&](size_t i, double fallback) {
    return w.has_input(n, i) ? w.constant(n, i).values.at(0) : fallback;
  };
  if (w.has_input(n, 3) && axis_of(w, n, whole(w, n, one(3, 0)), data.dims.size()) != 0)
    w.fail(n, "constant Slice is folded on axis 0 only");
  const int64_t len = data.dims[0], inner = count(data.dims) / std::max<int64_t>(len, 1);
  const int64_t step = whole(w, n, one(4, 1));
  if (step == 0) w.fail(n, "step 0");
  auto clamp = [&](double v, int64_t lo, int64_t hi) {
    if (std::isnan(v)) w.fail(n, "a NaN bound");
    const double at = v < 0 ? v + static_cast<double>(len) : v;
    return static_cast<int64_t>(std::clamp(at, static_cast<double>(lo), static_cast<double>(hi)));
  };
  const int64_t start = step > 0 ? clamp(one(1, 0), 0, len) : clamp(one(1, 0), -1, len - 1);
  const int64_t end = step > 0 ? clamp(one(2, 0), 0, len) : clamp(one(2, 0), -1, len - 1);
  OnnxConstant out = make(data.dims, {});
  out.dims[0] = 0;
  for (int64_t i = start; step > 0 ? i < end : i > end; i += step) {
    out.values.insert(out.values.end(), data.values.begin() + i * inner, data.values.begin() + (i + 1) * inner);
    ++out.dims[0];
  }
  return out;
}

OnnxConstant transpose(OnnxWalk& w, const NodeProto& n) {
  const OnnxConstant& data = w.constant(n, 0);
  if (data.dims.size() != 2) w.fail(n, "constant Transpose is folded for matrices only");
  const std::vector<int64_t> perm = w.ints_attr(n, "perm", {1, 0});
  if (perm == std::vector<int64_t>{0, 1}) return data;
  const int64_t rows = data.dims[0], cols = data.dims[1];
  OnnxConstant out = make({cols, rows}, std::vector<double>(data.values.size()));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out.values[static_cast<size_t>(c * rows + r)] = data.values[static_cast<size_t>(r * cols + c)];
  return out;
}

OnnxConstant constant_of_shape(OnnxWalk& w, const NodeProto& n) {
  std::vector<int64_t> dims;
  for (double d : w.constant(n, 0).values) {
    dims.push_back(whole(w, n, d, 1 << 24));
    if (dims.back() < 0) w.fail(n, "a negative dimension");
  }
  double fill = 0;
  if (const auto* a = w.attribute(n, "value"); a && a->has_t())
    fill = read_onnx_constant(a->t(), "node '" + n.name() + "'").values.at(0);
  if (count(dims) < 0 || count(dims) > (1 << 24)) w.fail(n, "an unreasonable shape");
  return make(dims, std::vector<double>(static_cast<size_t>(count(dims)), fill));
}

OnnxConstant unsqueeze(OnnxWalk& w, const NodeProto& n) {
  OnnxConstant out = w.constant(n, 0);
  std::vector<int64_t> axes = w.ints_attr(n, "axes", {});  // opset < 13: an attribute
  if (w.has_input(n, 1))
    for (double a : w.constant(n, 1).values) axes.push_back(whole(w, n, a, 64));
  std::sort(axes.begin(), axes.end());
  for (int64_t a : axes) {
    const int64_t at = axis_of(w, n, a, out.dims.size() + 1);
    out.dims.insert(out.dims.begin() + at, 1);
  }
  return out;
}

OnnxConstant gather(OnnxWalk& w, const NodeProto& n) {
  const OnnxConstant& data = w.constant(n, 0);
  const OnnxConstant& index = w.constant(n, 1);
  if (data.dims.size() != 1 || axis_of(w, n, w.int_attr(n, "axis", 0), 1) != 0)
    w.fail(n, "constant Gather is folded on vectors only");
  OnnxConstant out = make(index.dims, {});
  for (double i : index.values) {
    int64_t at = whole(w, n, i, kMaxCount);
    if (at < 0) at += data.dims[0];
    if (at < 0 || at >= data.dims[0]) w.fail(n, "index out of range");
    out.values.push_back(data.values[static_cast<size_t>(at)]);
  }
  return out;
}

bool all_constant(const OnnxWalk& w, const NodeProto& n) {
  for (int i = 0; i < n.input_size(); ++i)
    if (!n.input(i).empty() && !w.is_constant(n, static_cast<size_t>(i))) return false;
  return true;
}

}  // namespace

bool fold_constant_node(OnnxWalk& w, const NodeProto& n) {
  const std::string& op = n.op_type();
  if (n.output_size() != 1) return false;
  // Shape of a computed value: its dims with the batch as the graph's (PyTorch's export folds the
  // same with its example input's batch).
  if (op == "Shape" && !w.is_constant(n, 0) && n.attribute_size() == 0) {
    const Shape& s = w.b.shape(w.activation(n, 0));
    std::vector<double> dims(s.dims().begin(), s.dims().end());
    w.define_constant(n.output(0), make({static_cast<int64_t>(dims.size())}, dims));
    return true;
  }
  if (!all_constant(w, n)) return false;
  OnnxConstant out;
  if (op == "Concat") out = concat(w, n);
  else if (op == "Reshape") out = reshape(w, n);
  else if (op == "Slice") out = slice(w, n);
  else if (op == "Transpose") out = transpose(w, n);
  else if (op == "ConstantOfShape") out = constant_of_shape(w, n);
  else if (op == "Unsqueeze") out = unsqueeze(w, n);
  else if (op == "Gather") out = gather(w, n);
  else if (op == "Cast" || op == "Identity") out = w.constant(n, 0);  // values are held as doubles
  else return false;
  out.proto = nullptr;
  w.define_constant(n.output(0), std::move(out));
  return true;
}

}  // namespace mt::layers
