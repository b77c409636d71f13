// The command table: every command skeg serves over RESP, declared as data. Dispatch, the
// COMMAND family and docs/commands.md (checked by command_table_test) all derive from it.
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "server/command/arg_parse.h"
#include "server/command/command.h"
#include "server/command/families.h"

namespace skeg::server {
namespace {

constexpr uint32_t W = kCmdWrite;
constexpr uint32_t R = kCmdReadOnly;
constexpr uint32_t M = kCmdDenyOom;
constexpr uint32_t A = kCmdAdmin;
constexpr uint32_t F = kCmdFast;
constexpr uint32_t N = kCmdNoAuth;
constexpr uint32_t L = kCmdLoading;
constexpr uint32_t S = kCmdStale;
constexpr uint32_t X = kCmdNoScript;

// clang-format off
const CommandSpec kClientSub[] = {
  {"getname", 2, X|L|S, 0, 0, 0, "@slow @connection", "connection", "2.6.9", "Returns the name of the connection.", "O(1)", CmdClientGetName, {}},
  {"help", 2, L|S, 0, 0, 0, "@slow @connection", "connection", "5.0.0", "Returns helpful text about the different subcommands.", "O(1)", CmdClientHelp, {}},
  {"id", 2, X|L|S, 0, 0, 0, "@slow @connection", "connection", "5.0.0", "Returns the unique client ID of the connection.", "O(1)", CmdClientId, {}},
  {"info", 2, X|L|S, 0, 0, 0, "@slow @connection", "connection", "6.2.0", "Returns information about the connection.", "O(1)", CmdClientInfo, {}},
  {"kill", -3, A|X|L|S, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "2.4.0", "Terminates open connections (by address, or by ID).", "O(N) where N is the number of client connections", CmdClientKill, {}},
  {"list", -2, A|X|L|S, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "2.4.0", "Lists open connections.", "O(N) where N is the number of client connections", CmdClientList, {}},
  {"setinfo", 4, X|L|S, 0, 0, 0, "@slow @connection", "connection", "7.2.0", "Sets information specific to the client or connection.", "O(1)", CmdClientSetInfo, {}},
  {"setname", 3, X|L|S, 0, 0, 0, "@slow @connection", "connection", "2.6.9", "Sets the connection name.", "O(1)", CmdClientSetName, {}},
};

const CommandSpec kCommandSub[] = {
  {"count", 2, L|S, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Returns a count of commands.", "O(1)", CmdCommandCount, {}},
  {"docs", -2, L|S, 0, 0, 0, "@slow @connection", "server", "7.0.0", "Returns documentary information about one, multiple or all commands.", "O(N) where N is the number of commands to look up", CmdCommandDocs, {}},
  {"info", -2, L|S, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Returns information about one, multiple or all commands.", "O(N) where N is the number of commands to look up", CmdCommandInfo, {}},
  {"list", -2, L|S, 0, 0, 0, "@slow @connection", "server", "7.0.0", "Returns a list of command names.", "O(N) where N is the total number of commands", CmdCommandList, {}},
};

const CommandSpec kConfigSub[] = {
  {"get", -3, A|X|L|S, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Returns the effective values of configuration parameters.", "O(N) when N is the number of configuration parameters provided", CmdConfigGet, {}},
  {"resetstat", 2, A|X|L|S, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Resets the server's statistics.", "O(1)", CmdConfigResetStat, {}},
  {"set", -4, A|X|L|S, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Sets configuration parameters (only to their current values: skeg is configured by flags).", "O(N) when N is the number of configuration parameters provided", CmdConfigSet, {}},
};

const CommandSpec kCommands[] = {
  // Connection.
  {"auth", -2, X|L|S|F|N, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Authenticates the connection.", "O(N) where N is the number of passwords defined for the user", CmdAuth, {}},
  {"client", -2, 0, 0, 0, 0, "@slow", "connection", "2.4.0", "A container for client connection commands.", "Depends on subcommand.", nullptr, kClientSub},
  {"echo", 2, F, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Returns the given string.", "O(1)", CmdEcho, {}},
  {"hello", -1, X|L|S|F|N, 0, 0, 0, "@fast @connection", "connection", "6.0.0", "Handshakes with the server.", "O(1)", CmdHello, {}},
  {"ping", -1, F, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Returns the server's liveliness response.", "O(1)", CmdPing, {}},
  {"quit", -1, X|L|S|F|N, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Closes the connection.", "O(1)", CmdQuit, {}},
  {"reset", 1, X|L|S|F|N, 0, 0, 0, "@fast @connection", "connection", "6.2.0", "Resets the connection.", "O(1)", CmdReset, {}},
  {"select", 2, L|S|F, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Changes the selected database (skeg has only database 0).", "O(1)", CmdSelect, {}},
  // Server.
  {"command", -1, L|S, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Returns detailed information about all commands.", "O(N) where N is the total number of commands", CmdCommand, kCommandSub},
  {"config", -2, 0, 0, 0, 0, "@slow", "server", "2.0.0", "A container for server configuration commands.", "Depends on subcommand.", nullptr, kConfigSub},
  {"dbsize", 1, R|F, 0, 0, 0, "@keyspace @read @fast", "server", "1.0.0", "Returns the number of keys in the database.", "O(1)", CmdDbSize, {}},
  {"flushall", -1, W, 0, 0, 0, "@keyspace @write @slow @dangerous", "server", "1.0.0", "Removes all keys.", "O(N) where N is the total number of keys", CmdFlushDb, {}},
  {"flushdb", -1, W, 0, 0, 0, "@keyspace @write @slow @dangerous", "server", "1.0.0", "Removes all keys from the current database.", "O(N) where N is the number of keys in the selected database", CmdFlushDb, {}},
  {"info", -1, L|S, 0, 0, 0, "@slow @dangerous", "server", "1.0.0", "Returns information and statistics about the server.", "O(1)", CmdInfo, {}},
  {"time", 1, L|S|F, 0, 0, 0, "@fast", "server", "2.6.0", "Returns the server time.", "O(1)", CmdTime, {}},
  // Strings.
  {"append", 3, W|M, 1, 1, 1, "@write @string @fast", "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1)", CmdAppend, {}},
  {"decr", 2, W|M|F, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Decrements the integer value of a key by one.", "O(1)", CmdDecr, {}},
  {"decrby", 3, W|M|F, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Decrements a number from the integer value of a key.", "O(1)", CmdDecrBy, {}},
  {"get", 2, R|F, 1, 1, 1, "@read @string @fast", "string", "1.0.0", "Returns the string value of a key.", "O(1)", CmdGet, {}},
  {"getdel", 2, W|F, 1, 1, 1, "@write @string @fast", "string", "6.2.0", "Returns the string value of a key after deleting the key.", "O(1)", CmdGetDel, {}},
  {"getex", -2, W|F, 1, 1, 1, "@write @string @fast", "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", "O(1)", CmdGetEx, {}},
  {"getrange", 4, R, 1, 1, 1, "@read @string @slow", "string", "2.4.0", "Returns a substring of the string stored at a key.", "O(N) where N is the length of the returned string", CmdGetRange, {}},
  {"getset", 3, W|M|F, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", "O(1)", CmdGetSet, {}},
  {"incr", 2, W|M|F, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Increments the integer value of a key by one.", "O(1)", CmdIncr, {}},
  {"incrby", 3, W|M|F, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Increments the integer value of a key by a number.", "O(1)", CmdIncrBy, {}},
  {"incrbyfloat", 3, W|M|F, 1, 1, 1, "@write @string @fast", "string", "2.6.0", "Increment the floating point value of a key by a number.", "O(1)", CmdIncrByFloat, {}},
  {"mget", -2, R|F, 1, -1, 1, "@read @string @fast", "string", "1.0.0", "Atomically returns the string values of one or more keys.", "O(N) where N is the number of keys to retrieve", CmdMGet, {}},
  {"mset", -3, W|M, 1, -1, 2, "@write @string @slow", "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "O(N) where N is the number of keys to set", CmdMSet, {}},
  {"msetnx", -3, W|M, 1, -1, 2, "@write @string @slow", "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "O(N) where N is the number of keys to set", CmdMSetNx, {}},
  {"psetex", 4, W|M, 1, 1, 1, "@write @string @slow", "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key.", "O(1)", CmdPSetEx, {}},
  {"set", -3, W|M, 1, 1, 1, "@write @string @slow", "string", "1.0.0", "Sets the string value of a key, ignoring its type.", "O(1)", CmdSet, {}},
  {"setex", 4, W|M, 1, 1, 1, "@write @string @slow", "string", "2.0.0", "Sets the string value and expiration time of a key.", "O(1)", CmdSetEx, {}},
  {"setnx", 3, W|M|F, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", "O(1)", CmdSetNx, {}},
  {"setrange", 4, W|M, 1, 1, 1, "@write @string @slow", "string", "2.2.0", "Overwrites a part of a string value with another by an offset.", "O(1)", CmdSetRange, {}},
  {"strlen", 2, R|F, 1, 1, 1, "@read @string @fast", "string", "2.2.0", "Returns the length of a string value.", "O(1)", CmdStrlen, {}},
  // Generic keyspace.
  {"copy", -3, W|M, 1, 2, 1, "@keyspace @write @slow", "generic", "6.2.0", "Copies the value of a key to a new key.", "O(N) worst case for collections", CmdCopy, {}},
  {"del", -2, W, 1, -1, 1, "@keyspace @write @slow", "generic", "1.0.0", "Deletes one or more keys.", "O(N) where N is the number of keys that will be removed", CmdDel, {}},
  {"exists", -2, R|F, 1, -1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check", CmdExists, {}},
  {"expire", -3, W|F, 1, 1, 1, "@keyspace @write @fast", "generic", "1.0.0", "Sets the expiration time of a key in seconds.", "O(1)", CmdExpire, {}},
  {"expireat", -3, W|F, 1, 1, 1, "@keyspace @write @fast", "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", "O(1)", CmdExpireAt, {}},
  {"expiretime", 2, R|F, 1, 1, 1, "@keyspace @read @fast", "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", "O(1)", CmdExpireTime, {}},
  {"keys", 2, R, 0, 0, 0, "@keyspace @read @slow @dangerous", "generic", "1.0.0", "Returns all key names that match a pattern.", "O(N) with N being the number of keys in the database", CmdKeys, {}},
  {"persist", 2, W|F, 1, 1, 1, "@keyspace @write @fast", "generic", "2.2.0", "Removes the expiration time of a key.", "O(1)", CmdPersist, {}},
  {"pexpire", -3, W|F, 1, 1, 1, "@keyspace @write @fast", "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", "O(1)", CmdPExpire, {}},
  {"pexpireat", -3, W|F, 1, 1, 1, "@keyspace @write @fast", "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)", CmdPExpireAt, {}},
  {"pexpiretime", 2, R|F, 1, 1, 1, "@keyspace @read @fast", "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)", CmdPExpireTime, {}},
  {"pttl", 2, R|F, 1, 1, 1, "@keyspace @read @fast", "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", "O(1)", CmdPTtl, {}},
  {"rename", 3, W, 1, 2, 1, "@keyspace @write @slow", "generic", "1.0.0", "Renames a key and overwrites the destination.", "O(1)", CmdRename, {}},
  {"renamenx", 3, W|F, 1, 2, 1, "@keyspace @write @fast", "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", "O(1)", CmdRenameNx, {}},
  {"scan", -2, R, 0, 0, 0, "@keyspace @read @slow", "generic", "2.8.0", "Iterates over the key names in the database.", "O(1) for every call. O(N) for a complete iteration", CmdScan, {}},
  {"ttl", 2, R|F, 1, 1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Returns the expiration time in seconds of a key.", "O(1)", CmdTtl, {}},
  {"type", 2, R|F, 1, 1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Determines the type of value stored at a key.", "O(1)", CmdType, {}},
  {"unlink", -2, W|F, 1, -1, 1, "@keyspace @write @fast", "generic", "4.0.0", "Asynchronously deletes one or more keys.", "O(1) for each key removed", CmdDel, {}},
  // Vectors (spec/COMMANDS.md "Vectors"; docs/vectors.md). The "key" is the index name.
  {"skeg.vindex.create", -4, W|M, 1, 1, 1, "@write @skeg @slow", "vector", "0.1.0", "Creates a vector index: SKEG.VINDEX.CREATE name dim [kind] backend [METRIC m] [M n] [EF_CONSTRUCTION n] [ALPHA x].", "O(1)", CmdVIndexCreate, {}},
  {"skeg.vindex.drop", 2, W, 1, 1, 1, "@write @skeg @slow", "vector", "0.1.0", "Drops a vector index and its vectors.", "O(N) where N is the number of vectors in the index", CmdVIndexDrop, {}},
  {"skeg.vindex.list", 1, R, 0, 0, 0, "@read @skeg @slow", "vector", "0.1.0", "Lists the vector indexes, one line each.", "O(N) where N is the number of indexes", CmdVIndexList, {}},
  {"skeg.vindex.info", 2, R, 1, 1, 1, "@read @skeg @fast", "vector", "0.1.0", "Returns the parameters and statistics of a vector index.", "O(1)", CmdVIndexInfo, {}},
  {"skeg.vindex.consolidate", 2, W, 1, 1, 1, "@write @skeg @slow", "vector", "0.1.0", "Merges pending inserts and deletes into the index (a no-op for flat indexes).", "O(1) for flat indexes", CmdVIndexConsolidate, {}},
  {"skeg.vset", -4, W|M, 1, 1, 1, "@write @skeg @fast", "vector", "0.1.0", "Inserts or replaces a vector: SKEG.VSET name id vec [PAYLOAD blob] [ATTR u64].", "O(1)", CmdVSet, {}},
  {"skeg.vmset", -5, W|M, 1, 1, 1, "@write @skeg @slow", "vector", "0.1.0", "Inserts or replaces vectors atomically: SKEG.VMSET name id vec payload [id vec payload ...].", "O(N) where N is the number of vectors", CmdVMSet, {}},
  {"skeg.vget", 3, R|F, 1, 1, 1, "@read @skeg @fast", "vector", "0.1.0", "Returns the stored f32 vector of an id.", "O(1)", CmdVGet, {}},
  {"skeg.vdel", 3, W|F, 1, 1, 1, "@write @skeg @fast", "vector", "0.1.0", "Deletes a vector.", "O(1)", CmdVDel, {}},
  {"skeg.vsearch", -5, R, 1, 1, 1, "@read @skeg @slow", "vector", "0.1.0", "Returns the k nearest vectors with exact scores: SKEG.VSEARCH name k l_search vec [WITHPAYLOAD] [FILTER expr] [RANGE lo hi].", "O(N) for flat indexes", CmdVSearch, {}},
};
// clang-format on

const std::unordered_map<std::string, const CommandSpec*>& Index() {
  static const auto* index = [] {
    auto* m = new std::unordered_map<std::string, const CommandSpec*>();
    for (const CommandSpec& spec : kCommands) m->emplace(std::string(spec.name), &spec);
    return m;
  }();
  return *index;
}

}  // namespace

std::string FullName(const CommandSpec& spec, const CommandSpec* parent) {
  if (parent == nullptr) return std::string(spec.name);
  std::string name(parent->name);
  name += '|';
  name += spec.name;
  return name;
}

std::string_view CommandFullName(const CommandSpec& spec) {
  static const auto* const kNames = [] {
    auto* m = new std::unordered_map<const CommandSpec*, std::string>();
    for (const CommandSpec& c : kCommands) {
      m->emplace(&c, FullName(c, nullptr));
      for (const CommandSpec& sub : c.subcommands) m->emplace(&sub, FullName(sub, &c));
    }
    return m;
  }();
  auto it = kNames->find(&spec);
  return it == kNames->end() ? spec.name : std::string_view(it->second);
}

std::vector<std::string_view> CommandFlagNames(uint32_t flags) {
  static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
      {kCmdWrite, "write"},          {kCmdReadOnly, "readonly"}, {kCmdDenyOom, "denyoom"},
      {kCmdAdmin, "admin"},          {kCmdNoScript, "noscript"}, {kCmdLoading, "loading"},
      {kCmdStale, "stale"},          {kCmdFast, "fast"},         {kCmdNoAuth, "no_auth"},
      {kCmdAllowBusy, "allow_busy"},
  };
  std::vector<std::string_view> out;
  for (const auto& [bit, name] : kNames) {
    if (flags & bit) out.push_back(name);
  }
  return out;
}

std::span<const CommandSpec> AllCommands() { return kCommands; }

const CommandSpec* FindCommand(std::string_view name) {
  if (name.size() > 32) return nullptr;
  const auto& index = Index();
  auto it = index.find(AsciiLower(name));
  return it == index.end() ? nullptr : it->second;
}

const CommandSpec* FindSubcommand(const CommandSpec& container, std::string_view name) {
  for (const CommandSpec& sub : container.subcommands) {
    if (EqualsIgnoreCase(sub.name, name)) return &sub;
  }
  return nullptr;
}

}  // namespace skeg::server

namespace skeg::server {

std::string RenderCommandsMarkdown() {
  std::string md =
      "# RESP commands\n\n"
      "Generated from the command table (`src/server/command/command_table.cc`); "
      "`command_test` fails when this file is out of date (regenerate with "
      "`SKEG_UPDATE_DOCS=1 build/<dir>/src/server/command_test "
      "--gtest_filter=CommandTableTest.DocsAreInSync`).\n\n"
      "Arity follows Redis: `N` = exactly N arguments including the command name, `-N` = at "
      "least N. Keys: first, last (-1 = last argument), step.\n\n"
      "| command | arity | flags | keys | ACL categories | summary |\n"
      "|---|---|---|---|---|---|\n";
  const auto row = [&md](const CommandSpec& spec, const CommandSpec* parent) {
    std::string flags;
    for (std::string_view f : CommandFlagNames(spec.flags)) {
      if (!flags.empty()) flags += ' ';
      flags += f;
    }
    std::string name = FullName(spec, parent);
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (size_t pos = 0; (pos = name.find('|', pos)) != std::string::npos; pos += 1) {
      name.replace(pos, 1, " ");
    }
    md += "| `" + name + "` | " + std::to_string(spec.arity) + " | " + flags + " | " +
          std::to_string(spec.first_key) + "," + std::to_string(spec.last_key) + "," +
          std::to_string(spec.key_step) + " | " + std::string(spec.acl_categories) + " | " +
          std::string(spec.summary) + " |\n";
  };
  for (const CommandSpec& spec : AllCommands()) {
    row(spec, nullptr);
    for (const CommandSpec& sub : spec.subcommands) row(sub, &spec);
  }
  return md;
}

}  // namespace skeg::server
