// Server commands: INFO, CONFIG GET/SET/RESETSTAT, DBSIZE, TIME, FLUSHDB/FLUSHALL and the
// COMMAND introspection family generated from the command table.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "server/command/arg_parse.h"
#include "server/command/families.h"
#include "server/command/string_match.h"
#include "storage/cache/page_buffers.h"
#include "storage/cache/page_cache.h"
#include "telemetry/metrics.h"

namespace skeg::server {
namespace {

// The CONFIG GET parameters and their current values.
std::vector<std::pair<std::string, std::string>> ConfigParams(const Engine& e) {
  const EngineOptions& o = e.options();
  return {
      {"save", ""},
      {"appendonly", "no"},
      {"appendfsync", "always"},
      {"maxmemory", std::to_string(o.maxmemory_bytes)},
      {"maxmemory-policy", "noeviction"},
      {"databases", "1"},
      {"maxclients", std::to_string(o.max_clients)},
      {"port", std::to_string(o.tcp_port)},
      {"dir", o.data_dir},
      {"timeout", "0"},
      {"tcp-keepalive", "300"},
      {"proto-max-bulk-len", std::to_string(o.max_bulk_bytes)},
      {"io-threads", std::to_string(o.workers)},
      {"cluster-enabled", "no"},
  };
}

std::string InfoSection(Engine& e, std::string_view section) {
  const EngineOptions& o = e.options();
  storage::Store* store = e.store();
  if (section == "server") {
    const int64_t uptime = e.UptimeSeconds();
    return fmt::format(
        "# Server\r\nredis_version:7.0.0\r\nskeg_version:{}\r\nredis_mode:standalone\r\n"
        "os:Linux\r\narch_bits:64\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\n"
        "uptime_in_days:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:{}\r\n",
        o.version, ::getpid(), o.tcp_port, uptime, uptime / 86400, o.binary_name, o.config_file,
        o.workers > 1 ? 1 : 0);
  }
  if (section == "clients") {
    return fmt::format(
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n",
        e.clients().size(), o.max_clients);
  }
  if (section == "memory") {
    const telemetry::RssBytes rss = telemetry::ReadRss();
    return fmt::format(
        "# Memory\r\nused_memory:{}\r\nused_memory_rss:{}\r\nused_memory_rss_anon:{}\r\n"
        "used_memory_rss_file:{}\r\nmaxmemory:{}\r\nmaxmemory_policy:noeviction\r\n"
        "skeg_store_memory:{}\r\n",
        rss.anon, rss.anon + rss.file, rss.anon, rss.file, o.maxmemory_bytes, store->MemoryUsage());
  }
  if (section == "persistence") {
    const storage::StoreStats s = store->stats();
    return fmt::format(
        "# Persistence\r\nloading:0\r\naof_enabled:0\r\nrdb_bgsave_in_progress:0\r\n"
        "skeg_durability:{}\r\nskeg_commit_groups:{}\r\nskeg_syncs:{}\r\nskeg_checkpoints:{}\r\n"
        "skeg_disk_bytes:{}\r\nskeg_live_bytes:{}\r\nskeg_segments:{}\r\n"
        "skeg_unsynced_acked_bytes:{}\r\n",
        o.durability, s.commit_groups, s.syncs, s.checkpoints, s.disk_bytes, s.live_bytes,
        s.segments, s.unsynced_acked_bytes);
  }
  if (section == "stats") {
    Engine::Stats& s = e.stats();
    return fmt::format(
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n"
        "total_error_replies:{}\r\nrejected_connections:{}\r\nkeyspace_hits:{}\r\n"
        "keyspace_misses:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n",
        e.clients().total(), s.commands.load(), s.errors.load(), s.rejected_connections.load(),
        s.keyspace_hits.load(), s.keyspace_misses.load(), s.net_input_bytes.load(),
        s.net_output_bytes.load());
  }
  if (section == "keyspace") {
    const storage::StoreStats st = store->stats();
    if (st.keys == 0) return "# Keyspace\r\n";
    return fmt::format("# Keyspace\r\ndb0:keys={},expires={},avg_ttl=0\r\n", st.keys,
                       st.expiring_keys);
  }
  if (section == "skeg") {
    const storage::StoreStats s = store->stats();
    const index::Collection* vectors = e.vectors();
    storage::PageCache::Stats cs;
    size_t cache_memory = 0;
    if (const storage::PageCache* cache = e.options().page_cache) {
      cs = cache->stats();
      cache_memory = cache->MemoryUsage();
    }
    const storage::PageBuffers::Stats pool = storage::PageBuffers::Global().stats();
    return fmt::format(
        "# Skeg\r\nvectors:{}\r\nindexes:{}\r\nvector_index_ram_bytes:{}\r\ncache_bytes:{}\r\n"
        "cache_capacity_bytes:{}\r\ncache_memory_bytes:{}\r\ncache_pages:{}\r\n"
        "cache_hits:{}\r\ncache_misses:{}\r\ncache_evictions:{}\r\n"
        "cache_buffer_pool_bytes:{}\r\ncache_buffer_free_bytes:{}\r\n"
        "keydir_bytes:{}\r\ncompactions:{}\r\ncompaction_bytes_reclaimed:{}\r\n",
        vectors ? vectors->vector_count() : 0, vectors ? vectors->index_count() : 0,
        vectors ? vectors->MemoryUsage() : 0, cs.bytes, cs.capacity_bytes, cache_memory, cs.pages,
        cs.hits, cs.misses, cs.evictions, pool.mapped_bytes, pool.free_bytes, s.keydir_bytes,
        s.compactions, s.compaction_bytes_reclaimed);
  }
  return "";
}

constexpr std::string_view kSections[] = {"server", "clients",  "memory", "persistence",
                                          "stats",  "keyspace", "skeg"};

void ReplyCommandInfo(protocol::ReplyBuilder& rb, const CommandSpec& spec,
                      const CommandSpec* parent) {
  rb.ArrayStart(10);
  rb.Bulk(FullName(spec, parent));
  rb.Integer(spec.arity);
  const std::vector<std::string_view> flags = CommandFlagNames(spec.flags);
  rb.SetStart(flags.size());
  for (std::string_view f : flags) rb.SimpleString(f);
  rb.Integer(spec.first_key);
  rb.Integer(spec.last_key);
  rb.Integer(spec.key_step);
  std::vector<std::string_view> acl;
  for (size_t pos = 0; pos < spec.acl_categories.size();) {
    size_t end = spec.acl_categories.find(' ', pos);
    if (end == std::string_view::npos) end = spec.acl_categories.size();
    if (end > pos) acl.push_back(spec.acl_categories.substr(pos, end - pos));
    pos = end + 1;
  }
  rb.SetStart(acl.size());
  for (std::string_view a : acl) rb.SimpleString(a);
  rb.ArrayStart(0);  // tips
  rb.ArrayStart(0);  // key specifications
  rb.ArrayStart(spec.subcommands.size());
  for (const CommandSpec& sub : spec.subcommands) ReplyCommandInfo(rb, sub, &spec);
}

void ReplyCommandDocs(protocol::ReplyBuilder& rb, const CommandSpec& spec) {
  const bool container = !spec.subcommands.empty();
  rb.MapStart(container ? 5 : 4);
  rb.Bulk("summary");
  rb.Bulk(spec.summary);
  rb.Bulk("since");
  rb.Bulk(spec.since);
  rb.Bulk("group");
  rb.Bulk(spec.group);
  rb.Bulk("complexity");
  rb.Bulk(spec.complexity);
  if (container) {
    rb.Bulk("subcommands");
    rb.MapStart(spec.subcommands.size());
    for (const CommandSpec& sub : spec.subcommands) {
      rb.Bulk(FullName(sub, &spec));
      ReplyCommandDocs(rb, sub);
    }
  }
}

Status OpFlush(Engine& e) {
  KeyLocks::Guard all = e.locks().LockAll();
  std::vector<std::string> keys;
  SKEG_RETURN_IF_ERROR(e.store()->ForEachKey([&](std::string_view key) {
    keys.emplace_back(key);
    return true;
  }));
  constexpr size_t kChunk = 1024;
  for (size_t i = 0; i < keys.size(); i += kChunk) {
    storage::WriteBatch batch;
    for (size_t j = i; j < std::min(keys.size(), i + kChunk); ++j) batch.Delete(keys[j]);
    SKEG_RETURN_IF_ERROR(e.Write(batch).status());
  }
  return Status::Ok();
}

}  // namespace

void CmdInfo(CommandContext& cx) {
  std::vector<std::string_view> wanted;
  bool all = cx.args.size() == 1;
  for (size_t i = 1; i < cx.args.size(); ++i) {
    const std::string lower = AsciiLower(cx.args[i]);
    if (lower == "all" || lower == "everything" || lower == "default") {
      all = true;
      continue;
    }
    for (std::string_view s : kSections) {
      if (s == lower && std::find(wanted.begin(), wanted.end(), s) == wanted.end()) {
        wanted.push_back(s);
      }
    }
  }
  if (all) wanted.assign(std::begin(kSections), std::end(kSections));
  std::string text;
  for (std::string_view s : wanted) {
    if (!text.empty()) text += "\r\n";
    text += InfoSection(*cx.engine, s);
  }
  cx.rb->Verbatim(text);
}

void CmdConfigGet(CommandContext& cx) {
  std::vector<std::pair<std::string, std::string>> matched;
  for (const auto& param : ConfigParams(*cx.engine)) {
    for (size_t i = 2; i < cx.args.size(); ++i) {
      if (StringMatch(cx.args[i], param.first, true)) {
        matched.push_back(param);
        break;
      }
    }
  }
  cx.rb->MapStart(matched.size());
  for (const auto& [name, value] : matched) {
    cx.rb->Bulk(name);
    cx.rb->Bulk(value);
  }
}

void CmdConfigSet(CommandContext& cx) {
  if (cx.args.size() % 2 != 0) {
    return cx.rb->Error("ERR wrong number of arguments for 'config|set' command");
  }
  const auto params = ConfigParams(*cx.engine);
  for (size_t i = 2; i < cx.args.size(); i += 2) {
    const std::string name = AsciiLower(cx.args[i]);
    const bool known =
        std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
    if (!known) {
      return cx.rb->Error(fmt::format(
          "ERR Unknown option or number of arguments for CONFIG SET - '{}'", cx.args[i]));
    }
    // Settings are fixed at startup (flags); accept a no-op write of the current value only.
    const auto it =
        std::find_if(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
    if (it->second != cx.args[i + 1]) {
      return cx.rb->Error(fmt::format(
          "ERR CONFIG SET failed (possibly related to argument '{}') - can't set immutable "
          "config",
          cx.args[i]));
    }
  }
  cx.rb->Ok();
}

void CmdConfigResetStat(CommandContext& cx) {
  cx.engine->ResetStats();
  cx.rb->Ok();
}

void CmdDbSize(CommandContext& cx) {
  cx.rb->Integer(static_cast<int64_t>(cx.engine->store()->key_count()));
}

void CmdTime(CommandContext& cx) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  cx.rb->ArrayStart(2);
  cx.rb->Bulk(std::to_string(us / 1000000));
  cx.rb->Bulk(std::to_string(us % 1000000));
}

void CmdFlushDb(CommandContext& cx) {
  if (cx.args.size() > 2) return cx.rb->Error(SyntaxError());
  if (cx.args.size() == 2 && !EqualsIgnoreCase(cx.args[1], "ASYNC") &&
      !EqualsIgnoreCase(cx.args[1], "SYNC")) {
    return cx.rb->Error(SyntaxError());
  }
  if (Status s = OpFlush(*cx.engine); !s.ok()) return cx.rb->Error(s);
  cx.rb->Ok();
}

void CmdCommand(CommandContext& cx) {
  std::span<const CommandSpec> all = AllCommands();
  cx.rb->ArrayStart(all.size());
  for (const CommandSpec& spec : all) ReplyCommandInfo(*cx.rb, spec, nullptr);
}

void CmdCommandCount(CommandContext& cx) {
  cx.rb->Integer(static_cast<int64_t>(AllCommands().size()));
}

void CmdCommandInfo(CommandContext& cx) {
  if (cx.args.size() == 2) return CmdCommand(cx);
  cx.rb->ArrayStart(cx.args.size() - 2);
  for (size_t i = 2; i < cx.args.size(); ++i) {
    const CommandSpec* spec = FindCommand(cx.args[i]);
    if (spec == nullptr) {
      cx.rb->NullArray();
    } else {
      ReplyCommandInfo(*cx.rb, *spec, nullptr);
    }
  }
}

void CmdCommandDocs(CommandContext& cx) {
  std::vector<const CommandSpec*> specs;
  if (cx.args.size() == 2) {
    for (const CommandSpec& spec : AllCommands()) specs.push_back(&spec);
  } else {
    for (size_t i = 2; i < cx.args.size(); ++i) {
      if (const CommandSpec* spec = FindCommand(cx.args[i])) specs.push_back(spec);
    }
  }
  cx.rb->MapStart(specs.size());
  for (const CommandSpec* spec : specs) {
    cx.rb->Bulk(spec->name);
    ReplyCommandDocs(*cx.rb, *spec);
  }
}

void CmdCommandList(CommandContext& cx) {
  std::vector<std::string> names;
  for (const CommandSpec& spec : AllCommands()) {
    names.emplace_back(spec.name);
    for (const CommandSpec& sub : spec.subcommands) names.push_back(FullName(sub, &spec));
  }
  cx.rb->ArrayStart(names.size());
  for (const std::string& n : names) cx.rb->Bulk(n);
}

}  // namespace skeg::server
