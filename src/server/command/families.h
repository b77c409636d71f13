// Declarations of every command handler (Cmd*) and the small helpers the families share.
// Internal to server/command: only command_table.cc and the family files include it.
//
// Thread-safety: handlers are called concurrently from many connections; all shared state is
// reached through the Engine (thread-safe) and per-key atomicity through KeyLocks.
#pragma once

#include <optional>
#include <string_view>

#include "common/status.h"
#include "server/command/command.h"
#include "server/command/engine.h"
#include "storage/vlog/store.h"

namespace skeg::server {

// --- helpers shared by the families ---------------------------------------------------------

// Store::Get with "absent" as nullopt instead of an error.
Result<std::optional<storage::ReadResult>> OpRead(Engine& engine, std::string_view key);

// Common Redis error statuses (their ErrorText is the exact Redis text).
Status NotIntegerError();                             // ERR value is not an integer or out of range
Status SyntaxError();                                 // ERR syntax error
Status InvalidExpireError(const CommandContext& cx);  // ERR invalid expire time in '<cmd>' command

// --- connection_family.cc -------------------------------------------------------------------
void CmdPing(CommandContext& cx);
void CmdEcho(CommandContext& cx);
void CmdQuit(CommandContext& cx);
void CmdReset(CommandContext& cx);
void CmdHello(CommandContext& cx);
void CmdAuth(CommandContext& cx);
void CmdSelect(CommandContext& cx);
void CmdClientId(CommandContext& cx);
void CmdClientSetName(CommandContext& cx);
void CmdClientGetName(CommandContext& cx);
void CmdClientSetInfo(CommandContext& cx);
void CmdClientInfo(CommandContext& cx);
void CmdClientList(CommandContext& cx);
void CmdClientKill(CommandContext& cx);
void CmdClientHelp(CommandContext& cx);

// --- server_family.cc -----------------------------------------------------------------------
void CmdInfo(CommandContext& cx);
void CmdConfigGet(CommandContext& cx);
void CmdConfigSet(CommandContext& cx);
void CmdConfigResetStat(CommandContext& cx);
void CmdDbSize(CommandContext& cx);
void CmdTime(CommandContext& cx);
void CmdFlushDb(CommandContext& cx);
void CmdCommand(CommandContext& cx);
void CmdCommandCount(CommandContext& cx);
void CmdCommandInfo(CommandContext& cx);
void CmdCommandDocs(CommandContext& cx);
void CmdCommandList(CommandContext& cx);

// --- string_family.cc -----------------------------------------------------------------------
void CmdGet(CommandContext& cx);
void CmdSet(CommandContext& cx);
void CmdSetNx(CommandContext& cx);
void CmdSetEx(CommandContext& cx);
void CmdPSetEx(CommandContext& cx);
void CmdGetSet(CommandContext& cx);
void CmdGetDel(CommandContext& cx);
void CmdGetEx(CommandContext& cx);
void CmdMGet(CommandContext& cx);
void CmdMSet(CommandContext& cx);
void CmdMSetNx(CommandContext& cx);
void CmdAppend(CommandContext& cx);
void CmdStrlen(CommandContext& cx);
void CmdGetRange(CommandContext& cx);
void CmdSetRange(CommandContext& cx);
void CmdIncr(CommandContext& cx);
void CmdDecr(CommandContext& cx);
void CmdIncrBy(CommandContext& cx);
void CmdDecrBy(CommandContext& cx);
void CmdIncrByFloat(CommandContext& cx);

// --- keys_family.cc -------------------------------------------------------------------------
void CmdDel(CommandContext& cx);
void CmdExists(CommandContext& cx);
void CmdExpire(CommandContext& cx);
void CmdPExpire(CommandContext& cx);
void CmdExpireAt(CommandContext& cx);
void CmdPExpireAt(CommandContext& cx);
void CmdTtl(CommandContext& cx);
void CmdPTtl(CommandContext& cx);
void CmdExpireTime(CommandContext& cx);
void CmdPExpireTime(CommandContext& cx);
void CmdPersist(CommandContext& cx);
void CmdType(CommandContext& cx);
void CmdKeys(CommandContext& cx);
void CmdScan(CommandContext& cx);
void CmdRename(CommandContext& cx);
void CmdRenameNx(CommandContext& cx);
void CmdCopy(CommandContext& cx);

// --- vector_family.cc -----------------------------------------------------------------------
void CmdVIndexCreate(CommandContext& cx);
void CmdVIndexDrop(CommandContext& cx);
void CmdVIndexList(CommandContext& cx);
void CmdVIndexInfo(CommandContext& cx);
void CmdVIndexConsolidate(CommandContext& cx);
void CmdVSet(CommandContext& cx);
void CmdVMSet(CommandContext& cx);
void CmdVGet(CommandContext& cx);
void CmdVDel(CommandContext& cx);
void CmdVSearch(CommandContext& cx);

}  // namespace skeg::server
