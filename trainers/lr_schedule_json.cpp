// lr_schedule_from_json: the config-file face of LrSchedule.
#include <cmath>
#include <map>
#include <set>

#include "core/edit_distance.h"
#include "core/error.h"
#include "core/json_read.h"
#include "trainers/lr_schedule.h"

namespace mt {

namespace {

using Json = nlohmann::json;

const std::map<std::string, LrScheduleKind>& kinds() {
  static const std::map<std::string, LrScheduleKind> k = {
      {"constant", LrScheduleKind::constant},
      {"step", LrScheduleKind::step},
      {"multi_step", LrScheduleKind::multi_step},
      {"cosine", LrScheduleKind::cosine}};
  return k;
}

std::set<std::string> keys_for(LrScheduleKind kind) {
  std::set<std::string> keys = {"kind", "unit", "warmup", "warmup_start_factor"};
  switch (kind) {
    case LrScheduleKind::constant: break;
    case LrScheduleKind::step: keys.insert({"step_size", "gamma"}); break;
    case LrScheduleKind::multi_step: keys.insert({"milestones", "gamma"}); break;
    case LrScheduleKind::cosine: keys.insert({"t_max", "eta_min"}); break;
  }
  return keys;
}

// Rejects keys the kind does not use, with a "did you mean" for near misses.
void check_keys(const Json& j, LrScheduleKind kind, std::string_view path) {
  const std::set<std::string> allowed = keys_for(kind);
  std::set<std::string> every;
  for (const auto& [name, k] : kinds()) every.merge(keys_for(k));
  for (const auto& [key, value] : j.items()) {
    if (allowed.count(key)) continue;
    MT_CHECK(!every.count(key), ConfigError, path, ".", key, ": not used by kind '",
             lr_schedule_kind_name(kind), "' (it takes: ", Json(allowed).dump(), ")");
    std::string best;
    for (const std::string& k : allowed)
      if (edit_distance(key, k) <= 2 && (best.empty() || edit_distance(key, k) < edit_distance(key, best)))
        best = k;
    MT_FAIL(ConfigError, path, ".", key, ": unknown key",
            best.empty() ? "" : " (did you mean '" + best + "'?)", "; hint: kind '",
            lr_schedule_kind_name(kind), "' takes ", Json(allowed).dump());
  }
}

double number(const Json& j, const std::string& key, std::string_view path, double fallback) {
  if (!j.contains(key)) return fallback;
  const Json& v = j[key];
  MT_CHECK(v.is_number(), ConfigError, path, ".", key, ": expected a number, found ", v.type_name(),
           " ", describe_json(v));
  return v.get<double>();
}

// A duration in `unit`s -> optimizer steps.
int64_t duration(const Json& v, const std::string& key, std::string_view path, bool epochs,
                 int64_t steps_per_epoch) {
  if (!epochs) {
    MT_CHECK(v.is_number_integer(), ConfigError, path, ".", key,
             ": expected a whole number of steps, found ", v.type_name(), " ", describe_json(v));
    MT_CHECK(v.get<int64_t>() >= 0, ConfigError, path, ".", key, ": ", describe_json(v),
             " steps must be >= 0");
    return v.get<int64_t>();
  }
  MT_CHECK(v.is_number(), ConfigError, path, ".", key, ": expected a number of epochs, found ",
           v.type_name(), " ", describe_json(v));
  MT_CHECK(v.get<double>() >= 0, ConfigError, path, ".", key, ": ", describe_json(v),
           " epochs must be >= 0");
  const double steps = v.get<double>() * static_cast<double>(steps_per_epoch);
  MT_CHECK(std::isfinite(steps) && std::abs(steps) < 9e18, ConfigError, path, ".", key, ": ",
           describe_json(v), " epochs is out of range");
  return std::llround(steps);
}

int64_t duration_of(const Json& j, const std::string& key, std::string_view path, bool epochs,
                    int64_t steps_per_epoch, int64_t fallback) {
  return j.contains(key) ? duration(j[key], key, path, epochs, steps_per_epoch) : fallback;
}

LrScheduleKind parse_kind(const Json& j, std::string_view path) {
  MT_CHECK(j.contains("kind"), ConfigError, path, ".kind: missing; hint: one of constant, step, ",
           "multi_step, cosine");
  const Json& v = j["kind"];
  const auto it = v.is_string() ? kinds().find(v.get<std::string>()) : kinds().end();
  MT_CHECK(it != kinds().end(), ConfigError, path, ".kind: expected one of constant, step, ",
           "multi_step, cosine, found ", describe_json(v));
  return it->second;
}

bool parse_unit(const Json& j, std::string_view path) {
  if (!j.contains("unit")) return false;
  const Json& v = j["unit"];
  MT_CHECK(v == "steps" || v == "epochs", ConfigError, path,
           ".unit: expected \"steps\" or \"epochs\", found ", describe_json(v));
  return v == "epochs";
}

}  // namespace

LrSchedule lr_schedule_from_json(const Json& j, double base_lr, int64_t steps_per_epoch,
                                 std::string_view path) {
  MT_CHECK(j.is_object(), ConfigError, path, ": expected an object, found ", j.type_name());
  LrScheduleConfig c;
  c.kind = parse_kind(j, path);
  check_keys(j, c.kind, path);
  const char* required = c.kind == LrScheduleKind::step         ? "step_size"
                         : c.kind == LrScheduleKind::multi_step ? "milestones"
                         : c.kind == LrScheduleKind::cosine     ? "t_max"
                                                                : nullptr;
  MT_CHECK(!required || j.contains(required), ConfigError, path, ".", required ? required : "",
           ": missing; kind '", lr_schedule_kind_name(c.kind), "' needs it");
  const bool epochs = parse_unit(j, path);
  MT_CHECK(!epochs || steps_per_epoch >= 1, ConfigError, path,
           ".unit: \"epochs\" needs the steps per epoch, got ", steps_per_epoch);
  c.base_lr = base_lr;
  c.gamma = number(j, "gamma", path, c.gamma);
  c.eta_min = number(j, "eta_min", path, c.eta_min);
  c.warmup_start_factor = number(j, "warmup_start_factor", path, c.warmup_start_factor);
  c.step_size = duration_of(j, "step_size", path, epochs, steps_per_epoch, 0);
  c.t_max = duration_of(j, "t_max", path, epochs, steps_per_epoch, 0);
  c.warmup_steps = duration_of(j, "warmup", path, epochs, steps_per_epoch, 0);
  if (j.contains("milestones")) {
    const Json& m = j["milestones"];
    MT_CHECK(m.is_array(), ConfigError, path, ".milestones: expected an array, found ",
             m.type_name());
    for (const Json& v : m) c.milestones.push_back(duration(v, "milestones[]", path, epochs, steps_per_epoch));
  }
  try {
    return LrSchedule(std::move(c));
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(path) + ": " + e.what());
  }
}

}  // namespace mt
