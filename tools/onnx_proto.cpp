// Field numbers: onnx.proto (proto2, package onnx) as shipped by libonnx-dev 1.12. Repeated
// scalars are written unpacked, proto2's default, which every parser accepts.
#include "tools/onnx_proto.h"

#include <bit>
#include <cstring>

namespace mt::tools::onnx {

namespace {
// TensorProto
constexpr uint32_t kTensorDims = 1, kTensorDataType = 2, kTensorName = 8, kTensorRawData = 9;
// AttributeProto and its AttributeType values
constexpr uint32_t kAttrName = 1, kAttrF = 2, kAttrI = 3, kAttrS = 4, kAttrInts = 8, kAttrType = 20;
constexpr uint64_t kTypeFloat = 1, kTypeInt = 2, kTypeString = 3, kTypeInts = 7;
// NodeProto
constexpr uint32_t kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4, kNodeAttribute = 5;
// ValueInfoProto -> TypeProto -> TypeProto.Tensor -> TensorShapeProto -> Dimension
constexpr uint32_t kValueName = 1, kValueType = 2, kTypeTensor = 1, kTensorElemType = 1,
                   kTensorShape = 2, kShapeDim = 1, kDimValue = 1, kDimParam = 2;

static_assert(std::endian::native == std::endian::little,
              "raw_data is little-endian; add a byte swap for big-endian hosts");

template <typename T>
ProtobufWriter raw_tensor(const std::string& name, const std::vector<int64_t>& dims, ElemType type,
                          const std::vector<T>& values) {
  ProtobufWriter t;
  for (int64_t d : dims) t.int64(kTensorDims, d);
  t.varint(kTensorDataType, static_cast<uint64_t>(type));
  t.bytes(kTensorName, name);
  std::string raw(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  t.bytes(kTensorRawData, raw);
  return t;
}

ProtobufWriter attr_header(const std::string& name, uint64_t type) {
  ProtobufWriter a;
  a.bytes(kAttrName, name);
  a.varint(kAttrType, type);
  return a;
}
}  // namespace

ProtobufWriter tensor(const std::string& name, const std::vector<int64_t>& dims,
                      const std::vector<float>& values) {
  return raw_tensor(name, dims, ElemType::f32, values);
}

ProtobufWriter tensor(const std::string& name, const std::vector<int64_t>& dims,
                      const std::vector<int64_t>& values) {
  return raw_tensor(name, dims, ElemType::i64, values);
}

ProtobufWriter attr_int(const std::string& name, int64_t value) {
  ProtobufWriter a = attr_header(name, kTypeInt);
  a.int64(kAttrI, value);
  return a;
}

ProtobufWriter attr_ints(const std::string& name, const std::vector<int64_t>& values) {
  ProtobufWriter a = attr_header(name, kTypeInts);
  for (int64_t v : values) a.int64(kAttrInts, v);
  return a;
}

ProtobufWriter attr_float(const std::string& name, float value) {
  ProtobufWriter a = attr_header(name, kTypeFloat);
  a.float32(kAttrF, value);
  return a;
}

ProtobufWriter attr_string(const std::string& name, const std::string& value) {
  ProtobufWriter a = attr_header(name, kTypeString);
  a.bytes(kAttrS, value);
  return a;
}

ProtobufWriter node(const std::string& op_type, const std::string& name,
                    const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                    const std::vector<ProtobufWriter>& attributes) {
  ProtobufWriter n;
  for (const auto& in : inputs) n.bytes(kNodeInput, in);
  for (const auto& out : outputs) n.bytes(kNodeOutput, out);
  n.bytes(kNodeName, name);
  n.bytes(kNodeOpType, op_type);
  for (const auto& a : attributes) n.message(kNodeAttribute, a);
  return n;
}

ProtobufWriter value_info(const std::string& name, ElemType type, const std::vector<Dim>& dims) {
  ProtobufWriter shape;
  for (const Dim& d : dims) {
    ProtobufWriter dim;
    if (d.param.empty()) dim.int64(kDimValue, d.value);
    else dim.bytes(kDimParam, d.param);
    shape.message(kShapeDim, dim);
  }
  ProtobufWriter tensor_type;
  tensor_type.varint(kTensorElemType, static_cast<uint64_t>(type));
  tensor_type.message(kTensorShape, shape);
  ProtobufWriter type_proto;
  type_proto.message(kTypeTensor, tensor_type);
  ProtobufWriter v;
  v.bytes(kValueName, name);
  v.message(kValueType, type_proto);
  return v;
}

ProtobufWriter opset(int64_t version) {
  ProtobufWriter o;
  o.bytes(1, "");  // domain: "" is ai.onnx
  o.int64(2, version);
  return o;
}

ProtobufWriter string_entry(const std::string& key, const std::string& value) {
  ProtobufWriter e;
  e.bytes(1, key);
  e.bytes(2, value);
  return e;
}

}  // namespace mt::tools::onnx
