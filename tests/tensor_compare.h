#pragma once
// Exact comparisons of tensors and of named tensor sets (state_dicts), whatever their dtype or
// layout, for tests that check a copy is a copy.
#include <map>
#include <stdexcept>
#include <string>

#include "core/safetensors.h"
#include "core/tensor.h"

namespace mt::testing {

// The tensor called `name` in a named set (a state_dict, a safetensors file's tensors); a missing
// name throws, which fails the test that asked.
inline const Tensor& named(const NamedTensors& tensors, const std::string& name) {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw std::out_of_range("no tensor '" + name + "' in the set");
}

// Exactly equal (max_rel_diff of core/tensor.h reads every dtype and layout).
inline bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && (a.dtype() == DType::i64) == (b.dtype() == DType::i64) && max_rel_diff(a, b) == 0;
}

// The same names, each with the same shape and values.
inline bool same_named_tensors(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : b) by_name[name] = &t;
  for (const auto& [name, t] : a) {
    auto it = by_name.find(name);
    if (it == by_name.end() || !same_values(t, *it->second)) return false;
  }
  return true;
}

// Two safetensors files hold the same state_dict (metadata aside).
inline bool same_state_dict(const std::string& a, const std::string& b) {
  return same_named_tensors(read_safetensors(a).tensors, read_safetensors(b).tensors);
}

}  // namespace mt::testing
