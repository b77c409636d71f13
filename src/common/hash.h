// Key hashing. One function, XXH3-64 (libxxhash), for every in-RAM hash table over keys.
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace skeg {

// 64-bit XXH3 of `key` with seed 0. Stable across runs and machines (it is persisted in the
// key-directory checkpoint).
uint64_t HashKey(std::string_view key);
// XXH3-64 with a seed: independent hash functions for independent key spaces.
uint64_t HashKey(std::string_view key, uint64_t seed);

}  // namespace skeg
