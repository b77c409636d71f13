// Background compaction: rewrite the live records of sparse sealed segments, then drop them.
//
// Crash safety: relocated copies are written and fsynced by the committer; the segment is
// dropped only after a checkpoint that no longer references it (DoDropSegment). A crash at
// any point leaves either the old segment (still referenced, copies are harmless duplicates
// replayed in log order) or the checkpoint without it.
#include <algorithm>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/hash.h"
#include "platform/thread.h"
#include "storage/vlog/store_impl.h"

namespace skeg::storage {

namespace {
constexpr size_t kRelocationBatchBytes = 4 << 20;
// True on a compactor thread that lowered its CPU priority: its commits go through the
// background-commit thread.
thread_local bool t_low_priority = false;
}  // namespace

Status Store::Impl::SubmitBackground(Request* req) {
  if (!t_low_priority) return Submit(req);
  std::unique_lock lock(bg_mu_);
  bg_request_ = req;
  bg_done_ = false;
  bg_cv_.notify_all();
  bg_cv_.wait(lock, [&] { return bg_done_; });
  return bg_status_;
}

void Store::Impl::BackgroundCommitLoop() {
  platform::SetCurrentThreadName("skeg-bg-commit");
  std::unique_lock lock(bg_mu_);
  while (true) {
    bg_cv_.wait(lock, [&] { return bg_stop_ || bg_request_ != nullptr; });
    if (bg_request_ == nullptr) return;  // stopping, nothing handed over
    Request* req = bg_request_;
    bg_request_ = nullptr;
    lock.unlock();
    Status s = Submit(req);
    lock.lock();
    bg_status_ = std::move(s);
    bg_done_ = true;
    bg_cv_.notify_all();
  }
}

std::vector<uint32_t> Store::Impl::EligibleSegments() const {
  std::vector<uint32_t> out;
  std::shared_lock lock(segments_mu_);
  if (segments_.empty()) return out;
  const uint32_t oldest = segments_.begin()->first;
  for (const auto& [id, seg] : segments_) {
    if (!seg->sealed.load()) continue;
    const uint64_t size = seg->size.load();
    if (size <= kSegmentHeaderSize) {
      out.push_back(id);
      continue;
    }
    // Tombstones must be kept while an older segment may still hold the puts they cancel,
    // so they count as live except in the oldest segment.
    uint64_t keep = seg->live_bytes.load();
    if (id != oldest) keep += seg->tombstone_bytes.load();
    if (static_cast<double>(keep) < opts_.compaction_live_fraction * static_cast<double>(size)) {
      out.push_back(id);
    }
  }
  return out;
}

Status Store::Impl::ExpireSweep(uint32_t first_shard, uint32_t shard_count) {
  const UnixMillis now = Now();
  std::vector<Relocation> expired;
  std::vector<RecordLocation> locs;
  std::string buf;
  for (uint32_t i = 0; i < shard_count; ++i) {
    const uint32_t shard = (first_shard + i) % KeyDir::kShards;
    locs.clear();
    keydir_.ScanShard(shard, 0, SIZE_MAX, [&](uint32_t, const RecordLocation& l) {
      if (l.has_expiry) locs.push_back(l);
    });
    for (const RecordLocation& l : locs) {
      auto seg = GetSegment(l.segment);
      if (!seg) continue;
      RecordHeader h;
      std::string_view key;
      SKEG_RETURN_IF_ERROR(ReadKey(*seg, l, &buf, &h, &key));
      if (h.expire_at == kNoExpiry || h.expire_at > now) continue;
      Relocation r;
      r.kind = Relocation::Kind::kExpireErase;
      r.old_loc = l;
      r.space = KeySpaceOf(h.type);
      r.hash = KeyHash(r.space, key);
      r.key = std::string(key);
      expired.push_back(std::move(r));
    }
  }
  if (expired.empty()) return Status::Ok();
  Request req;
  req.kind = Request::Kind::kRelocate;
  req.relocations = &expired;
  return SubmitBackground(&req);
}

Status Store::Impl::Compact() {
  std::lock_guard run(compaction_run_mu_);
  SKEG_RETURN_IF_ERROR(ExpireSweep(0, KeyDir::kShards));
  for (uint32_t id : EligibleSegments()) {
    Status s = CompactSegment(id);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

void Store::Impl::CompactorLoop() {
  platform::SetCurrentThreadName("skeg-compactor");
  if (opts_.compaction_nice > 0) {
    if (Status s = platform::LowerCurrentThreadPriority(opts_.compaction_nice); s.ok()) {
      t_low_priority = bg_committer_.joinable();
    } else {
      spdlog::warn("value log: compactor keeps the server's CPU priority: {}", s.ToString());
    }
  }
  while (true) {
    {
      std::unique_lock lock(compactor_mu_);
      compactor_cv_.wait_for(lock, std::chrono::milliseconds(opts_.compaction_check_ms),
                             [&] { return compactor_stop_ || compactor_kick_; });
      if (compactor_stop_) return;
      compactor_kick_ = false;
    }
    // Sweep 1/16 of the directory per tick for expired keys, then compact.
    Status s = ExpireSweep(expiry_cursor_, KeyDir::kShards / 16);
    expiry_cursor_ = (expiry_cursor_ + KeyDir::kShards / 16) % KeyDir::kShards;
    if (s.ok()) {
      std::lock_guard run(compaction_run_mu_);
      for (uint32_t id : EligibleSegments()) {
        s = CompactSegment(id);
        if (!s.ok()) break;
      }
    }
    if (!s.ok() && s.code() != StatusCode::kCancelled) {
      spdlog::error("value log: compaction failed: {}", s.ToString());
    }
  }
}

Status Store::Impl::CompactSegment(uint32_t id) {
  auto seg = GetSegment(id);
  if (!seg) return Status::Ok();
  bool has_older = false;
  {
    std::shared_lock lock(segments_mu_);
    has_older = segments_.begin()->first < id;
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t processed = 0;
  auto throttle = [&](uint64_t bytes) {
    processed += bytes;
    if (opts_.compaction_bytes_per_sec == 0) return;
    const double due =
        static_cast<double>(processed) / static_cast<double>(opts_.compaction_bytes_per_sec);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (due > elapsed) std::this_thread::sleep_for(std::chrono::duration<double>(due - elapsed));
  };

  std::vector<Relocation> pending;
  size_t pending_bytes = 0;
  auto flush = [&]() -> Status {
    if (pending.empty()) return Status::Ok();
    Request req;
    req.kind = Request::Kind::kRelocate;
    req.relocations = &pending;
    Status s = SubmitBackground(&req);
    throttle(pending_bytes);
    pending.clear();
    pending_bytes = 0;
    return s;
  };

  const UnixMillis now = Now();
  // Top-level records are copied byte for byte; an inner batch record (sequence 0) becomes a
  // top-level record with its own sequence, so recovery can tell it from batch contents.
  auto reencode = [](const RecordView& rec, uint64_t sequence, std::string_view raw) {
    if (rec.header.sequence != 0) return std::string(raw);
    std::string out;
    AppendRecord(&out, rec.header.type, sequence, rec.key, rec.value, rec.header.expire_at);
    return out;
  };
  auto consider = [&](const RecordView& rec, uint64_t offset, uint64_t sequence,
                      std::string_view raw) -> Status {
    const KeySpace space = KeySpaceOf(rec.header.type);
    const uint64_t hash = KeyHash(space, rec.key);
    const bool is_delete = IsDeleteType(rec.header.type);
    const uint32_t size = static_cast<uint32_t>(rec.header.record_size());
    const bool expired = rec.header.expire_at != kNoExpiry && rec.header.expire_at <= now;
    RecordLocation loc{id, static_cast<uint32_t>(offset), size, rec.header.expire_at != kNoExpiry,
                       space != KeySpace::kKv};
    RecordLocation cands[8];
    size_t n = is_delete ? 0 : keydir_.Candidates(hash, cands, 8);
    bool live = false;
    for (size_t i = 0; i < std::min<size_t>(n, 8); ++i) live |= cands[i] == loc;
    if (is_delete || (expired && !live)) {
      // A tombstone, or an expired put that acts as one (replay treats it as a delete): keep
      // it while an older segment may still hold a put of the key it cancels.
      if (!has_older) return Status::Ok();
      Relocation r;
      r.kind = Relocation::Kind::kTombstoneCopy;
      r.hash = hash;
      r.space = space;
      r.key = std::string(rec.key);
      if (is_delete) {
        r.record = reencode(rec, sequence, raw);
      } else {
        AppendRecord(&r.record, DeleteTypeFor(space), sequence, rec.key, {}, 0);
      }
      pending_bytes += size;
      pending.push_back(std::move(r));
    } else {
      if (!live) return Status::Ok();
      Relocation r;
      r.old_loc = loc;
      r.hash = hash;
      r.space = space;
      r.key = std::string(rec.key);
      if (expired) {
        r.kind = has_older ? Relocation::Kind::kExpireToTomb : Relocation::Kind::kExpireErase;
      } else {
        r.kind = Relocation::Kind::kCopy;
        r.record = reencode(rec, sequence, raw);
      }
      pending_bytes += size;
      pending.push_back(std::move(r));
    }
    if (pending_bytes >= kRelocationBatchBytes) return flush();
    return Status::Ok();
  };

  SegmentScanner scanner(seg->file.get(), kSegmentHeaderSize, seg->size.load());
  RecordView rec;
  uint64_t offset = 0;
  Status why;
  while (true) {
    if (compactor_stop_.load(std::memory_order_relaxed)) {
      return Status::Cancelled("store is closing");
    }
    auto outcome = scanner.Next(&rec, &offset, &why);
    if (outcome == SegmentScanner::Outcome::kEnd) break;
    if (outcome == SegmentScanner::Outcome::kBad) return CorruptionAt(*seg, offset, why);
    const uint64_t record_size = rec.header.record_size();
    if (rec.header.type == RecordType::kBatch) {
      std::string_view inner = rec.value;
      uint64_t inner_off = offset + kRecordHeaderSize;
      uint64_t seq = rec.header.sequence;
      while (!inner.empty()) {
        auto r = DecodeRecord(inner);
        if (!r) return CorruptionAt(*seg, inner_off, r.error());
        const size_t sz = r->header.record_size();
        SKEG_RETURN_IF_ERROR(consider(*r, inner_off, seq++, inner.substr(0, sz)));
        inner_off += sz;
        inner.remove_prefix(sz);
      }
    } else {
      // The scanner's views are contiguous: header, key and value form the raw record.
      SKEG_RETURN_IF_ERROR(
          consider(rec, offset, rec.header.sequence,
                   std::string_view(rec.key.data() - kRecordHeaderSize, record_size)));
    }
  }
  SKEG_RETURN_IF_ERROR(flush());
  Request drop;
  drop.kind = Request::Kind::kDropSegment;
  drop.segment = id;
  Status s = SubmitBackground(&drop);
  if (s.ok()) {
    compactions_.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("value log: compacted segment {} ({} bytes)", id, seg->size.load());
  }
  return s;
}

}  // namespace skeg::storage
