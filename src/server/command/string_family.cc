// String commands: GET/SET and friends, counters, ranges. Cmd* parse and reply; Op* do the
// engine work under the key's stripe lock (KeyLocks) so every read-modify-write is atomic.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "server/command/arg_parse.h"
#include "server/command/families.h"

namespace skeg::server {
namespace {

using storage::ReadResult;
using storage::UnixMillis;

constexpr std::string_view kStringTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

// ---- SET / GETEX option parsing (Redis parseExtendedStringArgumentsOrReply) ----

enum SetFlag : uint32_t {
  kNx = 1,
  kXx = 2,
  kGet = 4,
  kKeepTtl = 8,
  kPersist = 16,
  kEx = 32,
  kPx = 64,
  kExAt = 128,
  kPxAt = 256,
};
constexpr uint32_t kAnyExpire = kEx | kPx | kExAt | kPxAt;

struct SetParams {
  uint32_t flags = 0;
  UnixMillis expire_at = storage::kNoExpiry;  // absolute, when an expire flag is set
};

// Parses options from args[first] on. `is_set` selects SET's grammar, else GETEX's.
Status ParseSetOptions(const CommandContext& cx, size_t first, bool is_set, SetParams* out) {
  std::string_view expire_text;
  uint32_t& f = out->flags;
  for (size_t j = first; j < cx.args.size(); ++j) {
    const std::string_view opt = cx.args[j];
    const bool has_next = j + 1 < cx.args.size();
    const auto expire_opt = [&](uint32_t flag) {
      if ((f & (kKeepTtl | kPersist | (kAnyExpire & ~flag))) != 0 || !has_next) return false;
      f |= flag;
      expire_text = cx.args[++j];
      return true;
    };
    if (is_set && EqualsIgnoreCase(opt, "NX") && !(f & kXx)) {
      f |= kNx;
    } else if (is_set && EqualsIgnoreCase(opt, "XX") && !(f & kNx)) {
      f |= kXx;
    } else if (is_set && EqualsIgnoreCase(opt, "GET")) {
      f |= kGet;
    } else if (is_set && EqualsIgnoreCase(opt, "KEEPTTL") && !(f & (kPersist | kAnyExpire))) {
      f |= kKeepTtl;
    } else if (!is_set && EqualsIgnoreCase(opt, "PERSIST") && !(f & (kKeepTtl | kAnyExpire))) {
      f |= kPersist;
    } else if (EqualsIgnoreCase(opt, "EX") && expire_opt(kEx)) {
    } else if (EqualsIgnoreCase(opt, "PX") && expire_opt(kPx)) {
    } else if (EqualsIgnoreCase(opt, "EXAT") && expire_opt(kExAt)) {
    } else if (EqualsIgnoreCase(opt, "PXAT") && expire_opt(kPxAt)) {
    } else {
      return SyntaxError();
    }
  }
  if ((f & kAnyExpire) == 0) return Status::Ok();
  // Redis getExpireMillisecondsOrReply.
  std::optional<int64_t> ms = ParseInt64(expire_text);
  if (!ms) return NotIntegerError();
  const bool seconds = (f & (kEx | kExAt)) != 0;
  if (*ms <= 0 || (seconds && *ms > std::numeric_limits<int64_t>::max() / 1000)) {
    return InvalidExpireError(cx);
  }
  if (seconds) *ms *= 1000;
  if ((f & (kEx | kPx)) != 0) {
    const int64_t now = cx.engine->NowMs();
    if (*ms > std::numeric_limits<int64_t>::max() - now) return InvalidExpireError(cx);
    *ms += now;
  }
  out->expire_at = *ms;
  return Status::Ok();
}

// Relative expiry for SETEX/PSETEX.
Status ParseRelativeExpire(const CommandContext& cx, std::string_view text, bool seconds,
                           SetParams* out) {
  out->flags = seconds ? kEx : kPx;
  std::optional<int64_t> ms = ParseInt64(text);
  if (!ms) return NotIntegerError();
  if (*ms <= 0 || (seconds && *ms > std::numeric_limits<int64_t>::max() / 1000)) {
    return InvalidExpireError(cx);
  }
  if (seconds) *ms *= 1000;
  const int64_t now = cx.engine->NowMs();
  if (*ms > std::numeric_limits<int64_t>::max() - now) return InvalidExpireError(cx);
  out->expire_at = *ms + now;
  return Status::Ok();
}

// ---- Op* ----

struct SetOutcome {
  bool applied = false;
  std::optional<std::string> old_value;  // filled when GET was asked
};

// Writes `value` (or deletes the key when the expiry is already past, as Redis does).
Status WriteValue(Engine& e, std::string_view key, std::string_view value, UnixMillis expire_at) {
  if (expire_at != storage::kNoExpiry && expire_at <= e.NowMs()) {
    return e.Delete(key).status();
  }
  return e.Put(key, value, expire_at);
}

Result<SetOutcome> OpSet(Engine& e, std::string_view key, std::string_view value,
                         const SetParams& p) {
  KeyLocks::Guard guard = e.locks().Lock(key);
  std::optional<ReadResult> old;
  if (p.flags & (kNx | kXx | kGet | kKeepTtl)) {
    SKEG_ASSIGN_OR_RETURN(old, OpRead(e, key));
  }
  SetOutcome out;
  if (p.flags & kGet && old) out.old_value = std::move(old->value);
  if ((p.flags & kNx && old) || (p.flags & kXx && !old)) return out;
  UnixMillis expire_at = p.expire_at;
  if (p.flags & kKeepTtl && old) expire_at = old->expire_at;
  SKEG_RETURN_IF_ERROR(WriteValue(e, key, value, expire_at));
  out.applied = true;
  return out;
}

// GETSET / GETDEL / GETEX: returns the old value (nullopt if absent) after the change.
enum class GetMode { kGetSet, kGetDel, kGetEx };
Result<std::optional<std::string>> OpGetAnd(Engine& e, std::string_view key, GetMode mode,
                                            std::string_view new_value, const SetParams& p) {
  KeyLocks::Guard guard = e.locks().Lock(key);
  SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> old, OpRead(e, key));
  if (mode == GetMode::kGetSet) {
    SKEG_RETURN_IF_ERROR(e.Put(key, new_value));
  } else if (old && mode == GetMode::kGetDel) {
    SKEG_RETURN_IF_ERROR(e.Delete(key).status());
  } else if (old && mode == GetMode::kGetEx) {
    if (p.flags & kAnyExpire) {
      if (p.expire_at <= e.NowMs()) {
        SKEG_RETURN_IF_ERROR(e.Delete(key).status());
      } else {
        storage::WriteBatch batch;
        batch.PutExpiryChange(key, old->value, p.expire_at);
        SKEG_RETURN_IF_ERROR(e.Write(batch).status());
      }
    } else if (p.flags & kPersist && old->expire_at != storage::kNoExpiry) {
      storage::WriteBatch batch;
      batch.PutExpiryChange(key, old->value, storage::kNoExpiry);
      SKEG_RETURN_IF_ERROR(e.Write(batch).status());
    }
  }
  if (!old) return std::optional<std::string>();
  return std::optional<std::string>(std::move(old->value));
}

Result<int64_t> OpIncrBy(Engine& e, std::string_view key, int64_t delta) {
  KeyLocks::Guard guard = e.locks().Lock(key);
  SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> old, OpRead(e, key));
  int64_t value = 0;
  if (old) {
    std::optional<int64_t> parsed = ParseInt64(old->value);
    if (!parsed) return NotIntegerError();
    value = *parsed;
  }
  if ((delta < 0 && value < 0 && delta < std::numeric_limits<int64_t>::min() - value) ||
      (delta > 0 && value > 0 && delta > std::numeric_limits<int64_t>::max() - value)) {
    return Status::InvalidArgument("increment or decrement would overflow");
  }
  value += delta;
  SKEG_RETURN_IF_ERROR(e.Put(key, Int64Text(value), old ? old->expire_at : storage::kNoExpiry));
  return value;
}

Result<std::string> OpIncrByFloat(Engine& e, std::string_view key, long double delta) {
  KeyLocks::Guard guard = e.locks().Lock(key);
  SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> old, OpRead(e, key));
  long double value = 0;
  if (old) {
    std::optional<long double> parsed = ParseLongDouble(old->value);
    if (!parsed) return Status::InvalidArgument("value is not a valid float");
    value = *parsed;
  }
  value += delta;
  if (std::isnan(value) || std::isinf(value)) {
    return Status::InvalidArgument("increment would produce NaN or Infinity");
  }
  std::string text = FormatLongDouble(value);
  SKEG_RETURN_IF_ERROR(e.Put(key, text, old ? old->expire_at : storage::kNoExpiry));
  return text;
}

// APPEND (offset = npos) and SETRANGE: returns the new length.
Result<int64_t> OpWriteAt(Engine& e, std::string_view key, size_t offset, std::string_view part,
                          bool append) {
  KeyLocks::Guard guard = e.locks().Lock(key);
  SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> old, OpRead(e, key));
  std::string value = old ? std::move(old->value) : std::string();
  if (append) offset = value.size();
  if (!append && part.empty()) return static_cast<int64_t>(value.size());
  const uint64_t limit = std::min<uint64_t>(e.options().max_bulk_bytes, storage::kMaxValueBytes);
  if (static_cast<uint64_t>(offset) + part.size() > limit) {
    return Status::InvalidArgument(kStringTooLong);
  }
  if (value.size() < offset + part.size()) value.resize(offset + part.size(), '\0');
  value.replace(offset, part.size(), part);
  SKEG_RETURN_IF_ERROR(e.Put(key, value, old ? old->expire_at : storage::kNoExpiry));
  return static_cast<int64_t>(value.size());
}

// MSET (nx=false) / MSETNX: one atomic batch. Returns false when MSETNX found a key.
Result<bool> OpMSet(Engine& e, std::span<const std::string_view> kv, bool nx) {
  std::vector<std::string_view> keys;
  for (size_t i = 0; i < kv.size(); i += 2) keys.push_back(kv[i]);
  KeyLocks::Guard guard = e.locks().Lock(keys);
  if (nx) {
    for (std::string_view key : keys) {
      SKEG_ASSIGN_OR_RETURN(std::optional<ReadResult> old, OpRead(e, key));
      if (old) return false;
    }
  }
  storage::WriteBatch batch;
  for (size_t i = 0; i < kv.size(); i += 2) batch.Put(kv[i], kv[i + 1]);
  SKEG_RETURN_IF_ERROR(e.Write(batch).status());
  return true;
}

void ReplyOptional(CommandContext& cx, const std::optional<std::string>& v) {
  if (v) {
    cx.rb->Bulk(*v);
  } else {
    cx.rb->Null();
  }
}

void SetWith(CommandContext& cx, std::string_view key, std::string_view value, SetParams p) {
  Result<SetOutcome> r = OpSet(*cx.engine, key, value, p);
  if (!r) return cx.rb->Error(r.error());
  if (p.flags & kGet) return ReplyOptional(cx, r->old_value);
  if (r->applied) return cx.rb->Ok();
  cx.rb->Null();
}

void IncrBy(CommandContext& cx, int64_t delta) {
  Result<int64_t> r = OpIncrBy(*cx.engine, cx.args[1], delta);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r);
}

}  // namespace

void CmdGet(CommandContext& cx) {
  Result<std::optional<ReadResult>> r = OpRead(*cx.engine, cx.args[1]);
  if (!r) return cx.rb->Error(r.error());
  auto& stats = cx.engine->stats();
  (*r ? stats.keyspace_hits : stats.keyspace_misses).fetch_add(1, std::memory_order_relaxed);
  if (!*r) return cx.rb->Null();
  cx.rb->Bulk((*r)->value);
}

void CmdSet(CommandContext& cx) {
  SetParams p;
  if (Status s = ParseSetOptions(cx, 3, true, &p); !s.ok()) return cx.rb->Error(s);
  SetWith(cx, cx.args[1], cx.args[2], p);
}

void CmdSetNx(CommandContext& cx) {
  Result<SetOutcome> r = OpSet(*cx.engine, cx.args[1], cx.args[2], SetParams{kNx, 0});
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(r->applied ? 1 : 0);
}

void CmdSetEx(CommandContext& cx) {
  SetParams p;
  if (Status s = ParseRelativeExpire(cx, cx.args[2], true, &p); !s.ok()) return cx.rb->Error(s);
  SetWith(cx, cx.args[1], cx.args[3], p);
}

void CmdPSetEx(CommandContext& cx) {
  SetParams p;
  if (Status s = ParseRelativeExpire(cx, cx.args[2], false, &p); !s.ok()) return cx.rb->Error(s);
  SetWith(cx, cx.args[1], cx.args[3], p);
}

void CmdGetSet(CommandContext& cx) {
  auto r = OpGetAnd(*cx.engine, cx.args[1], GetMode::kGetSet, cx.args[2], {});
  if (!r) return cx.rb->Error(r.error());
  ReplyOptional(cx, *r);
}

void CmdGetDel(CommandContext& cx) {
  auto r = OpGetAnd(*cx.engine, cx.args[1], GetMode::kGetDel, {}, {});
  if (!r) return cx.rb->Error(r.error());
  ReplyOptional(cx, *r);
}

void CmdGetEx(CommandContext& cx) {
  SetParams p;
  if (Status s = ParseSetOptions(cx, 2, false, &p); !s.ok()) return cx.rb->Error(s);
  auto r = OpGetAnd(*cx.engine, cx.args[1], GetMode::kGetEx, {}, p);
  if (!r) return cx.rb->Error(r.error());
  ReplyOptional(cx, *r);
}

void CmdMGet(CommandContext& cx) {
  std::vector<std::optional<std::string>> values;
  values.reserve(cx.args.size() - 1);
  for (size_t i = 1; i < cx.args.size(); ++i) {
    Result<std::optional<ReadResult>> r = OpRead(*cx.engine, cx.args[i]);
    if (!r) return cx.rb->Error(r.error());
    values.push_back(*r ? std::optional<std::string>(std::move((*r)->value)) : std::nullopt);
  }
  cx.rb->ArrayStart(values.size());
  for (const auto& v : values) ReplyOptional(cx, v);
}

void CmdMSet(CommandContext& cx) {
  if (cx.args.size() % 2 == 0) {
    return cx.rb->Error("ERR wrong number of arguments for '" + FullName(*cx.spec, cx.parent) +
                        "' command");
  }
  Result<bool> r = OpMSet(*cx.engine, cx.args.subspan(1), false);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Ok();
}

void CmdMSetNx(CommandContext& cx) {
  if (cx.args.size() % 2 == 0) {
    return cx.rb->Error("ERR wrong number of arguments for '" + FullName(*cx.spec, cx.parent) +
                        "' command");
  }
  Result<bool> r = OpMSet(*cx.engine, cx.args.subspan(1), true);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r ? 1 : 0);
}

void CmdAppend(CommandContext& cx) {
  Result<int64_t> r = OpWriteAt(*cx.engine, cx.args[1], 0, cx.args[2], true);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r);
}

void CmdStrlen(CommandContext& cx) {
  Result<std::optional<ReadResult>> r = OpRead(*cx.engine, cx.args[1]);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r ? static_cast<int64_t>((*r)->value.size()) : 0);
}

void CmdGetRange(CommandContext& cx) {
  std::optional<int64_t> start = ParseInt64(cx.args[2]);
  std::optional<int64_t> end = ParseInt64(cx.args[3]);
  if (!start || !end) return cx.rb->Error(NotIntegerError());
  if (*start < 0 && *end < 0 && *start > *end) return cx.rb->Bulk("");
  Result<std::optional<ReadResult>> r = OpRead(*cx.engine, cx.args[1]);
  if (!r) return cx.rb->Error(r.error());
  if (!*r) return cx.rb->Bulk("");
  const std::string& v = (*r)->value;
  const int64_t len = static_cast<int64_t>(v.size());
  int64_t s = *start < 0 ? len + *start : *start;
  int64_t e = *end < 0 ? len + *end : *end;
  if (s < 0) s = 0;
  if (e < 0) e = 0;
  if (e >= len) e = len - 1;
  if (s > e || len == 0) return cx.rb->Bulk("");
  cx.rb->Bulk(std::string_view(v).substr(static_cast<size_t>(s), static_cast<size_t>(e - s + 1)));
}

void CmdSetRange(CommandContext& cx) {
  std::optional<int64_t> offset = ParseInt64(cx.args[2]);
  if (!offset) return cx.rb->Error(NotIntegerError());
  if (*offset < 0) return cx.rb->Error("ERR offset is out of range");
  if (static_cast<uint64_t>(*offset) > storage::kMaxValueBytes) {
    // Would exceed the limit for any non-empty value; an empty one only reports the length.
    if (!cx.args[3].empty()) return cx.rb->Error(kStringTooLong);
  }
  Result<int64_t> r =
      OpWriteAt(*cx.engine, cx.args[1], static_cast<size_t>(*offset), cx.args[3], false);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Integer(*r);
}

void CmdIncr(CommandContext& cx) { IncrBy(cx, 1); }
void CmdDecr(CommandContext& cx) { IncrBy(cx, -1); }

void CmdIncrBy(CommandContext& cx) {
  std::optional<int64_t> delta = ParseInt64(cx.args[2]);
  if (!delta) return cx.rb->Error(NotIntegerError());
  IncrBy(cx, *delta);
}

void CmdDecrBy(CommandContext& cx) {
  std::optional<int64_t> delta = ParseInt64(cx.args[2]);
  if (!delta) return cx.rb->Error(NotIntegerError());
  if (*delta == std::numeric_limits<int64_t>::min()) {
    return cx.rb->Error("ERR decrement would overflow");
  }
  IncrBy(cx, -*delta);
}

void CmdIncrByFloat(CommandContext& cx) {
  std::optional<long double> delta = ParseLongDouble(cx.args[2]);
  if (!delta) return cx.rb->Error(protocol::errors::kNotFloat);
  Result<std::string> r = OpIncrByFloat(*cx.engine, cx.args[1], *delta);
  if (!r) return cx.rb->Error(r.error());
  cx.rb->Bulk(*r);
}

}  // namespace skeg::server
