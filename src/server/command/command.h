// The command table's types and the per-call context every handler receives.
//
// One CommandSpec per command (and per subcommand of container commands such as CLIENT,
// CONFIG and COMMAND) is declared as data in command_table.cc. That table drives dispatch
// (Dispatcher), the COMMAND / COMMAND INFO / COMMAND DOCS replies and docs/commands.md.
//
// Handlers follow the Cmd*/Op* split (STYLE.md item 27): a `Cmd*` function parses its
// arguments and writes the reply through the protocol-neutral ReplyBuilder; the engine work
// lives in `Op*` functions that return Result<T> and know nothing about protocols. Handlers
// never re-check what the gate already checked (authentication, arity, read-only mode).
//
// Thread-safety: the table is immutable static data. A CommandContext lives for one call on
// one thread; ConnectionContext belongs to one connection (its ClientHandle is the part other
// threads may read).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reply_builder.h"
#include "server/command/client_registry.h"

namespace skeg::protocol::resp {
class RespReplyBuilder;
}

namespace skeg::server {

class Engine;
struct CommandSpec;

// Command flags, as reported by COMMAND INFO (names in CommandFlagNames()).
enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,     // modifies the keyspace: refused in --mode serve
  kCmdReadOnly = 1u << 1,  // reads keys only
  kCmdDenyOom = 1u << 2,   // may grow memory or disk: refused under memory/quota pressure
  kCmdAdmin = 1u << 3,     // server administration
  kCmdFast = 1u << 4,      // O(1) or O(log n)
  kCmdNoAuth = 1u << 5,    // allowed before authentication (AUTH, HELLO, QUIT, RESET)
  kCmdLoading = 1u << 6,   // allowed while loading
  kCmdStale = 1u << 7,     // allowed on a stale replica
  kCmdNoScript = 1u << 8,  // not allowed in scripts
  kCmdAllowBusy = 1u << 9,
};

// Connection state visible to handlers. Owned by the connection (or the test runner).
struct ConnectionContext {
  int resp = 2;                // protocol version, 2 or 3
  bool authenticated = false;  // set by the owner at creation: true when no password is set
  std::string user = "default";
  int db = 0;
  bool close_after_reply = false;        // QUIT, CLIENT KILL of oneself
  std::shared_ptr<ClientHandle> client;  // never null once the connection is set up
  // The RESP encoder of this connection, switched by HELLO/RESET; null for other protocols.
  protocol::resp::RespReplyBuilder* resp_builder = nullptr;
  // When the previous request of the current input batch finished: the Dispatcher uses it as
  // the start of the next request (one clock read per request instead of two). Sessions
  // reset it when they start on newly received input, so idle time is never counted.
  std::optional<std::chrono::steady_clock::time_point> clock_mark;

  uint64_t id() const { return client ? client->id() : 0; }
  // Switches the reply protocol (takes effect for the reply being written).
  void SetProtocol(int version);
};

// Everything one handler call sees.
struct CommandContext {
  // The request: args[0] is the command name as typed; for a subcommand args[1] is its name.
  std::span<const std::string_view> args;
  protocol::ReplyBuilder* rb;
  ConnectionContext* conn;
  Engine* engine;
  const CommandSpec* spec;
  const CommandSpec* parent;  // the container command for a subcommand, else null
};

using CommandHandler = void (*)(CommandContext& cx);

struct CommandSpec {
  std::string_view name;  // lower case; a subcommand's own name ("setname")
  // Redis-style arity: N = exactly N arguments including the name, -N = at least N. For a
  // subcommand the count includes the container name ("client setname x" is 3).
  int arity;
  uint32_t flags;
  int first_key;  // 0 when the command takes no key
  int last_key;   // -1: the last argument
  int key_step;
  std::string_view acl_categories;  // space-separated, e.g. "@write @string @slow"
  std::string_view group;           // COMMAND DOCS group: string, generic, connection, server
  std::string_view since;           // Redis version that introduced it
  std::string_view summary;
  std::string_view complexity;
  CommandHandler handler;                    // null for a container (dispatches to subcommands)
  std::span<const CommandSpec> subcommands;  // empty unless a container
};

// The full name Redis reports: "get", "client|setname".
std::string FullName(const CommandSpec& spec, const CommandSpec* parent);
// The same for an entry of the table (a command or a subcommand's own spec, found among the
// table's subcommands), from names built once; the view lives as long as the program.
std::string_view CommandFullName(const CommandSpec& spec);

// Names of the bits set in `flags`, in COMMAND INFO order.
std::vector<std::string_view> CommandFlagNames(uint32_t flags);

// The table, in declaration order (top-level commands only; subcommands hang off them).
std::span<const CommandSpec> AllCommands();
// Case-insensitive lookup of a top-level command; null when unknown.
const CommandSpec* FindCommand(std::string_view name);
// Case-insensitive lookup of a subcommand of `container`; null when unknown.
const CommandSpec* FindSubcommand(const CommandSpec& container, std::string_view name);

}  // namespace skeg::server

namespace skeg::server {

// docs/commands.md, rendered from the table (command_table_test checks the file is in sync;
// run it with SKEG_UPDATE_DOCS=1 to rewrite the file).
std::string RenderCommandsMarkdown();

}  // namespace skeg::server
