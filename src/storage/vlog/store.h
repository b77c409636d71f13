// Store: skeg's durable key-value engine, an append-only value log (Bitcask-style) with a
// compact in-RAM key directory.
//
// Layout on disk (docs/formats/vlog.md, docs/formats/manifest.md):
//   DIR/MANIFEST            format version, creation time, partition count (atomic replace)
//   DIR/LOCK                flock'ed by the owning process; holds its pid and addresses
//   DIR/vlog/NNNNNNNN.seg   segments of CRC32C-protected records, appended in order
//   DIR/vlog/keydir.snap    key-directory checkpoint (entries + the log position it covers)
//
// Writes: callers hand a WriteBatch to Write(). The writer whose request reaches the front of
// the queue (when no group is in flight) leads a group commit on its own thread: it takes
// every pending batch (bounded by bytes and count), appends them to the active segment's
// write-behind tail and updates the key directory (from here on readers see the writes, as in
// Redis). A syncer thread writes the tail with one pwritev and fsyncs (or fdatasyncs, per the
// durability tier) everything written since its last pass. Writers are acknowledged at the
// tier's point: once their bytes are in the file (relaxed: a process crash cannot lose them)
// or once they are synced (kernel, power-loss). Writing the next group overlaps syncing the
// previous one.
//
// Reads: Get() looks the key up in the key directory (a 16-byte entry per key: a 32-bit hash
// fingerprint and the record location; the key itself stays on disk) and preads the record,
// verifying its CRC and comparing the stored key. Expired keys are never returned.
//
// Background: a compactor rewrites sealed segments whose live fraction falls below a threshold
// (crash-safe: copies are synced and checkpointed before the old segment is unlinked).
//
// Thread-safety: every public method is thread-safe. Writes from one thread take effect in the
// order that thread issued them; concurrent writers are ordered by their place in the queue.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "platform/env.h"
#include "storage/vlog/record.h"

namespace skeg::storage {

class PageCache;

// What an acknowledged write survives (ARCHITECTURE.md section 4; docs/durability.md lists
// the exact syscalls of each tier).
enum class Durability : uint8_t {
  // Acknowledged once written to the file (survives a process crash); fdatasync per syncer
  // pass in the background, so a kernel crash or power loss can lose the last pass.
  kRelaxed,
  // Acknowledged once fsynced: fsync per commit group + directory fsync on create/rename
  // (default).
  kKernel,
  kPowerLoss,  // kKernel + O_DSYNC writes + preallocated segments
};

// "relaxed" | "kernel" | "power-loss". Errors: kInvalidArgument naming the accepted values.
Result<Durability> ParseDurability(std::string_view name);
std::string_view DurabilityName(Durability d);

// Milliseconds since the Unix epoch (wall clock), the unit of every expiry time.
using UnixMillis = int64_t;
// Expiry value meaning "never expires".
inline constexpr UnixMillis kNoExpiry = 0;

// Limits enforced on every write (kInvalidArgument beyond them).
inline constexpr size_t kMaxKeyBytes = 64 * 1024;
inline constexpr size_t kMaxValueBytes = 512ull * 1024 * 1024;

struct StoreOptions {
  std::string data_dir = "./data";
  platform::Env* env = nullptr;  // null: Env::Default()
  Durability durability = Durability::kKernel;
  bool create_if_missing = true;

  // A segment is sealed and a new one started once it reaches this size.
  uint64_t segment_target_bytes = 64ull * 1024 * 1024;
  // Relaxed tier: the syncer starts an fdatasync at most this often (milliseconds), so a
  // stream of writes costs one sync per interval rather than one per group; a kernel crash or
  // power loss can lose the writes acknowledged since the last completed sync (about one
  // interval). 0: sync after every pass, as fast as the disk allows. Other tiers ignore it.
  uint32_t relaxed_sync_interval_ms = 10;

  // Upper bounds of one commit group. A group never waits for more writes to arrive: it takes
  // what is queued when the previous group finished, so a steady trickle is never delayed.
  uint64_t max_group_bytes = 8ull * 1024 * 1024;
  uint32_t max_group_batches = 4096;

  // A checkpoint of the key directory is written after this many bytes of new log (and at
  // Close), bounding the tail that restart must replay. 0 disables automatic checkpoints.
  uint64_t checkpoint_interval_bytes = 256ull * 1024 * 1024;

  // Compaction: sealed segments whose live bytes fall below this fraction are rewritten.
  double compaction_live_fraction = 0.5;
  // Rate limit of compaction rewrites (bytes read + written per second).
  uint64_t compaction_bytes_per_sec = 64ull * 1024 * 1024;
  // Run the compactor thread (tests call Compact() directly instead).
  bool background_compaction = true;
  // Interval of the background compactor's checks, milliseconds.
  uint32_t compaction_check_ms = 1000;
  // CPU priority of the background compactor: its thread's nice value is raised by this much
  // (0..19; 0 leaves it at the server's). Under CPU contention its scans then yield to the
  // request threads and to the rest of the machine, and run on idle cycles otherwise. The
  // commits of what it relocates still run at the server's priority (a low-priority thread
  // never leads a commit group that foreground writes wait behind). Under a CPU that stays
  // saturated, compaction slows down and disk space is reclaimed later.
  int compaction_nice = 5;

  // Page cache for value reads (not owned; must outlive the store; shared with the vector
  // indexes). Null: every read is a pread.
  PageCache* page_cache = nullptr;

  // Wall clock for expiry decisions; null: the system clock. Tests inject their own.
  std::function<UnixMillis()> clock;

  // Checks ranges (segment size 4 KiB..1 GiB, fraction in [0,1), non-empty data_dir).
  Status Validate() const;
};

// An ordered group of puts and deletes applied atomically by Store::Write.
class WriteBatch {
 public:
  // Sets `key` (of key space `space`) to `value`, expiring at `expire_at` (kNoExpiry: never).
  void Put(std::string_view key, std::string_view value, UnixMillis expire_at = kNoExpiry,
           KeySpace space = KeySpace::kKv);
  void Delete(std::string_view key, KeySpace space = KeySpace::kKv);
  // Like Put, for an operation that only changes the expiry of an existing value (EXPIRE,
  // PERSIST): stored as a kExpire record, replayed exactly like a put.
  void PutExpiryChange(std::string_view key, std::string_view value, UnixMillis expire_at);

  size_t count() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  // Bytes of keys and values (the encoded record adds a fixed header per op).
  size_t payload_bytes() const { return payload_bytes_; }
  void Clear();

  struct Op {
    bool is_delete;
    bool expiry_only;
    KeySpace space;
    std::string key;
    std::string value;
    UnixMillis expire_at;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
  size_t payload_bytes_ = 0;
};

struct WriteOptions {
  // Sync this write with fsync even at the relaxed tier (native WAIT_DURABLE flag).
  bool force_sync = false;
  // Null (default): Write() returns once the batch is durable. Non-null: Write() returns as
  // soon as the batch is applied (visible to readers) and stores here the durability ticket
  // to pass to WaitDurable()/OnDurable() before telling anyone the write succeeded. This
  // lets one connection pipeline writes while each acknowledgement still waits for its sync.
  uint64_t* durability_ticket = nullptr;
};

// One page of a key scan (Store::Scan).
struct ScanPage {
  std::vector<std::string> keys;
  uint64_t next_cursor = 0;  // 0: the scan is complete
};

struct ReadResult {
  std::string value;
  UnixMillis expire_at = kNoExpiry;
};

// What Open() found and did; logged by the server at startup.
struct RecoveryInfo {
  bool created = false;           // the directory was new
  bool used_checkpoint = false;   // keydir.snap was loaded
  uint64_t keys = 0;              // live keys after recovery
  uint32_t segments = 0;          // segment files present
  uint64_t replayed_records = 0;  // records replayed after the checkpoint
  uint64_t replayed_bytes = 0;
  uint64_t truncated_bytes = 0;  // torn tail cut from the last segment
  std::string truncated_file;    // which file, when truncated_bytes > 0
  double seconds = 0;            // wall time of Open()
};

// Counters, all monotonic except the gauges marked so.
struct StoreStats {
  uint64_t commit_groups = 0;
  uint64_t committed_batches = 0;
  uint64_t syncs = 0;
  uint64_t sync_nanos = 0;  // total time in fsync/fdatasync
  uint64_t bytes_written = 0;
  uint64_t checkpoints = 0;
  uint64_t compactions = 0;  // segments rewritten
  uint64_t compaction_bytes_reclaimed = 0;
  uint64_t keys = 0;           // gauge: Redis keys
  uint64_t internal_keys = 0;  // gauge: vectors and catalog entries
  uint64_t expiring_keys = 0;  // gauge: keys with an expiry time (INFO expires=)
  uint64_t keydir_bytes = 0;   // gauge: RAM held by the key directory
  uint64_t segments = 0;       // gauge
  uint64_t disk_bytes = 0;     // gauge: bytes of all segments
  uint64_t live_bytes = 0;     // gauge: bytes of records still referenced
  // gauge: log bytes acknowledged but not yet synced, what a power loss could take now
  // (relaxed tier only, at most about one relaxed_sync_interval_ms of writes; 0 otherwise).
  uint64_t unsynced_acked_bytes = 0;
};

class Store {
 public:
  // Opens (or creates) the store in options.data_dir: takes the directory lock, reads the
  // MANIFEST, loads the key-directory checkpoint, replays the log after it, truncates a torn
  // tail of the last segment, and starts the syncer (and compactor) threads.
  // Errors: kBusy when another process holds the lock (message names its pid and addresses);
  // kCorruption naming file and offset for damage anywhere but the tail of the last segment;
  // kNotFound when the directory has no store and !create_if_missing; kIOError.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);

  // Closes without error reporting (use Close() to see errors).
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies `batch` atomically and durably. Returns the number of Delete ops that removed a
  // live key. Empty and binary keys are allowed. Errors: kInvalidArgument (empty batch,
  // key/value over the limits),
  // kResourceExhausted (disk full: nothing of the batch is visible), kIOError (write or sync
  // failed: nothing acknowledged; the store refuses further writes until reopened, since the
  // kernel may have dropped unsynced pages).
  Result<uint32_t> Write(const WriteBatch& batch, const WriteOptions& options = {});

  // Shorthands for one-op batches.
  Status Put(std::string_view key, std::string_view value, UnixMillis expire_at = kNoExpiry,
             const WriteOptions& options = {});
  // Returns true when a live key was removed.
  Result<bool> Delete(std::string_view key, const WriteOptions& options = {});

  // The newest value of `key`. Errors: kNotFound (absent or expired), kCorruption (record
  // fails its CRC: file and offset named), kIOError. One pread per call.
  Result<ReadResult> Get(std::string_view key, KeySpace space = KeySpace::kKv) const;

  // Calls `fn` for every live key (in no defined order) until it returns false. Keys are
  // read from disk; a snapshot of locations is taken per key-directory shard, so keys written
  // during the walk may or may not be seen, keys present throughout are seen exactly once.
  Status ForEachKey(const std::function<bool(std::string_view key)>& fn,
                    KeySpace space = KeySpace::kKv) const;

  // Cursor-based iteration for SCAN. Start with cursor 0 and pass back next_cursor until it is
  // 0. Returns about `count` live keys per call (more when keys share a hash fingerprint, fewer
  // near the end of a shard). The cursor is a position in hash space (shard, fingerprint), so
  // it stays valid across key-directory growth: a key present for the whole scan is returned
  // at least once, and normally exactly once. Expired keys are skipped.
  Result<ScanPage> Scan(uint64_t cursor, size_t count) const;

  // Writes a key-directory checkpoint now.
  Status Checkpoint();
  // Runs one compaction pass synchronously over every eligible sealed segment.
  Status Compact();
  // Makes everything acknowledged so far durable with fsync (used at shutdown).
  Status Sync();

  // Blocks until the writes that returned `ticket` (WriteOptions::durability_ticket) are
  // durable per the tier (relaxed: written to the file; a force_sync write: fsynced at every
  // tier). Errors: the write or sync failure (kIOError, kResourceExhausted) when one failed;
  // the write must then not be acknowledged.
  Status WaitDurable(uint64_t ticket);
  // Calls `done` once the writes that returned `ticket` are durable per the tier (OK) or their
  // write or sync failed (the error). `done` runs on the store's syncer thread, on a thread in
  // FlushWrites() or Write(), or at once on the calling thread when the ticket is already
  // durable: it must be quick and must not call into the Store.
  void OnDurable(uint64_t ticket, std::function<void(const Status&)> done);
  // Relaxed tier: writes the write-behind tail to the file now (one pwritev per segment with
  // unwritten bytes; nothing when there are none) and completes every OnDurable/WaitDurable
  // waiter this acknowledges, instead of leaving that to the syncer's next pass, which may
  // start only after a slow fdatasync. A server calls it once per event-loop pass in which it
  // parked replies on OnDurable, as Redis writes its AOF buffer once per pass. Other tiers:
  // no-op (their acknowledgement waits for the sync anyway). Errors: the failed write (the
  // store then refuses writes, and the waiters get the error).
  Status FlushWrites();
  Durability durability() const;
  // Hint, ahead of Gets or Writes of `keys` (Redis key space): starts loading into the CPU
  // cache what their lookups touch, in stages over all keys at once so that the misses
  // overlap (group prefetching, Chen et al., ICDE 2004): each key's directory slot; then,
  // for the record its slot points at (when on file), the page-cache index slot; then that
  // record's first kPrefetchRecordBytes. A pipelined session calls it for the requests it
  // has not run yet. No effect on contents, statistics or cache order. Uses the first
  // kMaxPrefetchKeys keys; no allocation; a few shared locks per key. Returns how many
  // records' bytes it started loading from the page cache (keys absent, records not yet
  // written to the file or not cached count 0).
  static constexpr size_t kMaxPrefetchKeys = 16;
  static constexpr uint32_t kPrefetchRecordBytes = 192;
  size_t PrefetchKeys(std::span<const std::string_view> keys) const;
  // Stops background threads, syncs, writes a checkpoint, releases the lock. Idempotent.
  Status Close();

  // Writes `info` into the LOCK file (the server adds the addresses it serves).
  Status SetLockHolderInfo(std::string_view info);

  const RecoveryInfo& recovery_info() const;
  // The directory the store was opened in (StoreOptions::data_dir).
  const std::string& data_dir() const;
  StoreStats stats() const;
  // Live keys of the Redis key space (internal key spaces excluded).
  uint64_t key_count() const;
  // Bytes of RAM held by the store (key directory, buffers, per-segment tables).
  size_t MemoryUsage() const;

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skeg::storage
