// AlignedBuffer: an owned byte buffer whose start address is aligned, for O_DIRECT I/O.
//
// O_DIRECT requires the buffer address, file offset and length to be multiples of the logical
// block size (kDirectIoAlignment). AlignedBuffer provides the buffer; RoundUpToAlignment and
// RoundDownToAlignment widen an arbitrary byte range to aligned offsets and lengths.
//
// Ownership: the buffer owns its memory; it is move-only. Freshly allocated memory is zeroed,
// so padding written to disk never carries stale heap contents.
// Thread-safety: none (a value type); share only with external synchronisation.
// Allocation failure is fatal (SKEG_CHECK), like every allocation in skeg.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/check.h"
#include "platform/env.h"

namespace skeg::platform {

// True when `a` is a non-zero power of two.
constexpr bool IsPowerOfTwo(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

// Smallest multiple of `a` that is >= `n`. REQUIRES: `a` is a power of two and the result
// does not overflow.
constexpr uint64_t RoundUpToAlignment(uint64_t n, uint64_t a) {
  SKEG_DCHECK(IsPowerOfTwo(a));
  return (n + a - 1) & ~(a - 1);
}

// Largest multiple of `a` that is <= `n`. REQUIRES: `a` is a power of two.
constexpr uint64_t RoundDownToAlignment(uint64_t n, uint64_t a) {
  SKEG_DCHECK(IsPowerOfTwo(a));
  return n & ~(a - 1);
}

// True when `n` is a multiple of `a`. REQUIRES: `a` is a power of two.
constexpr bool IsAligned(uint64_t n, uint64_t a) { return (n & (a - 1)) == 0; }

// True when `p` is aligned to `a`. REQUIRES: `a` is a power of two.
inline bool IsAligned(const void* p, uint64_t a) {
  return IsAligned(reinterpret_cast<uintptr_t>(p), a);
}

class AlignedBuffer {
 public:
  // An empty buffer: data() == nullptr, size() == 0.
  AlignedBuffer() = default;
  // `size` zeroed bytes starting at a multiple of `alignment`.
  // REQUIRES: `alignment` is a power of two (at least sizeof(void*) is used internally).
  explicit AlignedBuffer(size_t size, size_t alignment = kDirectIoAlignment);
  ~AlignedBuffer();

  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Changes the size to `size` bytes. The contents are NOT preserved: callers must treat the
  // buffer as uninitialised afterwards (in practice the memory is reused without zeroing when
  // it fits in capacity(), and freshly allocated and zeroed otherwise). data() may change.
  void Resize(size_t size);

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  // Bytes allocated (>= size()); Resize within capacity does not allocate.
  size_t capacity() const { return capacity_; }
  size_t alignment() const { return alignment_; }
  std::span<char> span() { return {data_, size_}; }
  std::span<const char> span() const { return {data_, size_}; }

 private:
  void Free();

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  size_t alignment_ = kDirectIoAlignment;
};

// A large array read at random (an index build's rows and codes): `bytes` rounded up to 2 MiB,
// 2 MiB aligned, and advised MADV_HUGEPAGE so that transparent huge pages back it (fewer TLB
// misses; a hint: with THP off or "never" the pages stay 4 KiB). Release with
// FreeHugePageArray. Allocation failure is fatal (SKEG_CHECK).
void* AllocateHugePageArray(size_t bytes);
void FreeHugePageArray(void* p);

}  // namespace skeg::platform
