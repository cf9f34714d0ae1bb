// SPILLWAY_ASAN is defined when the code is built with AddressSanitizer (GCC or clang): tests
// that measure the process's memory skip or adjust, since ASan's shadow and quarantine change it.

#ifndef SPILLWAY_TESTS_SUPPORT_SANITIZERS_H_
#define SPILLWAY_TESTS_SUPPORT_SANITIZERS_H_

#if defined(__SANITIZE_ADDRESS__)
#define SPILLWAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPILLWAY_ASAN 1
#endif
#endif

#endif  // SPILLWAY_TESTS_SUPPORT_SANITIZERS_H_
