// Progress output in both modes, driven by a fake clock so throttling and ETA are deterministic.
#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

#include "trainers/progress.h"

using namespace mt;

namespace {

size_t count(const std::string& s, char c) { return static_cast<size_t>(std::count(s.begin(), s.end(), c)); }

}  // namespace

TEST_CASE("durations format as m:ss or h:mm:ss", "[trainers][progress]") {
  CHECK(format_duration(0) == "0:00");
  CHECK(format_duration(65) == "1:05");
  CHECK(format_duration(3723) == "1:02:03");
  CHECK(format_duration(-1) == "?");
}

TEST_CASE("a string stream is never a terminal", "[trainers][progress]") {
  std::ostringstream out;
  CHECK_FALSE(stream_is_terminal(out));
  CHECK_FALSE(Progress(out).live());
}

TEST_CASE("live mode rewrites one line with \\r, throttled, with ETA", "[trainers][progress]") {
  double t = 100.0;
  std::ostringstream out;
  Progress p(out, ProgressOptions{ProgressMode::live, 50, 0.25, [&] { return t; }});
  REQUIRE(p.live());
  p.start_epoch(2, 10, 100);
  for (int64_t step = 1; step <= 100; ++step) {
    t += 0.1;  // 0.1 s per step of 128 images: 1280 img/s
    p.step(step, 0.5, 0.05, 128);
  }
  const std::string text = out.str();
  CHECK(count(text, '\n') == 0);
  // 10 s at 0.25 s minimum: one draw per 3 steps (0.3 s) plus the forced last step.
  CHECK(count(text, '\r') >= 30);
  CHECK(count(text, '\r') <= 40);
  CHECK_THAT(text, Catch::Contains("epoch 2/10 step 1/100 eta 0:10"));  // 99 steps left at 0.1 s
  CHECK_THAT(text, Catch::Contains("1280 img/s"));
  CHECK_THAT(text, Catch::Contains("loss 0.5000"));
  CHECK_THAT(text, Catch::Contains("lr 0.05"));
  // The last step is always drawn, whatever the throttle says.
  CHECK_THAT(text.substr(text.rfind('\r')), Catch::StartsWith("\repoch 2/10 step 100/100 eta 0:00"));

  out.str("");
  p.end_epoch(EpochSummary{2, 0.5, 0.8125, 0.6, 0.79, 10.0, 1280.0});
  const std::string end = out.str();
  CHECK(end.front() == '\r');
  CHECK(end.back() == '\n');
  CHECK_THAT(end, Catch::Contains("epoch 2/10 done in 0:10"));
  CHECK_THAT(end, Catch::Contains("train loss 0.5000 acc 81.25%"));
  CHECK_THAT(end, Catch::Contains("test loss 0.6000 acc 79.00%"));
}

TEST_CASE("plain mode prints a full line every N steps and no \\r", "[trainers][progress]") {
  double t = 0.0;
  std::ostringstream out;
  Progress p(out, ProgressOptions{ProgressMode::plain, 10, 0.25, [&] { return t; }});
  REQUIRE_FALSE(p.live());
  p.start_epoch(1, 3, 25);
  for (int64_t step = 1; step <= 25; ++step) {
    t += 1.0;
    p.step(step, 1.0 / step, 0.1, 64);
  }
  p.end_epoch(EpochSummary{1, 0.3, 0.9, std::nan(""), 0.0, 25.0, 64.0});
  const std::string text = out.str();
  CHECK(count(text, '\r') == 0);
  CHECK(count(text, '\n') == 3);  // steps 10 and 20, then the epoch line
  CHECK_THAT(text, Catch::Contains("epoch 1/3 step 10/25 eta 0:15 64 img/s loss 0.1000 lr 0.1\n"));
  CHECK_THAT(text, Catch::Contains("step 20/25 eta 0:05"));
  CHECK_THAT(text, !Catch::Contains("step 25/25"));
  CHECK_THAT(text, Catch::Contains("epoch 1/3 done in 0:25: train loss 0.3000 acc 90.00% | test - | 64 img/s\n"));
}
