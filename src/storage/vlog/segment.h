// Value-log segment files: naming, the 32-byte file header, and a sequential record scanner
// used by recovery and compaction.
//
// Segment header (docs/formats/vlog.md):
//   offset size  field
//   0      8     magic       "SKEGVLOG"
//   8      4     version     kSegmentFormatVersion (1)
//   12     4     segment id  must match the file name NNNNNNNN.seg
//   16     8     created     Unix milliseconds
//   24     4     reserved    0
//   28     4     crc         masked CRC32C of bytes [0, 28)
// Records (record.h) follow from offset 32 to the end of the file.
//
// Thread-safety: free functions are pure; a SegmentScanner is used by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "platform/env.h"
#include "storage/vlog/record.h"

namespace skeg::storage {

inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr uint32_t kSegmentFormatVersion = 1;
inline constexpr std::string_view kSegmentMagic = "SKEGVLOG";

// "00000042.seg".
std::string SegmentFileName(uint32_t id);
// The id of a segment file name, or nullopt for other names.
std::optional<uint32_t> ParseSegmentFileName(std::string_view name);

// Writes the header of segment `id` into dst[0, kSegmentHeaderSize).
void EncodeSegmentHeader(char* dst, uint32_t id, int64_t created_ms);
// Validates a header. Errors: kCorruption (bad magic, version, id or CRC).
Status DecodeSegmentHeader(std::string_view data, uint32_t expected_id);

// Reads the records of one segment in order, through a bounded buffer (1 MiB, grown only for
// records larger than that).
class SegmentScanner {
 public:
  enum class Outcome {
    kRecord,  // *rec and *offset describe the next record
    kEnd,     // clean end of file
    kBad,     // the bytes at *offset are not a valid record; *why says how
  };

  // Scans `file` (of `file_size` bytes) from `start_offset` (>= kSegmentHeaderSize).
  SegmentScanner(const platform::File* file, uint64_t start_offset, uint64_t file_size);

  // Advances to the next record. Views in *rec stay valid until the next call. On kBad the
  // scanner stays at the bad offset. I/O errors are returned as kBad with an kIOError *why.
  Outcome Next(RecordView* rec, uint64_t* offset, Status* why);

  // True when a valid top-level record (plausible header, matching CRC, sequence above
  // `min_sequence`; inner batch records carry sequence 0 and never count) starts anywhere in
  // (offset, file_size). Recovery uses it to tell a torn tail (nothing valid after the damage)
  // from corruption in the middle of acknowledged data. Cost: one pass over the rest of the
  // file.
  Result<bool> AnyValidRecordAfter(uint64_t offset, uint64_t min_sequence);

 private:
  // Makes bytes [pos_, pos_ + n) available in buf_; false at end of file.
  Status Fill(size_t n, bool* available);

  const platform::File* file_;
  uint64_t file_size_;
  uint64_t pos_;     // file offset of the next record
  std::string buf_;  // file bytes [buf_start_, buf_start_ + buf_.size())
  uint64_t buf_start_ = 0;
};

}  // namespace skeg::storage
