#pragma once
// TensorBoard event files: TFRecord-framed tensorflow.Event protos, written without TensorFlow.
// Layout, CRCs and field numbers: notes/ecosystem.md section 1.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace mt {

// Writes events.out.tfevents.<10-digit seconds>.<host> into a run directory (created if needed).
// The first record is Event{wall_time, file_version "brain.Event:2"}, as TensorBoard expects.
// Records are buffered; flush() pushes them to the OS, as does the destructor and every add after
// flush_secs have passed since the last flush. I/O failures throw IoError naming the file.
class TfEventsWriter {
 public:
  explicit TfEventsWriter(const std::string& dir, double flush_secs = 10.0);
  ~TfEventsWriter();  // flushes; never throws (errors after the last flush() are lost)
  TfEventsWriter(const TfEventsWriter&) = delete;
  TfEventsWriter& operator=(const TfEventsWriter&) = delete;

  void add_scalar(const std::string& tag, double value, int64_t step);
  // The same with an explicit wall time (seconds since the epoch), for replay and tests.
  void add_scalar(const std::string& tag, double value, int64_t step, double wall_time);
  void flush();

  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& payload);
  void maybe_flush();

  std::string path_;
  std::FILE* file_ = nullptr;
  double flush_secs_;
  double last_flush_;
};

// Serialized tensorflow.Event payloads, exposed for tests and other writers.
std::string encode_file_version_event(double wall_time);
std::string encode_scalar_event(double wall_time, int64_t step, const std::string& tag, float value);
// payload -> [u64 length][masked crc of length][payload][masked crc of payload].
std::string frame_tfrecord(const std::string& payload);

// Reading back (tests, tools). Every record's length CRC and payload CRC is verified; a mismatch
// or a truncated record throws DataError naming the file and the record's byte offset.
struct TfScalar {
  std::string tag;
  float value = 0.0f;
};
struct TfEvent {
  double wall_time = 0.0;
  int64_t step = 0;
  std::string file_version;      // empty unless this is a file_version event
  std::vector<TfScalar> scalars;  // Summary.Value entries with simple_value
};
std::vector<TfEvent> read_tfevents(const std::string& path);
// The raw payloads only (CRC-checked), e.g. to hand one to protoc --decode_raw.
std::vector<std::string> read_tfrecords(const std::string& path);

}  // namespace mt
