// jemalloc start-up options (ARCHITECTURE.md section 6): a background purging thread and short
// dirty/muzzy decay, so memory freed after a burst returns to the OS within about a second.
// jemalloc reads this global before its first allocation. Debian builds jemalloc without a
// symbol prefix, so the name is `malloc_conf` (checked with `nm -D libjemalloc.so.2`); the
// server logs the options in effect at startup. Linked into the executables only, never into
// a library, so tests and tools keep their own allocator settings.
// The MALLOC_CONF environment variable still overrides these values.

extern "C" {
// NOLINTNEXTLINE(readability-identifier-naming): the name is jemalloc's ABI.
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000";
}
