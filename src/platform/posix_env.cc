// POSIX implementation of Env (Linux): File over a file descriptor, directories, flock locks,
// plus the free helpers declared in env.h.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/status.h"
#include "platform/env.h"

namespace skeg::platform {
namespace {

#ifndef IOV_MAX
constexpr int kIovMax = 1024;
#else
constexpr int kIovMax = IOV_MAX;
#endif

// Largest single read/write we issue; Linux transfers at most 0x7ffff000 bytes per call anyway.
constexpr size_t kMaxIoBytes = size_t{1} << 30;

std::string Ctx(std::string_view op, std::string_view path) {
  std::string s(op);
  s += ' ';
  s += path;
  return s;
}

// close(2) without retrying on EINTR: on Linux the descriptor is released even then.
void CloseFd(int fd) {
  if (fd >= 0) ::close(fd);
}

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd, bool direct)
      : path_(std::move(path)), fd_(fd), direct_(direct) {}
  ~PosixFile() override { CloseFd(fd_); }

  Result<size_t> ReadAt(uint64_t offset, size_t n, char* dst) const override {
    size_t done = 0;
    while (done < n) {
      const size_t want = std::min(n - done, kMaxIoBytes);
      const ssize_t r = ::pread(fd_, dst + done, want, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, Ctx("read", path_));
      }
      if (r == 0) break;  // end of file
      done += static_cast<size_t>(r);
      // With O_DIRECT the kernel returns a short read only at end of file, and the remainder
      // could not be requested anyway (its offset and buffer are no longer aligned).
      if (direct_ && static_cast<size_t>(r) < want) break;
    }
    return done;
  }

  Status WriteAt(uint64_t offset, std::span<const std::string_view> chunks) override {
    // Build the iovec array once, skipping empty chunks; partial writes advance through it.
    std::vector<iovec> iov;
    iov.reserve(chunks.size());
    for (std::string_view c : chunks) {
      if (c.empty()) continue;
      iov.push_back(iovec{const_cast<char*>(c.data()), c.size()});
    }
    size_t first = 0;  // index of the first iovec with bytes left
    uint64_t pos = offset;
    while (first < iov.size()) {
      const int count = static_cast<int>(std::min<size_t>(iov.size() - first, kIovMax));
      const ssize_t w = ::pwritev(fd_, &iov[first], count, static_cast<off_t>(pos));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, Ctx("write", path_));
      }
      if (w == 0) return Status::FromErrno(EIO, Ctx("write (no progress)", path_));
      pos += static_cast<uint64_t>(w);
      auto left = static_cast<size_t>(w);
      while (left > 0) {
        iovec& v = iov[first];
        if (left >= v.iov_len) {
          left -= v.iov_len;
          ++first;
        } else {
          v.iov_base = static_cast<char*>(v.iov_base) + left;
          v.iov_len -= left;
          left = 0;
        }
      }
    }
    return Status::Ok();
  }

  Status Sync(SyncMode mode) override {
    int r;
    do {
      r = mode == SyncMode::kData ? ::fdatasync(fd_) : ::fsync(fd_);
    } while (r != 0 && errno == EINTR);
    if (r != 0) return Status::FromErrno(errno, Ctx("sync", path_));
    return Status::Ok();
  }

  Status Allocate(uint64_t offset, uint64_t len) override {
    if (len == 0) return Status::Ok();
    int r;
    do {
      r = ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                      static_cast<off_t>(len));
    } while (r != 0 && errno == EINTR);
    if (r == 0) return Status::Ok();
    if (errno == EOPNOTSUPP || errno == ENOSYS) {
      return Status::NotSupported(Status::FromErrno(errno, Ctx("fallocate", path_)).message());
    }
    return Status::FromErrno(errno, Ctx("fallocate", path_));
  }

  Status Truncate(uint64_t size) override {
    int r;
    do {
      r = ::ftruncate(fd_, static_cast<off_t>(size));
    } while (r != 0 && errno == EINTR);
    if (r != 0) return Status::FromErrno(errno, Ctx("truncate", path_));
    return Status::Ok();
  }

  Result<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, Ctx("stat", path_));
    return static_cast<uint64_t>(st.st_size);
  }

  int fd() const override { return fd_; }
  bool is_direct() const override { return direct_; }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const int fd_;
  const bool direct_;
};

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  // Closing the only descriptor of the open file description releases the flock.
  ~PosixFileLock() override { CloseFd(fd_); }

  Status SetHolderInfo(std::string_view info) override {
    // Write first, then cut to length, so a concurrent reader never sees an empty file when
    // the previous info was non-empty.
    size_t done = 0;
    while (done < info.size()) {
      const ssize_t w =
          ::pwrite(fd_, info.data() + done, info.size() - done, static_cast<off_t>(done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, Ctx("write", path_));
      }
      done += static_cast<size_t>(w);
    }
    if (::ftruncate(fd_, static_cast<off_t>(info.size())) != 0) {
      return Status::FromErrno(errno, Ctx("truncate", path_));
    }
    return Status::Ok();
  }

 private:
  const std::string path_;
  const int fd_;
};

int OpenRetry(const char* path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Reads at most `max` bytes from the start of `fd`; best effort (used for error messages).
std::string ReadPrefix(int fd, size_t max) {
  std::string s(max, '\0');
  const ssize_t r = ::pread(fd, s.data(), max, 0);
  s.resize(r > 0 ? static_cast<size_t>(r) : 0);
  return s;
}

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<File>> OpenFile(const std::string& path,
                                         const OpenOptions& options) override {
    if (options.read_only && options.truncate) {
      return Status::InvalidArgument("open " + path + ": truncate requires a writable file");
    }
    int flags = O_CLOEXEC | (options.read_only ? O_RDONLY : O_RDWR);
    if (options.create) flags |= O_CREAT;
    if (options.create && options.exclusive) flags |= O_EXCL;
    if (options.truncate) flags |= O_TRUNC;
    if (options.dsync) flags |= O_DSYNC;
    const mode_t mode = options.private_mode ? 0600 : 0644;

    bool direct = false;
    int fd = -1;
    if (options.direct) {
      fd = OpenRetry(path.c_str(), flags | O_DIRECT, mode);
      if (fd >= 0) {
        direct = true;
      } else if (errno == EINVAL) {
        // The file system refuses O_DIRECT. Linux checks O_DIRECT support after O_CREAT has
        // already created the file, so the buffered retry must not insist on O_EXCL: an
        // existing file would have failed with EEXIST before reaching the EINVAL check.
        flags &= ~O_EXCL;
      } else {
        return Status::FromErrno(errno, Ctx("open", path));
      }
    }
    if (fd < 0) {
      fd = OpenRetry(path.c_str(), flags, mode);
      if (fd < 0) return Status::FromErrno(errno, Ctx("open", path));
    }
    return std::unique_ptr<File>(std::make_unique<PosixFile>(path, fd, direct));
  }

  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) == 0) return Status::Ok();
    const int err = errno;
    if (err == EEXIST) {
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
    }
    return Status::FromErrno(err, Ctx("mkdir", path));
  }

  Status SyncDir(const std::string& path) override {
    const int fd = OpenRetry(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return Status::FromErrno(errno, Ctx("open dir", path));
    int r;
    do {
      r = ::fsync(fd);
    } while (r != 0 && errno == EINTR);
    const int err = errno;
    CloseFd(fd);
    if (r != 0) return Status::FromErrno(err, Ctx("sync dir", path));
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return Status::FromErrno(errno, Ctx("open dir", path));
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      const dirent* e = ::readdir(dir);
      if (e == nullptr) break;
      const std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    const int err = errno;
    ::closedir(dir);
    if (err != 0) return Status::FromErrno(err, Ctx("read dir", path));
    return names;
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, Ctx("remove", path));
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::FromErrno(errno, "rename " + from + " to " + to);
    }
    return Status::Ok();
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, Ctx("stat", path));
    return static_cast<uint64_t>(st.st_size);
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    const int fd = OpenRetry(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, Ctx("open lock file", path));
    int r;
    do {
      r = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        std::string holder = ReadPrefix(fd, 4096);
        CloseFd(fd);
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) {
          holder.pop_back();
        }
        if (holder.empty()) holder = "holder unknown";
        return Status::Busy("data directory is locked by another process (" + holder +
                            "): " + path);
      }
      CloseFd(fd);
      return Status::FromErrno(err, Ctx("lock", path));
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(path, fd));
  }
};

// Directory part of `path` for SyncDir: "a/b" -> "a", "/a" -> "/", "a" -> ".".
std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Env* Env::Default() {
  // Leaked on purpose: files and locks may outlive static destruction order.
  static Env* const env = new PosixEnv();
  return env;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  std::string out(dir);
  if (out.back() != '/') out += '/';
  out += name;
  return out;
}

Result<std::string> ReadFileToString(Env* env, const std::string& path) {
  OpenOptions opts;  // read-only
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, env->OpenFile(path, opts));
  SKEG_ASSIGN_OR_RETURN(uint64_t size_hint, file->Size());
  std::string out;
  // Read until end of file rather than trusting the size, in case the file grew meanwhile.
  size_t chunk = std::max<size_t>(static_cast<size_t>(size_hint) + 1, 4096);
  for (;;) {
    const size_t old = out.size();
    out.resize(old + chunk);
    SKEG_ASSIGN_OR_RETURN(size_t n, file->ReadAt(old, chunk, out.data() + old));
    out.resize(old + n);
    if (n < chunk) break;
    chunk = std::min<size_t>(chunk * 2, kMaxIoBytes);
  }
  return out;
}

Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data,
                       bool private_mode) {
  const std::string tmp = path + ".tmp";
  OpenOptions opts;
  opts.read_only = false;
  opts.create = true;
  opts.truncate = true;
  opts.private_mode = private_mode;
  Status s;
  {
    auto file = env->OpenFile(tmp, opts);
    if (!file) return file.status();
    const std::string_view chunks[] = {data};
    s = (*file)->WriteAt(0, chunks);
    if (s.ok()) s = (*file)->Sync(SyncMode::kFull);
  }  // closed before the rename
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (!s.ok()) {
    env->RemoveFile(tmp).IgnoreError();  // best effort; the old file is untouched
    return s;
  }
  return env->SyncDir(ParentDir(path));
}

}  // namespace skeg::platform
