#pragma once
// A tiny protobuf encoder: just the wire types event files (and later ONNX export) need.
// Hand-encoding ~8 fields beats a protoc build step (notes/ecosystem.md section 1.4).
#include <cstdint>
#include <string>
#include <string_view>

namespace mt {

// Appends fields to a growing byte string. Field numbers are the .proto numbers; the caller is
// responsible for proto3's convention of omitting default values where it matters.
class ProtobufWriter {
 public:
  void varint(uint32_t field, uint64_t value);
  // int64 is encoded as its two's-complement uint64 (not zigzag), as protobuf does for int64.
  void int64(uint32_t field, int64_t value) { varint(field, static_cast<uint64_t>(value)); }
  void fixed32(uint32_t field, uint32_t bits);
  void fixed64(uint32_t field, uint64_t bits);
  void float32(uint32_t field, float value);
  void float64(uint32_t field, double value);
  void bytes(uint32_t field, std::string_view data);  // strings and embedded messages
  void message(uint32_t field, const ProtobufWriter& sub) { bytes(field, sub.data()); }

  const std::string& data() const { return buf_; }
  size_t size() const { return buf_.size(); }

 private:
  void tag(uint32_t field, uint32_t wire_type);
  std::string buf_;
};

// Raw helpers, shared with the reader side.
void append_varint(std::string& out, uint64_t value);
void append_le(std::string& out, uint64_t value, int num_bytes);

}  // namespace mt
