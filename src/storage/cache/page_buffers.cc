#include "storage/cache/page_buffers.h"

#include <cstring>
#include <new>

#include <sys/mman.h>

// Under AddressSanitizer each buffer is its own allocation (see the header).
#if defined(__SANITIZE_ADDRESS__)
#define SKEG_PAGE_BUFFERS_SEPARATE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKEG_PAGE_BUFFERS_SEPARATE 1
#endif
#endif

namespace skeg::storage {

PageBuffers::~PageBuffers() {
  for (char* chunk : chunks_) munmap(chunk, kChunkBytes);
}

PageBuffers& PageBuffers::Global() {
  static auto* pool = new PageBuffers();  // never destroyed: pages may be freed during exit
  return *pool;
}

char* PageBuffers::Allocate() {
#ifdef SKEG_PAGE_BUFFERS_SEPARATE
  char* buffer = static_cast<char*>(::operator new (kBufferBytes, std::align_val_t{kBufferBytes}));
  std::lock_guard lock(mu_);
  ++live_;
  return buffer;
#else
  std::lock_guard lock(mu_);
  char* buffer = nullptr;
  if (free_ != nullptr) {
    buffer = free_;
    std::memcpy(&free_, buffer, sizeof(free_));
  } else {
    if (chunks_.empty() || carved_ == kChunkBytes / kBufferBytes) MapChunkLocked();
    buffer = chunks_.back() + kBufferBytes * carved_++;
  }
  --free_count_;
  ++live_;
  return buffer;
#endif
}

void PageBuffers::Free(char* buffer) {
  if (buffer == nullptr) return;
#ifdef SKEG_PAGE_BUFFERS_SEPARATE
  ::operator delete (buffer, std::align_val_t{kBufferBytes});
  std::lock_guard lock(mu_);
  --live_;
#else
  std::lock_guard lock(mu_);
  std::memcpy(buffer, &free_, sizeof(free_));
  free_ = buffer;
  ++free_count_;
  --live_;
#endif
}

PageBuffers::Stats PageBuffers::stats() const {
  std::lock_guard lock(mu_);
  Stats s;
  s.mapped_bytes = chunks_.size() * kChunkBytes;
  s.free_bytes = free_count_ * kBufferBytes;
  s.live_buffers = live_;
  return s;
}

void PageBuffers::MapChunkLocked() {
  // Map twice the size and keep the 2 MiB-aligned middle: a huge page needs that alignment.
  const size_t span = 2 * kChunkBytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kChunkBytes - 1) & ~(uintptr_t{kChunkBytes} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + span;
  if (end > aligned + kChunkBytes) {
    munmap(reinterpret_cast<void*>(aligned + kChunkBytes), end - (aligned + kChunkBytes));
  }
  char* chunk = reinterpret_cast<char*>(aligned);
  // Best effort: fails (EINVAL) on a kernel without THP, where 4 KiB pages back the chunk.
  madvise(chunk, kChunkBytes, MADV_HUGEPAGE);
  chunks_.push_back(chunk);
  carved_ = 0;
  free_count_ += kChunkBytes / kBufferBytes;
}

}  // namespace skeg::storage
