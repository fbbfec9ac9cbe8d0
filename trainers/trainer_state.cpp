#include "trainers/trainer_state.h"

#include <sstream>

#include "core/error.h"
#include "core/json_read.h"

namespace mt {

namespace {

using Json = nlohmann::json;

const Json& require(const Json& j, const char* key, const std::string& source) {
  auto it = j.find(key);
  MT_CHECK(it != j.end(), IoError, "[trainer_state] ", source, ": missing key '", key, "'");
  return *it;
}

int64_t require_int(const Json& j, const char* key, const std::string& source) {
  const Json& v = require(j, key, source);
  MT_CHECK(v.is_number_integer(), IoError, "[trainer_state] ", source, ": key '", key,
           "' must be an integer, found ", describe_json(v));
  return v.get<int64_t>();
}

}  // namespace

Json to_json(const TrainerState& s) {
  Json j = Json::object();
  j["step"] = s.step;
  j["epoch"] = s.epoch;
  j["step_in_epoch"] = s.step_in_epoch;
  // NB: a u64 seed above 2^63 would not survive readers that parse JSON numbers as doubles or
  // signed integers; a decimal string does.
  j["seed"] = std::to_string(s.seed);
  j["rng"] = s.rng;
  j["best_accuracy"] = s.best_accuracy;
  j["extra"] = s.extra;
  return j;
}

TrainerState trainer_state_from_json(const Json& j, const std::string& source) {
  MT_CHECK(j.is_object(), IoError, "[trainer_state] ", source, ": expected a JSON object, found ",
           j.type_name());
  TrainerState s;
  s.step = require_int(j, "step", source);
  s.epoch = require_int(j, "epoch", source);
  s.step_in_epoch = require_int(j, "step_in_epoch", source);
  MT_CHECK(s.step >= 0 && s.epoch >= 0 && s.step_in_epoch >= 0, IoError, "[trainer_state] ",
           source, ": step, epoch and step_in_epoch must be >= 0, found ", s.step, ", ", s.epoch,
           ", ", s.step_in_epoch);
  const Json& seed = require(j, "seed", source);
  MT_CHECK(seed.is_string(), IoError, "[trainer_state] ", source,
           ": key 'seed' must be a decimal string, found ", describe_json(seed));
  try {
    size_t used = 0;
    const std::string text = seed.get<std::string>();
    s.seed = std::stoull(text, &used);
    MT_CHECK(used == text.size() && !text.empty() && text[0] != '-', IoError, "bad seed");
  } catch (const std::exception&) {
    MT_FAIL(IoError, "[trainer_state] ", source, ": key 'seed' is not an unsigned integer: ",
            describe_json(seed));
  }
  const Json& rng = require(j, "rng", source);
  MT_CHECK(rng.is_object(), IoError, "[trainer_state] ", source,
           ": key 'rng' must be an object of strings, found ", describe_json(rng));
  for (const auto& [name, state] : rng.items()) {
    MT_CHECK(state.is_string(), IoError, "[trainer_state] ", source, ": rng '", name,
             "' must be a string, found ", state.type_name());
    s.rng[name] = state.get<std::string>();
  }
  const Json& best = require(j, "best_accuracy", source);
  MT_CHECK(best.is_number(), IoError, "[trainer_state] ", source,
           ": key 'best_accuracy' must be a number, found ", describe_json(best));
  s.best_accuracy = best.get<double>();
  s.extra = require(j, "extra", source);
  return s;
}

std::string rng_state(const std::mt19937_64& engine) {
  std::ostringstream out;
  out << engine;
  return out.str();
}

void restore_rng(std::mt19937_64& engine, const std::string& state, const std::string& name) {
  std::istringstream in(state);
  std::mt19937_64 parsed;
  in >> parsed;
  bool ok = !in.fail();
  // Nothing may follow the state. (NB: the last number's read usually sets eofbit, and `>> ws`
  // on a stream at eof sets failbit, so only skip white space when something is left.)
  if (ok && !in.eof()) ok = (in >> std::ws).eof();
  MT_CHECK(ok, IoError, "[trainer_state] rng '", name,
           "': not a std::mt19937_64 state (", state.size(), " characters)");
  engine = parsed;
}

}  // namespace mt
