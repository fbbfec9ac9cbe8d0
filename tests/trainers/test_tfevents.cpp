// TensorBoard event files: CRC32C vectors, the TFRecord header vector and the scalar-event bytes of
// notes/ecosystem.md 1.2, and write -> read round trips with both CRCs verified.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "trainers/crc32c.h"
#include "trainers/protobuf_writer.h"
#include "trainers/tfevents.h"

using namespace mt;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("mt_tfevents_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

std::string hex(const std::string& bytes) {
  std::string out;
  char buf[4];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof(buf), "%02x ", c);
    out += buf;
  }
  if (!out.empty()) out.pop_back();
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

// The scalar event of ecosystem.md 1.2: wall_time bits 0x41d954fc40400000, step 7, "loss" = 0.5f.
std::string reference_scalar_payload() {
  return encode_scalar_event(std::bit_cast<double>(uint64_t{0x41d954fc40400000}), 7, "loss", 0.5f);
}

}  // namespace

TEST_CASE("crc32c matches the Castagnoli check values", "[trainers][tfevents]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0x00000000u);
  // RFC 3720 (iSCSI) B.4 vectors: 32 zero bytes and 32 0xFF bytes.
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  CHECK(mask_crc(0) == 0xA282EAD8u);
}

TEST_CASE("protobuf writer encodes varints and fixed fields", "[trainers][tfevents]") {
  std::string v;
  append_varint(v, 300);
  CHECK(hex(v) == "ac 02");
  ProtobufWriter w;
  w.int64(2, -1);  // int64 -1: ten-byte varint
  CHECK(w.size() == 11);
  ProtobufWriter f;
  f.float32(2, 0.5f);
  CHECK(hex(f.data()) == "15 00 00 00 3f");
}

TEST_CASE("scalar event bytes and TFRecord header match the ecosystem.md vectors", "[trainers][tfevents]") {
  const std::string payload = reference_scalar_payload();
  CHECK(hex(payload) ==
        "09 00 00 40 40 fc 54 d9 41 10 07 2a 0d 0a 0b 0a 04 6c 6f 73 73 15 00 00 00 3f");
  const std::string record = frame_tfrecord(std::string(24, 'x'));
  CHECK(hex(record.substr(0, 12)) == "18 00 00 00 00 00 00 00 a3 7f 4b 22");
  CHECK(record.size() == 24 + 16);
}

TEST_CASE("event file round trip: first record is file_version, scalars come back", "[trainers][tfevents]") {
  const fs::path dir = fresh_dir("roundtrip");
  std::string path;
  {
    TfEventsWriter w(dir.string());
    path = w.path();
    for (int64_t step = 0; step < 20; ++step) w.add_scalar("train/loss", 2.0 / (1.0 + step), step);
    w.add_scalar("lr", 0.1, 1234567890123LL, 1.7e9);
  }  // destructor flushes
  const std::string name = fs::path(path).filename().string();
  REQUIRE(name.rfind("events.out.tfevents.", 0) == 0);
  CHECK(name.size() > 31);
  CHECK(std::all_of(name.begin() + 20, name.begin() + 30, ::isdigit));
  CHECK(name[30] == '.');

  const std::vector<TfEvent> events = read_tfevents(path);
  REQUIRE(events.size() == 22);
  CHECK(events[0].file_version == "brain.Event:2");
  CHECK(events[0].scalars.empty());
  CHECK(events[0].wall_time > 1.6e9);
  for (int64_t step = 0; step < 20; ++step) {
    const TfEvent& e = events[static_cast<size_t>(step) + 1];
    CHECK(e.step == step);
    REQUIRE(e.scalars.size() == 1);
    CHECK(e.scalars[0].tag == "train/loss");
    CHECK(e.scalars[0].value == static_cast<float>(2.0 / (1.0 + step)));
    CHECK(e.wall_time >= events[0].wall_time);
  }
  CHECK(events[21].step == 1234567890123LL);
  CHECK(events[21].wall_time == 1.7e9);
  CHECK(events[21].scalars[0].value == 0.1f);
  fs::remove_all(dir);
}

TEST_CASE("flush makes records visible before the writer closes", "[trainers][tfevents]") {
  const fs::path dir = fresh_dir("flush");
  TfEventsWriter w(dir.string(), /*flush_secs=*/1e9);
  CHECK(read_tfevents(w.path()).size() == 1);  // file_version is flushed at once
  w.add_scalar("a", 1.0, 1);
  w.flush();
  CHECK(read_tfevents(w.path()).size() == 2);
  TfEventsWriter second(dir.string());  // same second: must not clobber the first file
  CHECK(second.path() != w.path());
  fs::remove_all(dir);
}

TEST_CASE("the reader detects corrupted and truncated records", "[trainers][tfevents]") {
  const fs::path dir = fresh_dir("corrupt");
  std::string path;
  {
    TfEventsWriter w(dir.string());
    path = w.path();
    w.add_scalar("loss", 0.25, 3);
  }
  const std::string good = slurp(path);
  REQUIRE(read_tfevents(path).size() == 2);
  // Flip one bit in every byte position in turn: each must be caught by a CRC (or a framing check).
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    spit(path, bad);
    CHECK_THROWS_AS(read_tfrecords(path), DataError);
  }
  spit(path, good.substr(0, good.size() - 2));
  CHECK_THROWS_WITH(read_tfevents(path), Catch::Contains("truncated record"));
  std::string bad_payload = good;
  bad_payload[good.size() - 8] ^= 1;  // inside the last payload
  spit(path, bad_payload);
  CHECK_THROWS_WITH(read_tfevents(path), Catch::Contains("payload CRC mismatch") && Catch::Contains(path));
  fs::remove_all(dir);
}

TEST_CASE("I/O errors name the file", "[trainers][tfevents]") {
  const fs::path dir = fresh_dir("ioerr");
  fs::create_directories(dir);
  spit(dir / "plain_file", "x");
  const std::string bad_dir = (dir / "plain_file" / "run").string();
  CHECK_THROWS_AS(TfEventsWriter(bad_dir), IoError);
  CHECK_THROWS_WITH(TfEventsWriter(bad_dir), Catch::Contains("plain_file"));
  CHECK_THROWS_WITH(read_tfevents((dir / "missing").string()), Catch::Contains("missing"));
  fs::remove_all(dir);
}

TEST_CASE("protoc --decode_raw reads our scalar event", "[trainers][tfevents]") {
  if (std::system("command -v protoc > /dev/null 2>&1") != 0) {
    WARN("protoc not installed (Debian protobuf-compiler): skipping the --decode_raw cross-check");
    return;
  }
  const fs::path dir = fresh_dir("protoc");
  fs::create_directories(dir);
  spit(dir / "payload.bin", reference_scalar_payload());
  const std::string cmd = "protoc --decode_raw < " + (dir / "payload.bin").string() + " > " +
                          (dir / "decoded.txt").string() + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string decoded = slurp(dir / "decoded.txt");
  CHECK_THAT(decoded, Catch::Contains("1: 0x41d954fc40400000"));
  CHECK_THAT(decoded, Catch::Contains("2: 7"));
  CHECK_THAT(decoded, Catch::Contains("1: \"loss\""));
  CHECK_THAT(decoded, Catch::Contains("2: 0x3f000000"));
  fs::remove_all(dir);
}
