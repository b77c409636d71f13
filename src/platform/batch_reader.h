// BatchReader: issues the reads of one search round together.
//
// A graph search round needs a handful of independent 4 KiB reads (one per expanded node).
// Submitting them as one batch lets the io_uring backend keep them all in flight at once; the
// pread backend simply runs them one after another. Both produce identical results.
//
// Backends:
//   - "io_uring": chosen by NewBatchReader when BatchReaderOptions::prefer_io_uring is set, the
//     build has liburing (SKEG_WITH_IO_URING) and io_uring_queue_init succeeds at runtime
//     (it fails under seccomp filters, old kernels or io_uring_disabled sysctls).
//   - "pread": always available; used otherwise. fallback_reason() says why.
// Either backend serves a request whose File has no descriptor (fd() < 0, e.g. files of
// FaultInjectionEnv) with File::ReadAt.
//
// Ownership: the reader owns its ring. Requests, their Files and destination buffers belong to
// the caller and must stay valid until ReadBatch returns.
// Thread-safety: a BatchReader is a per-thread object: use one from one thread at a time
// (keep one per worker thread). Different readers are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "platform/env.h"

namespace skeg::platform {

// One positioned read. For files opened with O_DIRECT, dst, offset and length must be aligned
// to kDirectIoAlignment.
struct ReadRequest {
  ReadRequest() = default;
  ReadRequest(const File* file_in, uint64_t offset_in, size_t length_in, char* dst_in)
      : file(file_in), offset(offset_in), length(length_in), dst(dst_in) {}

  const File* file = nullptr;
  uint64_t offset = 0;
  size_t length = 0;
  char* dst = nullptr;
  // Output: bytes read, which is less than `length` only at end of file.
  size_t bytes_read = 0;
  // Output: the outcome of this request (kIOError and friends from FromErrno, naming the file;
  // kInvalidArgument for a request without a file).
  Status status;
};

class BatchReader {
 public:
  virtual ~BatchReader() = default;
  BatchReader() = default;
  BatchReader(const BatchReader&) = delete;
  BatchReader& operator=(const BatchReader&) = delete;

  // Performs every request in `reqs`, filling its bytes_read and status (outputs are reset
  // first). All requests are attempted even when some fail. Returns the status of the first
  // failed request in `reqs` order, or OK. Requests may be completed in any order.
  virtual Status ReadBatch(std::span<ReadRequest> reqs) = 0;

  // "io_uring" or "pread".
  virtual std::string_view backend_name() const = 0;

  // Why the pread backend was chosen instead of io_uring ("" for the io_uring backend or when
  // io_uring was not requested).
  virtual std::string_view fallback_reason() const = 0;
};

struct BatchReaderOptions {
  bool prefer_io_uring = true;
  // Maximum reads in flight in the io_uring backend (larger batches are chunked).
  // Must be in [1, 4096].
  uint32_t queue_depth = 64;

  Status Validate() const;
};

// The io_uring backend when preferred and available, otherwise the pread backend.
// Errors: kInvalidArgument when `options` fail Validate(). Never fails for lack of io_uring.
Result<std::unique_ptr<BatchReader>> NewBatchReader(const BatchReaderOptions& options);

// The pread backend, unconditionally. `fallback_reason` is reported by fallback_reason().
std::unique_ptr<BatchReader> NewPreadBatchReader(std::string fallback_reason = "");

// The io_uring backend, unconditionally. Errors: kNotSupported when the build lacks liburing
// or io_uring_queue_init fails (the message names the errno); kInvalidArgument for bad options.
Result<std::unique_ptr<BatchReader>> NewIoUringBatchReader(const BatchReaderOptions& options);

}  // namespace skeg::platform
