// ClientRegistry: the list of connected clients behind CLIENT LIST / CLIENT KILL / INFO.
//
// Each connection owns a ClientHandle (shared with the registry) for the lifetime of the
// connection. Fields other connections read (name, library) sit behind the handle's mutex;
// the last command, its time and the protocol version are atomics (Touch() runs for every
// command, so it takes no lock); the id and addresses are immutable after construction.
//
// Thread-safety: ClientRegistry and ClientHandle are fully thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace skeg::server {

struct CommandSpec;

class ClientHandle {
 public:
  ClientHandle(uint64_t id, std::string addr, std::string laddr, int64_t created_ms)
      : id_(id), addr_(std::move(addr)), laddr_(std::move(laddr)), created_ms_(created_ms) {}

  uint64_t id() const { return id_; }
  const std::string& addr() const { return addr_; }

  void set_name(std::string name);
  std::string name() const;
  void set_lib_name(std::string v);
  void set_lib_ver(std::string v);
  // Records the command being run (for CLIENT LIST `cmd=` and `idle=`): `cmd` is an entry of
  // the command table (a subcommand's own spec), null for an unknown command. Lock-free.
  void Touch(const CommandSpec* cmd, int64_t now_ms, int resp) {
    last_cmd_.store(cmd, std::memory_order_relaxed);
    last_ms_.store(now_ms, std::memory_order_relaxed);
    resp_.store(resp, std::memory_order_relaxed);
  }

  // Asks the connection to close (CLIENT KILL). Thread-safe; no-op without a killer.
  void set_killer(std::function<void()> kill);
  void Kill();

  // One CLIENT LIST line (without the trailing newline).
  std::string Describe(int64_t now_ms) const;

 private:
  const uint64_t id_;
  const std::string addr_;
  const std::string laddr_;
  const int64_t created_ms_;
  mutable std::mutex mu_;
  std::string name_;                                   // guarded by mu_
  std::string lib_name_;                               // guarded by mu_
  std::string lib_ver_;                                // guarded by mu_
  std::function<void()> kill_;                         // guarded by mu_
  std::atomic<const CommandSpec*> last_cmd_{nullptr};  // null: none yet ("NULL")
  std::atomic<int64_t> last_ms_{0};
  std::atomic<int> resp_{2};
};

class ClientRegistry {
 public:
  // Creates, registers and returns a handle with a fresh id (ids start at 1).
  std::shared_ptr<ClientHandle> Add(std::string addr, std::string laddr, int64_t now_ms);
  void Remove(uint64_t id);
  std::shared_ptr<ClientHandle> Find(uint64_t id) const;
  // Every handle, by id.
  std::vector<std::shared_ptr<ClientHandle>> List() const;
  size_t size() const;
  // Connections ever added.
  uint64_t total() const { return next_id_.load(std::memory_order_relaxed) - 1; }

 private:
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<ClientHandle>> clients_;  // guarded by mu_
};

}  // namespace skeg::server
