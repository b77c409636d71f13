#include "storage/vlog/segment.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "common/coding.h"
#include "common/crc32c.h"

namespace skeg::storage {

namespace {
constexpr size_t kScanChunk = 1 << 20;
}  // namespace

std::string SegmentFileName(uint32_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%08u.seg", id);
  return buf;
}

std::optional<uint32_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() < 5 || !name.ends_with(".seg")) return std::nullopt;
  std::string_view digits = name.substr(0, name.size() - 4);
  if (digits.size() < 8) return std::nullopt;
  uint32_t id = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return id;
}

void EncodeSegmentHeader(char* dst, uint32_t id, int64_t created_ms) {
  std::memcpy(dst, kSegmentMagic.data(), 8);
  EncodeFixed32(dst + 8, kSegmentFormatVersion);
  EncodeFixed32(dst + 12, id);
  EncodeFixed64(dst + 16, static_cast<uint64_t>(created_ms));
  EncodeFixed32(dst + 24, 0);
  EncodeFixed32(dst + 28, crc32c::Mask(crc32c::Value(dst, 28)));
}

Status DecodeSegmentHeader(std::string_view data, uint32_t expected_id) {
  if (data.size() < kSegmentHeaderSize) return Status::Corruption("segment header truncated");
  if (data.substr(0, 8) != kSegmentMagic) return Status::Corruption("bad segment magic");
  if (crc32c::Mask(crc32c::Value(data.data(), 28)) != DecodeFixed32(data.data() + 28)) {
    return Status::Corruption("segment header checksum mismatch");
  }
  uint32_t version = DecodeFixed32(data.data() + 8);
  if (version != kSegmentFormatVersion) {
    return Status::Corruption("unsupported segment format version " + std::to_string(version));
  }
  uint32_t id = DecodeFixed32(data.data() + 12);
  if (id != expected_id) {
    return Status::Corruption("segment header id " + std::to_string(id) +
                              " does not match file name");
  }
  return Status::Ok();
}

SegmentScanner::SegmentScanner(const platform::File* file, uint64_t start_offset,
                               uint64_t file_size)
    : file_(file), file_size_(file_size), pos_(start_offset), buf_start_(start_offset) {}

Status SegmentScanner::Fill(size_t n, bool* available) {
  *available = false;
  if (pos_ + n > file_size_) return Status::Ok();
  uint64_t have_end = buf_start_ + buf_.size();
  if (pos_ >= buf_start_ && pos_ + n <= have_end) {
    *available = true;
    return Status::Ok();
  }
  // Keep the unread suffix, then read at least max(n, chunk) bytes from pos_.
  if (pos_ >= buf_start_ && pos_ < have_end) {
    buf_.erase(0, pos_ - buf_start_);
  } else {
    buf_.clear();
  }
  buf_start_ = pos_;
  size_t want = std::max(n, kScanChunk);
  want = static_cast<size_t>(std::min<uint64_t>(want, file_size_ - pos_));
  size_t old = buf_.size();
  if (want > old) {
    buf_.resize(want);
    SKEG_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(pos_ + old, want - old, buf_.data() + old));
    buf_.resize(old + got);
  }
  *available = buf_.size() >= n;
  return Status::Ok();
}

SegmentScanner::Outcome SegmentScanner::Next(RecordView* rec, uint64_t* offset, Status* why) {
  *offset = pos_;
  if (pos_ == file_size_) return Outcome::kEnd;
  bool ok = false;
  if (Status s = Fill(kRecordHeaderSize, &ok); !s.ok()) {
    *why = s;
    return Outcome::kBad;
  }
  if (!ok) {
    *why = Status::Corruption("truncated record header (" + std::to_string(file_size_ - pos_) +
                              " bytes left)");
    return Outcome::kBad;
  }
  auto header = DecodeRecordHeader(std::string_view(buf_).substr(pos_ - buf_start_));
  if (!header) {
    *why = header.error();
    return Outcome::kBad;
  }
  size_t size = header->record_size();
  if (Status s = Fill(size, &ok); !s.ok()) {
    *why = s;
    return Outcome::kBad;
  }
  if (!ok) {
    *why =
        Status::Corruption("record of " + std::to_string(size) + " bytes extends past end of file");
    return Outcome::kBad;
  }
  auto decoded = DecodeRecord(std::string_view(buf_).substr(pos_ - buf_start_, size));
  if (!decoded) {
    *why = decoded.error();
    return Outcome::kBad;
  }
  *rec = *decoded;
  pos_ += size;
  return Outcome::kRecord;
}

Result<bool> SegmentScanner::AnyValidRecordAfter(uint64_t offset, uint64_t min_sequence) {
  std::string chunk;
  std::string record;
  for (uint64_t base = offset + 1; base + kRecordHeaderSize <= file_size_;) {
    size_t n =
        static_cast<size_t>(std::min<uint64_t>(kScanChunk + kRecordHeaderSize, file_size_ - base));
    chunk.resize(n);
    SKEG_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(base, n, chunk.data()));
    chunk.resize(got);
    for (size_t i = 0; i + kRecordHeaderSize <= chunk.size() && i < kScanChunk; ++i) {
      auto h = DecodeRecordHeader(std::string_view(chunk).substr(i));
      if (!h || h->sequence <= min_sequence || base + i + h->record_size() > file_size_) continue;
      record.resize(h->record_size());
      SKEG_ASSIGN_OR_RETURN(size_t r, file_->ReadAt(base + i, record.size(), record.data()));
      if (r == record.size() && DecodeRecord(record).ok()) return true;
    }
    base += kScanChunk;
  }
  return false;
}

}  // namespace skeg::storage
