// Generic key commands: DEL/UNLINK/EXISTS, the expiry family, TYPE, KEYS, SCAN, RENAME, COPY.
// Writers hold the stripe locks of their keys for the whole read-modify-write (KeyLocks).
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "server/command/arg_parse.h"
#include "server/command/families.h"
#include "server/command/string_match.h"

namespace skeg::server {
namespace {

using storage::ReadResult;
using storage::UnixMillis;

enum ExpireFlag : uint32_t { kNx = 1, kXx = 2, kGt = 4, kLt = 8 };

Result<int64_t> OpDelete(Engine& e, std::span<const std::string_view> keys) {
  std::vector<std::string_view> unique(keys.begin(), keys.end());
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  KeyLocks::Guard guard = e.locks().Lock(unique);
  storage::WriteBatch batch;
  for (std::string_view key : unique) batch.Delete(key);
  SKEG_ASSIGN_OR_RETURN(uint32_t removed, e.Write(batch));
  return static_cast<int64_t>(removed);
}

// EXPIRE family after parsing: `when` is absolute Unix ms. Returns 0 or 1.
Result<int64_t> OpExpire(Engine& e, std::string_view key, int64_t when, uint32_t flags) {
  KeyLocks::Guard guard = e.locks().Lock(key);
  SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> old, OpRead(e, key));
  if (!old) return 0;
  const bool has_ttl = old->expire_at != storage::kNoExpiry;
  if ((flags & kNx) && has_ttl) return 0;
  if ((flags & kXx) && !has_ttl) return 0;
  if ((flags & kGt) && (!has_ttl || when <= old->expire_at)) return 0;
  if ((flags & kLt) && has_ttl && when >= old->expire_at) return 0;
  if (when <= e.NowMs()) {
    SKEG_RETURN_IF_ERROR(e.Delete(key).status());
    return 1;
  }
  storage::WriteBatch batch;
  batch.PutExpiryChange(key, old->value, when);
  SKEG_RETURN_IF_ERROR(e.Write(batch).status());
  return 1;
}

Result<int64_t> OpPersist(Engine& e, std::string_view key) {
  KeyLocks::Guard guard = e.locks().Lock(key);
  SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> old, OpRead(e, key));
  if (!old || old->expire_at == storage::kNoExpiry) return 0;
  storage::WriteBatch batch;
  batch.PutExpiryChange(key, old->value, storage::kNoExpiry);
  SKEG_RETURN_IF_ERROR(e.Write(batch).status());
  return 1;
}

// RENAME / RENAMENX / COPY. Returns 1 when done, 0 when refused (nx/!replace and dst exists,
// or COPY of a missing source). kNotFound "no such key" for RENAME of a missing source.
Result<int64_t> OpMove(Engine& e, std::string_view src, std::string_view dst, bool keep_source,
                       bool overwrite) {
  const std::string_view keys[] = {src, dst};
  KeyLocks::Guard guard = e.locks().Lock(keys);
  SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> value, OpRead(e, src));
  if (!value) {
    if (keep_source) return 0;
    return Status::NotFound("ERR no such key");
  }
  if (src == dst) return overwrite ? 1 : 0;
  if (!overwrite) {
    SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> existing, OpRead(e, dst));
    if (existing) return 0;
  }
  storage::WriteBatch batch;
  batch.Put(dst, value->value, value->expire_at);
  if (!keep_source) batch.Delete(src);
  SKEG_RETURN_IF_ERROR(e.Write(batch).status());
  return 1;
}

// Shared by EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (Redis expireGenericCommand).
void ExpireGeneric(CommandContext& cx, bool relative, bool seconds) {
  uint32_t flags = 0;
  for (size_t i = 3; i < cx.args.size(); ++i) {
    const std::string_view opt = cx.args[i];
    if (EqualsIgnoreCase(opt, "NX")) {
      flags |= kNx;
    } else if (EqualsIgnoreCase(opt, "XX")) {
      flags |= kXx;
    } else if (EqualsIgnoreCase(opt, "GT")) {
      flags |= kGt;
    } else if (EqualsIgnoreCase(opt, "LT")) {
      flags |= kLt;
    } else {
      return cx.rb->Error("ERR Unsupported option " + std::string(opt));
    }
  }
  if ((flags & kNx) && (flags & (kXx | kGt | kLt))) {
    return cx.rb->Error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if ((flags & kGt) && (flags & kLt)) {
    return cx.rb->Error("ERR GT and LT options at the same time are not compatible");
  }
  std::optional<int64_t> when = ParseInt64(cx.args[2]);
  if (!when) return cx.rb->Error(NotIntegerError());
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (seconds) {
    if (*when > kMax / 1000 || *when < kMin / 1000) return cx.rb->Error(InvalidExpireError(cx));
    *when *= 1000;
  }
  if (relative) {
    const int64_t now = cx.engine->NowMs();
    if (*when > kMax - now) return cx.rb->Error(InvalidExpireError(cx));
    *when += now;
  }
  Result<int64_t> r = OpExpire(*cx.engine, cx.args[1], *when, flags);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r);
}

// TTL / PTTL / EXPIRETIME / PEXPIRETIME (Redis ttlGenericCommand).
void TtlGeneric(CommandContext& cx, bool ms, bool absolute) {
  Result<std::optional<ReadResult>> r = OpRead(*cx.engine, cx.args[1]);
  if (!r) return cx.rb->Error(r.error());
  if (!*r) return cx.rb->Integer(-2);
  const UnixMillis expire = (*r)->expire_at;
  if (expire == storage::kNoExpiry) return cx.rb->Integer(-1);
  int64_t ttl = absolute ? expire : expire - cx.engine->NowMs();
  if (ttl < 0) ttl = 0;
  cx.rb->Integer(ms ? ttl : (ttl + 500) / 1000);
}

}  // namespace

void CmdDel(CommandContext& cx) {
  Result<int64_t> r = OpDelete(*cx.engine, cx.args.subspan(1));
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r);
}

void CmdExists(CommandContext& cx) {
  int64_t count = 0;
  for (size_t i = 1; i < cx.args.size(); ++i) {
    Result<std::optional<ReadResult>> r = OpRead(*cx.engine, cx.args[i]);
    if (!r) return cx.rb->Error(r.error());
    if (*r) ++count;
  }
  cx.rb->Integer(count);
}

void CmdExpire(CommandContext& cx) { ExpireGeneric(cx, true, true); }
void CmdPExpire(CommandContext& cx) { ExpireGeneric(cx, true, false); }
void CmdExpireAt(CommandContext& cx) { ExpireGeneric(cx, false, true); }
void CmdPExpireAt(CommandContext& cx) { ExpireGeneric(cx, false, false); }
void CmdTtl(CommandContext& cx) { TtlGeneric(cx, false, false); }
void CmdPTtl(CommandContext& cx) { TtlGeneric(cx, true, false); }
void CmdExpireTime(CommandContext& cx) { TtlGeneric(cx, false, true); }
void CmdPExpireTime(CommandContext& cx) { TtlGeneric(cx, true, true); }

void CmdPersist(CommandContext& cx) {
  Result<int64_t> r = OpPersist(*cx.engine, cx.args[1]);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r);
}

void CmdType(CommandContext& cx) {
  Result<std::optional<ReadResult>> r = OpRead(*cx.engine, cx.args[1]);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->SimpleString(*r ? "string" : "none");
}

void CmdKeys(CommandContext& cx) {
  const std::string_view pattern = cx.args[1];
  const bool all = pattern == "*";
  std::vector<std::string> keys;
  Status s = cx.engine->store()->ForEachKey([&](std::string_view key) {
    if (all || StringMatch(pattern, key)) keys.emplace_back(key);
    return true;
  });
  if (!s.ok()) return cx.rb->Error(s);
  cx.rb->ArrayStart(keys.size());
  for (const std::string& key : keys) cx.rb->Bulk(key);
}

void CmdScan(CommandContext& cx) {
  // Redis parseScanCursorOrReply: strtoul of the whole text, no leading blank.
  const std::string cursor_text(cx.args[1]);
  errno = 0;
  char* end = nullptr;
  const uint64_t cursor = std::strtoull(cursor_text.c_str(), &end, 10);
  if (cursor_text.empty() || std::isspace(static_cast<unsigned char>(cursor_text[0])) ||
      *end != '\0' || errno == ERANGE) {
    return cx.rb->Error("ERR invalid cursor");
  }
  int64_t count = 10;
  std::optional<std::string_view> pattern;
  std::optional<std::string_view> type;
  for (size_t i = 2; i < cx.args.size();) {
    const std::string_view opt = cx.args[i];
    const bool has_value = i + 1 < cx.args.size();
    if (EqualsIgnoreCase(opt, "COUNT") && has_value) {
      std::optional<int64_t> n = ParseInt64(cx.args[i + 1]);
      if (!n) return cx.rb->Error(NotIntegerError());
      if (*n < 1) return cx.rb->Error(SyntaxError());
      count = *n;
    } else if (EqualsIgnoreCase(opt, "MATCH") && has_value) {
      pattern = cx.args[i + 1];
      if (*pattern == "*") pattern.reset();
    } else if (EqualsIgnoreCase(opt, "TYPE") && has_value) {
      type = cx.args[i + 1];
    } else {
      return cx.rb->Error(SyntaxError());
    }
    i += 2;
  }
  Result<storage::ScanPage> page =
      cx.engine->store()->Scan(cursor, static_cast<size_t>(std::min<int64_t>(count, 1 << 20)));
  if (!page) return cx.rb->Error(page.error());
  std::vector<std::string_view> keys;
  // skeg holds strings only: TYPE anything-but-string filters every key out.
  const bool type_ok = !type || EqualsIgnoreCase(*type, "string");
  for (const std::string& key : page->keys) {
    if (type_ok && (!pattern || StringMatch(*pattern, key))) keys.push_back(key);
  }
  cx.rb->ArrayStart(2);
  cx.rb->Bulk(std::to_string(page->next_cursor));
  cx.rb->BulkArray(keys);
}

void CmdRename(CommandContext& cx) {
  Result<int64_t> r = OpMove(*cx.engine, cx.args[1], cx.args[2], false, true);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Ok();
}

void CmdRenameNx(CommandContext& cx) {
  Result<int64_t> r = OpMove(*cx.engine, cx.args[1], cx.args[2], false, false);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r);
}

void CmdCopy(CommandContext& cx) {
  bool replace = false;
  int64_t db = 0;
  for (size_t i = 3; i < cx.args.size(); ++i) {
    if (EqualsIgnoreCase(cx.args[i], "REPLACE")) {
      replace = true;
    } else if (EqualsIgnoreCase(cx.args[i], "DB") && i + 1 < cx.args.size()) {
      std::optional<int64_t> n = ParseInt64(cx.args[++i]);
      if (!n) return cx.rb->Error(NotIntegerError());
      db = *n;
    } else {
      return cx.rb->Error(SyntaxError());
    }
  }
  if (db != 0) return cx.rb->Error("ERR DB index is out of range");
  if (cx.args[1] == cx.args[2]) {
    return cx.rb->Error("ERR source and destination objects are the same");
  }
  Result<int64_t> r = OpMove(*cx.engine, cx.args[1], cx.args[2], true, replace);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r);
}

// Shared helpers declared in families.h.

Result<std::optional<storage::ReadResult>> OpRead(Engine& engine, std::string_view key) {
  Result<storage::ReadResult> r = engine.store()->Get(key);
  if (r) return std::optional<storage::ReadResult>(std::move(*r));
  if (r.error().IsNotFound()) return std::optional<storage::ReadResult>();
  return r.error();
}

Status NotIntegerError() { return Status::InvalidArgument(protocol::errors::kNotInteger); }
Status SyntaxError() { return Status::InvalidArgument(protocol::errors::kSyntax); }
Status InvalidExpireError(const CommandContext& cx) {
  return Status::InvalidArgument("ERR invalid expire time in '" + FullName(*cx.spec, cx.parent) +
                                 "' command");
}

}  // namespace skeg::server
