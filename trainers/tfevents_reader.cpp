// read_tfevents: the checking reader behind the round-trip tests. It verifies both CRCs of each
// TFRecord and decodes the few Event fields we write; unknown fields are skipped, as protobuf does.
#include <bit>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "trainers/crc32c.h"
#include "trainers/tfevents.h"

namespace mt {

namespace {

uint64_t load_le(const char* p, int num_bytes) {
  uint64_t v = 0;
  for (int i = 0; i < num_bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// A cursor over one serialized message; every read is bounds-checked.
class ProtoCursor {
 public:
  ProtoCursor(std::string_view data, const std::string& where) : data_(data), where_(where) {}
  bool done() const { return pos_ >= data_.size(); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      need(1);
      const auto byte = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return v;
    }
    MT_FAIL(DataError, "[tfevents] varint longer than 10 bytes in ", where_);
  }
  uint64_t fixed(int num_bytes) {
    need(num_bytes);
    const uint64_t v = load_le(data_.data() + pos_, num_bytes);
    pos_ += num_bytes;
    return v;
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    need(n);
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1: fixed(8); break;
      case 2: bytes(); break;
      case 5: fixed(4); break;
      default: MT_FAIL(DataError, "[tfevents] unsupported wire type ", wire_type, " in ", where_);
    }
  }

 private:
  void need(uint64_t n) const {
    MT_CHECK(n <= data_.size() - pos_, DataError, "[tfevents] truncated protobuf field in ", where_);
  }
  std::string_view data_;
  size_t pos_ = 0;
  const std::string& where_;
};

TfScalar decode_value(std::string_view data, const std::string& where) {
  TfScalar s;
  ProtoCursor in(data, where);
  while (!in.done()) {
    const uint64_t key = in.varint();
    if (key == (1 << 3 | 2)) s.tag = std::string(in.bytes());
    else if (key == (2 << 3 | 5)) s.value = std::bit_cast<float>(static_cast<uint32_t>(in.fixed(4)));
    else in.skip(key & 7);
  }
  return s;
}

void decode_summary(std::string_view data, const std::string& where, TfEvent& event) {
  ProtoCursor in(data, where);
  while (!in.done()) {
    const uint64_t key = in.varint();
    if (key == (1 << 3 | 2)) event.scalars.push_back(decode_value(in.bytes(), where));
    else in.skip(key & 7);
  }
}

TfEvent decode_event(std::string_view data, const std::string& where) {
  TfEvent event;
  ProtoCursor in(data, where);
  while (!in.done()) {
    const uint64_t key = in.varint();
    if (key == (1 << 3 | 1)) event.wall_time = std::bit_cast<double>(in.fixed(8));
    else if (key == (2 << 3 | 0)) event.step = static_cast<int64_t>(in.varint());
    else if (key == (3 << 3 | 2)) event.file_version = std::string(in.bytes());
    else if (key == (5 << 3 | 2)) decode_summary(in.bytes(), where, event);
    else in.skip(key & 7);
  }
  return event;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MT_CHECK(in, IoError, "[tfevents] cannot open '", path, "'");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MT_CHECK(!in.bad(), IoError, "[tfevents] read of '", path, "' failed");
  return data;
}

}  // namespace

std::vector<std::string> read_tfrecords(const std::string& path) {
  const std::string data = slurp(path);
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < data.size()) {
    MT_CHECK(data.size() - pos >= 12, DataError, "[tfevents] '", path, "': truncated record header at byte ", pos);
    const std::string_view header(data.data() + pos, 8);
    const uint64_t length = load_le(data.data() + pos, 8);
    MT_CHECK(load_le(data.data() + pos + 8, 4) == masked_crc32c(header), DataError, "[tfevents] '", path,
             "': length CRC mismatch at byte ", pos);
    MT_CHECK(length <= data.size() - pos - 12 && data.size() - pos - 12 - length >= 4, DataError,
             "[tfevents] '", path, "': truncated record at byte ", pos, " (length ", length, ")");
    std::string payload = data.substr(pos + 12, length);
    MT_CHECK(load_le(data.data() + pos + 12 + length, 4) == masked_crc32c(payload), DataError, "[tfevents] '",
             path, "': payload CRC mismatch in record at byte ", pos);
    records.push_back(std::move(payload));
    pos += 16 + length;
  }
  return records;
}

std::vector<TfEvent> read_tfevents(const std::string& path) {
  std::vector<TfEvent> events;
  for (const std::string& payload : read_tfrecords(path)) {
    events.push_back(decode_event(payload, path));
  }
  return events;
}

}  // namespace mt
