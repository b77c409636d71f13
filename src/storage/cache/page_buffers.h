// PageBuffers: the memory of cached pages, in huge-page-friendly chunks.
//
// Every cached page is a 4 KiB buffer. Allocated one by one from the general allocator, 32 MiB
// of them lie on 8 192 different 4 KiB virtual pages, so a lookup that lands on a random cached
// page (the key check of an overwrite, a GET, a graph node of the disk index) misses the TLB as
// well as the CPU cache, and under virtualisation a TLB miss is a two-dimensional page walk.
// PageBuffers carves the buffers out of 2 MiB chunks, each aligned to 2 MiB and advised
// MADV_HUGEPAGE, so that where transparent huge pages are enabled ("always" or "madvise") the
// kernel backs a chunk with one huge page: the same 32 MiB needs 16 TLB entries. Measured with
// THP for all of jemalloc's memory instead (MALLOC_CONF=thp:always): about 4% less server CPU
// per pipelined GET and SET (BENCHMARKS.md, issue 3, session 7). A freed buffer goes on a free
// list and is reused, so a page-cache miss also costs no malloc/free.
//
// Memory: chunks are never returned to the system; the pool holds the high-water mark of the
// buffers live at once, which the page caches' byte capacities bound (plus pages that readers
// still hold after their eviction), rounded up to 2 MiB. stats() reports what is mapped and
// what of it is free. Under AddressSanitizer every buffer is a separate allocation instead, so
// overflows and use-after-free of page buffers stay detectable.
//
// Thread-safety: all methods are thread-safe (one mutex; an allocation follows a file read or
// a log write, so it is never the hot path of a cache hit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace skeg::storage {

class PageBuffers {
 public:
  static constexpr size_t kBufferBytes = 4096;
  static constexpr size_t kChunkBytes = size_t{2} << 20;

  struct Stats {
    uint64_t mapped_bytes = 0;  // chunks reserved (kChunkBytes each)
    uint64_t free_bytes = 0;    // of which in free buffers (not yet handed out, or given back)
    uint64_t live_buffers = 0;  // buffers handed out and not yet freed
  };

  PageBuffers() = default;
  ~PageBuffers();  // unmaps the chunks: every buffer must have been freed
  PageBuffers(const PageBuffers&) = delete;
  PageBuffers& operator=(const PageBuffers&) = delete;

  // The pool of the process's page caches. Never destroyed (pages may be freed during exit).
  static PageBuffers& Global();

  // A kBufferBytes buffer, aligned to kBufferBytes, contents unspecified. Throws
  // std::bad_alloc when no chunk can be mapped (as operator new would).
  char* Allocate();
  // Gives back a buffer from Allocate() of this pool. Null is ignored.
  void Free(char* buffer);

  Stats stats() const;

 private:
  void MapChunkLocked();

  mutable std::mutex mu_;
  std::vector<char*> chunks_;
  char* free_ = nullptr;     // free list, linked through each buffer's first bytes
  size_t carved_ = 0;        // buffers taken from the newest chunk so far
  uint64_t free_count_ = 0;  // buffers on the free list plus not yet carved
  uint64_t live_ = 0;
};

// Deleter of a cached page's buffer (PageCache::Page::data).
struct PageBufferDeleter {
  void operator()(char* buffer) const { PageBuffers::Global().Free(buffer); }
};

}  // namespace skeg::storage
