// Env: the operating-system seam for files and directories.
//
// Every module that touches the file system does so through an `Env*` passed in its Options,
// never through syscalls directly. `Env::Default()` is the POSIX implementation; tests swap in
// `FaultInjectionEnv` (fault_env.h) to produce torn writes, failed fsyncs, ENOSPC and lost
// unsynced data without a real crash.
//
// Ownership: an Env outlives every File and FileLock it created. `Env::Default()` is a
// process-lifetime singleton.
//
// Thread-safety: Env methods are thread-safe. A File may be used by several threads at once
// for positioned reads and writes (ReadAt/WriteAt never share a file offset); Close, Truncate
// and Allocate need external synchronisation against other calls on the same File.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skeg::platform {

// How a File is opened.
struct OpenOptions {
  bool read_only = true;   // false: O_RDWR
  bool create = false;     // O_CREAT (mode 0644, or 0600 when private_mode)
  bool exclusive = false;  // with create: fail with kAlreadyExists if the file exists (O_EXCL)
  bool truncate = false;   // O_TRUNC
  // O_DSYNC: each write returns only after the data is on stable media (power-loss tier).
  bool dsync = false;
  // O_DIRECT: bypass the kernel page cache. Buffers, offsets and lengths must then be aligned
  // to kDirectIoAlignment. When the file system refuses O_DIRECT (tmpfs), the file is opened
  // buffered and File::is_direct() reports false.
  bool direct = false;
  bool private_mode = false;  // create with mode 0600
};

// Alignment of buffers, offsets and lengths for O_DIRECT I/O (the logical block size we
// assume; 4096 also matches the page-cache page).
inline constexpr size_t kDirectIoAlignment = 4096;

// fdatasync (data plus the metadata needed to read it back) or fsync (all metadata).
enum class SyncMode : uint8_t { kData, kFull };

class File {
 public:
  virtual ~File() = default;
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Reads up to `n` bytes at `offset` into `dst`. Returns the number of bytes read, which is
  // less than `n` only at end of file (reading at or past it returns 0). Interrupted and short
  // reads are retried internally; on an O_DIRECT file a short read is taken as end of file,
  // since the kernel returns one only there. Errors: kIOError (EIO and friends).
  virtual Result<size_t> ReadAt(uint64_t offset, size_t n, char* dst) const = 0;

  // Writes the concatenation of `chunks` at `offset` with one pwritev (retried until every
  // byte is written). Errors: kResourceExhausted for ENOSPC/EDQUOT, kIOError otherwise. After
  // an error an unknown prefix of the bytes may be in the file (a torn write).
  virtual Status WriteAt(uint64_t offset, std::span<const std::string_view> chunks) = 0;

  // fdatasync(2) or fsync(2). After an error the state of unsynced data is unknown (Linux may
  // have dropped the dirty pages): callers must treat the file as failed.
  virtual Status Sync(SyncMode mode) = 0;

  // fallocate(2) without changing the file size when possible (FALLOC_FL_KEEP_SIZE), so
  // preallocated space does not appear as file content. kNotSupported where the file system
  // cannot preallocate.
  virtual Status Allocate(uint64_t offset, uint64_t len) = 0;

  // ftruncate(2).
  virtual Status Truncate(uint64_t size) = 0;

  // Current size in bytes (fstat).
  virtual Result<uint64_t> Size() const = 0;

  // The OS file descriptor, or -1 for files that have none (in-memory or wrapped test files).
  // Used only by the io_uring reader; everything else goes through the methods above.
  virtual int fd() const = 0;

  // True when the file really was opened with O_DIRECT.
  virtual bool is_direct() const = 0;

  virtual const std::string& path() const = 0;
};

// An advisory lock on a file (flock(2), so it conflicts even within one process). Released
// when destroyed. The lock file's content names the holder.
class FileLock {
 public:
  virtual ~FileLock() = default;
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Replaces the lock file's content with `info` (for example "pid=123 addrs=...") so that a
  // process that fails to take the lock can say who holds it.
  virtual Status SetHolderInfo(std::string_view info) = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // The process-wide POSIX environment.
  static Env* Default();

  // Opens `path`. Errors: kNotFound, kAlreadyExists (exclusive), kPermissionDenied, kIOError;
  // kInvalidArgument for `truncate` together with `read_only`.
  virtual Result<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 const OpenOptions& options) = 0;

  // Creates directory `path` (one level); OK when it already exists.
  virtual Status CreateDir(const std::string& path) = 0;
  // fsync(2) on the directory itself, making created, renamed and removed entries durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Names (not paths) of the entries of `path`, without "." and "..", in no defined order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // rename(2): atomically replaces `to` if it exists.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;

  // Takes an exclusive advisory lock on `path` (created if missing, mode 0644) without
  // blocking. The lock is held until the returned FileLock is destroyed.
  // Errors: kBusy when another holder has it; the message includes the holder info that the
  // holder wrote with FileLock::SetHolderInfo.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
};

// Joins a directory and a name with exactly one '/'.
std::string JoinPath(std::string_view dir, std::string_view name);

// Reads the whole file at `path` into a string. Errors as OpenFile/ReadAt.
Result<std::string> ReadFileToString(Env* env, const std::string& path);

// Writes `data` to `path` atomically: writes `path`.tmp, syncs it (fsync), renames it over
// `path`, then syncs the directory. A crash at any point leaves either the old or the new file.
Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data,
                       bool private_mode = false);

}  // namespace skeg::platform
