#include "storage/vlog/store.h"

#include <chrono>
#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/hash.h"
#include "storage/vlog/store_impl.h"

namespace skeg::storage {

Result<Durability> ParseDurability(std::string_view name) {
  if (name == "relaxed") return Durability::kRelaxed;
  if (name == "kernel") return Durability::kKernel;
  if (name == "power-loss") return Durability::kPowerLoss;
  return Status::InvalidArgument("unknown durability '" + std::string(name) +
                                 "' (expected relaxed, kernel or power-loss)");
}

std::string_view DurabilityName(Durability d) {
  switch (d) {
    case Durability::kRelaxed:
      return "relaxed";
    case Durability::kKernel:
      return "kernel";
    case Durability::kPowerLoss:
      return "power-loss";
  }
  return "unknown";
}

Status StoreOptions::Validate() const {
  if (data_dir.empty()) return Status::InvalidArgument("data_dir is empty");
  if (segment_target_bytes < 4096 || segment_target_bytes > (1ull << 30)) {
    return Status::InvalidArgument("segment_target_bytes must be within [4 KiB, 1 GiB]");
  }
  if (!(compaction_live_fraction >= 0 && compaction_live_fraction < 1)) {
    return Status::InvalidArgument("compaction_live_fraction must be within [0, 1)");
  }
  if (max_group_batches == 0 || max_group_bytes == 0) {
    return Status::InvalidArgument("commit group bounds must be positive");
  }
  if (compaction_nice < 0 || compaction_nice > 19) {
    return Status::InvalidArgument("compaction_nice must be within [0, 19]");
  }
  return Status::Ok();
}

uint64_t KeyHash(KeySpace space, std::string_view key) {
  return space == KeySpace::kKv ? HashKey(key) : HashKey(key, static_cast<uint64_t>(space));
}

void WriteBatch::Put(std::string_view key, std::string_view value, UnixMillis expire_at,
                     KeySpace space) {
  ops_.push_back(Op{false, false, space, std::string(key), std::string(value), expire_at});
  payload_bytes_ += key.size() + value.size();
}

void WriteBatch::PutExpiryChange(std::string_view key, std::string_view value,
                                 UnixMillis expire_at) {
  ops_.push_back(Op{false, true, KeySpace::kKv, std::string(key), std::string(value), expire_at});
  payload_bytes_ += key.size() + value.size();
}

void WriteBatch::Delete(std::string_view key, KeySpace space) {
  ops_.push_back(Op{true, false, space, std::string(key), std::string(), kNoExpiry});
  payload_bytes_ += key.size();
}

void WriteBatch::Clear() {
  ops_.clear();
  payload_bytes_ = 0;
}

// ---------------------------------------------------------------------------------------
// Store: thin forwarding to Impl.

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() {
  if (impl_) impl_->Close().IgnoreError();
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  SKEG_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>(options);
  SKEG_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<uint32_t> Store::Write(const WriteBatch& batch, const WriteOptions& options) {
  return impl_->Write(batch, options);
}

Status Store::Put(std::string_view key, std::string_view value, UnixMillis expire_at,
                  const WriteOptions& options) {
  WriteBatch b;
  b.Put(key, value, expire_at);
  return impl_->Write(b, options).status();
}

Result<bool> Store::Delete(std::string_view key, const WriteOptions& options) {
  WriteBatch b;
  b.Delete(key);
  SKEG_ASSIGN_OR_RETURN(uint32_t n, impl_->Write(b, options));
  return n > 0;
}

Result<ReadResult> Store::Get(std::string_view key, KeySpace space) const {
  return impl_->Get(key, space);
}
Result<ScanPage> Store::Scan(uint64_t cursor, size_t count) const {
  return impl_->Scan(cursor, count);
}
Status Store::ForEachKey(const std::function<bool(std::string_view)>& fn, KeySpace space) const {
  return impl_->ForEachKey(fn, space);
}
Status Store::Checkpoint() { return impl_->Checkpoint(); }
Status Store::Compact() { return impl_->Compact(); }
Status Store::Sync() { return impl_->Sync(); }
Status Store::WaitDurable(uint64_t ticket) { return impl_->WaitDurable(ticket); }
Status Store::FlushWrites() { return impl_->FlushWrites(); }
Durability Store::durability() const { return impl_->durability(); }
size_t Store::PrefetchKeys(std::span<const std::string_view> keys) const {
  return impl_->PrefetchKeys(keys);
}
void Store::OnDurable(uint64_t ticket, std::function<void(const Status&)> done) {
  impl_->OnDurable(ticket, std::move(done));
}
Status Store::Close() { return impl_->Close(); }
Status Store::SetLockHolderInfo(std::string_view info) { return impl_->SetLockHolderInfo(info); }
const RecoveryInfo& Store::recovery_info() const { return impl_->recovery_info(); }
const std::string& Store::data_dir() const { return impl_->data_dir(); }
StoreStats Store::stats() const { return impl_->stats(); }
uint64_t Store::key_count() const { return impl_->key_count(); }
size_t Store::MemoryUsage() const { return impl_->MemoryUsage(); }

// ---------------------------------------------------------------------------------------
// Impl: reads and write encoding.

Store::Impl::Impl(const StoreOptions& options)
    : opts_(options),
      env_(options.env ? options.env : platform::Env::Default()),
      dir_(options.data_dir),
      vlog_dir_(platform::JoinPath(options.data_dir, "vlog")) {}

Store::Impl::~Impl() { Close().IgnoreError(); }

UnixMillis Store::Impl::Now() const {
  if (opts_.clock) return opts_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status Store::Impl::CorruptionAt(const Segment& seg, uint64_t offset, const Status& why) const {
  return Status(
      why.code() == StatusCode::kCorruption ? StatusCode::kCorruption : why.code(),
      seg.path + " at offset " + std::to_string(offset) + ": " + std::string(why.message()));
}

Status Store::Impl::ReadAt(const Segment& seg, uint64_t offset, size_t n, char* dst,
                           size_t* got) const {
  if (offset + n > seg.flushed.load(std::memory_order_acquire)) {
    // Part of the range may still be in the write-behind buffers: copy that part under the
    // lock, then read the part before it (already on file, where it stays) from the file.
    size_t mem = 0;
    uint64_t file_end = offset + n;
    {
      std::lock_guard lock(seg.tail_mu);
      const uint64_t fl = seg.flushed.load(std::memory_order_relaxed);
      if (offset + n > fl) {
        file_end = std::max(offset, fl);
        uint64_t pos = file_end;
        // `flushing` precedes `tail`, and both follow `flushed` without a gap.
        auto copy_from = [&](const std::string& buf, uint64_t base) {
          if (pos >= offset + n || pos < base || pos >= base + buf.size()) return;
          const uint64_t end = std::min<uint64_t>(offset + n, base + buf.size());
          std::memcpy(dst + (pos - offset), buf.data() + (pos - base), end - pos);
          pos = end;
        };
        copy_from(seg.flushing, seg.flushing_base);
        copy_from(seg.tail, seg.tail_base);
        mem = static_cast<size_t>(pos - file_end);
      }
    }
    if (file_end > offset) {
      SKEG_RETURN_IF_ERROR(ReadFileAt(seg, offset, file_end - offset, dst, got));
      if (*got < file_end - offset) return Status::Ok();
    } else {
      *got = 0;
    }
    *got += mem;
    return Status::Ok();
  }
  return ReadFileAt(seg, offset, n, dst, got);
}

Status Store::Impl::ReadFileAt(const Segment& seg, uint64_t offset, size_t n, char* dst,
                               size_t* got) const {
  PageCache* cache = opts_.page_cache;
  if (cache == nullptr) {
    SKEG_ASSIGN_OR_RETURN(*got, seg.file->ReadAt(offset, n, dst));
    return Status::Ok();
  }
  constexpr uint64_t kPage = PageCache::kPageSize;
  *got = 0;
  while (*got < n) {
    const uint64_t pos = offset + *got;
    const uint64_t page_no = pos / kPage;
    const uint64_t in_page = pos % kPage;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n - *got, kPage - in_page));
    if (cache->ReadIfCached(seg.cache_id, page_no, in_page, want, dst + *got)) {
      *got += want;
      continue;
    }
    std::shared_ptr<const PageCache::Page> page;
    {
      // Miss, or a page cached while the file was shorter: read the whole page again.
      auto fresh = PageCache::NewPage();
      SKEG_ASSIGN_OR_RETURN(size_t r, seg.file->ReadAt(page_no * kPage, kPage, fresh->data.get()));
      fresh->valid = static_cast<uint32_t>(r);
      page = r > 0 ? cache->Insert(seg.cache_id, page_no, std::move(fresh)) : std::move(fresh);
    }
    if (page->valid <= in_page) break;  // end of file
    const size_t take = std::min<size_t>(want, page->valid - in_page);
    std::memcpy(dst + *got, page->data.get() + in_page, take);
    *got += take;
    if (take < want) break;
  }
  return Status::Ok();
}

size_t Store::Impl::PrefetchKeys(std::span<const std::string_view> keys) const {
  uint64_t hashes[Store::kMaxPrefetchKeys];
  const size_t n = std::min(keys.size(), Store::kMaxPrefetchKeys);
  for (size_t i = 0; i < n; ++i) hashes[i] = KeyHash(KeySpace::kKv, keys[i]);
  return PrefetchHashes(std::span<const uint64_t>(hashes, n));
}

size_t Store::Impl::PrefetchHashes(std::span<const uint64_t> key_hashes) const {
  constexpr size_t kMax = Store::kMaxPrefetchKeys;
  const size_t n = std::min(key_hashes.size(), kMax);
  const uint64_t* hashes = key_hashes.data();
  // Stage 1: every key's directory slot.
  for (size_t i = 0; i < n; ++i) keydir_.Prefetch(hashes[i]);
  PageCache* cache = opts_.page_cache;
  if (cache == nullptr || cache->capacity_bytes() == 0) return 0;
  // Stage 2: read the slots (loaded by now, or on their way); where a record is on file, the
  // page-cache slot its read probes. A hash collision prefetches some other key's record:
  // harmless. Records still in the write-behind buffers were just written: nothing to load.
  RecordLocation locs[kMax];
  size_t found = 0;
  for (size_t i = 0; i < n; ++i) {
    if (keydir_.Candidates(hashes[i], &locs[found], 1) > 0) ++found;
  }
  struct Target {
    uint64_t file;
    uint64_t offset;
    uint32_t bytes;
  };
  Target targets[kMax];
  size_t t = 0;
  {
    std::shared_lock lock(segments_mu_);
    for (size_t i = 0; i < found; ++i) {
      auto it = segments_.find(locs[i].segment);
      if (it == segments_.end()) continue;
      const Segment& seg = *it->second;
      const uint32_t bytes = std::min(locs[i].size, Store::kPrefetchRecordBytes);
      if (bytes == 0 ||
          uint64_t{locs[i].offset} + bytes > seg.flushed.load(std::memory_order_acquire)) {
        continue;
      }
      targets[t++] = Target{seg.cache_id, locs[i].offset, bytes};
    }
  }
  constexpr uint64_t kPage = PageCache::kPageSize;
  for (size_t i = 0; i < t; ++i) cache->PrefetchSlot(targets[i].file, targets[i].offset / kPage);
  // Stage 3: the records' bytes (those in the first page they start on).
  size_t loading = 0;
  for (size_t i = 0; i < t; ++i) {
    const uint64_t in_page = targets[i].offset % kPage;
    loading += cache->PrefetchBytes(
        targets[i].file, targets[i].offset / kPage, in_page,
        static_cast<size_t>(std::min<uint64_t>(targets[i].bytes, kPage - in_page)));
  }
  return loading;
}

void Store::Impl::ForgetPages(const Segment& seg, uint64_t offset) const {
  if (opts_.page_cache != nullptr) {
    opts_.page_cache->EraseFile(seg.cache_id, offset / PageCache::kPageSize);
  }
}

std::shared_ptr<Segment> Store::Impl::GetSegment(uint32_t id) const {
  std::shared_lock lock(segments_mu_);
  auto it = segments_.find(id);
  return it == segments_.end() ? nullptr : it->second;
}

Status Store::Impl::ReadRecord(const Segment& seg, const RecordLocation& loc, std::string* buf,
                               RecordView* view) const {
  buf->resize(loc.size);
  size_t got = 0;
  SKEG_RETURN_IF_ERROR(ReadAt(seg, loc.offset, loc.size, buf->data(), &got));
  if (got != loc.size) {
    return CorruptionAt(seg, loc.offset, Status::Corruption("record extends past end of file"));
  }
  auto v = DecodeRecord(*buf);
  if (!v) return CorruptionAt(seg, loc.offset, v.error());
  if (v->header.record_size() != loc.size) {
    return CorruptionAt(seg, loc.offset,
                        Status::Corruption("record size differs from key directory"));
  }
  *view = *v;
  return Status::Ok();
}

Status Store::Impl::ReadKey(const Segment& seg, const RecordLocation& loc, std::string* buf,
                            RecordHeader* header, std::string_view* key) const {
  // Most keys are short: one read of the header plus up to 224 key bytes, a second read only
  // for longer keys.
  size_t n = std::min<size_t>(loc.size, 256);
  buf->resize(n);
  size_t got = 0;
  SKEG_RETURN_IF_ERROR(ReadAt(seg, loc.offset, n, buf->data(), &got));
  if (got < kRecordHeaderSize) {
    return CorruptionAt(seg, loc.offset, Status::Corruption("record header past end of file"));
  }
  auto h = DecodeRecordHeader(*buf);
  if (!h) return CorruptionAt(seg, loc.offset, h.error());
  size_t need = kRecordHeaderSize + h->key_len;
  if (need > loc.size) {
    return CorruptionAt(seg, loc.offset, Status::Corruption("key longer than its record"));
  }
  if (need > got) {
    buf->resize(need);
    size_t more = 0;
    SKEG_RETURN_IF_ERROR(ReadAt(seg, loc.offset + got, need - got, buf->data() + got, &more));
    if (more != need - got) {
      return CorruptionAt(seg, loc.offset, Status::Corruption("key extends past end of file"));
    }
  }
  *header = *h;
  *key = std::string_view(*buf).substr(kRecordHeaderSize, h->key_len);
  return Status::Ok();
}

Result<ReadResult> Store::Impl::Get(std::string_view key, KeySpace space) const {
  const uint64_t hash = KeyHash(space, key);
  std::string buf;
  // A segment can disappear between the lookup and the read when compaction moved the key
  // and dropped it; the key directory then already points at the copy, so look again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    RecordLocation cands[8];
    size_t n = keydir_.Candidates(hash, cands, 8);
    bool retry = false;
    for (size_t i = 0; i < std::min<size_t>(n, 8) && !retry; ++i) {
      auto seg = GetSegment(cands[i].segment);
      if (!seg) {
        retry = true;
        break;
      }
      RecordView rec;
      SKEG_RETURN_IF_ERROR(ReadRecord(*seg, cands[i], &buf, &rec));
      if (rec.key != key || KeySpaceOf(rec.header.type) != space) continue;
      if (IsDeleteType(rec.header.type)) return Status::NotFound("key not found");
      if (rec.header.expire_at != kNoExpiry && rec.header.expire_at <= Now()) {
        return Status::NotFound("key expired");
      }
      ReadResult out;
      out.expire_at = rec.header.expire_at;
      // The value becomes the record buffer itself (moved down over the header and key): one
      // allocation per read instead of two.
      const auto value_at = static_cast<size_t>(rec.value.data() - buf.data());
      const size_t value_len = rec.value.size();
      buf.erase(0, value_at);
      buf.resize(value_len);
      out.value = std::move(buf);
      return out;
    }
    if (!retry) {
      if (n > 8) return Status::Internal("more than 8 keys share a 40-bit hash prefix");
      return Status::NotFound("key not found");
    }
  }
  return Status::Busy("key moved repeatedly during the read");
}

Status Store::Impl::ForEachKey(const std::function<bool(std::string_view)>& fn,
                               KeySpace space) const {
  std::string buf;
  std::vector<RecordLocation> locs;
  const UnixMillis now = Now();
  for (uint32_t shard = 0; shard < KeyDir::kShards; ++shard) {
    locs.clear();
    keydir_.ScanShard(shard, 0, SIZE_MAX, [&](uint32_t, const RecordLocation& l) {
      if (l.internal == (space != KeySpace::kKv)) locs.push_back(l);
    });
    for (const RecordLocation& l : locs) {
      auto seg = GetSegment(l.segment);
      if (!seg) continue;  // moved by compaction after the snapshot: seen at its new place or gone
      RecordHeader h;
      std::string_view key;
      SKEG_RETURN_IF_ERROR(ReadKey(*seg, l, &buf, &h, &key));
      if (KeySpaceOf(h.type) != space) continue;
      if (h.expire_at != kNoExpiry && h.expire_at <= now) continue;
      if (!fn(key)) return Status::Ok();
    }
  }
  return Status::Ok();
}

namespace {
RecordType OpRecordType(const WriteBatch::Op& op) {
  if (op.is_delete) return DeleteTypeFor(op.space);
  if (op.expiry_only && op.space == KeySpace::kKv) return RecordType::kExpire;
  return PutTypeFor(op.space);
}
}  // namespace

Result<ScanPage> Store::Impl::Scan(uint64_t cursor, size_t count) const {
  // cursor = shard << 33 | fingerprint to resume at (fingerprints are < 2^32, 2^32 = shard end).
  constexpr uint64_t kShardShift = 33;
  ScanPage page;
  uint32_t shard = static_cast<uint32_t>(cursor >> kShardShift);
  uint64_t fp = cursor & ((1ull << kShardShift) - 1);
  if (shard >= KeyDir::kShards || fp > (1ull << 32)) {
    return Status::InvalidArgument("invalid cursor");
  }
  count = std::max<size_t>(count, 1);
  std::vector<RecordLocation> locs;
  std::string buf;
  const UnixMillis now = Now();
  while (shard < KeyDir::kShards && page.keys.size() < count) {
    locs.clear();
    fp = keydir_.ScanShard(shard, fp, count - page.keys.size(),
                           [&](uint32_t, const RecordLocation& l) {
                             if (!l.internal) locs.push_back(l);  // Redis keys only
                           });
    for (const RecordLocation& l : locs) {
      auto seg = GetSegment(l.segment);
      if (!seg) continue;  // moved by compaction: the key is behind the cursor now or gone
      RecordHeader h;
      std::string_view key;
      SKEG_RETURN_IF_ERROR(ReadKey(*seg, l, &buf, &h, &key));
      if (h.expire_at != kNoExpiry && h.expire_at <= now) continue;
      page.keys.emplace_back(key);
    }
    if (fp >= (1ull << 32)) {
      ++shard;
      fp = 0;
    }
  }
  page.next_cursor =
      shard >= KeyDir::kShards ? 0 : (static_cast<uint64_t>(shard) << kShardShift) | fp;
  return page;
}

Result<uint32_t> Store::Impl::Write(const WriteBatch& batch, const WriteOptions& options) {
  if (batch.empty()) return Status::InvalidArgument("empty write batch");
  const auto& ops = batch.ops();
  uint64_t total = kRecordHeaderSize;
  for (const auto& op : ops) {
    if (op.key.size() > kMaxKeyBytes) return Status::InvalidArgument("key exceeds 64 KiB");
    if (op.value.size() > kMaxValueBytes) return Status::InvalidArgument("value exceeds 512 MiB");
    if (op.expire_at < 0) return Status::InvalidArgument("negative expiry time");
    total += kRecordHeaderSize + op.key.size() + op.value.size();
  }
  if (total > (1ull << 30)) return Status::InvalidArgument("write batch exceeds 1 GiB");

  Request req;
  req.kind = Request::Kind::kWrite;
  req.force_sync = options.force_sync;
  req.ticket_out = options.durability_ticket;
  req.ops.reserve(ops.size());
  auto& enc = req.encoded;
  if (ops.size() == 1) {
    // A single operation is one top-level record; its header is finished by the committer.
    const auto& op = ops[0];
    enc.reserve(kRecordHeaderSize + op.key.size() + op.value.size());
    enc.resize(kRecordHeaderSize);
    enc.append(op.key);
    enc.append(op.value);
    req.body_crc = crc32c::Value(enc.data() + kRecordHeaderSize, enc.size() - kRecordHeaderSize);
    req.type = OpRecordType(op);
    req.key_len = static_cast<uint32_t>(op.key.size());
    req.value_len = static_cast<uint32_t>(op.value.size());
    req.expire_at = op.expire_at;
    req.ops.push_back(EncodedOp{KeyHash(op.space, op.key),
                                op.space,
                                0,
                                static_cast<uint32_t>(enc.size()),
                                op.is_delete,
                                op.expire_at != kNoExpiry,
                                op.expire_at,
                                {}});
  } else {
    // A kBatch record whose value is the complete inner records.
    enc.reserve(total);
    enc.resize(kRecordHeaderSize);
    for (const auto& op : ops) {
      size_t start = enc.size();
      AppendRecord(&enc, OpRecordType(op), 0, op.key, op.value, op.expire_at);
      req.ops.push_back(EncodedOp{KeyHash(op.space, op.key),
                                  op.space,
                                  static_cast<uint32_t>(start),
                                  static_cast<uint32_t>(enc.size() - start),
                                  op.is_delete,
                                  op.expire_at != kNoExpiry,
                                  op.expire_at,
                                  {}});
    }
    req.body_crc = crc32c::Value(enc.data() + kRecordHeaderSize, enc.size() - kRecordHeaderSize);
    req.type = RecordType::kBatch;
    req.key_len = 0;
    req.value_len = static_cast<uint32_t>(enc.size() - kRecordHeaderSize);
    req.expire_at = 0;
  }
  // Keys are views into the encoded bytes (stable: `enc` is not modified any more).
  for (auto& op : req.ops) {
    uint32_t key_len =
        ops.size() == 1 ? req.key_len : DecodeFixed32(enc.data() + op.rel_offset + 16);
    op.key = std::string_view(enc).substr(op.rel_offset + kRecordHeaderSize, key_len);
  }
  SKEG_RETURN_IF_ERROR(Submit(&req));
  return req.deleted;
}

StoreStats Store::Impl::stats() const {
  StoreStats s;
  s.commit_groups = commit_groups_.load();
  s.committed_batches = committed_batches_.load();
  s.syncs = syncs_.load();
  s.sync_nanos = sync_nanos_.load();
  s.bytes_written = bytes_written_.load();
  s.checkpoints = checkpoints_.load();
  s.compactions = compactions_.load();
  s.compaction_bytes_reclaimed = compaction_reclaimed_.load();
  s.keys = keydir_.size() - keydir_.internal();
  s.internal_keys = keydir_.internal();
  s.expiring_keys = keydir_.expiring();
  s.keydir_bytes = keydir_.MemoryUsage();
  {
    std::lock_guard sync_lock(sync_mu_);
    s.unsynced_acked_bytes = AckedLsnLocked() - durable_lsn_;
  }
  std::shared_lock lock(segments_mu_);
  s.segments = segments_.size();
  for (const auto& [id, seg] : segments_) {
    s.disk_bytes += seg->size.load();
    s.live_bytes += seg->live_bytes.load();
  }
  return s;
}

size_t Store::Impl::MemoryUsage() const {
  size_t bytes = sizeof(*this) + keydir_.MemoryUsage();
  std::shared_lock lock(segments_mu_);
  bytes += segments_.size() * (sizeof(Segment) + 128);
  for (const auto& [id, seg] : segments_) {
    std::lock_guard tail_lock(seg->tail_mu);
    bytes += seg->tail.capacity() + seg->flushing.capacity();
  }
  return bytes;
}

Status Store::Impl::SetLockHolderInfo(std::string_view info) {
  if (!lock_) return Status::Internal("store is not open");
  return lock_->SetHolderInfo(info);
}

}  // namespace skeg::storage
