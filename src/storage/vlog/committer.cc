// Group commit (the leader, called "the committer" in comments, is whichever writer leads the
// current group), the syncer thread, the key-directory writer, segment rolls, checkpoints.
#include <algorithm>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/coding.h"
#include "common/hash.h"
#include "platform/thread.h"
#include "storage/vlog/store_impl.h"

namespace skeg::storage {

namespace {
uint64_t NanosSince(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
}
}  // namespace

Status Store::Impl::Submit(Request* req) {
  std::unique_lock lock(queue_mu_);
  if (!failed_.ok() && req->kind != Request::Kind::kSync) return failed_;
  if (!accepting_) return Status::Cancelled("store is closed");
  queue_.push_back(req);
  // Group commit with a rotating leader (LevelDB's DBImpl::Write): the request at the front
  // of the queue, when no group is in flight, commits everything queued behind it on its own
  // thread. The others wait to be completed. An uncontended writer pays no thread switch.
  // Each request has its own condition variable (all on queue_mu_), so a finished group wakes
  // exactly its writers and the next leader, not every waiting thread.
  req->cv.wait(lock, [&] {
    return req->done || (!leader_active_ && !queue_.empty() && queue_.front() == req);
  });
  if (req->done) return req->status;
  leader_active_ = true;
  std::vector<Request*> group = TakeGroupLocked();
  lock.unlock();
  // Requests handed to the syncer may complete (and their owners return, destroying them)
  // at any moment: only the ones RunGroup returns may be touched here.
  const std::vector<Request*> finished = RunGroup(group);
  // Relaxed: the writers handed to the syncer are acknowledged once their bytes are in the
  // file; write them now rather than after the fdatasync the syncer may be in.
  if (opts_.durability == Durability::kRelaxed && finished.size() < group.size()) {
    FlushWrites().IgnoreError();  // a failure has failed the store and its waiters
  }
  lock.lock();
  // Notified under the lock: an owner cannot return (destroying its request and cv) before
  // the lock is released.
  for (Request* r : finished) {
    r->done = true;
    if (r != req) r->cv.notify_one();
  }
  leader_active_ = false;
  if (!queue_.empty()) {
    queue_.front()->cv.notify_one();  // the next leader
  } else {
    idle_cv_.notify_all();  // Close() waits for the queue to drain
  }
  // Our own write may still wait for the syncer.
  req->cv.wait(lock, [&] { return req->done; });
  return req->status;
}

void Store::Impl::Fail(const Status& s) {
  std::lock_guard lock(queue_mu_);
  if (failed_.ok()) {
    failed_ = Status(s.code(),
                     "store refuses writes after a failed write or sync (reopen to "
                     "recover): " +
                         std::string(s.message()));
    spdlog::error("value log: {}", failed_.ToString());
  }
}

std::vector<Request*> Store::Impl::TakeGroupLocked() {
  // Take what is queued now (never wait for more: a trickle is flushed at once), bounded by
  // count and bytes; control requests are taken alone.
  std::vector<Request*> group;
  uint64_t bytes = 0;
  while (!queue_.empty()) {
    Request* r = queue_.front();
    if (r->kind != Request::Kind::kWrite) {
      if (group.empty()) {
        group.push_back(r);
        queue_.pop_front();
      }
      break;
    }
    if (!group.empty() && (group.size() >= opts_.max_group_batches ||
                           bytes + r->encoded.size() > opts_.max_group_bytes)) {
      break;
    }
    bytes += r->encoded.size();
    group.push_back(r);
    queue_.pop_front();
  }
  return group;
}

std::vector<Request*> Store::Impl::RunGroup(std::vector<Request*>& group) {
  Request* first = group.front();
  switch (first->kind) {
    case Request::Kind::kWrite:
      return CommitWrites(group);
    case Request::Kind::kRelocate:
      CommitRelocations(first);
      break;
    case Request::Kind::kCheckpoint:
      first->status = DoCheckpoint();
      break;
    case Request::Kind::kSync: {
      // Everything written so far, durable with fsync (even at the relaxed tier).
      Status s = WaitDurableInternal(AdvanceWritten(0, nullptr, true));
      if (s.ok()) s = active_->file->Sync(platform::SyncMode::kFull);
      first->status = s;
      break;
    }
    case Request::Kind::kDropSegment:
      first->status = DoDropSegment(first->segment);
      break;
  }
  return group;
}

uint64_t Store::Impl::AdvanceWritten(uint64_t bytes, const std::shared_ptr<Segment>& seg,
                                     bool force_full) {
  std::lock_guard lock(sync_mu_);
  written_lsn_ += bytes;
  if (seg &&
      std::find(dirty_segments_.begin(), dirty_segments_.end(), seg) == dirty_segments_.end()) {
    dirty_segments_.push_back(seg);
  }
  if (force_full) full_sync_lsn_ = std::max(full_sync_lsn_, written_lsn_);
  NotifySyncerLocked();
  return written_lsn_;
}

Status Store::Impl::WaitDurableInternal(uint64_t lsn) {
  std::unique_lock lock(sync_mu_);
  // A forced full sync with nothing new written still needs a syncer pass.
  durable_cv_.wait(lock, [&] { return durable_lsn_ >= lsn || !sync_failure_.ok(); });
  return durable_lsn_ >= lsn ? Status::Ok() : sync_failure_;
}

uint64_t Store::Impl::AckedLsnLocked() const {
  if (opts_.durability != Durability::kRelaxed) return durable_lsn_;
  // A WAIT_DURABLE write not yet fsynced holds every acknowledgement back to durable_lsn_:
  // tickets are combined with max(), so one may cover it.
  return force_lsn_ > durable_lsn_ ? durable_lsn_ : kernel_lsn_;
}

Status Store::Impl::WaitDurable(uint64_t ticket) {
  if (opts_.durability == Durability::kRelaxed) FlushWrites().IgnoreError();  // error: below
  std::unique_lock lock(sync_mu_);
  durable_cv_.wait(lock, [&] { return AckedLsnLocked() >= ticket || !sync_failure_.ok(); });
  return AckedLsnLocked() >= ticket ? Status::Ok() : sync_failure_;
}

void Store::Impl::OnDurable(uint64_t ticket, std::function<void(const Status&)> done) {
  Status now;
  {
    std::lock_guard lock(sync_mu_);
    const uint64_t acked = AckedLsnLocked();
    if (acked < ticket && sync_failure_.ok()) {
      durable_callbacks_.emplace(ticket, std::move(done));
      return;
    }
    now = acked >= ticket ? Status::Ok() : sync_failure_;
  }
  done(now);
}

Status Store::Impl::FlushWrites() {
  if (opts_.durability != Durability::kRelaxed) return Status::Ok();
  uint64_t target;
  Status s;
  {
    // Not while the syncer is between taking its segments and having written them: bytes
    // counted in written_lsn_ may sit in a tail only it is about to write.
    std::lock_guard pass(flush_pass_mu_);
    {
      std::lock_guard lock(sync_mu_);
      if (!sync_failure_.ok()) return sync_failure_;
      if (kernel_lsn_ >= written_lsn_) return Status::Ok();
      target = written_lsn_;
      // Copied, not taken: the syncer still has to sync them. Capacity is kept across calls.
      flush_segments_.assign(dirty_segments_.begin(), dirty_segments_.end());
    }
    for (const auto& seg : flush_segments_) {
      s = FlushTail(*seg);
      if (!s.ok()) break;
    }
    flush_segments_.clear();
  }
  if (!s.ok()) Fail(s);
  Publish(s.ok() ? target : 0, 0, s);
  return s;
}

void Store::Impl::NotifySyncerLocked() {
  // A pacing syncer wakes by itself; only a forced sync cuts its wait short. Not waking it
  // per group saves the writer a futex call and the syncer a context switch.
  if (!syncer_pacing_ || FullSyncPendingLocked()) syncer_cv_.notify_one();
}

void Store::Impl::SyncerLoop() {
  platform::SetCurrentThreadName("skeg-syncer");
  // relaxed: fdatasync; kernel and power-loss: fsync (power-loss files are also O_DSYNC).
  const platform::SyncMode tier_mode = opts_.durability == Durability::kRelaxed
                                           ? platform::SyncMode::kData
                                           : platform::SyncMode::kFull;
  const bool paced = opts_.durability == Durability::kRelaxed && opts_.relaxed_sync_interval_ms > 0;
  const auto interval = std::chrono::milliseconds(opts_.relaxed_sync_interval_ms);
  auto last_sync = std::chrono::steady_clock::now() - interval;
  std::vector<std::shared_ptr<Segment>> segments;
  while (true) {
    uint64_t target;
    platform::SyncMode mode = tier_mode;
    {
      std::unique_lock lock(sync_mu_);
      syncer_cv_.wait(lock, [&] {
        return syncer_stop_ || (written_lsn_ > durable_lsn_ && sync_failure_.ok());
      });
      if (written_lsn_ <= durable_lsn_ || !sync_failure_.ok()) return;  // stopping
      if (paced) {
        // Relaxed writers are acknowledged at the write (FlushWrites), so the sync can wait for
        // the rest of the interval and cover every group appended meanwhile. A force-sync
        // write (or Sync, a checkpoint, Close) does not wait.
        syncer_pacing_ = true;
        syncer_cv_.wait_until(lock, last_sync + interval,
                              [&] { return syncer_stop_ || FullSyncPendingLocked(); });
        syncer_pacing_ = false;
      }
    }
    const auto start = std::chrono::steady_clock::now();
    last_sync = start;
    Status s;
    {
      std::lock_guard pass(flush_pass_mu_);  // see FlushWrites
      {
        std::lock_guard lock(sync_mu_);
        target = written_lsn_;
        segments.swap(dirty_segments_);
        if (FullSyncPendingLocked()) mode = platform::SyncMode::kFull;
      }
      // One write call for every group appended since the last pass (FlushWrites may have
      // written some already), then the syncs.
      for (const auto& seg : segments) {
        s = FlushTail(*seg);
        if (!s.ok()) break;
      }
    }
    // Relaxed acknowledges here, before the fdatasync.
    if (s.ok() && opts_.durability == Durability::kRelaxed) Publish(target, 0, s);
    for (const auto& seg : segments) {
      if (!s.ok()) break;
      s = seg->file->Sync(mode);
    }
    segments.clear();
    syncs_.fetch_add(1, std::memory_order_relaxed);
    sync_nanos_.fetch_add(NanosSince(start), std::memory_order_relaxed);
    if (!s.ok()) Fail(s);
    Publish(target, target, s);
  }
}

void Store::Impl::Publish(uint64_t written, uint64_t durable, const Status& failure) {
  std::vector<std::function<void(const Status&)>> ready;
  std::vector<Request*> done;
  {
    std::lock_guard lock(sync_mu_);
    if (failure.ok()) {
      durable_lsn_ = std::max(durable_lsn_, durable);
      kernel_lsn_ = std::max({kernel_lsn_, written, durable_lsn_});
    } else if (sync_failure_.ok()) {
      sync_failure_ =
          Status(failure.code(), "write or sync failed: " + std::string(failure.message()));
    }
    const uint64_t acked = AckedLsnLocked();
    while (!awaiting_sync_.empty() && (!failure.ok() || awaiting_sync_.front()->lsn <= acked)) {
      done.push_back(awaiting_sync_.front());
      awaiting_sync_.pop_front();
    }
    auto end = failure.ok() ? durable_callbacks_.upper_bound(acked) : durable_callbacks_.end();
    for (auto it = durable_callbacks_.begin(); it != end; ++it) {
      ready.push_back(std::move(it->second));
    }
    durable_callbacks_.erase(durable_callbacks_.begin(), end);
  }
  durable_cv_.notify_all();
  if (!done.empty()) {
    std::lock_guard lock(queue_mu_);
    for (Request* r : done) {
      if (!failure.ok()) r->status = failure;
      r->done = true;
      r->cv.notify_one();  // under the lock: see Submit
    }
  }
  for (auto& cb : ready) cb(failure);
}

Status Store::Impl::CreateSegment(uint32_t id, std::shared_ptr<Segment>* out) {
  auto seg = std::make_shared<Segment>();
  seg->id = id;
  seg->path = platform::JoinPath(vlog_dir_, SegmentFileName(id));
  platform::OpenOptions oo;
  oo.read_only = false;
  oo.create = true;
  oo.exclusive = true;
  oo.dsync = opts_.durability == Durability::kPowerLoss;
  SKEG_ASSIGN_OR_RETURN(seg->file, env_->OpenFile(seg->path, oo));
  if (opts_.durability == Durability::kPowerLoss) {
    // Preallocate so later appends do not allocate blocks (and change metadata) per write.
    Status s = seg->file->Allocate(0, opts_.segment_target_bytes);
    if (!s.ok() && s.code() != StatusCode::kNotSupported) return s;
  }
  char header[kSegmentHeaderSize];
  EncodeSegmentHeader(header, id, Now());
  std::string_view hv(header, sizeof(header));
  SKEG_RETURN_IF_ERROR(seg->file->WriteAt(0, std::span<const std::string_view>(&hv, 1)));
  SKEG_RETURN_IF_ERROR(seg->file->Sync(opts_.durability == Durability::kRelaxed
                                           ? platform::SyncMode::kData
                                           : platform::SyncMode::kFull));
  if (opts_.durability != Durability::kRelaxed) SKEG_RETURN_IF_ERROR(env_->SyncDir(vlog_dir_));
  seg->size = kSegmentHeaderSize;
  ResetTail(*seg, kSegmentHeaderSize);
  seg->carry.assign(header, sizeof(header));  // the first page starts with the header
  seg->carry_base = 0;
  {
    std::unique_lock lock(segments_mu_);
    segments_[id] = seg;
  }
  *out = std::move(seg);
  return Status::Ok();
}

Status Store::Impl::AppendActive(std::span<const std::string_view> chunks, uint64_t total) {
  Segment& seg = *active_;
  const uint64_t base = seg.size;
  if (total <= Segment::kMaxTailBytes) {
    {
      std::lock_guard lock(seg.tail_mu);
      for (std::string_view c : chunks) seg.tail.append(c);
    }
    seg.size = base + total;
    // The syncer is behind (a slow sync): write the tail here so memory stays bounded.
    if (seg.size.load() - seg.flushed.load() > Segment::kMaxTailBytes) return FlushTail(seg);
    return Status::Ok();
  }
  // A large group goes to the file directly, without a copy into memory, after the tail.
  std::lock_guard flush_lock(seg.flush_mu);
  SKEG_RETURN_IF_ERROR(FlushTailLocked(seg));
  SKEG_RETURN_IF_ERROR(seg.file->WriteAt(base, chunks));
  // Large values are not written through to the page cache; the page after them is cached
  // again from the next page boundary on.
  seg.carry.clear();
  seg.carry_base = Segment::kNoCarry;
  {
    std::lock_guard lock(seg.tail_mu);
    seg.tail_base = base + total;
    seg.flushing_base = base + total;
    seg.flushed.store(base + total, std::memory_order_release);
  }
  seg.size = base + total;
  return Status::Ok();
}

Status Store::Impl::FlushTail(Segment& seg) {
  std::lock_guard flush_lock(seg.flush_mu);
  return FlushTailLocked(seg);
}

Status Store::Impl::FlushTailLocked(Segment& seg) {
  {
    std::lock_guard lock(seg.tail_mu);
    if (!seg.flushing.empty()) {
      // A failed flush left its bytes here; the store has failed, so do not retry.
      return Status::IOError("an earlier write of " + seg.path + " failed");
    }
    if (seg.tail.empty()) return Status::Ok();
    seg.flushing.swap(seg.tail);  // `tail` keeps the old flushing buffer's capacity
    seg.flushing_base = seg.tail_base;
    seg.tail_base += seg.flushing.size();
  }
  // Written without tail_mu: readers copy from `flushing`, which nobody changes meanwhile.
  const std::string_view bytes(seg.flushing);
  Status s = seg.file->WriteAt(seg.flushing_base, std::span<const std::string_view>(&bytes, 1));
  if (!s.ok()) return s;
  CacheWritten(seg, seg.flushing_base, bytes);
  std::lock_guard lock(seg.tail_mu);
  seg.flushed.store(seg.flushing_base + seg.flushing.size(), std::memory_order_release);
  seg.flushing.clear();
  return Status::Ok();
}

void Store::Impl::ResetTail(Segment& seg, uint64_t size) {
  std::lock_guard lock(seg.tail_mu);
  seg.tail.clear();
  seg.flushing.clear();
  seg.tail_base = size;
  seg.flushing_base = size;
  seg.flushed.store(size, std::memory_order_release);
  seg.carry.clear();
  seg.carry_base = Segment::kNoCarry;
}

void Store::Impl::CacheWritten(Segment& seg, uint64_t base, std::string_view bytes) const {
  PageCache* cache = opts_.page_cache;
  if (cache == nullptr || cache->capacity_bytes() == 0 || bytes.empty()) return;
  constexpr uint64_t kPage = PageCache::kPageSize;
  const uint64_t end = base + bytes.size();
  const bool carry_known =
      seg.carry_base != Segment::kNoCarry && seg.carry_base + seg.carry.size() == base;
  for (uint64_t page_start = base - base % kPage; page_start < end; page_start += kPage) {
    const uint64_t from = std::max(page_start, base);
    if (from > page_start && !carry_known) continue;  // the page's start is not in memory
    const uint64_t to = std::min(page_start + kPage, end);
    auto page = PageCache::NewPage();
    if (from > page_start) std::memcpy(page->data.get(), seg.carry.data(), from - page_start);
    std::memcpy(page->data.get() + (from - page_start), bytes.data() + (from - base), to - from);
    page->valid = static_cast<uint32_t>(to - page_start);
    cache->Insert(seg.cache_id, page_start / kPage, std::move(page), PageCache::kNoOwner,
                  PageCache::Admit::kMain);
  }
  // The new carry: the bytes of the last, partly written page.
  const uint64_t last_start = end - end % kPage;
  if (last_start >= base) {
    seg.carry.assign(bytes.data() + (last_start - base), end - last_start);
    seg.carry_base = last_start;
  } else if (carry_known) {
    seg.carry.append(bytes);
  } else {
    seg.carry.clear();
    seg.carry_base = Segment::kNoCarry;
  }
}

Status Store::Impl::RollSegment() {
  // The old segment is sealed complete on file: compaction and recovery read sealed segments
  // straight from their files.
  if (Status f = FlushTail(*active_); !f.ok()) {
    Fail(f);
    return f;
  }
  std::shared_ptr<Segment> next;
  SKEG_RETURN_IF_ERROR(CreateSegment(active_->id + 1, &next));
  active_->sealed = true;
  if (opts_.durability == Durability::kPowerLoss) {
    // Give back the preallocated space past the last record.
    active_->file->Truncate(active_->size.load()).IgnoreError();
  }
  active_ = std::move(next);
  // A seal is when garbage becomes reclaimable (the sealed segment, and older ones whose keys
  // it overwrote): wake the compactor now rather than at its next periodic check.
  if (opts_.background_compaction) {
    {
      std::lock_guard lock(compactor_mu_);
      compactor_kick_ = true;
    }
    compactor_cv_.notify_one();
  }
  return Status::Ok();
}

Status Store::Impl::FindKey(uint64_t hash, std::string_view key, KeySpace space, bool* found,
                            KeyDir::SlotRef* ref, RecordLocation* loc, int64_t* expire_at) const {
  *found = false;
  Status status;
  // Only the header and the key are needed, and only when the stored key has the length of
  // `key`: a record whose header names another length cannot hold it. Short keys (the common
  // case) are read into a stack buffer.
  const size_t want = kRecordHeaderSize + key.size();
  char small[256];
  std::string large;
  char* buf = small;
  if (want > sizeof(small)) {
    large.resize(want);
    buf = large.data();
  }
  keydir_.WriterFind(hash, [&](KeyDir::SlotRef r, const RecordLocation& l) {
    if (l.size < want) return false;  // too short to hold a key of this length
    auto seg = GetSegment(l.segment);
    if (!seg) {
      status = Status::Corruption("key directory points at missing segment " +
                                  std::to_string(l.segment));
      return true;
    }
    size_t got = 0;
    status = ReadAt(*seg, l.offset, want, buf, &got);
    if (status.ok() && got < want) {
      status = CorruptionAt(*seg, l.offset, Status::Corruption("record past end of file"));
    }
    if (!status.ok()) return true;
    auto h = DecodeRecordHeader(std::string_view(buf, kRecordHeaderSize));
    if (!h) {
      status = CorruptionAt(*seg, l.offset, h.error());
      return true;
    }
    if (h->key_len != key.size() || KeySpaceOf(h->type) != space ||
        std::memcmp(buf + kRecordHeaderSize, key.data(), key.size()) != 0) {
      return false;
    }
    *found = true;
    *ref = r;
    *loc = l;
    *expire_at = h->expire_at;
    return true;
  });
  return status;
}

Status Store::Impl::ApplyOp(uint64_t hash, std::string_view key, KeySpace space, bool is_delete,
                            int64_t expire_at, const RecordLocation& loc, bool* removed_live) {
  *removed_live = false;
  bool found = false;
  KeyDir::SlotRef ref{};
  RecordLocation old{};
  int64_t old_expire = 0;
  SKEG_RETURN_IF_ERROR(FindKey(hash, key, space, &found, &ref, &old, &old_expire));
  const UnixMillis now = Now();
  // A put whose expiry has already passed behaves as a delete (also during replay).
  const bool removes = is_delete || (expire_at != kNoExpiry && expire_at <= now);
  auto seg = GetSegment(loc.segment);
  if (is_delete) {
    if (seg) seg->tombstone_bytes += loc.size;
  }
  if (found) {
    *removed_live = old_expire == kNoExpiry || old_expire > now;
    if (auto old_seg = GetSegment(old.segment)) old_seg->live_bytes -= old.size;
    if (removes) {
      keydir_.WriterErase(ref);
    } else {
      keydir_.WriterReplace(ref, loc);
    }
  } else if (!removes) {
    keydir_.WriterInsert(hash, loc);
  }
  if (!removes && seg) seg->live_bytes += loc.size;
  return Status::Ok();
}

std::vector<Request*> Store::Impl::CommitWrites(std::vector<Request*>& group) {
  uint64_t total = 0;
  bool force = false;
  size_t ops = 0;
  for (Request* r : group) {
    total += r->encoded.size();
    force |= r->force_sync;
    ops += r->ops.size();
  }
  // Several keys (an MSET, a group of writers): start loading what their key checks below
  // will touch (directory slots, then the old records), 16 keys at a time, so the checks
  // overlap their cache misses instead of taking them one by one.
  if (ops > 1) {
    uint64_t hashes[Store::kMaxPrefetchKeys];
    size_t n = 0;
    for (Request* r : group) {
      for (const EncodedOp& op : r->ops) {
        hashes[n++] = op.hash;
        if (n == Store::kMaxPrefetchKeys) {
          PrefetchHashes(std::span(hashes, n));
          n = 0;
        }
      }
    }
    if (n > 0) PrefetchHashes(std::span(hashes, n));
  }
  Status s;
  if (active_->size + total > opts_.segment_target_bytes && active_->size > kSegmentHeaderSize) {
    s = RollSegment();
  }
  const uint64_t base = active_->size;
  if (s.ok()) {
    std::vector<std::string_view> chunks;
    chunks.reserve(group.size());
    for (Request* r : group) {
      const uint64_t seq = next_sequence_;
      next_sequence_ += r->ops.size();
      FinishRecordHeader(r->encoded.data(), r->type, seq, r->key_len, r->value_len, r->expire_at,
                         r->body_crc);
      chunks.emplace_back(r->encoded);
    }
    s = AppendActive(chunks, total);
    // Earlier groups are visible but maybe not on file: nothing more may be acknowledged.
    if (!s.ok()) Fail(s);
  }
  if (!s.ok()) {
    for (Request* r : group) r->status = s;
    return group;
  }
  bytes_written_ += total;
  commit_groups_.fetch_add(1, std::memory_order_relaxed);
  committed_batches_.fetch_add(group.size(), std::memory_order_relaxed);

  uint64_t off = base;
  for (Request* r : group) {
    for (const EncodedOp& op : r->ops) {
      RecordLocation loc{active_->id, static_cast<uint32_t>(off + op.rel_offset), op.size,
                         op.has_expiry, op.space != KeySpace::kKv};
      bool removed_live = false;
      Status a = ApplyOp(op.hash, op.key, op.space, op.is_delete, op.expire_at, loc, &removed_live);
      if (!a.ok()) {
        // The write is durable but the directory could not be updated (a read of an older
        // record failed): report it and stop accepting writes rather than serve stale data.
        Fail(a);
        r->status = a;
      }
      if (op.is_delete && removed_live) ++r->deleted;
    }
    off += r->encoded.size();
  }
  // Readers see the group from here on; writers are acknowledged once the group reaches the
  // tier's acknowledgement point (AckedLsnLocked). One critical section, so a syncer pass cannot
  // slip between the new position and the writers that wait for it.
  std::vector<Request*> finished;
  {
    std::lock_guard lock(sync_mu_);
    written_lsn_ += total;
    if (std::find(dirty_segments_.begin(), dirty_segments_.end(), active_) ==
        dirty_segments_.end()) {
      dirty_segments_.push_back(active_);
    }
    if (force) {
      force_lsn_ = written_lsn_;
      full_sync_lsn_ = written_lsn_;
    }
    for (Request* r : group) {
      r->lsn = written_lsn_;
      if (r->status.ok() && r->ticket_out == nullptr && sync_failure_.ok()) {
        r->awaiting_sync = true;
        awaiting_sync_.push_back(r);
        continue;
      }
      if (r->status.ok() && r->ticket_out != nullptr) *r->ticket_out = written_lsn_;
      if (r->status.ok() && r->ticket_out == nullptr) r->status = sync_failure_;
      finished.push_back(r);
    }
    NotifySyncerLocked();
  }
  bytes_since_checkpoint_ += total;
  if (opts_.checkpoint_interval_bytes > 0 &&
      bytes_since_checkpoint_ >= opts_.checkpoint_interval_bytes) {
    Status c = DoCheckpoint();
    if (!c.ok()) spdlog::warn("value log: checkpoint failed: {}", c.ToString());
  }
  return finished;
}

void Store::Impl::CommitRelocations(Request* req) {
  auto& relocs = *req->relocations;
  std::vector<std::string> tombstones;  // records written for kExpireToTomb
  std::vector<std::string_view> chunks;
  std::vector<std::pair<Relocation*, size_t>> included;  // relocation, index into chunks
  uint64_t total = 0;
  for (Relocation& rel : relocs) {
    bool include = false;
    if (rel.kind == Relocation::Kind::kTombstoneCopy) {
      bool found = false;
      KeyDir::SlotRef ref{};
      RecordLocation loc{};
      int64_t exp = 0;
      Status s = FindKey(rel.hash, rel.key, rel.space, &found, &ref, &loc, &exp);
      if (!s.ok()) {
        req->status = s;
        return;
      }
      include = !found;
    } else {
      include = keydir_.WriterFind(
          rel.hash, [&](KeyDir::SlotRef, const RecordLocation& l) { return l == rel.old_loc; });
    }
    if (!include) continue;
    if (rel.kind == Relocation::Kind::kExpireErase) {
      // Nothing to write: the expired record stays until compaction, and replay treats an
      // expired put as a delete.
      keydir_.WriterFind(rel.hash, [&](KeyDir::SlotRef ref, const RecordLocation& l) {
        if (l != rel.old_loc) return false;
        if (auto old_seg = GetSegment(l.segment)) old_seg->live_bytes -= l.size;
        keydir_.WriterErase(ref);
        return true;
      });
      continue;
    }
    if (rel.kind == Relocation::Kind::kExpireToTomb) {
      std::string rec;
      AppendRecord(&rec, DeleteTypeFor(rel.space), next_sequence_++, rel.key, {}, 0);
      tombstones.push_back(std::move(rec));
      chunks.emplace_back(tombstones.back());
    } else {
      chunks.emplace_back(rel.record);
    }
    included.emplace_back(&rel, chunks.size() - 1);
    total += chunks.back().size();
  }
  if (chunks.empty()) return;
  Status s;
  if (active_->size + total > opts_.segment_target_bytes && active_->size > kSegmentHeaderSize) {
    s = RollSegment();
  }
  const uint64_t base = active_->size;
  if (s.ok()) {
    s = AppendActive(chunks, total);
    // Copies are made durable before the directory points at them.
    if (s.ok()) s = WaitDurableInternal(AdvanceWritten(total, active_, true));
    if (!s.ok()) Fail(s);
  }
  if (!s.ok()) {
    req->status = s;
    return;
  }
  bytes_written_ += total;
  uint64_t off = base;
  for (auto& [rel, idx] : included) {
    const uint32_t size = static_cast<uint32_t>(chunks[idx].size());
    RecordLocation loc{active_->id, static_cast<uint32_t>(off), size, false};
    off += size;
    if (rel->kind == Relocation::Kind::kTombstoneCopy) {
      active_->tombstone_bytes += size;
      continue;
    }
    keydir_.WriterFind(rel->hash, [&](KeyDir::SlotRef ref, const RecordLocation& l) {
      if (l != rel->old_loc) return false;
      if (auto old_seg = GetSegment(l.segment)) old_seg->live_bytes -= l.size;
      if (rel->kind == Relocation::Kind::kExpireToTomb) {
        keydir_.WriterErase(ref);
        active_->tombstone_bytes += size;
      } else {
        loc.has_expiry = l.has_expiry;
        loc.internal = l.internal;
        keydir_.WriterReplace(ref, loc);
        active_->live_bytes += size;
      }
      return true;
    });
  }
  bytes_since_checkpoint_ += total;
}

Status Store::Impl::DoCheckpoint() {
  // A checkpoint must not reference records that a power loss could still take away.
  SKEG_RETURN_IF_ERROR(WaitDurableInternal(AdvanceWritten(0, nullptr, false)));
  CheckpointPosition pos;
  pos.segment = active_->id;
  pos.offset = active_->size;
  pos.next_sequence = next_sequence_;
  pos.entries = keydir_.size();
  Status s = WriteCheckpoint(env_, vlog_dir_, keydir_, pos);
  if (s.ok()) {
    bytes_since_checkpoint_ = 0;
    checkpoints_.fetch_add(1, std::memory_order_relaxed);
  }
  return s;
}

Status Store::Impl::DoDropSegment(uint32_t id) {
  auto seg = GetSegment(id);
  if (!seg || seg == active_) return Status::Internal("cannot drop segment " + std::to_string(id));
  if (seg->live_bytes.load() != 0) {
    return Status::Internal("segment " + std::to_string(id) + " still holds live records");
  }
  // The checkpoint must stop referencing the segment before its file goes away.
  SKEG_RETURN_IF_ERROR(DoCheckpoint());
  {
    std::unique_lock lock(segments_mu_);
    segments_.erase(id);
  }
  compaction_reclaimed_ += seg->size.load();
  ForgetPages(*seg, 0);
  SKEG_RETURN_IF_ERROR(env_->RemoveFile(seg->path));
  return env_->SyncDir(vlog_dir_);
}

Status Store::Impl::Checkpoint() {
  Request r;
  r.kind = Request::Kind::kCheckpoint;
  return Submit(&r);
}

Status Store::Impl::Sync() {
  Request r;
  r.kind = Request::Kind::kSync;
  return Submit(&r);
}

Status Store::Impl::Close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  Status result;
  {
    std::lock_guard lock(compactor_mu_);
    compactor_stop_ = true;
  }
  compactor_cv_.notify_all();
  if (compactor_.joinable()) compactor_.join();
  if (bg_committer_.joinable()) {  // after the compactor: nothing is handed over any more
    {
      std::lock_guard lock(bg_mu_);
      bg_stop_ = true;
    }
    bg_cv_.notify_all();
    bg_committer_.join();
  }
  bool was_accepting;
  {
    std::lock_guard lock(queue_mu_);
    was_accepting = accepting_;
  }
  if (was_accepting) {
    bool healthy;
    {
      std::lock_guard lock(queue_mu_);
      healthy = failed_.ok();
    }
    if (healthy) {
      result = Sync();
      if (result.ok()) result = Checkpoint();
    }
    // Refuse new writes, then let the groups in flight finish.
    std::unique_lock lock(queue_mu_);
    accepting_ = false;
    idle_cv_.wait(lock, [&] { return queue_.empty() && !leader_active_; });
  }
  if (syncer_.joinable()) {
    {
      std::lock_guard lock(sync_mu_);
      syncer_stop_ = true;
    }
    syncer_cv_.notify_all();
    syncer_.join();
    // Whatever still waits (only after a failed sync) learns that it will never be durable.
    Publish(0, 0, sync_failure_.ok() ? Status::Cancelled("store closed") : sync_failure_);
  }
  {
    std::unique_lock lock(segments_mu_);
    segments_.clear();
  }
  active_.reset();
  lock_.reset();
  return result;
}

}  // namespace skeg::storage
