// skeg::protocol::native: the native binary protocol v1 (spec/NATIVE_PROTOCOL.md, port 7379).
//
// The module's one public header. It is a pure codec, shared by the server and by the C++
// client (clients/cpp): frame.h splits a byte stream into frames (FrameParser) and writes
// frames (AppendFrame), messages.h turns payloads into typed requests and replies and back.
// Nothing here does I/O or knows the engine; docs/formats/native.md has the byte tables.
//
// Typical server loop (one FrameParser per connection):
//
//   Frame frame;
//   ParseResult r = parser.Parse(input, &frame);
//   if (r.status == ParseStatus::kError) close the connection (parser.error()).
//   if (r.status == ParseStatus::kNeedMore) read more.
//   Result<RequestFrame> req = DecodeRequest(frame, &scratch);
//   if (!req) EncodeError(frame.header.req_id, NativeErrorCode::kInvalidRequest, ...);
//   else dispatch; EncodeOk(...) unless SuppressesReply(op, flags) and it succeeded.
//   drop r.consumed bytes.
//
// Thread-safety: see the two headers; everything is per-connection or pure.
#pragma once

#include "protocol/native/frame.h"     // IWYU pragma: export
#include "protocol/native/messages.h"  // IWYU pragma: export
