// Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT and CLIENT *.
// They act on the ConnectionContext (protocol version, name, authentication) and the
// ClientRegistry; none touches the Store.
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "protocol/errors.h"
#include "server/command/arg_parse.h"
#include "server/command/families.h"

namespace skeg::server {
namespace {

// Redis validateClientName: printable ASCII without spaces.
bool ValidClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

constexpr std::string_view kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

// Checks `pass` for `user` against --requirepass. With no password configured the default
// user is "nopass": any password is accepted, as in Redis.
bool CheckPassword(const Engine& e, std::string_view user, std::string_view pass) {
  if (user != "default") return false;
  const std::string& required = e.options().requirepass;
  return required.empty() || pass == required;
}

}  // namespace

void CmdPing(CommandContext& cx) {
  if (cx.args.size() > 2) {
    return cx.rb->Error("ERR wrong number of arguments for 'ping' command");
  }
  if (cx.args.size() == 2) return cx.rb->Bulk(cx.args[1]);
  cx.rb->SimpleString("PONG");
}

void CmdEcho(CommandContext& cx) { cx.rb->Bulk(cx.args[1]); }

void CmdQuit(CommandContext& cx) {
  cx.conn->close_after_reply = true;
  cx.rb->Ok();
}

void CmdReset(CommandContext& cx) {
  ConnectionContext& c = *cx.conn;
  c.SetProtocol(2);
  c.db = 0;
  c.user = "default";
  c.authenticated = cx.engine->options().requirepass.empty();
  if (c.client) c.client->set_name("");
  cx.rb->SimpleString("RESET");
}

void CmdHello(CommandContext& cx) {
  int64_t version = 0;
  size_t next = 1;
  if (cx.args.size() >= 2) {
    std::optional<int64_t> v = ParseInt64(cx.args[next++]);
    if (!v) return cx.rb->Error("ERR Protocol version is not an integer or out of range");
    if (*v < 2 || *v > 3) return cx.rb->Error("NOPROTO unsupported protocol version");
    version = *v;
  }
  std::optional<std::string_view> user;
  std::optional<std::string_view> pass;
  std::optional<std::string_view> name;
  for (size_t j = next; j < cx.args.size(); ++j) {
    const size_t more = cx.args.size() - 1 - j;
    if (EqualsIgnoreCase(cx.args[j], "AUTH") && more >= 2) {
      user = cx.args[j + 1];
      pass = cx.args[j + 2];
      j += 2;
    } else if (EqualsIgnoreCase(cx.args[j], "SETNAME") && more >= 1) {
      name = cx.args[j + 1];
      if (!ValidClientName(*name)) return cx.rb->Error(kBadClientName);
      j += 1;
    } else {
      return cx.rb->Error(fmt::format("ERR Syntax error in HELLO option '{}'", cx.args[j]));
    }
  }
  if (user) {
    if (!CheckPassword(*cx.engine, *user, *pass)) return cx.rb->Error(protocol::errors::kWrongPass);
    cx.conn->authenticated = true;
    cx.conn->user = std::string(*user);
  }
  if (!cx.conn->authenticated) {
    return cx.rb->Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
  }
  if (name && cx.conn->client) cx.conn->client->set_name(std::string(*name));
  if (version != 0) cx.conn->SetProtocol(static_cast<int>(version));
  protocol::ReplyBuilder& rb = *cx.rb;
  rb.MapStart(7);
  rb.Bulk("server");
  rb.Bulk("skeg");
  rb.Bulk("version");
  rb.Bulk(cx.engine->options().version);
  rb.Bulk("proto");
  rb.Integer(cx.conn->resp);
  rb.Bulk("id");
  rb.Integer(static_cast<int64_t>(cx.conn->id()));
  rb.Bulk("mode");
  rb.Bulk("standalone");
  rb.Bulk("role");
  rb.Bulk("master");
  rb.Bulk("modules");
  rb.ArrayStart(0);
}

void CmdAuth(CommandContext& cx) {
  if (cx.args.size() > 3) return cx.rb->Error(SyntaxError());
  const bool with_user = cx.args.size() == 3;
  if (!with_user && cx.engine->options().requirepass.empty()) {
    return cx.rb->Error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?");
  }
  const std::string_view user = with_user ? cx.args[1] : "default";
  const std::string_view pass = cx.args[with_user ? 2 : 1];
  if (!CheckPassword(*cx.engine, user, pass)) return cx.rb->Error(protocol::errors::kWrongPass);
  cx.conn->authenticated = true;
  cx.conn->user = std::string(user);
  cx.rb->Ok();
}

void CmdSelect(CommandContext& cx) {
  std::optional<int64_t> db = ParseInt64(cx.args[1]);
  if (!db || *db < std::numeric_limits<int>::min() || *db > std::numeric_limits<int>::max()) {
    return cx.rb->Error(NotIntegerError());
  }
  if (*db != 0) return cx.rb->Error("ERR DB index is out of range");
  cx.rb->Ok();
}

void CmdClientId(CommandContext& cx) { cx.rb->Integer(static_cast<int64_t>(cx.conn->id())); }

void CmdClientSetName(CommandContext& cx) {
  if (!ValidClientName(cx.args[2])) return cx.rb->Error(kBadClientName);
  if (cx.conn->client) cx.conn->client->set_name(std::string(cx.args[2]));
  cx.rb->Ok();
}

void CmdClientGetName(CommandContext& cx) {
  const std::string name = cx.conn->client ? cx.conn->client->name() : "";
  if (name.empty()) return cx.rb->Null();
  cx.rb->Bulk(name);
}

void CmdClientSetInfo(CommandContext& cx) {
  const std::string_view attr = cx.args[2];
  const std::string_view value = cx.args[3];
  if (!EqualsIgnoreCase(attr, "LIB-NAME") && !EqualsIgnoreCase(attr, "LIB-VER")) {
    return cx.rb->Error(fmt::format("ERR Unrecognized option '{}'", attr));
  }
  for (char c : value) {
    if (c < '!' || c > '~') {
      return cx.rb->Error(fmt::format(
          "ERR {} cannot contain spaces, newlines or special characters.", AsciiUpper(attr)));
    }
  }
  if (cx.conn->client) {
    if (EqualsIgnoreCase(attr, "LIB-NAME")) {
      cx.conn->client->set_lib_name(std::string(value));
    } else {
      cx.conn->client->set_lib_ver(std::string(value));
    }
  }
  cx.rb->Ok();
}

void CmdClientInfo(CommandContext& cx) {
  std::string line =
      cx.conn->client ? cx.conn->client->Describe(cx.engine->NowMs()) : std::string();
  line += '\n';
  cx.rb->Verbatim(line);
}

void CmdClientList(CommandContext& cx) {
  if (cx.args.size() > 2) {
    // CLIENT LIST TYPE normal|... and CLIENT LIST ID id...: only the plain form and TYPE
    // normal are supported (every skeg client is "normal").
    if (!(cx.args.size() == 4 && EqualsIgnoreCase(cx.args[2], "TYPE") &&
          EqualsIgnoreCase(cx.args[3], "normal"))) {
      return cx.rb->Error(SyntaxError());
    }
  }
  std::string text;
  const int64_t now = cx.engine->NowMs();
  for (const auto& client : cx.engine->clients().List()) {
    text += client->Describe(now);
    text += '\n';
  }
  cx.rb->Verbatim(text);
}

void CmdClientKill(CommandContext& cx) {
  // Old form: CLIENT KILL addr:port -> OK or "No such client".
  if (cx.args.size() == 3) {
    for (const auto& client : cx.engine->clients().List()) {
      if (client->addr() != cx.args[2]) continue;
      if (client->id() == cx.conn->id()) {
        cx.conn->close_after_reply = true;
      } else {
        client->Kill();
      }
      return cx.rb->Ok();
    }
    return cx.rb->Error("ERR No such client");
  }
  // New form: CLIENT KILL ID <id> [ID <id> ...] (the other filters are not supported).
  if (cx.args.size() % 2 != 0) return cx.rb->Error(SyntaxError());
  std::vector<uint64_t> ids;
  for (size_t i = 2; i + 1 < cx.args.size(); i += 2) {
    if (!EqualsIgnoreCase(cx.args[i], "ID")) return cx.rb->Error(SyntaxError());
    std::optional<int64_t> id = ParseInt64(cx.args[i + 1]);
    if (!id || *id <= 0) return cx.rb->Error("ERR client-id should be greater than 0");
    ids.push_back(static_cast<uint64_t>(*id));
  }
  int64_t killed = 0;
  for (uint64_t id : ids) {
    if (id == cx.conn->id()) {
      cx.conn->close_after_reply = true;
      ++killed;
    } else if (auto client = cx.engine->clients().Find(id)) {
      client->Kill();
      ++killed;
    }
  }
  cx.rb->Integer(killed);
}

void CmdClientHelp(CommandContext& cx) {
  constexpr std::string_view kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GETNAME",
      "    Return the name of the current connection.",
      "ID",
      "    Return the ID of the current connection.",
      "INFO",
      "    Return information about the current client connection.",
      "KILL ID <client-id> [ID <client-id> ...]",
      "    Kill connections by id.",
      "LIST [TYPE normal]",
      "    Return information about client connections.",
      "SETINFO <LIB-NAME|LIB-VER> <value>",
      "    Set client library name or version.",
      "SETNAME <name>",
      "    Assign the name <name> to the current connection.",
      "HELP",
      "    Print this help."};
  cx.rb->ArrayStart(std::size(kLines));
  for (std::string_view line : kLines) cx.rb->SimpleString(line);
}

}  // namespace skeg::server
