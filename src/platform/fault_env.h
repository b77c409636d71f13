// FaultInjectionEnv: an Env wrapper that injects the failures crash-safety code must survive.
//
// It delegates everything to a base Env (default Env::Default(), so files are real files) and
// can, on request:
//   - fail the next N File::Sync calls (FailSyncs), or hold every sync until released
//     (HoldSyncs),
//   - fail the next N File::WriteAt calls outright (FailNextWrites),
//   - tear the next write after a given number of bytes (TearNextWrite),
//   - run out of disk space after a byte budget (SetWriteBudget -> ENOSPC),
//   - "crash" the file system so every mutation fails with EIO (SetFilesystemActive(false)),
//   - lose everything not yet fsynced (DropUnsyncedData), as after a power cut.
//
// Unsynced-data model: for every file opened through this Env, the size at the last successful
// File::Sync is remembered by path (a file that already existed when first opened counts its
// size at open as synced; a file opened with OpenOptions::dsync is synced by every write).
// DropUnsyncedData truncates each tracked file back to that size. Only appended bytes are
// modelled: overwrites below the synced size are not rolled back, and directory entries are
// treated as durable immediately (SyncDir is delegated without bookkeeping).
//
// A typical crash test: write through the engine, SetFilesystemActive(false), destroy the
// engine, DropUnsyncedData(), SetFilesystemActive(true), reopen and check recovery.
//
// Files created here return fd() == -1, so the io_uring batch reader serves them with
// File::ReadAt. Injected errors are built with Status::FromErrno and their message contains
// "injected" and the file path.
//
// Ownership: the base Env must outlive this Env; this Env must outlive its Files and locks.
// Thread-safety: all methods, and all methods of the Files it returns, are thread-safe
// (with the usual File caveats from env.h). Fault counters are shared by all files.
#pragma once

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "platform/env.h"

namespace skeg::platform {

class FaultInjectionEnv final : public Env {
 public:
  // `base` is not owned.
  explicit FaultInjectionEnv(Env* base = Env::Default());
  ~FaultInjectionEnv() override;

  // ---- Fault controls. Each replaces any earlier setting of the same kind. ----

  // The next `n` File::Sync calls fail with `err` and sync nothing.
  void FailSyncs(int n, int err = EIO);

  // While held, every File::Sync waits, before it syncs anything, until HoldSyncs(false): a
  // test can see what is acknowledged while a sync is in progress. syncs_waiting() counts the
  // calls waiting now.
  void HoldSyncs(bool hold);
  int syncs_waiting() const;

  // The next `n` File::WriteAt calls fail with `err` and write nothing.
  void FailNextWrites(int n, int err = EIO);

  // From now on at most `bytes` more bytes may be written through File::WriteAt (all files
  // together). The write that would exceed the budget writes only the bytes that still fit
  // and returns ENOSPC (kResourceExhausted); later writes write nothing and fail the same way.
  void SetWriteBudget(uint64_t bytes);
  void ClearWriteBudget();

  // The next File::WriteAt writes only its first `keep_bytes` bytes (or all of them if it is
  // shorter) and then fails with kIOError, as if the process crashed mid-write.
  void TearNextWrite(size_t keep_bytes);

  // While inactive, every mutation (WriteAt, Sync, Allocate, Truncate, creating or writable
  // opens, CreateDir, SyncDir, RemoveFile, RenameFile) fails with EIO, modelling a crashed
  // machine whose disk no longer accepts anything. Reads still work. Initially active.
  void SetFilesystemActive(bool active);
  bool filesystem_active() const;

  // Truncates every tracked file that is longer than its last synced size back to that size
  // (files removed meanwhile are forgotten). Works whether or not the file system is active.
  // Afterwards every tracked file counts as fully synced. Errors: those of the base Env.
  Status DropUnsyncedData();

  // Clears all pending faults (sync/write failures, held syncs, torn write, budget) and reactivates
  // the file system. Counters and unsynced-data tracking are kept.
  void ClearFaults();

  // ---- Counters (since construction). ----

  // File::Sync calls, including failed ones.
  uint64_t syncs() const;
  // File::WriteAt calls, including failed ones.
  uint64_t writes() const;
  // Bytes that actually reached the base Env through File::WriteAt.
  uint64_t bytes_written() const;

  // Last synced size recorded for `path`, or nullopt when the file is not tracked.
  std::optional<uint64_t> SyncedSize(const std::string& path) const;

  // ---- Env. ----
  Result<std::unique_ptr<File>> OpenFile(const std::string& path,
                                         const OpenOptions& options) override;
  Status CreateDir(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  bool FileExists(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

 private:
  class FaultFile;
  friend class FaultFile;

  // What a WriteAt of `total` bytes may do, decided atomically under mu_.
  struct WritePlan {
    size_t allowed;  // bytes to pass to the base file
    Status error;    // returned after writing `allowed` bytes (OK: none)
  };
  WritePlan PlanWrite(const std::string& path, size_t total);
  Status PlanSync(const std::string& path);  // waits while syncs are held
  Status CheckActive(std::string_view op, const std::string& path) const;
  void RecordWritten(uint64_t bytes);
  void RecordSynced(const std::string& path, uint64_t size);
  void RecordTruncated(const std::string& path, uint64_t size);

  Env* const base_;

  mutable std::mutex mu_;
  // All fields below are guarded by mu_.
  bool active_ = true;
  bool hold_syncs_ = false;
  int syncs_waiting_ = 0;
  std::condition_variable syncs_released_;
  int fail_syncs_ = 0;
  int fail_syncs_err_ = EIO;
  int fail_writes_ = 0;
  int fail_writes_err_ = EIO;
  std::optional<uint64_t> write_budget_;
  std::optional<size_t> tear_next_write_;
  uint64_t syncs_ = 0;
  uint64_t writes_ = 0;
  uint64_t bytes_written_ = 0;
  std::map<std::string, uint64_t> synced_size_;  // path -> size at last successful sync
};

}  // namespace skeg::platform
