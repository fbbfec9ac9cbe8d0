#include "tools/onnx_proto.h"

#include <bit>
#include <cstring>

namespace mt::tools::onnx {

namespace {

static_assert(std::endian::native == std::endian::little,
              "raw_data is little-endian; add a byte swap for big-endian hosts");

template <typename T>
::onnx::TensorProto raw_tensor(const std::string& name, const std::vector<int64_t>& dims,
                               ::onnx::TensorProto::DataType type, const std::vector<T>& values) {
  ::onnx::TensorProto t;
  for (int64_t d : dims) t.add_dims(d);
  t.set_data_type(type);
  t.set_name(name);
  std::string raw(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  t.set_raw_data(std::move(raw));
  return t;
}

Attribute attr_header(const std::string& name, Attribute::AttributeType type) {
  Attribute a;
  a.set_name(name);
  a.set_type(type);
  return a;
}

}  // namespace

::onnx::TensorProto tensor(const std::string& name, const std::vector<int64_t>& dims,
                           const std::vector<float>& values) {
  return raw_tensor(name, dims, ::onnx::TensorProto::FLOAT, values);
}

::onnx::TensorProto tensor(const std::string& name, const std::vector<int64_t>& dims,
                           const std::vector<int64_t>& values) {
  return raw_tensor(name, dims, ::onnx::TensorProto::INT64, values);
}

Attribute attr_int(const std::string& name, int64_t value) {
  Attribute a = attr_header(name, Attribute::INT);
  a.set_i(value);
  return a;
}

Attribute attr_ints(const std::string& name, const std::vector<int64_t>& values) {
  Attribute a = attr_header(name, Attribute::INTS);
  for (int64_t v : values) a.add_ints(v);
  return a;
}

Attribute attr_float(const std::string& name, float value) {
  Attribute a = attr_header(name, Attribute::FLOAT);
  a.set_f(value);
  return a;
}

Attribute attr_string(const std::string& name, const std::string& value) {
  Attribute a = attr_header(name, Attribute::STRING);
  a.set_s(value);
  return a;
}

::onnx::NodeProto node(const std::string& op_type, const std::string& name, const std::vector<std::string>& inputs,
                       const std::vector<std::string>& outputs, const std::vector<Attribute>& attributes) {
  ::onnx::NodeProto n;
  for (const auto& in : inputs) n.add_input(in);
  for (const auto& out : outputs) n.add_output(out);
  n.set_name(name);
  n.set_op_type(op_type);
  for (const auto& a : attributes) *n.add_attribute() = a;
  return n;
}

::onnx::ValueInfoProto value_info(const std::string& name, const std::vector<Dim>& dims) {
  ::onnx::ValueInfoProto v;
  v.set_name(name);
  auto* tensor_type = v.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(::onnx::TensorProto::FLOAT);
  auto* shape = tensor_type->mutable_shape();
  for (const Dim& d : dims) {
    auto* dim = shape->add_dim();
    if (d.param.empty()) dim->set_dim_value(d.value);
    else dim->set_dim_param(d.param);
  }
  return v;
}

}  // namespace mt::tools::onnx
