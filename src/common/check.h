// Invariant checks. Bugs are not errors: a violated invariant that could corrupt data aborts
// the process with file, line and the failed condition.
//
// SKEG_CHECK(cond)  always on; use where continuing could corrupt data.
// SKEG_DCHECK(cond) debug builds only (NDEBUG off); use on hot paths.
//
// Never CHECK bytes that came from disk or the network: those are kCorruption or a protocol
// error, reported as a Status.
#pragma once

namespace skeg::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition);
}  // namespace skeg::internal

#define SKEG_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (__builtin_expect(!(cond), 0)) ::skeg::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#ifdef NDEBUG
#define SKEG_DCHECK(cond) \
  do {                    \
  } while (0 && (cond))
#else
#define SKEG_DCHECK(cond) SKEG_CHECK(cond)
#endif
