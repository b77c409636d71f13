// PageCache: the byte-bounded cache of 4 KiB file pages shared by the value log and (later)
// the vector indexes, so the process's memory is what it holds, bounded by --cache-bytes.
//
// Eviction is S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP
// 2023): a small FIFO (10% of the bytes) takes new pages; a page evicted from it that was hit
// at least once moves to the main FIFO, otherwise only its key enters the ghost FIFO; a miss
// on a ghost key inserts straight into main. Main evicts with a 2-bit frequency counter (a hit
// page is re-inserted at the head with its counter decremented). Hits only bump a counter,
// never move entries. A ghost key stays until it ages out of the ghost FIFO (a hit on it does
// not remove it).
//
// Charge: every page costs its buffer (kPageSize) plus a fixed per-entry overhead
// (kEntryOverheadBytes: the 48-byte entry allocation, its index slots (40 bytes each, the
// table of a full shard at least 3/8 full: at most 107 bytes per page; a partly emptied
// shard holds less than a full one) and its queue link), so capacity_bytes
// bounds the real memory. The ghost queue is allocated once, outside that budget: room for as
// many keys as pages fit in the capacity, kGhostBytes per key (a 16-byte ring entry and 1.5
// slots of a 24-byte counting table), i.e. about 1.2% on top of capacity_bytes.
//
// Keys are (file id, page number). File ids come from NewFileId(): one per open file, never
// reused in a process, so pages of a deleted file can never be mistaken for a new file's.
//
// Thread-safety: all methods are thread-safe. The cache is split into shards by key hash,
// each with its own mutex and its own share of the capacity. Pages are immutable once
// inserted and handed out as shared_ptr<const Page>: a reader keeps its page alive even if it
// is evicted meanwhile.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "storage/cache/page_buffers.h"

namespace skeg::storage {

class PageCache {
 public:
  static constexpr size_t kPageSize = 4096;
  static constexpr size_t kEntryOverheadBytes = 168;
  static constexpr size_t kGhostBytes = 52;
  static constexpr uint32_t kNoOwner = 0;

  // An immutable page: `valid` bytes of file data starting at the page's offset (less than
  // kPageSize only for the last page of a file that was still growing when it was read). The
  // buffer comes from PageBuffers::Global() (huge-page chunks); make pages with NewPage() and
  // never put a buffer of another origin into `data`: its deleter returns it to that pool
  // (AddressSanitizer builds report such a mix-up as an alloc-dealloc mismatch).
  struct Page {
    std::unique_ptr<char[], PageBufferDeleter> data;
    uint32_t valid = 0;
  };

  // A page with a kPageSize buffer from PageBuffers::Global() (contents unspecified) and
  // `valid` 0, for the caller to fill before Insert. Throws std::bad_alloc like new.
  static std::shared_ptr<Page> NewPage();

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t inserts = 0;
    uint64_t evictions = 0;
    uint64_t bytes = 0;  // charged bytes held now
    uint64_t capacity_bytes = 0;
    uint64_t pages = 0;
  };

  // `capacity_bytes` of 0 disables caching (every Lookup misses, Insert is a no-op).
  explicit PageCache(size_t capacity_bytes, uint32_t shards = 16);
  ~PageCache();
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  // A process-unique id for a newly opened file.
  static uint64_t NewFileId();

  // The page, or null on a miss. A hit counts towards keeping the page.
  std::shared_ptr<const Page> Lookup(uint64_t file_id, uint64_t page_no);

  // On a hit whose page holds bytes [offset, offset + n) (offset + n <= kPageSize), copies them
  // to `dst` under the shard lock and returns true; else false (a miss, or a page cached while
  // its file was shorter). Unlike Lookup, no reference count is touched, so concurrent readers
  // of one hot page do not contend on it.
  bool ReadIfCached(uint64_t file_id, uint64_t page_no, size_t offset, size_t n, char* dst);

  // Prefetch hints for group prefetching (Chen, Ailamaki, Gibbons and Mowry, "Improving Hash
  // Join Performance through Prefetching", ICDE 2004): a caller with several reads coming
  // issues PrefetchSlot for each, then PrefetchBytes for each, then reads, so the cache misses
  // of all of them overlap instead of being taken one after another. Neither changes the
  // cache's contents, statistics or eviction order; each takes the shard lock once.
  // PrefetchSlot starts loading the index slot where a lookup of the page starts probing.
  void PrefetchSlot(uint64_t file_id, uint64_t page_no);
  // If the page is cached with bytes [offset, offset + n) (offset + n <= kPageSize, n > 0),
  // starts loading the cache lines that hold them and returns true; else false.
  bool PrefetchBytes(uint64_t file_id, uint64_t page_no, size_t offset, size_t n);

  // Where a new page starts. kProbation: the small FIFO (S3-FIFO's default for a page read
  // once). kMain: the main FIFO, as for a ghost hit; for pages the caller knows will be read
  // back, such as the value log's freshly written pages (the next overwrite of a key reads its
  // old record, and recent keys are the likeliest to be read), whose first read would
  // otherwise come after the page had long left the small FIFO.
  enum class Admit : uint8_t { kProbation, kMain };

  // Inserts (or replaces) a page, evicting as needed. Returns the page as stored. `owner` is the
  // tenant the page is charged to (kNoOwner: shared, never over a share; a replaced page keeps
  // its first owner and its queue).
  std::shared_ptr<const Page> Insert(uint64_t file_id, uint64_t page_no,
                                     std::shared_ptr<const Page> page, uint32_t owner = kNoOwner,
                                     Admit admit = Admit::kProbation);

  // Per-tenant fair eviction hook (ARCHITECTURE.md section 6: "a tenant over its share is evicted
  // first"). `bytes` is the owner's share of the capacity (0: none, the owner is never over); while
  // any owner holds more than its share, pages of owners within their share that S3-FIFO would
  // evict next are moved to the main queue's tail instead (up to 1024 per eviction; amortised O(1),
  // since a moved page waits a whole cycle of main), so the over-share owner's pages go first.
  // Shares are split evenly over the shards. Ignored for kNoOwner.
  void SetOwnerShare(uint32_t owner, size_t bytes);
  // Charged bytes of `owner`'s pages now (0 for kNoOwner, which is not tracked).
  size_t OwnerBytes(uint32_t owner) const;

  // Drops pages of `file_id` with page_no >= `from_page` (a file that was truncated or
  // deleted). Cost: a pass over every cached entry; only for rare events.
  void EraseFile(uint64_t file_id, uint64_t from_page = 0);

  Stats stats() const;
  // Bytes held: charged page bytes plus ghost keys plus the shards' fixed size.
  size_t MemoryUsage() const;
  size_t capacity_bytes() const { return capacity_bytes_; }

 private:
  class Shard;
  Shard& ShardFor(uint64_t file_id, uint64_t page_no);

  const size_t capacity_bytes_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace skeg::storage
