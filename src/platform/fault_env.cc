#include "platform/fault_env.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace skeg::platform {

// Wraps a base File; every mutation asks the Env for permission first.
class FaultInjectionEnv::FaultFile final : public File {
 public:
  FaultFile(FaultInjectionEnv* env, std::unique_ptr<File> base, bool dsync)
      : env_(env), base_(std::move(base)), dsync_(dsync) {}

  Result<size_t> ReadAt(uint64_t offset, size_t n, char* dst) const override {
    return base_->ReadAt(offset, n, dst);
  }

  Status WriteAt(uint64_t offset, std::span<const std::string_view> chunks) override {
    size_t total = 0;
    for (std::string_view c : chunks) total += c.size();
    WritePlan plan = env_->PlanWrite(path(), total);
    if (plan.allowed == total) {
      SKEG_RETURN_IF_ERROR(base_->WriteAt(offset, chunks));
    } else if (plan.allowed > 0) {
      // Pass on the prefix of `allowed` bytes.
      std::vector<std::string_view> prefix;
      size_t left = plan.allowed;
      for (std::string_view c : chunks) {
        if (left == 0) break;
        prefix.push_back(c.substr(0, left));
        left -= prefix.back().size();
      }
      SKEG_RETURN_IF_ERROR(base_->WriteAt(offset, prefix));
    }
    env_->RecordWritten(plan.allowed);
    if (dsync_ && plan.allowed > 0) {
      // O_DSYNC: whatever reached the file is durable.
      auto size = base_->Size();
      if (size) env_->RecordSynced(path(), *size);
    }
    return std::move(plan.error);
  }

  Status Sync(SyncMode mode) override {
    SKEG_RETURN_IF_ERROR(env_->PlanSync(path()));
    // The size before the sync is what the sync is guaranteed to cover.
    SKEG_ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    SKEG_RETURN_IF_ERROR(base_->Sync(mode));
    env_->RecordSynced(path(), size);
    return Status::Ok();
  }

  Status Allocate(uint64_t offset, uint64_t len) override {
    SKEG_RETURN_IF_ERROR(env_->CheckActive("fallocate", path()));
    return base_->Allocate(offset, len);
  }

  Status Truncate(uint64_t size) override {
    SKEG_RETURN_IF_ERROR(env_->CheckActive("truncate", path()));
    SKEG_RETURN_IF_ERROR(base_->Truncate(size));
    env_->RecordTruncated(path(), size);
    return Status::Ok();
  }

  Result<uint64_t> Size() const override { return base_->Size(); }
  int fd() const override { return -1; }
  bool is_direct() const override { return base_->is_direct(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionEnv* const env_;
  const std::unique_ptr<File> base_;
  const bool dsync_;
};

FaultInjectionEnv::FaultInjectionEnv(Env* base) : base_(base) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

void FaultInjectionEnv::FailSyncs(int n, int err) {
  std::lock_guard lock(mu_);
  fail_syncs_ = n;
  fail_syncs_err_ = err;
}

void FaultInjectionEnv::FailNextWrites(int n, int err) {
  std::lock_guard lock(mu_);
  fail_writes_ = n;
  fail_writes_err_ = err;
}

void FaultInjectionEnv::SetWriteBudget(uint64_t bytes) {
  std::lock_guard lock(mu_);
  write_budget_ = bytes;
}

void FaultInjectionEnv::ClearWriteBudget() {
  std::lock_guard lock(mu_);
  write_budget_.reset();
}

void FaultInjectionEnv::TearNextWrite(size_t keep_bytes) {
  std::lock_guard lock(mu_);
  tear_next_write_ = keep_bytes;
}

void FaultInjectionEnv::SetFilesystemActive(bool active) {
  std::lock_guard lock(mu_);
  active_ = active;
}

bool FaultInjectionEnv::filesystem_active() const {
  std::lock_guard lock(mu_);
  return active_;
}

void FaultInjectionEnv::ClearFaults() {
  {
    std::lock_guard lock(mu_);
    active_ = true;
    hold_syncs_ = false;
    fail_syncs_ = 0;
    fail_writes_ = 0;
    write_budget_.reset();
    tear_next_write_.reset();
  }
  syncs_released_.notify_all();
}

uint64_t FaultInjectionEnv::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

uint64_t FaultInjectionEnv::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

uint64_t FaultInjectionEnv::bytes_written() const {
  std::lock_guard lock(mu_);
  return bytes_written_;
}

std::optional<uint64_t> FaultInjectionEnv::SyncedSize(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = synced_size_.find(path);
  if (it == synced_size_.end()) return std::nullopt;
  return it->second;
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::map<std::string, uint64_t> tracked;
  {
    std::lock_guard lock(mu_);
    tracked = synced_size_;
  }
  for (const auto& [path, synced] : tracked) {
    if (!base_->FileExists(path)) {
      std::lock_guard lock(mu_);
      synced_size_.erase(path);
      continue;
    }
    SKEG_ASSIGN_OR_RETURN(uint64_t size, base_->FileSize(path));
    if (size <= synced) continue;
    OpenOptions opts;
    opts.read_only = false;
    SKEG_ASSIGN_OR_RETURN(std::unique_ptr<File> f, base_->OpenFile(path, opts));
    SKEG_RETURN_IF_ERROR(f->Truncate(synced));
  }
  return Status::Ok();
}

FaultInjectionEnv::WritePlan FaultInjectionEnv::PlanWrite(const std::string& path, size_t total) {
  std::lock_guard lock(mu_);
  ++writes_;
  if (!active_) return {0, Status::FromErrno(EIO, "write " + path + " (injected: inactive)")};
  if (fail_writes_ > 0) {
    --fail_writes_;
    return {0, Status::FromErrno(fail_writes_err_, "write " + path + " (injected)")};
  }
  WritePlan plan{total, Status::Ok()};
  if (tear_next_write_) {
    if (*tear_next_write_ < total) {
      plan.allowed = *tear_next_write_;
      plan.error = Status::FromErrno(EIO, "write " + path + " (injected torn write)");
    }
    tear_next_write_.reset();
  }
  if (write_budget_) {
    if (plan.allowed > *write_budget_) {
      plan.allowed = static_cast<size_t>(*write_budget_);
      plan.error = Status::FromErrno(ENOSPC, "write " + path + " (injected: budget)");
    }
    *write_budget_ -= plan.allowed;
  }
  return plan;
}

void FaultInjectionEnv::HoldSyncs(bool hold) {
  {
    std::lock_guard lock(mu_);
    hold_syncs_ = hold;
  }
  syncs_released_.notify_all();
}

int FaultInjectionEnv::syncs_waiting() const {
  std::lock_guard lock(mu_);
  return syncs_waiting_;
}

Status FaultInjectionEnv::PlanSync(const std::string& path) {
  std::unique_lock lock(mu_);
  ++syncs_waiting_;
  syncs_released_.wait(lock, [&] { return !hold_syncs_; });
  --syncs_waiting_;
  ++syncs_;
  if (!active_) return Status::FromErrno(EIO, "sync " + path + " (injected: inactive)");
  if (fail_syncs_ > 0) {
    --fail_syncs_;
    return Status::FromErrno(fail_syncs_err_, "sync " + path + " (injected)");
  }
  return Status::Ok();
}

Status FaultInjectionEnv::CheckActive(std::string_view op, const std::string& path) const {
  std::lock_guard lock(mu_);
  if (active_) return Status::Ok();
  return Status::FromErrno(EIO, std::string(op) + " " + path + " (injected: inactive)");
}

void FaultInjectionEnv::RecordWritten(uint64_t bytes) {
  std::lock_guard lock(mu_);
  bytes_written_ += bytes;
}

void FaultInjectionEnv::RecordSynced(const std::string& path, uint64_t size) {
  std::lock_guard lock(mu_);
  synced_size_[path] = size;
}

void FaultInjectionEnv::RecordTruncated(const std::string& path, uint64_t size) {
  // A shrink is not durable until the next sync either, but modelling the old tail coming
  // back is not useful; treat the synced size as at most the new size.
  std::lock_guard lock(mu_);
  auto it = synced_size_.find(path);
  if (it != synced_size_.end()) it->second = std::min(it->second, size);
}

Result<std::unique_ptr<File>> FaultInjectionEnv::OpenFile(const std::string& path,
                                                          const OpenOptions& options) {
  if (!options.read_only || options.create || options.truncate) {
    SKEG_RETURN_IF_ERROR(CheckActive("open", path));
  }
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<File> base, base_->OpenFile(path, options));
  if (!options.read_only) {
    SKEG_ASSIGN_OR_RETURN(uint64_t size, base->Size());
    std::lock_guard lock(mu_);
    // Keep an existing entry: bytes written before a close are still unsynced after it.
    auto [it, inserted] = synced_size_.emplace(path, size);
    if (!inserted && options.truncate) it->second = 0;
  }
  return std::unique_ptr<File>(std::make_unique<FaultFile>(this, std::move(base), options.dsync));
}

Status FaultInjectionEnv::CreateDir(const std::string& path) {
  SKEG_RETURN_IF_ERROR(CheckActive("mkdir", path));
  return base_->CreateDir(path);
}

Status FaultInjectionEnv::SyncDir(const std::string& path) {
  SKEG_RETURN_IF_ERROR(CheckActive("sync dir", path));
  return base_->SyncDir(path);
}

Result<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& path) {
  return base_->ListDir(path);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  SKEG_RETURN_IF_ERROR(CheckActive("remove", path));
  SKEG_RETURN_IF_ERROR(base_->RemoveFile(path));
  std::lock_guard lock(mu_);
  synced_size_.erase(path);
  return Status::Ok();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  SKEG_RETURN_IF_ERROR(CheckActive("rename", from));
  SKEG_RETURN_IF_ERROR(base_->RenameFile(from, to));
  std::lock_guard lock(mu_);
  synced_size_.erase(to);
  if (auto it = synced_size_.find(from); it != synced_size_.end()) {
    synced_size_[to] = it->second;
    synced_size_.erase(it);
  }
  return Status::Ok();
}

bool FaultInjectionEnv::FileExists(const std::string& path) { return base_->FileExists(path); }

Result<uint64_t> FaultInjectionEnv::FileSize(const std::string& path) {
  return base_->FileSize(path);
}

Result<std::unique_ptr<FileLock>> FaultInjectionEnv::LockFile(const std::string& path) {
  return base_->LockFile(path);
}

}  // namespace skeg::platform
