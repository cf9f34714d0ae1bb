// FUZZ_CHECK(cond[, detail]): an invariant of a fuzz target. A violation prints what broke and
// aborts, so libFuzzer keeps the input.

#ifndef SPILLWAY_TESTS_FUZZ_FUZZ_CHECK_H_
#define SPILLWAY_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace spillway::fuzz {

[[noreturn]] inline void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant broken: %s [%.*s]\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

}  // namespace spillway::fuzz

#define FUZZ_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) ::spillway::fuzz::Fail(#cond __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

#endif  // SPILLWAY_TESTS_FUZZ_FUZZ_CHECK_H_
