// io_uring backend of BatchReader (built only with SKEG_WITH_IO_URING).
//
// One ring per reader, at most queue_depth reads in flight; larger batches are fed in as
// completions free slots. Short reads are resubmitted for the remainder until end of file.
#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "platform/batch_reader.h"

namespace skeg::platform {
namespace {

// Largest length of one submitted read (the SQE length field is 32 bits).
constexpr size_t kMaxReadBytes = size_t{1} << 30;
// Per-batch cap on resubmissions after -EINTR/-EAGAIN completions, so a misbehaving kernel
// cannot spin us forever.
constexpr size_t kMaxRetriesPerRequest = 16;

class UringBatchReader final : public BatchReader {
 public:
  explicit UringBatchReader(uint32_t depth) : depth_(depth) {}
  ~UringBatchReader() override {
    if (initialized_) io_uring_queue_exit(&ring_);
  }

  // Returns -errno from io_uring_queue_init, or 0.
  int Init() {
    std::memset(&ring_, 0, sizeof(ring_));
    const int rc = io_uring_queue_init(depth_, &ring_, 0);
    initialized_ = rc == 0;
    return rc;
  }

  Status ReadBatch(std::span<ReadRequest> reqs) override;
  std::string_view backend_name() const override { return broken_ ? "pread" : "io_uring"; }
  std::string_view fallback_reason() const override { return broken_reason_; }

 private:
  void Prep(io_uring_sqe* sqe, const ReadRequest& r, uint32_t index);
  void Complete(io_uring_cqe* cqe, std::span<ReadRequest> reqs);
  void ServeWithReadAt(ReadRequest& r);
  void Abandon(std::span<ReadRequest> reqs, int err);

  const uint32_t depth_;
  io_uring ring_;
  bool initialized_ = false;
  // Set after an unrecoverable io_uring_enter error; the ring is never entered again.
  bool broken_ = false;
  std::string broken_reason_;

  // Per-batch scratch, kept to avoid allocating on every round.
  std::vector<uint32_t> pending_;  // FIFO of request indices to (re)submit
  size_t next_ = 0;                // next entry of pending_ to submit
  uint32_t submitted_ = 0;         // SQEs handed to the kernel and not yet completed
  uint32_t queued_ = 0;            // SQEs prepared but not yet handed to the kernel
  size_t retries_ = 0;
  size_t max_retries_ = 0;
};

void UringBatchReader::Prep(io_uring_sqe* sqe, const ReadRequest& r, uint32_t index) {
  const size_t len = std::min(r.length - r.bytes_read, kMaxReadBytes);
  io_uring_prep_read(sqe, r.file->fd(), r.dst + r.bytes_read, static_cast<unsigned>(len),
                     r.offset + r.bytes_read);
  sqe->user_data = index;
}

void UringBatchReader::Complete(io_uring_cqe* cqe, std::span<ReadRequest> reqs) {
  const auto index = static_cast<uint32_t>(cqe->user_data);
  const int res = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  --submitted_;
  ReadRequest& r = reqs[index];
  if (res < 0) {
    if ((res == -EINTR || res == -EAGAIN) && retries_ < max_retries_) {
      ++retries_;
      pending_.push_back(index);
    } else {
      r.status = Status::FromErrno(-res, "read " + r.file->path());
    }
    return;
  }
  if (res == 0) return;  // end of file
  const size_t asked = std::min(r.length - r.bytes_read, kMaxReadBytes);
  r.bytes_read += static_cast<size_t>(res);
  if (r.bytes_read == r.length) return;
  // A short O_DIRECT read means end of file (and the remainder would be unaligned anyway).
  if (r.file->is_direct() && static_cast<size_t>(res) < asked) return;
  pending_.push_back(index);
}

void UringBatchReader::ServeWithReadAt(ReadRequest& r) {
  Result<size_t> n =
      r.file->ReadAt(r.offset + r.bytes_read, r.length - r.bytes_read, r.dst + r.bytes_read);
  if (n) {
    r.bytes_read += *n;
  } else {
    r.status = n.status();
  }
}

// io_uring_enter failed for good: drain what the kernel holds (it may still write into the
// callers' buffers), then finish every unfinished request with pread.
void UringBatchReader::Abandon(std::span<ReadRequest> reqs, int err) {
  broken_ = true;
  broken_reason_ = std::string("io_uring_enter: ") + std::strerror(err);
  while (submitted_ > 0) {
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc == -EINTR) continue;
    // Returning while the kernel may still write into caller memory would corrupt it.
    SKEG_CHECK(rc == 0);
    Complete(cqe, reqs);
  }
  // Finish every request that has neither failed nor been filled. Re-reading from bytes_read
  // is harmless for requests that already hit end of file: ReadAt just returns 0 again.
  for (ReadRequest& r : reqs) {
    if (r.file != nullptr && r.status.ok() && r.bytes_read < r.length) ServeWithReadAt(r);
  }
  queued_ = 0;
}

Status UringBatchReader::ReadBatch(std::span<ReadRequest> reqs) {
  pending_.clear();
  next_ = 0;
  submitted_ = 0;
  queued_ = 0;
  retries_ = 0;
  max_retries_ = kMaxRetriesPerRequest * reqs.size();
  for (size_t i = 0; i < reqs.size(); ++i) {
    ReadRequest& r = reqs[i];
    r.bytes_read = 0;
    r.status = Status::Ok();
    if (r.file == nullptr) {
      r.status = Status::InvalidArgument("read request without a file");
    } else if (r.length == 0) {
      // nothing to do
    } else if (broken_ || r.file->fd() < 0) {
      ServeWithReadAt(r);
    } else {
      pending_.push_back(static_cast<uint32_t>(i));
    }
  }

  while (next_ < pending_.size() || submitted_ + queued_ > 0) {
    while (submitted_ + queued_ < depth_ && next_ < pending_.size()) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) break;  // SQ ring full; submit what we have
      Prep(sqe, reqs[pending_[next_]], pending_[next_]);
      ++next_;
      ++queued_;
    }
    const int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc >= 0) {
      queued_ -= static_cast<uint32_t>(rc);
      submitted_ += static_cast<uint32_t>(rc);
    } else if (rc == -EINTR) {
      // The unconsumed SQEs stay in the ring and go out with the next submit; what already
      // completed is reaped below.
    } else if ((rc == -EAGAIN || rc == -EBUSY) && submitted_ > 0) {
      // Out of kernel resources: wait for in-flight reads to free some.
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(&ring_, &cqe) == 0) Complete(cqe, reqs);
    } else {
      Abandon(reqs, -rc);
      break;
    }
    io_uring_cqe* cqe = nullptr;
    while (submitted_ > 0 && io_uring_peek_cqe(&ring_, &cqe) == 0) Complete(cqe, reqs);
  }

  for (const ReadRequest& r : reqs) {
    if (!r.status.ok()) return r.status;
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<BatchReader>> NewIoUringBatchReader(const BatchReaderOptions& options) {
  SKEG_RETURN_IF_ERROR(options.Validate());
  auto reader = std::make_unique<UringBatchReader>(options.queue_depth);
  const int rc = reader->Init();
  if (rc < 0) {
    return Status::NotSupported(std::string("io_uring_queue_init: ") + std::strerror(-rc));
  }
  return std::unique_ptr<BatchReader>(std::move(reader));
}

}  // namespace skeg::platform
