#include "platform/batch_reader.h"

#include <utility>

namespace skeg::platform {
namespace {

class PreadBatchReader final : public BatchReader {
 public:
  explicit PreadBatchReader(std::string fallback_reason)
      : fallback_reason_(std::move(fallback_reason)) {}

  Status ReadBatch(std::span<ReadRequest> reqs) override {
    Status first;
    for (ReadRequest& r : reqs) {
      r.bytes_read = 0;
      r.status = Status::Ok();
      if (r.file == nullptr) {
        r.status = Status::InvalidArgument("read request without a file");
      } else if (r.length > 0) {
        Result<size_t> n = r.file->ReadAt(r.offset, r.length, r.dst);
        if (n) {
          r.bytes_read = *n;
        } else {
          r.status = n.status();
        }
      }
      if (first.ok() && !r.status.ok()) first = r.status;
    }
    return first;
  }

  std::string_view backend_name() const override { return "pread"; }
  std::string_view fallback_reason() const override { return fallback_reason_; }

 private:
  const std::string fallback_reason_;
};

}  // namespace

Status BatchReaderOptions::Validate() const {
  if (queue_depth < 1 || queue_depth > 4096) {
    return Status::InvalidArgument("batch reader queue_depth must be in [1, 4096], got " +
                                   std::to_string(queue_depth));
  }
  return Status::Ok();
}

std::unique_ptr<BatchReader> NewPreadBatchReader(std::string fallback_reason) {
  return std::make_unique<PreadBatchReader>(std::move(fallback_reason));
}

#ifndef SKEG_HAVE_IO_URING
Result<std::unique_ptr<BatchReader>> NewIoUringBatchReader(const BatchReaderOptions& options) {
  SKEG_RETURN_IF_ERROR(options.Validate());
  return Status::NotSupported("io_uring: built without liburing (SKEG_WITH_IO_URING=OFF)");
}
#endif

Result<std::unique_ptr<BatchReader>> NewBatchReader(const BatchReaderOptions& options) {
  SKEG_RETURN_IF_ERROR(options.Validate());
  if (!options.prefer_io_uring) return NewPreadBatchReader();
  Result<std::unique_ptr<BatchReader>> uring = NewIoUringBatchReader(options);
  if (uring) return uring;
  return NewPreadBatchReader(std::string(uring.error().message()));
}

}  // namespace skeg::platform
