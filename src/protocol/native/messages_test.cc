#include "protocol/native/messages.h"

#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "protocol/native/frame.h"
#include "protocol/native/native_test_util.h"

namespace skeg::protocol::native {
namespace {

using testing::Hex;
using testing::LoadFixture;

const float kVec2[] = {1.0f, -2.0f};
const std::string* const kA32 = new std::string(32, 'a');
const float kVecHalf[] = {0.5f};

// The typed value of every request frame in frames.json.
const std::map<std::string, RequestFrame>& ExpectedRequests() {
  static const auto* m = new std::map<std::string, RequestFrame>{
      {"req_get", {1, 0, GetRequest{"foo"}}},
      {"req_set", {2, 0, SetRequest{"k", "hello"}}},
      {"req_set_nx", {3, 0, SetRequest{"k", "v", SetCondition::kIfAbsent}}},
      {"req_set_xx_wait_durable",
       {4, kFlagWaitDurable, SetRequest{"k", "v", SetCondition::kIfPresent}}},
      {"req_del_no_reply", {5, kFlagNoReply, DelRequest{"k"}}},
      {"req_mget", {6, 0, MGetRequest{{"a", "bc"}}}},
      {"req_mset", {7, 0, MSetRequest{{{"a", "1"}, {"b", ""}}}}},
      {"req_exists", {8, 0, ExistsRequest{"k"}}},
      {"req_mexists", {9, 0, MExistsRequest{{"a", "b"}}}},
      {"req_vindex_create",
       {10, 0, VIndexCreateRequest{"idx", 4, VectorKind::kTq2, IndexBackend::kDisk}}},
      {"req_vindex_drop", {11, 0, VIndexDropRequest{"idx"}}},
      {"req_vset", {12, 0, VSetRequest{"idx", 7, FloatView::Of(kVec2)}}},
      {"req_vget", {13, 0, VGetRequest{"idx", 7}}},
      {"req_vdel", {14, 0, VDelRequest{"idx", 7}}},
      {"req_vsearch", {15, 0, VSearchRequest{"idx", 10, FloatView::Of(kVecHalf)}}},
      {"req_vsearch_l_search", {16, 0, VSearchRequest{"idx", 10, FloatView::Of(kVecHalf), 64}}},
      {"req_vindex_list", {17, 0, VIndexListRequest{}}},
      {"req_ping", {18, 0, PingRequest{}}},
      {"req_stats", {19, 0, StatsRequest{}}},
      {"req_flush", {20, 0, FlushRequest{}}},
      {"req_shards", {21, 0, ShardsRequest{}}},
      {"req_auth", {22, 0, AuthRequest{"al", "pw1"}}},
      {"req_whoami", {23, 0, WhoAmIRequest{}}},
      {"req_set_lz4_literals", {24, kFlagCompressedLz4, SetRequest{"k", "v"}}},
      {"req_set_lz4_match", {25, kFlagCompressedLz4, SetRequest{"k", *kA32}}},
  };
  return *m;
}

Response Ok(uint64_t id, ReplyBody body) { return {id, 0, std::nullopt, std::move(body)}; }
Response Err(uint64_t id, NativeErrorCode code, std::string msg) {
  return {id, 0, ErrorReply{code, std::move(msg)}, EmptyReply{}};
}

const std::map<std::string, Response>& ExpectedResponses() {
  static const auto* m = new std::map<std::string, Response>{
      {"resp_ok_empty", Ok(2, EmptyReply{})},
      {"resp_get", Ok(1, ValueReply{"hello"})},
      {"resp_set_nx_written", Ok(3, BoolReply{true})},
      {"resp_del_absent", Ok(5, BoolReply{false})},
      {"resp_mget", Ok(6, MGetReply{{std::string("x"), std::nullopt}})},
      {"resp_mexists", Ok(9, CountReply{1})},
      {"resp_vget", Ok(13, VectorReply{{1.0f, -2.0f}})},
      {"resp_vsearch", Ok(15, SearchReply{{{7, 1.0f}, {9, 0.5f}}})},
      {"resp_vindex_list",
       Ok(17, IndexListReply{{{"idx", 4, VectorKind::kTq2, IndexBackend::kDisk, 42}}})},
      {"resp_stats", Ok(19, StatsReply{1, 2, 3, 4})},
      {"resp_shards", Ok(21, ShardsReply{{{0, 10, 0, 5, 256}}})},
      {"resp_whoami", Ok(23, TextReply{"default"})},
      {"err_not_found", Err(1, NativeErrorCode::kNotFound, "no such key")},
      {"err_invalid_request", Err(18, NativeErrorCode::kInvalidRequest, "bad")},
      {"err_internal", Err(20, NativeErrorCode::kInternal, "")},
      {"err_unauthorized", Err(22, NativeErrorCode::kUnauthorized, "auth")},
      {"err_quota_exceeded", Err(2, NativeErrorCode::kQuotaExceeded, "quota")},
      {"err_read_only", Err(2, NativeErrorCode::kReadOnly, "ro")},
  };
  return *m;
}

ReplyShape ShapeByName(const std::string& name) {
  static const std::map<std::string, ReplyShape> kShapes = {
      {"empty", ReplyShape::kEmpty},   {"bool", ReplyShape::kBool},
      {"value", ReplyShape::kValue},   {"mget", ReplyShape::kMGet},
      {"count", ReplyShape::kCount},   {"vector", ReplyShape::kVector},
      {"search", ReplyShape::kSearch}, {"index_list", ReplyShape::kIndexList},
      {"stats", ReplyShape::kStats},   {"shards", ReplyShape::kShards},
      {"text", ReplyShape::kText},
  };
  return kShapes.at(name);
}

Frame ParseOne(const std::string& bytes) {
  FrameParser parser;
  Frame frame;
  ParseResult r = parser.Parse(bytes, &frame);
  EXPECT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.consumed, bytes.size());
  return frame;
}

// A request's bytes without compression and with SET_NX/XX folded back into the condition:
// two requests are equal when these bytes are.
std::string Canonical(RequestFrame request) {
  request.flags &= ~(kFlagCompressedLz4 | kFlagSetNx | kFlagSetXx);
  std::string out;
  EXPECT_TRUE(EncodeRequest(request, &out).ok());
  return out;
}

TEST(NativeMessagesTest, FixtureCoversEveryOpcodeAndErrorCode) {
  const auto& fixture = LoadFixture();
  EXPECT_EQ(fixture.frames.size(), ExpectedRequests().size() + ExpectedResponses().size());
  std::set<int> request_ops, error_codes;
  for (const auto& [name, f] : fixture.frames) {
    if (f.kind == "request") request_ops.insert(static_cast<uint8_t>(f.bytes[3]));
    if (name.starts_with("err_")) error_codes.insert(static_cast<uint8_t>(f.bytes[24]));
  }
  EXPECT_EQ(request_ops.size(), std::variant_size_v<RequestBody>);
  EXPECT_EQ(error_codes.size(), 6u);
}

TEST(NativeMessagesTest, RequestsEncodeByteExact) {
  for (const auto& [name, f] : LoadFixture().frames) {
    if (f.kind != "request" || !f.encode) continue;
    SCOPED_TRACE(name);
    ASSERT_TRUE(ExpectedRequests().contains(name));
    std::string out;
    ASSERT_TRUE(EncodeRequest(ExpectedRequests().at(name), &out).ok());
    EXPECT_EQ(Hex(out), Hex(f.bytes));
  }
}

TEST(NativeMessagesTest, RequestsDecodeToTheirTypedValue) {
  for (const auto& [name, f] : LoadFixture().frames) {
    if (f.kind != "request") continue;
    SCOPED_TRACE(name);
    const RequestFrame& expected = ExpectedRequests().at(name);
    std::string scratch;
    auto decoded = DecodeRequest(ParseOne(f.bytes), &scratch);
    ASSERT_TRUE(decoded.has_value()) << decoded.status().ToString();
    EXPECT_EQ(decoded->req_id, expected.req_id);
    EXPECT_EQ(decoded->body.index(), expected.body.index());
    EXPECT_EQ(Hex(Canonical(*decoded)), Hex(Canonical(expected)));
  }
}

TEST(NativeMessagesTest, DecodedSetCarriesItsConditionAndFlags) {
  std::string scratch;
  auto nx = DecodeRequest(ParseOne(LoadFixture().frames.at("req_set_nx").bytes), &scratch);
  ASSERT_TRUE(nx.has_value());
  EXPECT_EQ(std::get<SetRequest>(nx->body).condition, SetCondition::kIfAbsent);
  auto xx =
      DecodeRequest(ParseOne(LoadFixture().frames.at("req_set_xx_wait_durable").bytes), &scratch);
  ASSERT_TRUE(xx.has_value());
  EXPECT_EQ(std::get<SetRequest>(xx->body).condition, SetCondition::kIfPresent);
  EXPECT_NE(xx->flags & kFlagWaitDurable, 0u);
  auto vset = DecodeRequest(ParseOne(LoadFixture().frames.at("req_vset").bytes), &scratch);
  ASSERT_TRUE(vset.has_value());
  EXPECT_EQ(std::get<VSetRequest>(vset->body).vec.ToVector(), (std::vector<float>{1.0f, -2.0f}));
}

TEST(NativeMessagesTest, ResponsesEncodeAndDecodeByteExact) {
  for (const auto& [name, f] : LoadFixture().frames) {
    if (f.kind != "response") continue;
    SCOPED_TRACE(name);
    ASSERT_TRUE(ExpectedResponses().contains(name));
    const Response& expected = ExpectedResponses().at(name);
    std::string out;
    if (expected.error) {
      EncodeError(expected.req_id, expected.error->code, expected.error->message, &out);
    } else {
      ASSERT_TRUE(EncodeOk(expected.req_id, expected.body, &out).ok());
    }
    EXPECT_EQ(Hex(out), Hex(f.bytes));

    std::string scratch;
    auto decoded = DecodeResponse(ParseOne(f.bytes), ShapeByName(f.shape), &scratch);
    ASSERT_TRUE(decoded.has_value()) << decoded.status().ToString();
    EXPECT_EQ(decoded->req_id, expected.req_id);
    EXPECT_EQ(decoded->error, expected.error);
    if (!expected.error) {
      EXPECT_EQ(decoded->body, expected.body);
    }
  }
}

TEST(NativeMessagesTest, MalformedFramesGiveTheRightErrorClass) {
  int checked = 0;
  for (const auto& [name, f] : LoadFixture().malformed) {
    if (f.expect != "invalid_request" && f.expect != "ok") continue;
    SCOPED_TRACE(name);
    std::string scratch;
    auto decoded = DecodeRequest(ParseOne(f.bytes), &scratch);
    if (f.expect == "ok") {
      EXPECT_TRUE(decoded.has_value());
    } else {
      ASSERT_FALSE(decoded.has_value());
      EXPECT_TRUE(decoded.error().IsInvalidArgument()) << decoded.error().ToString();
      // The server's answer to it is an Err InvalidRequest frame for the same req_id.
      std::string reply;
      EncodeError(ParseOne(f.bytes).header.req_id, NativeErrorCode::kInvalidRequest,
                  decoded.error().message(), &reply);
      auto back = DecodeResponse(ParseOne(reply), ReplyShape::kEmpty, &scratch);
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(back->error->code, NativeErrorCode::kInvalidRequest);
    }
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

// Rewrites payload_len so the frame stays well-formed but its payload is cut to `n` bytes.
std::string CutPayload(const std::string& frame, size_t n) {
  std::string out = frame.substr(0, kHeaderBytes + n);
  EncodeFixed32(out.data() + 16, static_cast<uint32_t>(n));
  return out;
}

TEST(NativeMessagesTest, EveryTruncatedRequestPayloadIsInvalidRequest) {
  for (const auto& [name, f] : LoadFixture().frames) {
    if (f.kind != "request") continue;
    SCOPED_TRACE(name);
    const size_t full = f.bytes.size() - kHeaderBytes;
    for (size_t n = 0; n < full; ++n) {
      std::string scratch;
      auto decoded = DecodeRequest(ParseOne(CutPayload(f.bytes, n)), &scratch);
      // VSEARCH without its optional trailing l_search is a valid prefix.
      if (name == "req_vsearch_l_search" && n == full - 4) {
        EXPECT_TRUE(decoded.has_value());
        continue;
      }
      ASSERT_FALSE(decoded.has_value()) << n;
      EXPECT_TRUE(decoded.error().IsInvalidArgument());
    }
    // One byte too many is an error as well (trailing bytes).
    std::string longer = f.bytes + "x";
    EncodeFixed32(longer.data() + 16, static_cast<uint32_t>(full + 1));
    std::string scratch;
    if ((f.bytes[4] & kFlagCompressedLz4) == 0) {
      EXPECT_FALSE(DecodeRequest(ParseOne(longer), &scratch).has_value());
    }
  }
}

TEST(NativeMessagesTest, PeekRequestKeyIsTheKeyOfSingleKeyOpsAndEmptyOtherwise) {
  for (const auto& [name, f] : LoadFixture().frames) {
    if (f.kind != "request") continue;
    SCOPED_TRACE(name);
    const Frame frame = ParseOne(f.bytes);
    std::string scratch;
    auto decoded = DecodeRequest(frame, &scratch);
    ASSERT_TRUE(decoded.has_value());
    std::string_view key;
    if ((frame.header.flags & kFlagCompressedLz4) == 0) {
      if (const auto* r = std::get_if<GetRequest>(&decoded->body)) key = r->key;
      if (const auto* r = std::get_if<SetRequest>(&decoded->body)) key = r->key;
      if (const auto* r = std::get_if<DelRequest>(&decoded->body)) key = r->key;
      if (const auto* r = std::get_if<ExistsRequest>(&decoded->body)) key = r->key;
    }
    EXPECT_EQ(PeekRequestKey(frame), key);
    // A cut payload gives the whole key or nothing (and never reads past the payload).
    const size_t full = f.bytes.size() - kHeaderBytes;
    for (size_t n = 0; n < full; ++n) {
      const std::string cut = CutPayload(f.bytes, n);
      const std::string_view peeked = PeekRequestKey(ParseOne(cut));
      EXPECT_TRUE(peeked.empty() || peeked == key) << n;
    }
  }
}

TEST(NativeMessagesTest, EveryTruncatedResponsePayloadIsCorruption) {
  for (const auto& [name, f] : LoadFixture().frames) {
    if (f.kind != "response") continue;
    SCOPED_TRACE(name);
    const size_t full = f.bytes.size() - kHeaderBytes;
    for (size_t n = 0; n < full; ++n) {
      std::string scratch;
      auto decoded =
          DecodeResponse(ParseOne(CutPayload(f.bytes, n)), ShapeByName(f.shape), &scratch);
      ASSERT_FALSE(decoded.has_value()) << n;
      EXPECT_TRUE(decoded.error().IsCorruption());
    }
  }
}

TEST(NativeMessagesTest, ResponseDecoderRejectsRequestOpsAndBadBytes) {
  std::string scratch;
  std::string ping;
  ASSERT_TRUE(EncodeRequest({1, 0, PingRequest{}}, &ping).ok());
  EXPECT_TRUE(DecodeResponse(ParseOne(ping), ReplyShape::kEmpty, &scratch).error().IsCorruption());
  std::string reply;
  ASSERT_TRUE(EncodeOk(1, BoolReply{true}, &reply).ok());
  reply.back() = 2;  // a boolean must be 0 or 1
  EXPECT_FALSE(DecodeResponse(ParseOne(reply), ReplyShape::kBool, &scratch).has_value());
  std::string vget = testing::Unhex(
      "4b56 01 c0 00000000 0100000000000000 07000000 00000000"
      "03000000 000000");
  EXPECT_FALSE(DecodeResponse(ParseOne(vget), ReplyShape::kVector, &scratch).has_value());
  std::string mget = testing::Unhex(
      "4b56 01 c0 00000000 0100000000000000 05000000 00000000"
      "01000000 02");
  EXPECT_FALSE(DecodeResponse(ParseOne(mget), ReplyShape::kMGet, &scratch).has_value());
  std::string huge = testing::Unhex(
      "4b56 01 c0 00000000 0100000000000000 04000000 00000000"
      "ffffffff");
  for (ReplyShape shape :
       {ReplyShape::kMGet, ReplyShape::kSearch, ReplyShape::kIndexList, ReplyShape::kShards}) {
    EXPECT_FALSE(DecodeResponse(ParseOne(huge), shape, &scratch).has_value());
  }
}

TEST(NativeMessagesTest, EncoderRejectsWhatTheWireCannotCarry) {
  std::string out;
  const std::string long_key(65536, 'k');
  EXPECT_TRUE(EncodeRequest({1, 0, GetRequest{long_key}}, &out).IsInvalidArgument());
  EXPECT_TRUE(EncodeRequest({1, 0, SetRequest{long_key, "v"}}, &out).IsInvalidArgument());
  EXPECT_TRUE(EncodeRequest({1, 0, VIndexDropRequest{long_key}}, &out).IsInvalidArgument());
  EXPECT_TRUE(EncodeRequest({1, 0, AuthRequest{"u", long_key}}, &out).IsInvalidArgument());
  EXPECT_TRUE(EncodeRequest({1, kFlagSetNx, SetRequest{"k", "v"}}, &out).IsInvalidArgument());
  EXPECT_TRUE(EncodeRequest({1, kFlagBatch, PingRequest{}}, &out).IsInvalidArgument());
  const std::string big(kMaxPayloadBytes, 'v');
  EXPECT_TRUE(EncodeRequest({1, 0, SetRequest{"k", big}}, &out).IsInvalidArgument());
  EXPECT_TRUE(out.empty());
  // 65 535 bytes is fine.
  EXPECT_TRUE(EncodeRequest({1, 0, GetRequest{long_key.substr(1)}}, &out).ok());
  // The 16 MiB limit is on the uncompressed payload, so compression does not lift it.
  out.clear();
  EXPECT_TRUE(
      EncodeRequest({1, kFlagCompressedLz4, SetRequest{"k", big}}, &out).IsInvalidArgument());
  EXPECT_TRUE(EncodeOk(1, EmptyReply{}, &out, kFlagNoReply).IsInvalidArgument());
}

TEST(NativeMessagesTest, ErrorMessageIsCutAt255BytesOnACharacterBoundary) {
  std::string out;
  std::string scratch;
  EncodeError(1, NativeErrorCode::kInternal, std::string(300, 'a'), &out);
  auto r = DecodeResponse(ParseOne(out), ReplyShape::kEmpty, &scratch);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error->message, std::string(255, 'a'));

  out.clear();
  const std::string msg = std::string(254, 'a') + "\xc3\xa9" + "tail";  // é straddles byte 255
  EncodeError(1, NativeErrorCode::kInternal, msg, &out);
  r = DecodeResponse(ParseOne(out), ReplyShape::kEmpty, &scratch);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error->message, std::string(254, 'a'));
  EXPECT_TRUE(IsValidUtf8(r->error->message));
}

TEST(NativeMessagesTest, StatusFromErrorMapsEveryCode) {
  EXPECT_TRUE(StatusFromError({NativeErrorCode::kNotFound, "x"}).IsNotFound());
  EXPECT_TRUE(StatusFromError({NativeErrorCode::kInvalidRequest, "x"}).IsInvalidArgument());
  EXPECT_EQ(StatusFromError({NativeErrorCode::kInternal, "x"}).code(), StatusCode::kInternal);
  EXPECT_EQ(StatusFromError({NativeErrorCode::kUnauthorized, "x"}).code(),
            StatusCode::kUnauthenticated);
  EXPECT_TRUE(StatusFromError({NativeErrorCode::kQuotaExceeded, "x"}).IsResourceExhausted());
  EXPECT_EQ(StatusFromError({NativeErrorCode::kReadOnly, "x"}).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromError({static_cast<NativeErrorCode>(0x42), "x"}).message(),
            "error code 66: x");
}

TEST(NativeMessagesTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
}

// Random requests of every op survive encode -> parse -> decode, plain and compressed.
TEST(NativeMessagesTest, RandomRoundTrips) {
  std::mt19937_64 rng(42);
  auto str = [&](size_t max) {
    std::string s(rng() % (max + 1), '\0');
    for (char& c : s) c = static_cast<char>('a' + rng() % 26);
    return s;
  };
  std::vector<std::string> pool;
  pool.reserve(4096);
  std::vector<std::vector<float>> vecs;
  vecs.reserve(1024);
  for (int iter = 0; iter < 500; ++iter) {
    const std::string& a = pool.emplace_back(str(40));
    const std::string& b = pool.emplace_back(str(300));
    const auto& v = vecs.emplace_back(std::vector<float>(rng() % 9, 0.25f * (iter % 7)));
    std::vector<RequestBody> bodies = {
        GetRequest{a},
        SetRequest{a, b, static_cast<SetCondition>(rng() % 3)},
        DelRequest{a},
        MGetRequest{{a, b, a}},
        MSetRequest{{{a, b}, {b, a}}},
        ExistsRequest{b},
        MExistsRequest{{b}},
        VIndexCreateRequest{a, static_cast<uint32_t>(rng()), static_cast<VectorKind>(rng() % 7),
                            static_cast<IndexBackend>(rng() % 2)},
        VIndexDropRequest{a},
        VSetRequest{a, rng(), FloatView::Of(v)},
        VGetRequest{a, rng()},
        VDelRequest{a, rng()},
        VSearchRequest{a, static_cast<uint32_t>(rng()), FloatView::Of(v),
                       static_cast<uint32_t>(rng() % 3)},
        VIndexListRequest{},
        PingRequest{},
        StatsRequest{},
        FlushRequest{},
        ShardsRequest{},
        AuthRequest{a, b},
        WhoAmIRequest{},
    };
    for (const auto& body : bodies) {
      RequestFrame request{rng(),
                           static_cast<uint32_t>(rng() % 2 ? kFlagCompressedLz4 : 0) |
                               (rng() % 2 ? kFlagNoReply : 0),
                           body};
      std::string wire;
      ASSERT_TRUE(EncodeRequest(request, &wire).ok());
      std::string scratch;
      auto decoded = DecodeRequest(ParseOne(wire), &scratch);
      ASSERT_TRUE(decoded.has_value()) << decoded.status().ToString();
      EXPECT_EQ(decoded->req_id, request.req_id);
      EXPECT_EQ(Canonical(*decoded), Canonical(request));
    }
  }
}

TEST(NativeMessagesTest, ReplyRoundTripsIncludingCompressed) {
  std::vector<ReplyBody> bodies = {
      EmptyReply{},
      BoolReply{true},
      ValueReply{std::string(5000, 'q')},
      MGetReply{{std::nullopt, std::string("v"), std::string()}},
      CountReply{7},
      VectorReply{{1.5f, 2.5f, -0.0f}},
      SearchReply{{{1, 0.9f}, {2, 0.1f}}},
      IndexListReply{{{"a", 3, VectorKind::kPq, IndexBackend::kFlat, 9},
                      {"b", 8, VectorKind::kBinary, IndexBackend::kDisk, 0}}},
      StatsReply{9, 8, 7, 6},
      ShardsReply{{{0, 1, 2, 3, 4}, {1, 5, 6, 7, 8}}},
      TextReply{"tenant=acme user=bob"},
  };
  for (uint32_t flags : {0u, kFlagCompressedLz4}) {
    for (const auto& body : bodies) {
      std::string wire;
      ASSERT_TRUE(EncodeOk(77, body, &wire, flags).ok());
      std::string scratch;
      auto decoded = DecodeResponse(ParseOne(wire), ShapeOf(body), &scratch);
      ASSERT_TRUE(decoded.has_value()) << decoded.status().ToString();
      EXPECT_EQ(decoded->body, body);
      EXPECT_FALSE(decoded->error.has_value());
    }
  }
}

TEST(NativeMessagesTest, ReplyShapesFollowTheSpecTable) {
  EXPECT_EQ(ReplyShapeFor(Opcode::kGet, 0), ReplyShape::kValue);
  EXPECT_EQ(ReplyShapeFor(Opcode::kSet, 0), ReplyShape::kEmpty);
  EXPECT_EQ(ReplyShapeFor(Opcode::kSet, kFlagSetNx), ReplyShape::kBool);
  EXPECT_EQ(ReplyShapeFor(Opcode::kSet, kFlagSetXx), ReplyShape::kBool);
  EXPECT_EQ(ReplyShapeFor(Opcode::kDel, 0), ReplyShape::kBool);
  EXPECT_EQ(ReplyShapeFor(Opcode::kMGet, 0), ReplyShape::kMGet);
  EXPECT_EQ(ReplyShapeFor(Opcode::kMSet, 0), ReplyShape::kEmpty);
  EXPECT_EQ(ReplyShapeFor(Opcode::kExists, 0), ReplyShape::kBool);
  EXPECT_EQ(ReplyShapeFor(Opcode::kMExists, 0), ReplyShape::kCount);
  EXPECT_EQ(ReplyShapeFor(Opcode::kVIndexCreate, 0), ReplyShape::kEmpty);
  EXPECT_EQ(ReplyShapeFor(Opcode::kVIndexDrop, 0), ReplyShape::kEmpty);
  EXPECT_EQ(ReplyShapeFor(Opcode::kVSet, 0), ReplyShape::kEmpty);
  EXPECT_EQ(ReplyShapeFor(Opcode::kVGet, 0), ReplyShape::kVector);
  EXPECT_EQ(ReplyShapeFor(Opcode::kVDel, 0), ReplyShape::kBool);
  EXPECT_EQ(ReplyShapeFor(Opcode::kVSearch, 0), ReplyShape::kSearch);
  EXPECT_EQ(ReplyShapeFor(Opcode::kVIndexList, 0), ReplyShape::kIndexList);
  EXPECT_EQ(ReplyShapeFor(Opcode::kPing, 0), ReplyShape::kEmpty);
  EXPECT_EQ(ReplyShapeFor(Opcode::kStats, 0), ReplyShape::kStats);
  EXPECT_EQ(ReplyShapeFor(Opcode::kFlush, 0), ReplyShape::kEmpty);
  EXPECT_EQ(ReplyShapeFor(Opcode::kShards, 0), ReplyShape::kShards);
  EXPECT_EQ(ReplyShapeFor(Opcode::kAuth, 0), ReplyShape::kEmpty);
  EXPECT_EQ(ReplyShapeFor(Opcode::kWhoAmI, 0), ReplyShape::kText);
}

}  // namespace
}  // namespace skeg::protocol::native
