#pragma once
// The edit distance behind every "did you mean" hint (config keys, YAML graph fields and ops,
// schedule keys): Levenshtein, with a swap of neighbours counted as one edit ("esp" -> "eps"),
// as typing goes wrong.
#include <cstddef>
#include <string>

namespace mt {

size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace mt
