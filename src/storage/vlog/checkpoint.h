// Key-directory checkpoint (DIR/vlog/keydir.snap): the whole key directory plus the log
// position it reflects, so restart loads it and replays only the log written after it.
//
// Format (docs/formats/vlog.md):
//   header, 64 bytes:
//     0  8  magic          "SKEGKDIR"
//     8  4  version        1
//     12 4  shards         KeyDir::kShards (256)
//     16 4  segment        log position covered: every record before (segment, offset) ...
//     20 4  reserved       0
//     24 8  offset         ... is reflected in the entries
//     32 8  next_sequence  sequence number of the next record to be written
//     40 8  entries        total entry count
//     48 8  created        Unix milliseconds
//     56 4  reserved       0
//     60 4  crc            masked CRC32C of bytes [0, 60)
//   then per shard, in order 0..shards-1:
//     4       count        entries in this shard
//     16 * n  entries      KeyDir::Entry {fingerprint, segment, offset, size_and_flags}
//     4       crc          masked CRC32C of count and entries
//
// Written to keydir.snap.tmp, fsynced, renamed over keydir.snap, directory fsynced: a crash
// leaves the previous checkpoint or the new one.
//
// Thread-safety: the writer must be the KeyDir's single writer (it reads without locks).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "platform/env.h"
#include "storage/keydir/keydir.h"

namespace skeg::storage {

struct CheckpointPosition {
  uint32_t segment = 0;
  uint64_t offset = 0;
  uint64_t next_sequence = 1;
  uint64_t entries = 0;
};

inline constexpr std::string_view kCheckpointFileName = "keydir.snap";

// Writes `keydir` as the checkpoint in `vlog_dir`. Bytes: 64 + 8 * 256 + 16 per key.
Status WriteCheckpoint(platform::Env* env, const std::string& vlog_dir, const KeyDir& keydir,
                       const CheckpointPosition& pos);

// Loads the checkpoint of `vlog_dir` into `keydir` (REQUIRES: empty). Errors: kNotFound when
// there is none; kCorruption naming the file and offset of the first bad byte range (the
// keydir may then hold part of the checkpoint: the caller clears it and replays the whole
// log).
Result<CheckpointPosition> LoadCheckpoint(platform::Env* env, const std::string& vlog_dir,
                                          KeyDir* keydir);

}  // namespace skeg::storage
