// The committer thread: group commit, the key-directory writer, segment rolls, checkpoints.
#include <chrono>

#include <spdlog/spdlog.h>

#include "common/coding.h"
#include "common/hash.h"
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
  if (stopping_ || !committer_.joinable()) return Status::Cancelled("store is closed");
  queue_.push_back(req);
  queue_cv_.notify_one();
  done_cv_.wait(lock, [&] { return req->done; });
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

void Store::Impl::CommitterLoop() {
  std::vector<Request*> group;
  while (true) {
    group.clear();
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      // Take what is queued now (never wait for more: a trickle is flushed at once), bounded
      // by count and bytes; control requests are taken alone.
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
    }
    Request* first = group.front();
    switch (first->kind) {
      case Request::Kind::kWrite:
        CommitWrites(group);
        break;
      case Request::Kind::kRelocate:
        CommitRelocations(first);
        break;
      case Request::Kind::kCheckpoint:
        first->status = DoCheckpoint();
        break;
      case Request::Kind::kSync:
        first->status = SyncActive(true);
        break;
      case Request::Kind::kDropSegment:
        first->status = DoDropSegment(first->segment);
        break;
    }
    {
      std::lock_guard lock(queue_mu_);
      for (Request* r : group) r->done = true;
    }
    done_cv_.notify_all();
  }
}

Status Store::Impl::SyncActive(bool force_full) {
  auto start = std::chrono::steady_clock::now();
  // relaxed: fdatasync; kernel and power-loss: fsync (power-loss files are also O_DSYNC).
  platform::SyncMode mode = (opts_.durability == Durability::kRelaxed && !force_full)
                                ? platform::SyncMode::kData
                                : platform::SyncMode::kFull;
  Status s = active_->file->Sync(mode);
  syncs_.fetch_add(1, std::memory_order_relaxed);
  sync_nanos_.fetch_add(NanosSince(start), std::memory_order_relaxed);
  return s;
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
  {
    std::unique_lock lock(segments_mu_);
    segments_[id] = seg;
  }
  *out = std::move(seg);
  return Status::Ok();
}

Status Store::Impl::RollSegment() {
  std::shared_ptr<Segment> next;
  SKEG_RETURN_IF_ERROR(CreateSegment(active_->id + 1, &next));
  active_->sealed = true;
  if (opts_.durability == Durability::kPowerLoss) {
    // Give back the preallocated space past the last record.
    active_->file->Truncate(active_->size.load()).IgnoreError();
  }
  active_ = std::move(next);
  return Status::Ok();
}

Status Store::Impl::FindKey(uint64_t hash, std::string_view key, bool* found, KeyDir::SlotRef* ref,
                            RecordLocation* loc, int64_t* expire_at) const {
  *found = false;
  Status status;
  std::string buf;
  keydir_.WriterFind(hash, [&](KeyDir::SlotRef r, const RecordLocation& l) {
    auto seg = GetSegment(l.segment);
    if (!seg) {
      status = Status::Corruption("key directory points at missing segment " +
                                  std::to_string(l.segment));
      return true;
    }
    RecordHeader h;
    std::string_view stored;
    status = ReadKey(*seg, l, &buf, &h, &stored);
    if (!status.ok()) return true;
    if (stored != key) return false;
    *found = true;
    *ref = r;
    *loc = l;
    *expire_at = h.expire_at;
    return true;
  });
  return status;
}

Status Store::Impl::ApplyOp(uint64_t hash, std::string_view key, bool is_delete, int64_t expire_at,
                            const RecordLocation& loc, bool* removed_live) {
  *removed_live = false;
  bool found = false;
  KeyDir::SlotRef ref{};
  RecordLocation old{};
  int64_t old_expire = 0;
  SKEG_RETURN_IF_ERROR(FindKey(hash, key, &found, &ref, &old, &old_expire));
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

void Store::Impl::CommitWrites(std::vector<Request*>& group) {
  uint64_t total = 0;
  bool force = false;
  for (Request* r : group) {
    total += r->encoded.size();
    force |= r->force_sync;
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
    s = active_->file->WriteAt(base, chunks);
    if (s.ok()) s = SyncActive(force);
    if (!s.ok()) {
      // Nothing of this group is acknowledged. Cut the partial bytes so later groups do not
      // follow garbage; if even that fails the store stops taking writes.
      Status t = active_->file->Truncate(base);
      if (!t.ok() || s.code() != StatusCode::kResourceExhausted) Fail(s);
    }
  }
  if (!s.ok()) {
    for (Request* r : group) r->status = s;
    return;
  }
  active_->size = base + total;
  bytes_written_ += total;
  commit_groups_.fetch_add(1, std::memory_order_relaxed);
  committed_batches_.fetch_add(group.size(), std::memory_order_relaxed);

  uint64_t off = base;
  for (Request* r : group) {
    for (const EncodedOp& op : r->ops) {
      RecordLocation loc{active_->id, static_cast<uint32_t>(off + op.rel_offset), op.size,
                         op.has_expiry};
      bool removed_live = false;
      Status a = ApplyOp(op.hash, op.key, op.is_delete, op.expire_at, loc, &removed_live);
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
  bytes_since_checkpoint_ += total;
  if (opts_.checkpoint_interval_bytes > 0 &&
      bytes_since_checkpoint_ >= opts_.checkpoint_interval_bytes) {
    Status c = DoCheckpoint();
    if (!c.ok()) spdlog::warn("value log: checkpoint failed: {}", c.ToString());
  }
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
      Status s = FindKey(rel.hash, rel.key, &found, &ref, &loc, &exp);
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
      AppendRecord(&rec, RecordType::kDelete, next_sequence_++, rel.key, {}, 0);
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
  if (s.ok()) s = active_->file->WriteAt(base, chunks);
  if (s.ok()) s = SyncActive(true);
  if (!s.ok()) {
    if (!active_->file->Truncate(base).ok() || s.code() != StatusCode::kResourceExhausted) Fail(s);
    req->status = s;
    return;
  }
  active_->size = base + total;
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
        keydir_.WriterReplace(ref, loc);
        active_->live_bytes += size;
      }
      return true;
    });
  }
  bytes_since_checkpoint_ += total;
}

Status Store::Impl::DoCheckpoint() {
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
  if (committer_.joinable()) {
    bool healthy;
    {
      std::lock_guard lock(queue_mu_);
      healthy = failed_.ok();
    }
    if (healthy) {
      result = Sync();
      if (result.ok()) result = Checkpoint();
    }
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    committer_.join();
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
