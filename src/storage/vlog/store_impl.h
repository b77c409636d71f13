// Private implementation of Store (store.h). Included only by the store's .cc files.
//
// Threads and ownership:
//   - The group-commit leader is the only mutator of the key directory, of the segment table
//     and of every field marked "committer". Every write, checkpoint, sync and relocation is a
//     Request on queue_; the writer whose request is at the front, when no group is in flight,
//     becomes the leader and commits the group on its own thread (one leader at a time, handed
//     over through queue_mu_, which also orders the leaders' memory accesses). "The committer"
//     in comments means the current leader.
//   - Readers (Get, ForEachKey) use KeyDir's reader API and the segment table under
//     segments_mu_ (shared), holding a shared_ptr<Segment> while they read, so a segment
//     dropped by compaction stays readable until they finish.
//   - The compactor thread scans sealed segments through the reader API and hands relocation
//     requests to the committer. It runs at a lower CPU priority (compaction_nice); its
//     requests are then submitted by the background-commit thread, at the server's priority,
//     so that a preempted low-priority thread never leads a group others wait behind.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "storage/cache/page_cache.h"
#include "storage/keydir/keydir.h"
#include "storage/vlog/checkpoint.h"
#include "storage/vlog/record.h"
#include "storage/vlog/segment.h"
#include "storage/vlog/store.h"

namespace skeg::storage {

// One segment file. The active segment is written behind: the committer appends each group
// to `tail` in memory (readers see it at once through Store::Impl::ReadAt) and FlushTail()
// writes the tail to the file with one pwritev, before every sync (the syncer), at a roll, or
// when the tail passes kMaxTailBytes (the committer). So a sync pass costs one write call
// however many groups it covers, as a Redis event loop iteration costs one AOF write.
// Memory: at most kMaxTailBytes plus the group that crossed it, twice (tail + flushing).
struct Segment {
  // The committer flushes the tail itself once it holds this many bytes.
  static constexpr size_t kMaxTailBytes = 1u << 20;

  uint32_t id = 0;
  std::string path;
  std::unique_ptr<platform::File> file;
  std::atomic<uint64_t> size{0};     // bytes appended (records end here; some maybe unflushed)
  std::atomic<uint64_t> flushed{0};  // the file holds [0, flushed); updated under tail_mu
  // Write-behind buffers, guarded by tail_mu: `flushing` = bytes [flushing_base, +size) being
  // written by FlushTail, `tail` = bytes [tail_base, +size) appended since.
  mutable std::mutex tail_mu;
  std::string tail;
  uint64_t tail_base = 0;
  std::string flushing;
  uint64_t flushing_base = 0;
  std::mutex flush_mu;  // one FlushTail at a time (syncer or committer)
  // Write-through to the page cache (guarded by flush_mu): the file's bytes
  // [carry_base, carry_base + carry.size()) of its last, partly written page, so a flush that
  // continues that page can cache it whole. carry_base == kNoCarry: unknown (after recovery
  // or a large direct write) until the next page boundary.
  static constexpr uint64_t kNoCarry = ~0ull;
  std::string carry;
  uint64_t carry_base = kNoCarry;
  std::atomic<uint64_t> live_bytes{0};  // bytes of records the key directory points at
  std::atomic<uint64_t> tombstone_bytes{0};
  std::atomic<bool> sealed{false};
  // Key of this file's pages in the page cache (unique per open, never reused).
  const uint64_t cache_id = PageCache::NewFileId();
};

// One key operation of an encoded write, located relative to the start of the request's
// encoded bytes.
// The key-directory hash of `key` in `space` (the space seeds the hash, so keys of different
// spaces rarely share a fingerprint; the space is still verified on every match).
uint64_t KeyHash(KeySpace space, std::string_view key);

struct EncodedOp {
  uint64_t hash;
  KeySpace space;
  uint32_t rel_offset;
  uint32_t size;
  bool is_delete;
  bool has_expiry;
  int64_t expire_at;
  std::string_view key;  // points into the request's encoded bytes
};

// A record the compactor wants to move out of a segment being compacted.
struct Relocation {
  enum class Kind : uint8_t {
    kCopy,           // live put: copy if the key directory still points at old_loc
    kExpireToTomb,   // expired put: write a tombstone and drop the entry if still at old_loc
    kTombstoneCopy,  // tombstone: copy if the key is (still) absent
    kExpireErase,    // expired put: drop the entry if still at old_loc (nothing written)
  };
  Kind kind;
  RecordLocation old_loc;
  uint64_t hash;
  KeySpace space = KeySpace::kKv;
  std::string record;  // complete encoded record to append (kCopy, kTombstoneCopy)
  std::string key;
};

struct Request {
  enum class Kind : uint8_t { kWrite, kRelocate, kCheckpoint, kSync, kDropSegment };
  Kind kind = Kind::kWrite;

  // kWrite: one record (single op) or one kBatch record, header to be finished by the
  // committer once it knows the sequence number.
  std::string encoded;
  uint32_t body_crc = 0;
  RecordType type = RecordType::kPut;
  uint32_t key_len = 0, value_len = 0;
  int64_t expire_at = 0;
  std::vector<EncodedOp> ops;
  bool force_sync = false;

  // kRelocate
  std::vector<Relocation>* relocations = nullptr;
  // kDropSegment
  uint32_t segment = 0;

  // kWrite with a ticket: complete once applied (visible); the caller waits for durability
  // itself (Store::WaitDurable / OnDurable). Null: complete once durable.
  uint64_t* ticket_out = nullptr;
  uint64_t lsn = 0;  // log position after this request's group (set by the committer)

  // Result, written by the committer (or the syncer) before `done`.
  Status status;
  uint32_t deleted = 0;
  bool done = false;
  bool awaiting_sync = false;  // completion handed to the syncer
  std::condition_variable cv;  // waited on with queue_mu_ by the request's owner
};

class Store::Impl {
 public:
  explicit Impl(const StoreOptions& options);
  const std::string& data_dir() const { return opts_.data_dir; }
  ~Impl();

  Status Open();  // recovery (recovery.cc)
  Result<uint32_t> Write(const WriteBatch& batch, const WriteOptions& options);
  Result<ReadResult> Get(std::string_view key, KeySpace space) const;
  Status ForEachKey(const std::function<bool(std::string_view)>& fn, KeySpace space) const;
  Result<ScanPage> Scan(uint64_t cursor, size_t count) const;
  Status Checkpoint();
  Status Sync();
  Status WaitDurable(uint64_t ticket);
  void OnDurable(uint64_t ticket, std::function<void(const Status&)> done);
  Durability durability() const { return opts_.durability; }
  Status Compact();
  Status Close();
  Status SetLockHolderInfo(std::string_view info);
  const RecoveryInfo& recovery_info() const { return recovery_; }
  StoreStats stats() const;
  uint64_t key_count() const { return keydir_.size() - keydir_.internal(); }
  size_t MemoryUsage() const;

 private:
  friend class Store;

  // ---- recovery.cc ----
  Status OpenSegments(std::vector<uint32_t>* ids);
  Status ReplaySegment(const std::shared_ptr<Segment>& seg, uint64_t start, bool is_last);
  Status ApplyRecordForReplay(const RecordView& rec, uint32_t segment, uint64_t offset);

  // ---- committer.cc ----
  // Queues `req` and returns its result; the caller may become the group's leader and run
  // the commit on its own thread.
  Status Submit(Request* req);
  std::vector<Request*> TakeGroupLocked();  // REQUIRES: queue_mu_ held
  // Commits `group`; returns the requests that are complete now (the others were handed to
  // the syncer, which completes them).
  std::vector<Request*> RunGroup(std::vector<Request*>& group);
  std::vector<Request*> CommitWrites(std::vector<Request*>& group);
  void CommitRelocations(Request* req);
  Status DoCheckpoint();
  Status DoDropSegment(uint32_t id);
  Status RollSegment();
  // Appends `chunks` (`total` bytes) at the end of the active segment and advances its size
  // (committer only): into the write-behind tail, which is written here when it passes
  // Segment::kMaxTailBytes; a group larger than that goes straight to the file after the
  // tail. On error the caller fails the store.
  Status AppendActive(std::span<const std::string_view> chunks, uint64_t total);
  // Writes `seg`'s tail to its file (any thread; serialized by seg.flush_mu). On error the
  // bytes stay in memory (readers still see what the key directory points at) and the caller
  // fails the store: they will never be acknowledged.
  Status FlushTail(Segment& seg);
  Status FlushTailLocked(Segment& seg);  // REQUIRES: seg.flush_mu held
  // Marks [0, size) as on file with nothing buffered (recovery, segment creation); the
  // write-through carry becomes unknown.
  static void ResetTail(Segment& seg, uint64_t size);
  // Puts the pages holding bytes [base, base + bytes.size()), just written to `seg`'s file, into
  // the page cache as Admit::kMain pages, and advances seg.carry (REQUIRES: seg.flush_mu held).
  // A first page that the write continues is cached only when the carry knows its start.
  void CacheWritten(Segment& seg, uint64_t base, std::string_view bytes) const;
  // The durability pipeline (committer.cc). The committer appends a group, applies it to the
  // key directory (readers see it), then AdvanceWritten() hands the new log position to the
  // syncer thread, which writes the tail of every segment written since its last pass, then
  // fsyncs (or fdatasyncs) them, and completes the writers waiting for that position.
  // Writing group N+1 overlaps syncing group N, so a connection can pipeline writes while
  // each acknowledgement still waits for its sync. Three log positions, all bytes since open:
  // written_lsn_ (appended, maybe only in a tail) >= kernel_lsn_ (in the file: survives a
  // process crash) >= durable_lsn_ (synced). Relaxed acknowledges at kernel_lsn_, the other
  // tiers at durable_lsn_ (AckedLsnLocked).
  uint64_t AdvanceWritten(uint64_t bytes, const std::shared_ptr<Segment>& seg, bool force_full);
  // Waits until durable_lsn_ >= lsn (synced whatever the tier).
  Status WaitDurableInternal(uint64_t lsn);
  void SyncerLoop();
  // Wakes the syncer for new work (REQUIRES: sync_mu_ held); see syncer_pacing_.
  void NotifySyncerLocked();
  // The position up to which writes may be acknowledged (REQUIRES: sync_mu_ held).
  uint64_t AckedLsnLocked() const;
  // Relaxed tier: writes the tails of the segments written since the syncer's last pass
  // (one pwritev each), advances kernel_lsn_ and completes the writers now acknowledged.
  // Other tiers: no-op. Any thread; one at a time with the syncer's write step.
  Status FlushWrites();
  // Advances kernel_lsn_ to `written` and durable_lsn_ to `durable` (or records `failure`),
  // then completes every waiter the tier now acknowledges (all of them, with the error, on a
  // failure).
  void Publish(uint64_t written, uint64_t durable, const Status& failure);
  Status CreateSegment(uint32_t id, std::shared_ptr<Segment>* out);
  // Applies one key operation to the key directory (committer or recovery only). Returns via
  // *removed_live whether a live (unexpired) entry was removed or replaced by a delete.
  Status ApplyOp(uint64_t hash, std::string_view key, KeySpace space, bool is_delete,
                 int64_t expire_at, const RecordLocation& loc, bool* removed_live);
  // Finds the slot whose record holds `key` (verified by reading the key from disk).
  Status FindKey(uint64_t hash, std::string_view key, KeySpace space, bool* found,
                 KeyDir::SlotRef* ref, RecordLocation* loc, int64_t* expire_at) const;
  void Fail(const Status& s);

  // ---- compaction.cc ----
  void CompactorLoop();
  std::vector<uint32_t> EligibleSegments() const;
  // Active expiry: drops directory entries of expired keys in shards [first, first + count),
  // so their bytes stop counting as live and compaction reclaims them.
  Status ExpireSweep(uint32_t first_shard, uint32_t shard_count);
  Status CompactSegment(uint32_t id);

  // ---- store.cc ----
  std::shared_ptr<Segment> GetSegment(uint32_t id) const;
  // Reads the whole record at `loc`. Errors: kCorruption naming file and offset.
  Status ReadRecord(const Segment& seg, const RecordLocation& loc, std::string* buf,
                    RecordView* view) const;
  // Reads header and key of the record at `loc`.
  Status ReadKey(const Segment& seg, const RecordLocation& loc, std::string* buf,
                 RecordHeader* header, std::string_view* key) const;
  // Reads [offset, offset + n) of `seg` through the page cache (whole 4 KiB pages are read on a
  // miss and kept); straight pread without a cache. *got < n only at end of file.
  // Bytes still in the write-behind buffers are copied from memory.
  Status ReadAt(const Segment& seg, uint64_t offset, size_t n, char* dst, size_t* got) const;
  // ReadAt's file part: [offset, offset + n) of the file, through the page cache.
  Status ReadFileAt(const Segment& seg, uint64_t offset, size_t n, char* dst, size_t* got) const;
  // Store::PrefetchKeys.
  size_t PrefetchKeys(std::span<const std::string_view> keys) const;
  // The same for keys given by their KeyHash (any key space; the first kMaxPrefetchKeys).
  size_t PrefetchHashes(std::span<const uint64_t> key_hashes) const;
  // Forgets cached pages of `seg` from `offset` on (after a truncation or a drop).
  void ForgetPages(const Segment& seg, uint64_t offset) const;
  UnixMillis Now() const;
  Status CorruptionAt(const Segment& seg, uint64_t offset, const Status& why) const;

  // Immutable after Open().
  StoreOptions opts_;
  platform::Env* env_;
  std::string dir_;
  std::string vlog_dir_;
  std::unique_ptr<platform::FileLock> lock_;
  RecoveryInfo recovery_;

  KeyDir keydir_;

  mutable std::shared_mutex segments_mu_;
  std::map<uint32_t, std::shared_ptr<Segment>> segments_;  // guarded by segments_mu_

  // Committer state: touched only by the current leader (recovery before Open returns).
  std::shared_ptr<Segment> active_;
  uint64_t next_sequence_ = 1;
  uint64_t bytes_since_checkpoint_ = 0;

  std::mutex queue_mu_;
  std::condition_variable idle_cv_;  // the queue drained and no group is in flight
  std::deque<Request*> queue_;       // guarded by queue_mu_
  bool accepting_ = false;           // guarded by queue_mu_: Open() done, Close() not begun
  bool leader_active_ = false;       // guarded by queue_mu_: a group is being committed
  Status failed_;                    // guarded by queue_mu_: sticky write failure

  std::mutex compactor_mu_;
  std::condition_variable compactor_cv_;
  // Set under compactor_mu_ (for the waits); read without it by the compactor's scan loop.
  std::atomic<bool> compactor_stop_{false};
  bool compactor_kick_ = false;  // guarded by compactor_mu_: a segment was sealed
  std::thread compactor_;
  std::mutex compaction_run_mu_;  // one compaction pass at a time
  uint32_t expiry_cursor_ = 0;    // compactor thread: next shard to sweep

  // Background commits (compaction.cc). On the low-priority compactor thread, SubmitBackground
  // hands the request to the background-commit thread (server priority), which submits it and
  // reports the result; anywhere else it is Submit. One request in flight at a time.
  Status SubmitBackground(Request* req);
  void BackgroundCommitLoop();
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  Request* bg_request_ = nullptr;  // guarded by bg_mu_: handed over, not yet submitted
  bool bg_done_ = false;           // guarded by bg_mu_: bg_status_ holds its result
  Status bg_status_;               // guarded by bg_mu_
  bool bg_stop_ = false;           // guarded by bg_mu_
  std::thread bg_committer_;

  bool closed_ = false;
  std::mutex close_mu_;

  // Durability pipeline, guarded by sync_mu_.
  mutable std::mutex sync_mu_;
  std::condition_variable syncer_cv_;   // wakes the syncer
  std::condition_variable durable_cv_;  // wakes WaitDurable callers
  uint64_t written_lsn_ = 0;            // log bytes appended since open
  uint64_t kernel_lsn_ = 0;             // log bytes written to their files
  uint64_t durable_lsn_ = 0;            // log bytes known durable
  uint64_t force_lsn_ = 0;              // end of the last force-sync (WAIT_DURABLE) group
  // A forced full sync (Sync, a checkpoint, Close, a WAIT_DURABLE group) wants the log synced
  // up to here: while durable_lsn_ is below it, passes use fsync even at the relaxed tier and
  // the pacing syncer does not wait out its interval. A position, not a flag, so a request
  // that an ongoing pass already covers leaves nothing behind to force a later pass.
  uint64_t full_sync_lsn_ = 0;
  bool FullSyncPendingLocked() const { return full_sync_lsn_ > durable_lsn_; }
  std::vector<std::shared_ptr<Segment>> dirty_segments_;
  std::deque<Request*> awaiting_sync_;  // blocking writers, in lsn order
  std::multimap<uint64_t, std::function<void(const Status&)>> durable_callbacks_;
  Status sync_failure_;  // sticky: a failed sync
  bool syncer_stop_ = false;
  bool syncer_pacing_ = false;  // relaxed: the syncer waits out its interval (sync_mu_)
  std::thread syncer_;
  // Held by the syncer from taking dirty_segments_ until their tails are written, and by
  // FlushWrites, so kernel_lsn_ never runs ahead of the file. Taken before sync_mu_.
  std::mutex flush_pass_mu_;
  std::vector<std::shared_ptr<Segment>> flush_segments_;  // FlushWrites' scratch (flush_pass_mu_)

  // Statistics.
  std::atomic<uint64_t> commit_groups_{0}, committed_batches_{0}, syncs_{0}, sync_nanos_{0},
      bytes_written_{0}, checkpoints_{0}, compactions_{0}, compaction_reclaimed_{0};
};

}  // namespace skeg::storage
