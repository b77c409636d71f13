#include "platform/aligned_buffer.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#include <sys/mman.h>

namespace skeg::platform {
namespace {

char* AllocateAligned(size_t size, size_t alignment) {
  if (size == 0) return nullptr;
  // posix_memalign (unlike std::aligned_alloc) does not require size % alignment == 0.
  void* p = nullptr;
  const int rc = ::posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, size);
  SKEG_CHECK(rc == 0 && p != nullptr);
  std::memset(p, 0, size);
  return static_cast<char*>(p);
}

}  // namespace

AlignedBuffer::AlignedBuffer(size_t size, size_t alignment)
    : data_(nullptr), size_(size), capacity_(size), alignment_(alignment) {
  SKEG_CHECK(IsPowerOfTwo(alignment));
  data_ = AllocateAligned(size, alignment);
}

AlignedBuffer::~AlignedBuffer() { Free(); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      alignment_(other.alignment_) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    Free();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    alignment_ = other.alignment_;
  }
  return *this;
}

void AlignedBuffer::Resize(size_t size) {
  if (size <= capacity_) {
    size_ = size;
    return;
  }
  Free();
  data_ = AllocateAligned(size, alignment_);
  size_ = size;
  capacity_ = size;
}

void AlignedBuffer::Free() {
  std::free(data_);
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

void* AllocateHugePageArray(size_t bytes) {
  constexpr size_t kHuge = 2u << 20;
  const size_t rounded = RoundUpToAlignment(bytes == 0 ? 1 : bytes, kHuge);
  void* p = std::aligned_alloc(kHuge, rounded);
  SKEG_CHECK(p != nullptr);
  (void)::madvise(p, rounded, MADV_HUGEPAGE);  // advice only
  return p;
}

void FreeHugePageArray(void* p) { std::free(p); }

}  // namespace skeg::platform
