// NativeSession driven in process with hand-built frames: every op, every flag, error frames,
// fatal headers, pipelining. The frames are built with the codec (EncodeRequest) or byte by
// byte when they must be malformed.
#include "server/native_session.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "protocol/native/native.h"
#include "server/command/dispatcher.h"
#include "server/command/engine.h"
#include "storage/cache/page_cache.h"
#include "storage/vlog/store.h"
#include "testing/temp_dir.h"

namespace skeg::server {
namespace {

namespace native = protocol::native;
using native::ReplyBody;
using native::RequestBody;
using native::Response;
using protocol::NativeErrorCode;

// One request frame, encoded by the codec.
std::string Req(const RequestBody& body, uint32_t flags = 0, uint64_t req_id = 7) {
  native::RequestFrame r;
  r.req_id = req_id;
  r.flags = flags;
  r.body = body;
  std::string out;
  EXPECT_TRUE(native::EncodeRequest(r, &out).ok());
  return out;
}

// A raw frame with any header fields (for malformed input).
std::string RawFrame(uint8_t op, uint32_t flags, uint64_t req_id, std::string_view payload,
                     uint16_t magic = native::kMagic, uint8_t version = native::kVersion,
                     std::optional<uint32_t> payload_len = std::nullopt) {
  std::string f(native::kHeaderBytes, '\0');
  EncodeFixed16(f.data(), magic);
  f[2] = static_cast<char>(version);
  f[3] = static_cast<char>(op);
  EncodeFixed32(f.data() + 4, flags);
  EncodeFixed64(f.data() + 8, req_id);
  EncodeFixed32(f.data() + 16, payload_len.value_or(static_cast<uint32_t>(payload.size())));
  f.append(payload);
  return f;
}

struct Sent {
  native::Opcode op;
  uint32_t flags;
};

class NativeSessionTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(EngineOptions{}); }

  // `cache` (optional, outlives the session): the page cache of the store and the engine.
  void Open(EngineOptions options, bool defer = false, storage::PageCache* cache = nullptr) {
    session_.reset();
    dispatcher_.reset();
    engine_.reset();
    store_.reset();
    storage::StoreOptions so;
    so.page_cache = cache;
    options.page_cache = cache;
    so.data_dir = dir_.Sub("db");
    so.durability = storage::Durability::kRelaxed;
    so.background_compaction = false;
    auto store = storage::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    engine_ = std::make_unique<Engine>(store_.get(), std::move(options));
    dispatcher_ = std::make_unique<Dispatcher>(engine_.get(), nullptr);
    NativeSessionOptions no;
    no.defer_durability = defer;
    session_ = std::make_unique<NativeSession>(dispatcher_.get(), "127.0.0.1:1", "127.0.0.1:2", no);
  }

  // Feeds `bytes`; returns the outcome and leaves the output in output_.
  NativeSession::Outcome Feed(std::string_view bytes) {
    input_.append(bytes);
    return session_->Process(&input_, &output_);
  }

  // Every complete response frame in output_ (consumed), decoded with the shapes of `sent`.
  std::vector<Response> Responses(const std::vector<Sent>& sent) {
    std::vector<Response> out;
    native::FrameParser parser;
    std::string_view rest = output_;
    size_t i = 0;
    while (!rest.empty()) {
      native::Frame frame;
      const native::ParseResult r = parser.Parse(rest, &frame);
      EXPECT_EQ(r.status, native::ParseStatus::kFrame);
      if (r.status != native::ParseStatus::kFrame) break;
      const Sent s = i < sent.size() ? sent[i] : Sent{native::Opcode::kPing, 0};
      std::string scratch;
      Result<Response> resp =
          native::DecodeResponse(frame, native::ReplyShapeFor(s.op, s.flags), &scratch);
      EXPECT_TRUE(resp.ok()) << resp.status().ToString();
      if (resp.ok()) out.push_back(std::move(*resp));
      rest.remove_prefix(r.consumed);
      ++i;
    }
    output_.clear();
    return out;
  }

  // Sends one request and returns its single response.
  Response Call(const RequestBody& body, uint32_t flags = 0, uint64_t req_id = 7) {
    const NativeSession::Outcome outcome = Feed(Req(body, flags, req_id));
    EXPECT_TRUE(outcome == NativeSession::Outcome::kNeedInput ||
                outcome == NativeSession::Outcome::kYield);  // a large reply yields
    EXPECT_TRUE(input_.empty());
    // The reply shape of SET depends on the NX/XX bits the encoder derives from the body.
    uint32_t shape_flags = flags;
    if (const auto* set = std::get_if<native::SetRequest>(&body)) {
      if (set->condition == native::SetCondition::kIfAbsent) shape_flags |= native::kFlagSetNx;
      if (set->condition == native::SetCondition::kIfPresent) shape_flags |= native::kFlagSetXx;
    }
    std::vector<Response> r = Responses({{native::OpcodeOf(body), shape_flags}});
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? Response{} : r[0];
  }

  static NativeErrorCode Code(const Response& r) {
    return r.error ? r.error->code : static_cast<NativeErrorCode>(0);
  }

  ::skeg::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<NativeSession> session_;
  std::string input_;
  std::string output_;
};

TEST_F(NativeSessionTest, PingEchoesReqId) {
  Response r = Call(native::PingRequest{}, 0, 0x1122334455667788ull);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.req_id, 0x1122334455667788ull);
  EXPECT_EQ(r.body, ReplyBody(native::EmptyReply{}));
}

TEST_F(NativeSessionTest, SetGetDelExists) {
  EXPECT_FALSE(Call(native::SetRequest{"k", "v"}).error);
  EXPECT_EQ(Call(native::GetRequest{"k"}).body, ReplyBody(native::ValueReply{"v"}));
  EXPECT_EQ(Call(native::ExistsRequest{"k"}).body, ReplyBody(native::BoolReply{true}));
  EXPECT_EQ(Call(native::DelRequest{"k"}).body, ReplyBody(native::BoolReply{true}));
  EXPECT_EQ(Call(native::DelRequest{"k"}).body, ReplyBody(native::BoolReply{false}));
  EXPECT_EQ(Call(native::ExistsRequest{"k"}).body, ReplyBody(native::BoolReply{false}));
  Response missing = Call(native::GetRequest{"k"});
  ASSERT_TRUE(missing.error);
  EXPECT_EQ(missing.error->code, NativeErrorCode::kNotFound);
}

TEST_F(NativeSessionTest, EmptyAndBinaryKeysAndValues) {
  const std::string key("\0\xff\r\n", 4);
  const std::string value("\0\x01\x02\r\n\xfe", 6);
  EXPECT_FALSE(Call(native::SetRequest{key, value}).error);
  EXPECT_EQ(Call(native::GetRequest{key}).body, ReplyBody(native::ValueReply{value}));
  EXPECT_FALSE(Call(native::SetRequest{"", ""}).error);
  EXPECT_EQ(Call(native::GetRequest{""}).body, ReplyBody(native::ValueReply{""}));
}

TEST_F(NativeSessionTest, SetNxAndXxReplyWritten) {
  using native::SetCondition;
  EXPECT_EQ(Call(native::SetRequest{"k", "1", SetCondition::kIfPresent}).body,
            ReplyBody(native::BoolReply{false}));
  EXPECT_EQ(Call(native::SetRequest{"k", "1", SetCondition::kIfAbsent}).body,
            ReplyBody(native::BoolReply{true}));
  EXPECT_EQ(Call(native::SetRequest{"k", "2", SetCondition::kIfAbsent}).body,
            ReplyBody(native::BoolReply{false}));
  EXPECT_EQ(Call(native::SetRequest{"k", "3", SetCondition::kIfPresent}).body,
            ReplyBody(native::BoolReply{true}));
  EXPECT_EQ(Call(native::GetRequest{"k"}).body, ReplyBody(native::ValueReply{"3"}));
  // Both bits: a per-request error.
  std::string both =
      RawFrame(0x02, native::kFlagSetNx | native::kFlagSetXx, 9, std::string("\1\0\1\0\0\0kv", 8));
  EXPECT_EQ(Feed(both), NativeSession::Outcome::kNeedInput);
  EXPECT_EQ(Code(Responses({{native::Opcode::kSet, 0}})[0]), NativeErrorCode::kInvalidRequest);
}

TEST_F(NativeSessionTest, MultiKeyOps) {
  std::vector<native::KeyValue> pairs = {{"a", "1"}, {"b", "2"}};
  EXPECT_FALSE(Call(native::MSetRequest{pairs}).error);
  EXPECT_EQ(Call(native::MGetRequest{{"a", "b", "c"}}).body,
            ReplyBody(native::MGetReply{{"1", "2", std::nullopt}}));
  EXPECT_EQ(Call(native::MExistsRequest{{"a", "b", "c"}}).body, ReplyBody(native::CountReply{2}));
  // Empty batches have empty answers.
  EXPECT_EQ(Call(native::MGetRequest{}).body, ReplyBody(native::MGetReply{}));
  EXPECT_EQ(Call(native::MExistsRequest{}).body, ReplyBody(native::CountReply{0}));
  EXPECT_FALSE(Call(native::MSetRequest{}).error);
}

TEST_F(NativeSessionTest, StatsAndShardsReportThePageCache) {
  storage::PageCache cache(1 << 20);
  Open(EngineOptions{}, /*defer=*/false, &cache);
  ASSERT_FALSE(Call(native::MSetRequest{{{"a", "1"}, {"b", "2"}}}).error);
  ASSERT_FALSE(Call(native::FlushRequest{}).error);  // on file: reads go through the cache
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Call(native::GetRequest{"a"}).body, ReplyBody(native::ValueReply{"1"}));
  }
  const storage::PageCache::Stats cs = cache.stats();
  ASSERT_GT(cs.bytes, 0u);
  ASSERT_GT(cs.hits, 0u);
  native::StatsReply stats;
  stats.cache_bytes = cs.bytes;
  stats.cache_evictions = cs.evictions;
  stats.n_keys = 2;
  stats.cache_budget_bytes = 1 << 20;
  EXPECT_EQ(Call(native::StatsRequest{}).body, ReplyBody(stats));
  native::ShardInfo shard;
  shard.cache_bytes = cs.bytes;
  shard.evictions = cs.evictions;
  shard.n_keys = 2;
  shard.budget_bytes = 1 << 20;
  EXPECT_EQ(Call(native::ShardsRequest{}).body, ReplyBody(native::ShardsReply{{shard}}));
  session_.reset();  // before the cache goes
  dispatcher_.reset();
  engine_.reset();
  store_.reset();
}

TEST_F(NativeSessionTest, AdminOps) {
  ASSERT_FALSE(Call(native::MSetRequest{{{"a", "1"}, {"b", "2"}}}).error);
  native::StatsReply stats;
  stats.n_keys = 2;
  EXPECT_EQ(Call(native::StatsRequest{}).body, ReplyBody(stats));
  native::ShardInfo shard;
  shard.n_keys = 2;
  EXPECT_EQ(Call(native::ShardsRequest{}).body, ReplyBody(native::ShardsReply{{shard}}));
  EXPECT_FALSE(Call(native::FlushRequest{}).error);
  EXPECT_EQ(Call(native::GetRequest{"a"}).body, ReplyBody(native::ValueReply{"1"}))
      << "FLUSH is a sync barrier, not FLUSHDB";
  EXPECT_EQ(Call(native::WhoAmIRequest{}).body,
            ReplyBody(native::TextReply{
                "tenant=00000000000000000000000000000000 user=default mode=single-tenant"}));
}

TEST_F(NativeSessionTest, AuthGatesEveryOp) {
  EngineOptions options;
  options.requirepass = "secret";
  Open(options);
  for (const RequestBody& body : std::vector<RequestBody>{
           native::GetRequest{"k"}, native::SetRequest{"k", "v"}, native::PingRequest{},
           native::StatsRequest{}, native::FlushRequest{}, native::WhoAmIRequest{},
           native::MGetRequest{}}) {
    Response r = Call(body);
    EXPECT_EQ(Code(r), NativeErrorCode::kUnauthorized) << native::OpcodeName(OpcodeOf(body));
  }
  EXPECT_EQ(Code(Call(native::AuthRequest{"default", "wrong"})), NativeErrorCode::kUnauthorized);
  EXPECT_EQ(Code(Call(native::AuthRequest{"bob", "secret"})), NativeErrorCode::kUnauthorized);
  EXPECT_FALSE(Call(native::AuthRequest{"default", "secret"}).error);
  EXPECT_FALSE(Call(native::SetRequest{"k", "v"}).error);
  EXPECT_EQ(Call(native::GetRequest{"k"}).body, ReplyBody(native::ValueReply{"v"}));
}

TEST_F(NativeSessionTest, ReadOnlyModeRefusesWrites) {
  EngineOptions options;
  options.read_only = true;
  Open(options);
  EXPECT_EQ(Code(Call(native::SetRequest{"k", "v"})), NativeErrorCode::kReadOnly);
  EXPECT_EQ(Code(Call(native::MSetRequest{{{"a", "1"}}})), NativeErrorCode::kReadOnly);
  EXPECT_EQ(Code(Call(native::DelRequest{"k"})), NativeErrorCode::kReadOnly);
  EXPECT_EQ(Code(Call(native::GetRequest{"k"})), NativeErrorCode::kNotFound);
  // NO_REPLY errors are still sent.
  EXPECT_EQ(Code(Call(native::SetRequest{"k", "v"}, native::kFlagNoReply)),
            NativeErrorCode::kReadOnly);
}

TEST_F(NativeSessionTest, NoReplySuppressesOkOnlyThenGetSeesTheWrite) {
  std::string wire = Req(native::SetRequest{"k", "v"}, native::kFlagNoReply, 1) +
                     Req(native::MSetRequest{{{"a", "1"}}}, native::kFlagNoReply, 2) +
                     Req(native::DelRequest{"a"}, native::kFlagNoReply, 3);
  EXPECT_EQ(Feed(wire), NativeSession::Outcome::kNeedInput);
  EXPECT_TRUE(output_.empty());
  // NO_REPLY on an op the spec does not list (GET) is ignored: it is answered.
  Response get = Call(native::GetRequest{"k"}, native::kFlagNoReply, 4);
  EXPECT_EQ(get.req_id, 4u);
  EXPECT_EQ(get.body, ReplyBody(native::ValueReply{"v"}));
  EXPECT_EQ(Call(native::ExistsRequest{"a"}).body, ReplyBody(native::BoolReply{false}));
}

TEST_F(NativeSessionTest, WaitDurableAndDeferredTickets) {
  Open(EngineOptions{}, /*defer=*/true);
  const uint64_t syncs_before = store_->stats().syncs;
  EXPECT_FALSE(Call(native::SetRequest{"k", "v"}, native::kFlagWaitDurable).error);
  const uint64_t ticket = session_->TakeDurabilityTicket();
  EXPECT_NE(ticket, 0u);
  EXPECT_TRUE(store_->WaitDurable(ticket).ok());
  EXPECT_GT(store_->stats().syncs, syncs_before);
  EXPECT_EQ(session_->TakeDurabilityTicket(), 0u);
  EXPECT_EQ(Call(native::GetRequest{"k"}).body, ReplyBody(native::ValueReply{"v"}));
  EXPECT_EQ(session_->TakeDurabilityTicket(), 0u) << "reads produce no ticket";
}

TEST_F(NativeSessionTest, Lz4CompressedPayloads) {
  const std::string value(100000, 'x');
  EXPECT_FALSE(Call(native::SetRequest{"big", value}, native::kFlagCompressedLz4).error);
  EXPECT_EQ(Call(native::GetRequest{"big"}).body, ReplyBody(native::ValueReply{value}));
  // A corrupt block is a per-request error.
  std::string bad = RawFrame(0x01, native::kFlagCompressedLz4, 5, std::string("\x10\0\0\0\xff", 5));
  EXPECT_EQ(Feed(bad), NativeSession::Outcome::kNeedInput);
  EXPECT_EQ(Code(Responses({{native::Opcode::kGet, 0}})[0]), NativeErrorCode::kInvalidRequest);
  EXPECT_FALSE(Call(native::PingRequest{}).error);
}

TEST_F(NativeSessionTest, PayloadErrorsKeepTheConnection) {
  std::string wire;
  wire += RawFrame(0x01, 0, 1, std::string("\x05\0ab", 4));      // truncated key
  wire += RawFrame(0x04, 0, 2, std::string("\xff\xff\0\0", 4));  // count > payload
  wire += RawFrame(0x01, 0, 3, std::string("\x01\0ab", 4));      // trailing bytes
  wire += RawFrame(0x80, native::kFlagBatch, 4, "");             // reserved flag
  wire += RawFrame(0x80, native::kFlagContinuation, 5, "");      // reserved flag
  wire += RawFrame(0xC0, 0, 6, "");                              // response op
  wire += RawFrame(0x80, 0, 7, "");                              // still served
  EXPECT_EQ(Feed(wire), NativeSession::Outcome::kNeedInput);
  std::vector<Response> r = Responses({});
  ASSERT_EQ(r.size(), 7u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(r[i].req_id, i + 1);
    EXPECT_EQ(Code(r[i]), NativeErrorCode::kInvalidRequest) << i;
  }
  EXPECT_FALSE(r[6].error);
}

TEST_F(NativeSessionTest, BrokenHeaderClosesAfterEarlierReplies) {
  for (const std::string& broken :
       {RawFrame(0x80, 0, 9, "", 0x1234), RawFrame(0x80, 0, 9, "", native::kMagic, 2),
        RawFrame(0x42, 0, 9, ""), RawFrame(0x80, 1u << 8, 9, ""),
        RawFrame(0x02, 0, 9, "", native::kMagic, native::kVersion, native::kMaxPayloadBytes + 1)}) {
    SetUp();
    input_.clear();
    output_.clear();
    EXPECT_EQ(Feed(Req(native::PingRequest{}, 0, 1) + broken + Req(native::PingRequest{}, 0, 2)),
              NativeSession::Outcome::kClose);
    EXPECT_EQ(session_->close_reason().code(), StatusCode::kCorruption);
    std::vector<Response> r = Responses({});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].req_id, 1u);
  }
}

TEST_F(NativeSessionTest, PipelinedRepliesInOrderAcrossAnySplit) {
  std::string wire;
  std::vector<Sent> sent;
  for (uint64_t i = 0; i < 20; ++i) {
    // Odd i reads the key even i - 1 wrote.
    const std::string key = "k" + std::to_string(i / 2);
    const std::string value = std::to_string(i);
    RequestBody body = i % 2 == 0 ? RequestBody(native::SetRequest{key, value})
                                  : RequestBody(native::GetRequest{key});
    wire += Req(body, 0, 100 + i);
    sent.push_back({native::OpcodeOf(body), 0});
  }
  // With the keys' old records in the page cache, so that a whole pipeline is prefetched
  // (NativeSession::PrefetchWindow, 16 frames at a time) down to the records' bytes.
  storage::PageCache cache(4 << 20, 2);
  for (size_t step : {size_t{1}, size_t{7}, wire.size()}) {
    Open(EngineOptions{}, false, &cache);
    for (uint64_t k = 0; k < 10; ++k) {
      ASSERT_FALSE(Call(native::SetRequest{"k" + std::to_string(k), "old"}).error);
    }
    input_.clear();
    output_.clear();
    for (size_t at = 0; at < wire.size(); at += step) {
      EXPECT_EQ(Feed(std::string_view(wire).substr(at, step)), NativeSession::Outcome::kNeedInput);
    }
    std::vector<Response> r = Responses(sent);
    ASSERT_EQ(r.size(), 20u);
    for (uint64_t i = 0; i < 20; ++i) {
      EXPECT_EQ(r[i].req_id, 100 + i);
      EXPECT_FALSE(r[i].error);
      if (i % 2 == 1) {
        EXPECT_EQ(r[i].body, ReplyBody(native::ValueReply{std::to_string(i - 1)}));
      }
    }
  }
}

TEST_F(NativeSessionTest, VectorOpsWithoutTheCollection) {
  // An Engine whose vectors were never opened answers every vector op with an error.
  const float v[2] = {1, 0};
  for (const RequestBody& body : std::vector<RequestBody>{
           native::VIndexCreateRequest{"i", 2}, native::VIndexDropRequest{"i"},
           native::VSetRequest{"i", 1, native::FloatView::Of(v)}, native::VGetRequest{"i", 1},
           native::VDelRequest{"i", 1}, native::VSearchRequest{"i", 1, native::FloatView::Of(v)},
           native::VIndexListRequest{}}) {
    Response r = Call(body);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, NativeErrorCode::kInvalidRequest);
    EXPECT_EQ(r.error->message, "ERR vector indexes are not available");
  }
}

TEST_F(NativeSessionTest, VectorOps) {
  ASSERT_TRUE(engine_->OpenVectors().ok());
  EXPECT_FALSE(Call(native::VIndexCreateRequest{"l2i", 2, native::VectorKind::kF32,
                                                native::IndexBackend::kFlat})
                   .error);
  EXPECT_FALSE(Call(native::VIndexCreateRequest{"tq", 2, native::VectorKind::kPq,
                                                native::IndexBackend::kDisk})
                   .error);
  Response dup = Call(native::VIndexCreateRequest{"tq", 2});
  ASSERT_TRUE(dup.error);
  EXPECT_EQ(dup.error->code, NativeErrorCode::kInvalidRequest);
  EXPECT_EQ(dup.error->message, "index 'tq' already exists");
  Response bad_name = Call(native::VIndexCreateRequest{"a::b", 2});
  ASSERT_TRUE(bad_name.error);
  EXPECT_EQ(bad_name.error->message, "bad index name 'a::b': must not contain '::'");

  const float a[2] = {1, 0};
  const float b[2] = {0, 1};
  const float c[2] = {1, 1};
  EXPECT_FALSE(Call(native::VSetRequest{"l2i", 1, native::FloatView::Of(a)}).error);
  EXPECT_FALSE(Call(native::VSetRequest{"l2i", 2, native::FloatView::Of(b)}).error);
  EXPECT_FALSE(Call(native::VSetRequest{"l2i", 3, native::FloatView::Of(c)}).error);
  // NO_REPLY: no frame on success.
  Feed(Req(native::VSetRequest{"l2i", 4, native::FloatView::Of(c)}, native::kFlagNoReply));
  EXPECT_TRUE(output_.empty());

  Response got = Call(native::VGetRequest{"l2i", 2});
  ASSERT_FALSE(got.error);
  EXPECT_EQ(std::get<native::VectorReply>(got.body).vec, (std::vector<float>{0, 1}));
  Response missing = Call(native::VGetRequest{"l2i", 99});
  ASSERT_TRUE(missing.error);
  EXPECT_EQ(missing.error->code, NativeErrorCode::kNotFound);

  Response found = Call(native::VSearchRequest{"l2i", 2, native::FloatView::Of(a)});
  ASSERT_FALSE(found.error);
  const auto& hits = std::get<native::SearchReply>(found.body).hits;
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, 1u);
  EXPECT_FLOAT_EQ(hits[0].score, 1.0f);  // cosine similarity
  EXPECT_FLOAT_EQ(hits[1].score, 0.70710677f);
  Response with_l = Call(native::VSearchRequest{"l2i", 10, native::FloatView::Of(a), 64});
  ASSERT_FALSE(with_l.error);
  EXPECT_EQ(std::get<native::SearchReply>(with_l.body).hits.size(), 4u);

  EXPECT_TRUE(std::get<native::BoolReply>(Call(native::VDelRequest{"l2i", 4}).body).value);
  EXPECT_FALSE(std::get<native::BoolReply>(Call(native::VDelRequest{"l2i", 4}).body).value);

  Response list = Call(native::VIndexListRequest{});
  ASSERT_FALSE(list.error);
  const auto& indexes = std::get<native::IndexListReply>(list.body).indexes;
  ASSERT_EQ(indexes.size(), 2u);
  EXPECT_EQ(indexes[0], (native::IndexInfo{"l2i", 2, native::VectorKind::kF32,
                                           native::IndexBackend::kFlat, 3}));
  EXPECT_EQ(indexes[1],
            (native::IndexInfo{"tq", 2, native::VectorKind::kPq, native::IndexBackend::kDisk, 0}));

  // Errors: wrong dimension (InvalidRequest), unknown index (NotFound), k = 0. A handler's
  // Status carries its message without the RESP prefix; text errors keep theirs.
  const float three[3] = {1, 2, 3};
  Response wrong_dim = Call(native::VSetRequest{"l2i", 5, native::FloatView::Of(three)});
  ASSERT_TRUE(wrong_dim.error);
  EXPECT_EQ(wrong_dim.error->code, NativeErrorCode::kInvalidRequest);
  EXPECT_EQ(wrong_dim.error->message, "wrong vector dimension: index 'l2i' has dim 2, got 3");
  for (const RequestBody& body :
       std::vector<RequestBody>{native::VIndexDropRequest{"nope"},
                                native::VSetRequest{"nope", 1, native::FloatView::Of(a)},
                                native::VGetRequest{"nope", 1}, native::VDelRequest{"nope", 1},
                                native::VSearchRequest{"nope", 1, native::FloatView::Of(a)}}) {
    Response r = Call(body);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, NativeErrorCode::kNotFound);
    EXPECT_EQ(r.error->message, "unknown index 'nope'");
  }
  Response k0 = Call(native::VSearchRequest{"l2i", 0, native::FloatView::Of(a)});
  ASSERT_TRUE(k0.error);
  EXPECT_EQ(k0.error->message, "ERR k must be between 1 and 10000");

  EXPECT_FALSE(Call(native::VIndexDropRequest{"tq"}).error);
  EXPECT_EQ(std::get<native::IndexListReply>(Call(native::VIndexListRequest{}).body).indexes.size(),
            1u);
}

TEST_F(NativeSessionTest, YieldsOnLargeOutput) {
  ASSERT_FALSE(Call(native::SetRequest{"big", std::string(40000, 'x')}).error);
  std::string wire;
  for (int i = 0; i < 4; ++i) wire += Req(native::GetRequest{"big"}, 0, i);
  EXPECT_EQ(Feed(wire), NativeSession::Outcome::kYield);
  EXPECT_FALSE(input_.empty());
  EXPECT_EQ(Responses({{native::Opcode::kGet, 0}, {native::Opcode::kGet, 0}}).size(), 2u);
  EXPECT_EQ(Feed(""), NativeSession::Outcome::kYield);
  EXPECT_TRUE(input_.empty());
}

TEST_F(NativeSessionTest, SharesTheGateCounters) {
  const uint64_t before = engine_->stats().commands.load();
  Call(native::PingRequest{});
  Call(native::GetRequest{"missing"});
  EXPECT_EQ(engine_->stats().commands.load(), before + 2);
  EXPECT_EQ(engine_->stats().keyspace_misses.load(), 1u);
}

}  // namespace
}  // namespace skeg::server
