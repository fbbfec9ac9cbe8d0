// Protobuf wire format: tag = (field << 3) | wire type; 0 varint, 1 fixed64, 2 length-delimited,
// 5 fixed32; all fixed-width values little-endian.
#include "trainers/protobuf_writer.h"

#include <bit>

namespace mt {

namespace {
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;
}  // namespace

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void append_le(std::string& out, uint64_t value, int num_bytes) {
  for (int i = 0; i < num_bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void ProtobufWriter::tag(uint32_t field, uint32_t wire_type) {
  append_varint(buf_, (static_cast<uint64_t>(field) << 3) | wire_type);
}

void ProtobufWriter::varint(uint32_t field, uint64_t value) {
  tag(field, kVarint);
  append_varint(buf_, value);
}

void ProtobufWriter::fixed32(uint32_t field, uint32_t bits) {
  tag(field, kFixed32);
  append_le(buf_, bits, 4);
}

void ProtobufWriter::fixed64(uint32_t field, uint64_t bits) {
  tag(field, kFixed64);
  append_le(buf_, bits, 8);
}

void ProtobufWriter::float32(uint32_t field, float value) { fixed32(field, std::bit_cast<uint32_t>(value)); }

void ProtobufWriter::float64(uint32_t field, double value) { fixed64(field, std::bit_cast<uint64_t>(value)); }

void ProtobufWriter::bytes(uint32_t field, std::string_view data) {
  tag(field, kLengthDelimited);
  append_varint(buf_, data.size());
  buf_.append(data);
}

}  // namespace mt
