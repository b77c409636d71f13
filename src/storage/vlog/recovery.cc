// Store::Impl::Open: lock, manifest, checkpoint, tail replay, torn-tail truncation.
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "common/hash.h"
#include "storage/vlog/manifest.h"
#include "storage/vlog/store_impl.h"

namespace skeg::storage {

Status Store::Impl::Open() {
  const auto start = std::chrono::steady_clock::now();
  SKEG_RETURN_IF_ERROR(env_->CreateDir(dir_));
  SKEG_ASSIGN_OR_RETURN(lock_, env_->LockFile(platform::JoinPath(dir_, "LOCK")));
  SKEG_RETURN_IF_ERROR(lock_->SetHolderInfo("pid=" + std::to_string(::getpid())));

  auto manifest = ReadManifest(env_, dir_);
  if (!manifest) {
    if (!manifest.error().IsNotFound()) return manifest.error();
    // No MANIFEST: a new directory, unless segments exist (then something deleted it).
    if (env_->FileExists(vlog_dir_)) {
      SKEG_ASSIGN_OR_RETURN(auto names, env_->ListDir(vlog_dir_));
      for (const auto& n : names) {
        if (ParseSegmentFileName(n)) {
          return Status::Corruption(platform::JoinPath(dir_, "MANIFEST") +
                                    " is missing but value-log segments exist");
        }
      }
    }
    if (!opts_.create_if_missing) return Status::NotFound("no skeg store in " + dir_);
    Manifest m;
    m.created_unix_ms = Now();
    SKEG_RETURN_IF_ERROR(env_->CreateDir(vlog_dir_));
    SKEG_RETURN_IF_ERROR(env_->SyncDir(vlog_dir_));
    SKEG_RETURN_IF_ERROR(WriteManifest(env_, dir_, m));
    recovery_.created = true;
  }
  SKEG_RETURN_IF_ERROR(env_->CreateDir(vlog_dir_));

  std::vector<uint32_t> ids;
  SKEG_RETURN_IF_ERROR(OpenSegments(&ids));
  recovery_.segments = static_cast<uint32_t>(ids.size());

  // Checkpoint, then the log after it. A damaged checkpoint is not data loss (the log is the
  // truth): fall back to replaying every segment.
  uint32_t replay_segment = ids.empty() ? 0 : ids.front();
  uint64_t replay_offset = kSegmentHeaderSize;
  auto pos = LoadCheckpoint(env_, vlog_dir_, &keydir_);
  if (pos) {
    bool valid = true;
    auto seg = GetSegment(pos->segment);
    if (!seg || pos->offset > seg->size.load()) valid = false;
    keydir_.WriterForEach([&](const RecordLocation& l) {
      if (valid && !GetSegment(l.segment)) valid = false;
    });
    if (valid) {
      recovery_.used_checkpoint = true;
      replay_segment = pos->segment;
      replay_offset = pos->offset;
      next_sequence_ = pos->next_sequence;
    } else {
      spdlog::warn(
          "value log: checkpoint refers to log data that does not exist; replaying "
          "the whole log");
      keydir_.WriterClear();
    }
  } else if (!pos.error().IsNotFound()) {
    spdlog::warn("value log: ignoring damaged checkpoint ({}); replaying the whole log",
                 pos.error().ToString());
    keydir_.WriterClear();
  }

  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < replay_segment) continue;
    auto seg = GetSegment(ids[i]);
    uint64_t from = ids[i] == replay_segment ? replay_offset : kSegmentHeaderSize;
    SKEG_RETURN_IF_ERROR(ReplaySegment(seg, from, i + 1 == ids.size()));
  }

  // Live and tombstone bytes per segment, from the directory (the replay counted only the
  // tail's tombstones; live bytes are recomputed for every segment).
  {
    std::shared_lock lock(segments_mu_);
    for (auto& [id, seg] : segments_) seg->live_bytes = 0;
  }
  keydir_.WriterForEach([&](const RecordLocation& l) {
    if (auto seg = GetSegment(l.segment)) seg->live_bytes += l.size;
  });

  if (ids.empty()) {
    SKEG_RETURN_IF_ERROR(CreateSegment(1, &active_));
  } else {
    active_ = GetSegment(ids.back());
    if (opts_.durability == Durability::kPowerLoss) {
      Status s = active_->file->Allocate(0, opts_.segment_target_bytes);
      if (!s.ok() && s.code() != StatusCode::kNotSupported) return s;
    }
  }
  {
    std::shared_lock lock(segments_mu_);
    for (auto& [id, seg] : segments_) seg->sealed = seg != active_;
  }

  recovery_.keys = keydir_.size();
  recovery_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  syncer_ = std::thread([this] { SyncerLoop(); });
  {
    std::lock_guard lock(queue_mu_);
    accepting_ = true;
  }
  if (opts_.background_compaction) {
    // The background-commit thread exists before the compactor, which checks for it.
    if (opts_.compaction_nice > 0) bg_committer_ = std::thread([this] { BackgroundCommitLoop(); });
    compactor_ = std::thread([this] { CompactorLoop(); });
  }
  return Status::Ok();
}

Status Store::Impl::OpenSegments(std::vector<uint32_t>* ids) {
  SKEG_ASSIGN_OR_RETURN(auto names, env_->ListDir(vlog_dir_));
  for (const auto& n : names) {
    if (auto id = ParseSegmentFileName(n)) {
      ids->push_back(*id);
    } else if (n.ends_with(".tmp")) {
      // An interrupted atomic replace (checkpoint): never renamed, never referenced.
      env_->RemoveFile(platform::JoinPath(vlog_dir_, n)).IgnoreError();
    }
  }
  std::sort(ids->begin(), ids->end());
  for (size_t i = 0; i < ids->size(); ++i) {
    auto seg = std::make_shared<Segment>();
    seg->id = (*ids)[i];
    seg->path = platform::JoinPath(vlog_dir_, SegmentFileName(seg->id));
    const bool last = i + 1 == ids->size();
    platform::OpenOptions oo;
    oo.read_only = !last;
    oo.dsync = last && opts_.durability == Durability::kPowerLoss;
    SKEG_ASSIGN_OR_RETURN(seg->file, env_->OpenFile(seg->path, oo));
    SKEG_ASSIGN_OR_RETURN(uint64_t size, seg->file->Size());
    char header[kSegmentHeaderSize];
    size_t got = 0;
    if (size >= kSegmentHeaderSize) {
      SKEG_ASSIGN_OR_RETURN(got, seg->file->ReadAt(0, kSegmentHeaderSize, header));
    }
    Status hs = got == kSegmentHeaderSize
                    ? DecodeSegmentHeader(std::string_view(header, got), seg->id)
                    : Status::Corruption("segment header truncated");
    if (!hs.ok()) {
      if (last && size <= kSegmentHeaderSize) {
        // Crash while creating the newest segment: it never held a record. Start it afresh.
        spdlog::warn("value log: rewriting the header of {} ({} bytes, {})", seg->path, size,
                     hs.ToString());
        seg->file.reset();
        SKEG_RETURN_IF_ERROR(env_->RemoveFile(seg->path));
        std::shared_ptr<Segment> fresh;
        SKEG_RETURN_IF_ERROR(CreateSegment(seg->id, &fresh));
        continue;
      }
      return Status::Corruption(seg->path + " at offset 0: " + std::string(hs.message()));
    }
    seg->size = size;
    ResetTail(*seg, size);
    std::unique_lock lock(segments_mu_);
    segments_[seg->id] = seg;
  }
  return Status::Ok();
}

Status Store::Impl::ApplyRecordForReplay(const RecordView& rec, uint32_t segment, uint64_t offset) {
  const KeySpace space = KeySpaceOf(rec.header.type);
  const bool has_expiry = rec.header.expire_at != kNoExpiry;
  RecordLocation loc{segment, static_cast<uint32_t>(offset),
                     static_cast<uint32_t>(rec.header.record_size()), has_expiry,
                     space != KeySpace::kKv};
  bool removed = false;
  next_sequence_ = std::max(next_sequence_, rec.header.sequence + 1);
  return ApplyOp(KeyHash(space, rec.key), rec.key, space, IsDeleteType(rec.header.type),
                 rec.header.expire_at, loc, &removed);
}

Status Store::Impl::ReplaySegment(const std::shared_ptr<Segment>& seg, uint64_t start,
                                  bool is_last) {
  SegmentScanner scanner(seg->file.get(), start, seg->size.load());
  RecordView rec;
  uint64_t offset = 0;
  Status why;
  while (true) {
    auto outcome = scanner.Next(&rec, &offset, &why);
    if (outcome == SegmentScanner::Outcome::kEnd) break;
    if (outcome == SegmentScanner::Outcome::kBad) {
      if (why.IsIOError()) return CorruptionAt(*seg, offset, why);
      SKEG_ASSIGN_OR_RETURN(bool more, scanner.AnyValidRecordAfter(offset, 0));
      if (!is_last || more) {
        // Acknowledged data follows the damage: never skip it silently.
        return CorruptionAt(*seg, offset, why);
      }
      const uint64_t cut = seg->size.load() - offset;
      spdlog::warn("value log: truncating torn tail of {}: {} bytes at offset {} ({})", seg->path,
                   cut, offset, why.message());
      SKEG_RETURN_IF_ERROR(seg->file->Truncate(offset));
      SKEG_RETURN_IF_ERROR(seg->file->Sync(platform::SyncMode::kFull));
      seg->size = offset;
      ResetTail(*seg, offset);
      recovery_.truncated_bytes += cut;
      recovery_.truncated_file = seg->path;
      break;
    }
    ++recovery_.replayed_records;
    recovery_.replayed_bytes += rec.header.record_size();
    if (rec.header.type == RecordType::kBatch) {
      // Inner records sit back to back in the value; each carries its own CRC.
      std::string_view inner = rec.value;
      uint64_t inner_off = offset + kRecordHeaderSize;
      uint64_t seq = rec.header.sequence;
      while (!inner.empty()) {
        auto r = DecodeRecord(inner);
        if (!r || r->header.type == RecordType::kBatch) {
          return CorruptionAt(*seg, inner_off, r ? Status::Corruption("nested batch") : r.error());
        }
        r->header.sequence = seq++;
        SKEG_RETURN_IF_ERROR(ApplyRecordForReplay(*r, seg->id, inner_off));
        inner_off += r->header.record_size();
        inner.remove_prefix(r->header.record_size());
      }
      next_sequence_ = std::max(next_sequence_, seq);
    } else {
      SKEG_RETURN_IF_ERROR(ApplyRecordForReplay(rec, seg->id, offset));
    }
  }
  return Status::Ok();
}

}  // namespace skeg::storage
