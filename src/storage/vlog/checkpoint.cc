#include "storage/vlog/checkpoint.h"

#include <chrono>
#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"
#include "storage/vlog/record.h"

namespace skeg::storage {

namespace {
constexpr std::string_view kMagic = "SKEGKDIR";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kFlushBytes = 1 << 20;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Status WriteCheckpoint(platform::Env* env, const std::string& vlog_dir, const KeyDir& keydir,
                       const CheckpointPosition& pos) {
  const std::string path = platform::JoinPath(vlog_dir, kCheckpointFileName);
  const std::string tmp = path + ".tmp";
  platform::OpenOptions oo;
  oo.read_only = false;
  oo.create = true;
  oo.truncate = true;
  SKEG_ASSIGN_OR_RETURN(auto file, env->OpenFile(tmp, oo));

  std::string buf(kHeaderSize, '\0');
  std::memcpy(buf.data(), kMagic.data(), 8);
  EncodeFixed32(buf.data() + 8, kVersion);
  EncodeFixed32(buf.data() + 12, KeyDir::kShards);
  EncodeFixed32(buf.data() + 16, pos.segment);
  EncodeFixed64(buf.data() + 24, pos.offset);
  EncodeFixed64(buf.data() + 32, pos.next_sequence);
  EncodeFixed64(buf.data() + 40, keydir.size());
  EncodeFixed64(buf.data() + 48, static_cast<uint64_t>(NowMs()));
  EncodeFixed32(buf.data() + 60, crc32c::Mask(crc32c::Value(buf.data(), 60)));

  uint64_t file_off = 0;
  Status status;
  auto flush = [&]() {
    if (!status.ok() || buf.empty()) return;
    std::string_view chunk(buf);
    status = file->WriteAt(file_off, std::span<const std::string_view>(&chunk, 1));
    file_off += buf.size();
    buf.clear();
  };
  keydir.WriterExport([&](uint32_t, const std::vector<KeyDir::Entry>& entries) {
    size_t start = buf.size();
    PutFixed32(&buf, static_cast<uint32_t>(entries.size()));
    const size_t bytes = entries.size() * sizeof(KeyDir::Entry);
    buf.resize(buf.size() + bytes);
    // Entries are four little-endian u32 fields with no padding: memcpy is the encoding.
    if (bytes > 0) std::memcpy(buf.data() + start + 4, entries.data(), bytes);
    PutFixed32(&buf, crc32c::Mask(crc32c::Value(buf.data() + start, buf.size() - start)));
    if (buf.size() >= kFlushBytes) flush();
  });
  flush();
  SKEG_RETURN_IF_ERROR(status);
  SKEG_RETURN_IF_ERROR(file->Sync(platform::SyncMode::kFull));
  file.reset();
  SKEG_RETURN_IF_ERROR(env->RenameFile(tmp, path));
  return env->SyncDir(vlog_dir);
}

Result<CheckpointPosition> LoadCheckpoint(platform::Env* env, const std::string& vlog_dir,
                                          KeyDir* keydir) {
  const std::string path = platform::JoinPath(vlog_dir, kCheckpointFileName);
  if (!env->FileExists(path)) return Status::NotFound(path);
  SKEG_ASSIGN_OR_RETURN(auto file, env->OpenFile(path, platform::OpenOptions{}));
  SKEG_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  auto corrupt = [&](uint64_t off, std::string_view what) {
    return Status::Corruption(path + " at offset " + std::to_string(off) + ": " +
                              std::string(what));
  };
  if (size < kHeaderSize) return corrupt(0, "truncated header");
  char h[kHeaderSize];
  SKEG_ASSIGN_OR_RETURN(size_t got, file->ReadAt(0, kHeaderSize, h));
  if (got != kHeaderSize || std::string_view(h, 8) != kMagic) return corrupt(0, "bad magic");
  if (crc32c::Mask(crc32c::Value(h, 60)) != DecodeFixed32(h + 60)) {
    return corrupt(0, "header checksum mismatch");
  }
  if (DecodeFixed32(h + 8) != kVersion) return corrupt(8, "unsupported version");
  if (DecodeFixed32(h + 12) != KeyDir::kShards) return corrupt(12, "unexpected shard count");
  CheckpointPosition pos;
  pos.segment = DecodeFixed32(h + 16);
  pos.offset = DecodeFixed64(h + 24);
  pos.next_sequence = DecodeFixed64(h + 32);
  pos.entries = DecodeFixed64(h + 40);

  uint64_t off = kHeaderSize;
  std::vector<KeyDir::Entry> entries;
  uint64_t total = 0;
  for (uint32_t shard = 0; shard < KeyDir::kShards; ++shard) {
    char cbuf[4];
    SKEG_ASSIGN_OR_RETURN(got, file->ReadAt(off, 4, cbuf));
    if (got != 4) return corrupt(off, "truncated shard");
    uint32_t n = DecodeFixed32(cbuf);
    uint64_t bytes = static_cast<uint64_t>(n) * sizeof(KeyDir::Entry);
    if (off + 4 + bytes + 4 > size) return corrupt(off, "shard count beyond end of file");
    entries.resize(n);
    if (bytes > 0) {
      SKEG_ASSIGN_OR_RETURN(got,
                            file->ReadAt(off + 4, bytes, reinterpret_cast<char*>(entries.data())));
      if (got != bytes) return corrupt(off, "truncated entries");
    }
    char crc_buf[4];
    SKEG_ASSIGN_OR_RETURN(got, file->ReadAt(off + 4 + bytes, 4, crc_buf));
    if (got != 4) return corrupt(off, "truncated shard checksum");
    uint32_t crc = crc32c::Extend(crc32c::Value(cbuf, 4),
                                  reinterpret_cast<const char*>(entries.data()), bytes);
    if (crc32c::Mask(crc) != DecodeFixed32(crc_buf)) return corrupt(off, "shard checksum mismatch");
    for (const auto& e : entries) {
      if ((e.size_and_flags & KeyDir::kMaxRecordSize) < kRecordHeaderSize) {
        return corrupt(off, "invalid entry");
      }
    }
    keydir->WriterLoadShard(shard, entries.data(), entries.size());
    total += n;
    off += 4 + bytes + 4;
  }
  if (total != pos.entries) return corrupt(40, "entry count does not match shards");
  if (off != size) return corrupt(off, "trailing bytes");
  return pos;
}

}  // namespace skeg::storage
