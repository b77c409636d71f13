#include "server/command/client_registry.h"

#include <fmt/format.h>

#include "server/command/command.h"

namespace skeg::server {

void ClientHandle::set_name(std::string name) {
  std::lock_guard lock(mu_);
  name_ = std::move(name);
}

std::string ClientHandle::name() const {
  std::lock_guard lock(mu_);
  return name_;
}

void ClientHandle::set_lib_name(std::string v) {
  std::lock_guard lock(mu_);
  lib_name_ = std::move(v);
}

void ClientHandle::set_lib_ver(std::string v) {
  std::lock_guard lock(mu_);
  lib_ver_ = std::move(v);
}

void ClientHandle::set_killer(std::function<void()> kill) {
  std::lock_guard lock(mu_);
  kill_ = std::move(kill);
}

void ClientHandle::Kill() {
  std::function<void()> kill;
  {
    std::lock_guard lock(mu_);
    kill = kill_;
  }
  if (kill) kill();
}

std::string ClientHandle::Describe(int64_t now_ms) const {
  const CommandSpec* cmd = last_cmd_.load(std::memory_order_relaxed);
  const int64_t last_ms = last_ms_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  const int64_t age = (now_ms - created_ms_) / 1000;
  const int64_t idle = last_ms == 0 ? age : (now_ms - last_ms) / 1000;
  return fmt::format(
      "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 "
      "multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
      "tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
      id_, addr_, laddr_, name_, age < 0 ? 0 : age, idle < 0 ? 0 : idle,
      cmd != nullptr ? CommandFullName(*cmd) : std::string_view("NULL"),
      resp_.load(std::memory_order_relaxed), lib_name_, lib_ver_);
}

std::shared_ptr<ClientHandle> ClientRegistry::Add(std::string addr, std::string laddr,
                                                  int64_t now_ms) {
  const uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto handle = std::make_shared<ClientHandle>(id, std::move(addr), std::move(laddr), now_ms);
  std::lock_guard lock(mu_);
  clients_.emplace(id, handle);
  return handle;
}

void ClientRegistry::Remove(uint64_t id) {
  std::lock_guard lock(mu_);
  clients_.erase(id);
}

std::shared_ptr<ClientHandle> ClientRegistry::Find(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<ClientHandle>> ClientRegistry::List() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<ClientHandle>> out;
  out.reserve(clients_.size());
  for (const auto& [id, handle] : clients_) out.push_back(handle);
  return out;
}

size_t ClientRegistry::size() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

}  // namespace skeg::server
