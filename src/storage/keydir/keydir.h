// KeyDir: the value log's in-RAM key directory.
//
// Maps a key's 64-bit hash to the location of the newest record holding that key. The key
// itself is not stored: callers verify a candidate by reading the record's key from disk, so
// two keys whose hashes collide are both kept (a lookup may return several candidates).
//
// Memory (the budget is 32 bytes per key, ARCHITECTURE.md section 4):
//   - 16 bytes per slot: 32-bit fingerprint, 32-bit segment id, 32-bit offset, 32-bit record
//     size whose top bit flags "record has an expiry time" and next bit "internal key space".
//   - open addressing with linear probing and backward-shift deletion (no tombstones);
//   - 256 shards chosen by the top 8 hash bits, each growing by 1.5x when its load reaches
//     0.80, so the load factor stays within [0.53, 0.80] once a shard holds more than a few
//     hundred keys: 20 to 30 bytes per key, measured by bench/keydir_bench and reported by
//     MemoryUsage().
// The slot of a key is FastRange(fingerprint, capacity), so entries can be rehashed and
// reloaded from a checkpoint from the fingerprint alone, and slots are ordered by fingerprint
// (which gives SCAN a cursor in hash space that survives resizing).
//
// Concurrency: single writer, many readers. Exactly one thread (the value log's committer,
// or recovery before the store is shared) calls the Writer* methods; it needs no lock to read
// because nobody else mutates. Readers call Candidates()/ForEachInShard() from any thread;
// they take the shard's shared lock, and writer mutations take it exclusively for the few
// nanoseconds of the change.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <vector>

namespace skeg::storage {

// Where a record lives: segment file, byte offset of its header, total encoded size.
struct RecordLocation {
  uint32_t segment = 0;
  uint32_t offset = 0;
  uint32_t size = 0;  // header + key + value bytes; < 2^30
  bool has_expiry = false;
  bool internal = false;  // the record is in an internal key space (vectors, catalog)

  friend bool operator==(const RecordLocation&, const RecordLocation&) = default;
};

class KeyDir {
 public:
  static constexpr int kShardBits = 8;
  static constexpr uint32_t kShards = 1u << kShardBits;
  // Maximum size of a record the directory can point at.
  static constexpr uint32_t kMaxRecordSize = 0x3fffffffu;  // bits 30-31 of a slot are flags

  // One stored slot, exposed for checkpoints.
  struct Entry {
    uint32_t fingerprint;
    uint32_t segment;
    uint32_t offset;
    uint32_t size_and_flags;  // 0 marks an empty slot; bit 31 expiry, bit 30 internal
  };
  static_assert(sizeof(Entry) == 16);

  // Identifies a slot found by WriterFind; valid until the next Writer* mutation.
  struct SlotRef {
    uint32_t shard;
    uint32_t index;
  };

  KeyDir();
  ~KeyDir();
  KeyDir(const KeyDir&) = delete;
  KeyDir& operator=(const KeyDir&) = delete;

  static uint32_t ShardOf(uint64_t hash) {
    return static_cast<uint32_t>(hash >> (64 - kShardBits));
  }
  static uint32_t FingerprintOf(uint64_t hash) { return static_cast<uint32_t>(hash); }

  // ---- Readers (any thread) ----

  // Copies up to `max` locations whose fingerprint matches `hash` into `out` and returns how
  // many matched in total (which may exceed `max`; then call again with a larger array).
  size_t Candidates(uint64_t hash, RecordLocation* out, size_t max) const;

  // Calls fn(fingerprint, location) for every entry of `shard` whose fingerprint is in
  // [fp_from, 2^32), in increasing fingerprint order (entries with equal fingerprint are
  // visited together), stopping after the first fingerprint group that brings the count to
  // `max_entries` or more. Returns the fingerprint at which to resume, or 2^32 when the shard
  // is exhausted. Locations are copied out under the shared lock; `fn` runs without it.
  uint64_t ScanShard(uint32_t shard, uint64_t fp_from, size_t max_entries,
                     const std::function<void(uint32_t, const RecordLocation&)>& fn) const;

  // Starts loading the home slot of `hash` into the CPU cache (a hint; changes nothing), so a
  // lookup shortly after does not stall on the miss: a pipelined session calls it for the
  // next request's key before it runs the current one.
  void Prefetch(uint64_t hash) const;

  // Live keys (entries) in the directory.
  uint64_t size() const { return count_.load(std::memory_order_relaxed); }
  // Entries whose record has an expiry time (some may have expired but not been swept yet).
  uint64_t expiring() const { return expiring_.load(std::memory_order_relaxed); }
  // Entries in internal key spaces (vectors, index catalog), included in size().
  uint64_t internal() const { return internal_.load(std::memory_order_relaxed); }
  // Bytes held: slot arrays plus shard headers.
  size_t MemoryUsage() const;

  // ---- The single writer ----

  // Calls fn(ref, location) for each slot whose fingerprint matches, until fn returns true;
  // returns whether it did. No lock is taken (only the writer mutates).
  bool WriterFind(uint64_t hash,
                  const std::function<bool(SlotRef, const RecordLocation&)>& fn) const;
  void WriterInsert(uint64_t hash, const RecordLocation& loc);
  void WriterReplace(SlotRef ref, const RecordLocation& loc);
  void WriterErase(SlotRef ref);
  // Removes every entry.
  void WriterClear();

  // Checkpoint support. WriterExport calls fn(shard, entries) with each shard's occupied
  // slots; WriterLoadShard appends entries to a shard (used when reading a checkpoint into an
  // empty directory).
  void WriterExport(const std::function<void(uint32_t, const std::vector<Entry>&)>& fn) const;
  void WriterLoadShard(uint32_t shard, const Entry* entries, size_t n);

  // Iterates every entry's location (writer thread only), e.g. to total live bytes per segment.
  void WriterForEach(const std::function<void(const RecordLocation&)>& fn) const;

 private:
  struct Shard;
  std::array<std::unique_ptr<Shard>, kShards> shards_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> expiring_{0};
  std::atomic<uint64_t> internal_{0};
};

}  // namespace skeg::storage
