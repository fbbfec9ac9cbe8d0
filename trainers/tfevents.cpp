// TfEventsWriter: protobuf hand-encoding + TFRecord framing + a stdio file.
#include "trainers/tfevents.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "trainers/crc32c.h"
#include "trainers/protobuf_writer.h"

namespace mt {

namespace {

// tensorflow.Event / Summary / Summary.Value field numbers (ecosystem.md 1.3).
constexpr uint32_t kEventWallTime = 1;
constexpr uint32_t kEventStep = 2;
constexpr uint32_t kEventFileVersion = 3;
constexpr uint32_t kEventSummary = 5;
constexpr uint32_t kSummaryValue = 1;
constexpr uint32_t kValueTag = 1;
constexpr uint32_t kValueSimpleValue = 2;

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// Exclusive create, so two writers started in the same second never share a file: the second
// gets a ".1" suffix (TensorBoard reads any name containing "tfevents").
std::FILE* create_event_file(const std::string& dir, std::string& path_out) {
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "%010lld", static_cast<long long>(now_seconds()));
  const std::string base = dir + "/events.out.tfevents." + stamp + "." + host_name();
  for (int attempt = 0; attempt < 1000; ++attempt) {
    path_out = attempt == 0 ? base : base + "." + std::to_string(attempt);
    std::FILE* f = std::fopen(path_out.c_str(), "wbx");
    if (f) return f;
    MT_CHECK(errno == EEXIST, IoError, "[tfevents] cannot create '", path_out, "': ", std::strerror(errno));
  }
  MT_FAIL(IoError, "[tfevents] too many event files named '", base, "*'");
}

}  // namespace

std::string encode_file_version_event(double wall_time) {
  ProtobufWriter event;
  event.float64(kEventWallTime, wall_time);
  event.bytes(kEventFileVersion, "brain.Event:2");
  return event.data();
}

std::string encode_scalar_event(double wall_time, int64_t step, const std::string& tag, float value) {
  ProtobufWriter val;
  val.bytes(kValueTag, tag);
  val.float32(kValueSimpleValue, value);
  ProtobufWriter summary;
  summary.message(kSummaryValue, val);
  ProtobufWriter event;
  event.float64(kEventWallTime, wall_time);
  if (step != 0) event.int64(kEventStep, step);  // proto3 omits defaults
  event.message(kEventSummary, summary);
  return event.data();
}

std::string frame_tfrecord(const std::string& payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  append_le(out, payload.size(), 8);
  append_le(out, masked_crc32c(out), 4);
  out += payload;
  append_le(out, masked_crc32c(payload), 4);
  return out;
}

TfEventsWriter::TfEventsWriter(const std::string& dir, double flush_secs)
    : flush_secs_(flush_secs), last_flush_(now_seconds()) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  MT_CHECK(!ec, IoError, "[tfevents] cannot create directory '", dir, "': ", ec.message());
  file_ = create_event_file(dir, path_);
  write_record(encode_file_version_event(now_seconds()));
  // Flushed at once so TensorBoard sees a valid (if empty) run as soon as training starts.
  flush();
}

TfEventsWriter::~TfEventsWriter() {
  if (!file_) return;
  std::fclose(file_);  // flushes; a failure here has nowhere to go
}

void TfEventsWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  add_scalar(tag, value, step, now_seconds());
}

void TfEventsWriter::add_scalar(const std::string& tag, double value, int64_t step, double wall_time) {
  write_record(encode_scalar_event(wall_time, step, tag, static_cast<float>(value)));
  maybe_flush();
}

void TfEventsWriter::write_record(const std::string& payload) {
  const std::string record = frame_tfrecord(payload);
  const size_t written = std::fwrite(record.data(), 1, record.size(), file_);
  MT_CHECK(written == record.size(), IoError, "[tfevents] write to '", path_, "' failed: ", std::strerror(errno));
}

void TfEventsWriter::flush() {
  MT_CHECK(std::fflush(file_) == 0, IoError, "[tfevents] flush of '", path_, "' failed: ", std::strerror(errno));
  last_flush_ = now_seconds();
}

void TfEventsWriter::maybe_flush() {
  if (now_seconds() - last_flush_ >= flush_secs_) flush();
}

}  // namespace mt
