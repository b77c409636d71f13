#include "index/flat/flat.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/check.h"

namespace skeg::index {
namespace {

// Rows scored per kernel call: large enough to amortise the call, small enough that the
// distances stay in L1.
constexpr size_t kBlockRows = 256;

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

template <typename T>
size_t Bytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

}  // namespace

struct FlatIndex::Scratch {
  QueryContext ctx;
  std::vector<float> qn;  // the query (normalised for cosine)
  std::vector<float> dist;
  std::vector<Candidate> heap;
  std::vector<uint64_t> cand_ids;
  std::vector<std::pair<float, uint64_t>> best;
  std::vector<float> vec;
  FetchedRecord rec;
  std::vector<PayloadToken> tokens;
  std::vector<uint8_t> lut_u8;  // fast scan: the quantized LUT
  float lut_bias = 0;
  float lut_delta = 0;
  std::vector<uint32_t> sums;  // fast scan: u8 LUT sums of one block range

  size_t MemoryUsage() const {
    return ctx.MemoryUsage() + Bytes(qn) + Bytes(dist) + Bytes(heap) + Bytes(cand_ids) +
           Bytes(best) + Bytes(vec) + rec.bytes.capacity() + Bytes(tokens) + Bytes(lut_u8) +
           Bytes(sums);
  }
};

FlatIndex::FlatIndex(size_t dim, Metric metric, std::unique_ptr<Quantizer> quantizer,
                     size_t rerank_multiplier)
    : dim_(dim),
      metric_(metric),
      rerank_multiplier_(std::max<size_t>(1, rerank_multiplier)),
      quantizer_(std::move(quantizer)) {
  SKEG_CHECK(dim_ >= 1);
  if (quantizer_ != nullptr) {
    SKEG_CHECK(quantizer_->dim() == dim_ && quantizer_->metric() == metric_);
    exact_ = !quantizer_->is_trained();
    code_size_ = quantizer_->code_size();
    const QuantKind kind = quantizer_->kind();
    if (kind == QuantKind::kTq1 || kind == QuantKind::kTq2 || kind == QuantKind::kTq4) {
      // docs/quantizers.md "Code layouts": packed nibbles, then the f32 norm.
      fast_scan_ = true;
      fs_m_ = (code_size_ - sizeof(float)) * 2;
      encode_buf_.resize(code_size_);
    }
  }
  map_.assign(16, kEmpty);
}

FlatIndex::~FlatIndex() = default;

// ---- id -> slot table -------------------------------------------------------------------

size_t FlatIndex::MapHome(uint64_t id) const { return Mix(id) & (map_.size() - 1); }

uint32_t FlatIndex::FindSlot(uint64_t id) const {
  const size_t mask = map_.size() - 1;
  for (size_t i = MapHome(id);; i = (i + 1) & mask) {
    const uint32_t slot = map_[i];
    if (slot == kEmpty) return kEmpty;
    if (ids_[slot] == id) return slot;
  }
}

void FlatIndex::MapInsert(uint32_t slot) {
  if ((live_ + 1) * 4 > map_.size() * 3) MapGrow();
  const size_t mask = map_.size() - 1;
  size_t i = MapHome(ids_[slot]);
  while (map_[i] != kEmpty) i = (i + 1) & mask;
  map_[i] = slot;
}

void FlatIndex::MapGrow() {
  std::vector<uint32_t> old = std::move(map_);
  map_.assign(old.size() * 2, kEmpty);
  const size_t mask = map_.size() - 1;
  for (uint32_t slot : old) {
    if (slot == kEmpty) continue;
    size_t i = MapHome(ids_[slot]);
    while (map_[i] != kEmpty) i = (i + 1) & mask;
    map_[i] = slot;
  }
}

void FlatIndex::MapErase(uint64_t id) {
  const size_t mask = map_.size() - 1;
  size_t i = MapHome(id);
  while (map_[i] != kEmpty && ids_[map_[i]] != id) i = (i + 1) & mask;
  if (map_[i] == kEmpty) return;
  // Backward-shift deletion (Knuth 6.4, algorithm R): move later entries of the probe run
  // into the hole when their home position does not lie cyclically in (hole, j].
  size_t hole = i;
  for (size_t j = (i + 1) & mask; map_[j] != kEmpty; j = (j + 1) & mask) {
    const size_t home = MapHome(ids_[map_[j]]);
    const bool between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!between) {
      map_[hole] = map_[j];
      hole = j;
    }
  }
  map_[hole] = kEmpty;
}

// ---- writes ------------------------------------------------------------------------------

uint32_t FlatIndex::AllocSlot() {
  if (!free_.empty()) {
    const uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  const auto slot = static_cast<uint32_t>(ids_.size());
  SKEG_CHECK(slot != kEmpty);
  ids_.push_back(0);
  meta_.emplace_back();
  if (exact_) {
    vecs_.resize(vecs_.size() + dim_);
    if (metric_ == Metric::kCosine) inv_norm_.push_back(0);
  } else if (fast_scan_) {
    fs_norms_.push_back(0);
    const size_t blocks = (size_t{slot} + kFastScanBlock) / kFastScanBlock;
    if (fs_blocks_.size() < blocks * fs_m_ * 16) fs_blocks_.resize(blocks * fs_m_ * 16, 0);
  } else {
    codes_.resize(codes_.size() + code_size_);
  }
  return slot;
}

void FlatIndex::WriteRow(uint32_t slot, const float* vec) {
  if (exact_) {
    std::memcpy(vecs_.data() + size_t{slot} * dim_, vec, dim_ * sizeof(float));
    if (metric_ == Metric::kCosine) {
      const float norm = NormF32(vec, dim_);
      inv_norm_[slot] = norm > 0 ? 1.0f / norm : 0.0f;
    }
  } else if (fast_scan_) {
    quantizer_->Encode(vec, encode_buf_.data());
    PutFastScanCode(slot, encode_buf_.data());
  } else {
    quantizer_->Encode(vec, codes_.data() + size_t{slot} * code_size_);
  }
}

// Writes one code into its place in the PackFastScan4 layout (distance.h): sub-code k of code
// j of block b sits in the 32-byte group k / 2 of the block, byte (k % 2) * 16 + j % 16, low
// nibble for j < 16, high nibble otherwise.
void FlatIndex::PutFastScanCode(uint32_t slot, const uint8_t* code) {
  uint8_t* block = fs_blocks_.data() + size_t{slot} / kFastScanBlock * fs_m_ * 16;
  const size_t j = slot % kFastScanBlock;
  const int shift = j < 16 ? 0 : 4;
  const auto keep = static_cast<uint8_t>(j < 16 ? 0xF0 : 0x0F);
  for (size_t k = 0; k < fs_m_; ++k) {
    const uint8_t sub = (code[k / 2] >> ((k % 2) * 4)) & 0x0F;
    uint8_t& byte = block[(k / 2) * 32 + (k % 2) * 16 + j % 16];
    byte = static_cast<uint8_t>((byte & keep) | (sub << shift));
  }
  std::memcpy(&fs_norms_[slot], code + fs_m_ / 2, sizeof(float));
}

void FlatIndex::FastScanBlock(Scratch* s, size_t base, size_t n, float* dist) const {
  const size_t nblocks = (n + kFastScanBlock - 1) / kFastScanBlock;
  uint32_t* sums = s->sums.data();
  Kernels().fastscan4_u8_batch(s->lut_u8.data(),
                               fs_blocks_.data() + base / kFastScanBlock * fs_m_ * 16, nblocks,
                               fs_m_, sums);
  // TurboQuant's estimate (docs/quantizers.md): <q, x> ~= |x| <Pi q, y>, with <Pi q, y> the LUT
  // sum, here bias + delta * (u8 sum).
  const float qq = s->ctx.query_norm_sqr;
  for (size_t i = 0; i < n; ++i) {
    const float ip_unit = s->lut_bias + s->lut_delta * static_cast<float>(sums[i]);
    const float norm = fs_norms_[base + i];
    switch (metric_) {
      case Metric::kL2:
        dist[i] = qq + norm * norm - 2 * norm * ip_unit;
        break;
      case Metric::kInnerProduct:
        dist[i] = -norm * ip_unit;
        break;
      case Metric::kCosine:
        dist[i] = 1.0f - ip_unit;
        break;
    }
  }
}

void FlatIndex::SetTokens(uint32_t slot, std::string_view payload) {
  SlotMeta& m = meta_[slot];
  dead_tokens_ += m.tok_count;
  m.tok_count = 0;
  m.tok_begin = 0;
  if (dead_tokens_ > 4096 && dead_tokens_ * 2 > tokens_.size()) CompactTokens();
  const size_t begin = tokens_.size();
  ParsePayload(payload, &tokens_);
  if (tokens_.size() - begin > kMaxTokensPerVector) tokens_.resize(begin + kMaxTokensPerVector);
  SKEG_CHECK(tokens_.size() <= UINT32_MAX);
  m.tok_begin = static_cast<uint32_t>(begin);
  m.tok_count = static_cast<uint16_t>(tokens_.size() - begin);
}

void FlatIndex::CompactTokens() {
  std::vector<PayloadToken> fresh;
  fresh.reserve(tokens_.size() - dead_tokens_);
  for (SlotMeta& m : meta_) {
    if ((m.flags & kLive) == 0 || m.tok_count == 0) continue;
    const size_t begin = fresh.size();
    fresh.insert(fresh.end(), tokens_.begin() + m.tok_begin,
                 tokens_.begin() + m.tok_begin + m.tok_count);
    m.tok_begin = static_cast<uint32_t>(begin);
  }
  tokens_ = std::move(fresh);
  dead_tokens_ = 0;
}

void FlatIndex::Upsert(uint64_t id, const float* vec, std::string_view payload,
                       std::optional<uint64_t> attr) {
  std::unique_lock lock(mu_);
  uint32_t slot = FindSlot(id);
  if (slot == kEmpty) {
    slot = AllocSlot();
    ids_[slot] = id;
    MapInsert(slot);
    ++live_;
  } else {
    payload_bytes_ -= meta_[slot].payload_bytes;
  }
  WriteRow(slot, vec);
  SetTokens(slot, payload);
  SlotMeta& m = meta_[slot];
  m.flags = kLive | (attr ? kHasAttr : 0);
  m.attr = attr.value_or(0);
  m.payload_bytes = static_cast<uint32_t>(std::min<size_t>(payload.size(), UINT32_MAX));
  payload_bytes_ += m.payload_bytes;
}

bool FlatIndex::Remove(uint64_t id) {
  std::unique_lock lock(mu_);
  const uint32_t slot = FindSlot(id);
  if (slot == kEmpty) return false;
  MapErase(id);
  SlotMeta& m = meta_[slot];
  dead_tokens_ += m.tok_count;
  payload_bytes_ -= m.payload_bytes;
  m = SlotMeta{};
  free_.push_back(slot);
  --live_;
  return true;
}

bool FlatIndex::Contains(uint64_t id) const {
  std::shared_lock lock(mu_);
  return FindSlot(id) != kEmpty;
}

std::vector<uint64_t> FlatIndex::LiveIds() const {
  std::shared_lock lock(mu_);
  std::vector<uint64_t> out;
  out.reserve(live_);
  for (size_t slot = 0; slot < ids_.size(); ++slot) {
    if ((meta_[slot].flags & kLive) != 0) out.push_back(ids_[slot]);
  }
  return out;
}

size_t FlatIndex::size() const {
  std::shared_lock lock(mu_);
  return live_;
}

size_t FlatIndex::deleted() const {
  std::shared_lock lock(mu_);
  return free_.size();
}

bool FlatIndex::exact_mode() const {
  std::shared_lock lock(mu_);
  return exact_;
}

bool FlatIndex::awaiting_training() const {
  std::shared_lock lock(mu_);
  return exact_ && quantizer_ != nullptr;
}

uint64_t FlatIndex::payload_bytes() const {
  std::shared_lock lock(mu_);
  return payload_bytes_;
}

std::vector<float> FlatIndex::TrainingSample(size_t max_rows) const {
  std::shared_lock lock(mu_);
  std::vector<float> out;
  if (!exact_) return out;
  out.reserve(std::min(max_rows, live_) * dim_);
  for (size_t slot = 0; slot < ids_.size() && out.size() < max_rows * dim_; ++slot) {
    if ((meta_[slot].flags & kLive) == 0) continue;
    const float* row = vecs_.data() + slot * dim_;
    out.insert(out.end(), row, row + dim_);
  }
  return out;
}

Status FlatIndex::AdoptTrainedQuantizer(std::unique_ptr<Quantizer> trained) {
  std::unique_lock lock(mu_);
  if (!exact_ || quantizer_ == nullptr) {
    return Status::InvalidArgument("index is not awaiting a trained quantizer");
  }
  if (trained == nullptr || !trained->is_trained() || trained->kind() != quantizer_->kind() ||
      trained->dim() != dim_ || trained->metric() != metric_) {
    return Status::InvalidArgument("quantizer does not match the index");
  }
  code_size_ = trained->code_size();
  std::vector<uint8_t> codes(ids_.size() * code_size_, 0);
  for (size_t slot = 0; slot < ids_.size(); ++slot) {
    if ((meta_[slot].flags & kLive) == 0) continue;
    trained->Encode(vecs_.data() + slot * dim_, codes.data() + slot * code_size_);
  }
  codes_ = std::move(codes);
  std::vector<float>().swap(vecs_);
  std::vector<float>().swap(inv_norm_);
  quantizer_ = std::move(trained);
  exact_ = false;
  return Status::Ok();
}

std::string FlatIndex::SerializedQuantizer() const {
  std::shared_lock lock(mu_);
  return quantizer_ == nullptr ? std::string() : quantizer_->Serialize();
}

// ---- search ------------------------------------------------------------------------------

std::unique_ptr<FlatIndex::Scratch> FlatIndex::AcquireScratch() const {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      std::unique_ptr<Scratch> s = std::move(pool_.back());
      pool_.pop_back();
      return s;
    }
  }
  auto s = std::make_unique<Scratch>();
  s->qn.resize(dim_);
  s->vec.resize(dim_);
  s->dist.resize(kBlockRows);
  return s;
}

void FlatIndex::ReleaseScratch(std::unique_ptr<Scratch> s) const {
  std::lock_guard lock(pool_mu_);
  pool_.push_back(std::move(s));
}

bool FlatIndex::PassesMeta(const SlotMeta& m, const FlatSearchRequest& r) const {
  if (r.has_range) {
    if ((m.flags & kHasAttr) == 0 || m.attr < r.range_lo || m.attr > r.range_hi) return false;
  }
  if (r.filter != nullptr) {
    return r.filter->Matches(
        std::span<const PayloadToken>(tokens_.data() + m.tok_begin, m.tok_count));
  }
  return true;
}

bool FlatIndex::PassesRecord(const FetchedRecord& rec, const FlatSearchRequest& r,
                             Scratch* s) const {
  if (r.has_range && (!rec.attr || *rec.attr < r.range_lo || *rec.attr > r.range_hi)) {
    return false;
  }
  if (r.filter == nullptr) return true;
  s->tokens.clear();
  ParsePayload(rec.payload, &s->tokens);
  if (s->tokens.size() > kMaxTokensPerVector) s->tokens.resize(kMaxTokensPerVector);
  return r.filter->Matches(s->tokens);
}

float FlatIndex::ExactDistance(const float* qn, const float* x) const {
  return ExactMetricDistance(metric_, qn, x, dim_);
}

Status FlatIndex::Search(const FlatSearchRequest& r, const VectorSource* source,
                         std::vector<SearchHit>* hits) const {
  hits->clear();
  if (r.k == 0) return Status::Ok();
  std::unique_ptr<Scratch> s = AcquireScratch();
  std::memcpy(s->qn.data(), r.query, dim_ * sizeof(float));
  if (metric_ == Metric::kCosine) NormalizeF32(s->qn.data(), dim_);
  const DistanceKernels& kern = Kernels();
  const auto worse = [](const Candidate& a, const Candidate& b) { return a.dist < b.dist; };

  std::shared_lock lock(mu_);
  const bool exact = exact_;
  if (!exact && source == nullptr) {
    ReleaseScratch(std::move(s));
    return Status::InvalidArgument("a vector source is required to re-rank codes");
  }
  const size_t cap = exact ? r.k : r.k * rerank_multiplier_;
  s->heap.clear();
  if (!exact) {
    if (s->ctx.owner != quantizer_.get()) s->ctx = quantizer_->NewQueryContext();
    quantizer_->PrepareQuery(r.query, &s->ctx);
    if (fast_scan_) {
      s->lut_u8.resize(fs_m_ * 16);
      s->sums.resize(kBlockRows);
      QuantizeLut(s->ctx.lut.data(), fs_m_, s->lut_u8.data(), &s->lut_bias, &s->lut_delta);
    }
  }
  const size_t nslots = ids_.size();
  float* dist = s->dist.data();
  for (size_t base = 0; base < nslots; base += kBlockRows) {
    const size_t n = std::min(kBlockRows, nslots - base);
    if (exact) {
      const float* rows = vecs_.data() + base * dim_;
      if (metric_ == Metric::kL2) {
        kern.l2_sqr_f32_batch(s->qn.data(), rows, n, dim_, dist);
      } else {
        kern.dot_f32_batch(s->qn.data(), rows, n, dim_, dist);
        if (metric_ == Metric::kCosine) {
          for (size_t i = 0; i < n; ++i) dist[i] = -(dist[i] * inv_norm_[base + i]);
        } else {
          for (size_t i = 0; i < n; ++i) dist[i] = -dist[i];
        }
      }
    } else if (fast_scan_) {
      FastScanBlock(s.get(), base, n, dist);
    } else {
      quantizer_->ScanCodes(s->ctx, codes_.data() + base * code_size_, n, dist);
    }
    for (size_t i = 0; i < n; ++i) {
      const SlotMeta& m = meta_[base + i];
      if ((m.flags & kLive) == 0) continue;
      // Cheap bound check first: the filter only runs for rows that would enter the heap.
      if (s->heap.size() == cap && !(dist[i] < s->heap.front().dist)) continue;
      if (!PassesMeta(m, r)) continue;
      if (s->heap.size() == cap) {
        std::pop_heap(s->heap.begin(), s->heap.end(), worse);
        s->heap.pop_back();
      }
      s->heap.push_back({dist[i], static_cast<uint32_t>(base + i)});
      std::push_heap(s->heap.begin(), s->heap.end(), worse);
    }
  }

  if (exact) {
    std::sort(s->heap.begin(), s->heap.end(), [this](const Candidate& a, const Candidate& b) {
      return a.dist != b.dist ? a.dist < b.dist : ids_[a.slot] < ids_[b.slot];
    });
    for (const Candidate& c : s->heap) hits->push_back({ids_[c.slot], ScoreOf(c.dist)});
    lock.unlock();
    ReleaseScratch(std::move(s));
    return Status::Ok();
  }

  // Codes mode: remember the candidates' ids, release the lock, re-rank from the source.
  s->cand_ids.clear();
  for (const Candidate& c : s->heap) s->cand_ids.push_back(ids_[c.slot]);
  lock.unlock();

  s->best.clear();
  const auto pair_worse = [](const std::pair<float, uint64_t>& a,
                             const std::pair<float, uint64_t>& b) { return a < b; };
  Status status;
  for (uint64_t id : s->cand_ids) {
    Result<bool> found = source->Fetch(id, s->vec.data(), &s->rec);
    if (!found.ok()) {
      status = found.status();
      break;
    }
    if (!*found) continue;  // deleted since the scan
    // The record may have been replaced since the scan: check it again.
    if ((r.filter != nullptr || r.has_range) && !PassesRecord(s->rec, r, s.get())) continue;
    const std::pair<float, uint64_t> cand{ExactDistance(s->qn.data(), s->vec.data()), id};
    if (s->best.size() == r.k) {
      if (!pair_worse(cand, s->best.front())) continue;
      std::pop_heap(s->best.begin(), s->best.end(), pair_worse);
      s->best.pop_back();
    }
    s->best.push_back(cand);
    std::push_heap(s->best.begin(), s->best.end(), pair_worse);
  }
  if (status.ok()) {
    std::sort(s->best.begin(), s->best.end());
    for (const auto& [d, id] : s->best) hits->push_back({id, ScoreOf(d)});
  }
  ReleaseScratch(std::move(s));
  return status;
}

size_t FlatIndex::ReleaseIfEmpty() {
  const size_t before = MemoryUsage();
  {
    std::unique_lock lock(mu_);
    if (live_ != 0) return 0;
    // swap() with empty vectors: clear() would keep the capacity.
    std::vector<float>().swap(vecs_);
    std::vector<float>().swap(inv_norm_);
    std::vector<uint8_t>().swap(codes_);
    std::vector<uint64_t>().swap(ids_);
    std::vector<SlotMeta>().swap(meta_);
    std::vector<uint32_t>().swap(free_);
    std::vector<PayloadToken>().swap(tokens_);
    std::vector<uint8_t>().swap(fs_blocks_);
    std::vector<float>().swap(fs_norms_);
    std::vector<uint32_t>(16, kEmpty).swap(map_);
    dead_tokens_ = 0;
    payload_bytes_ = 0;
  }
  {
    std::lock_guard pool_lock(pool_mu_);
    pool_.clear();
  }
  const size_t after = MemoryUsage();
  return before > after ? before - after : 0;
}

size_t FlatIndex::MemoryUsage() const {
  std::shared_lock lock(mu_);
  size_t bytes = sizeof(*this) + Bytes(vecs_) + Bytes(inv_norm_) + Bytes(codes_) + Bytes(ids_) +
                 Bytes(meta_) + Bytes(free_) + Bytes(map_) + Bytes(tokens_) + Bytes(fs_blocks_) +
                 Bytes(fs_norms_) + Bytes(encode_buf_);
  if (quantizer_ != nullptr) bytes += quantizer_->MemoryUsage();
  std::lock_guard pool_lock(pool_mu_);
  for (const auto& s : pool_) bytes += sizeof(Scratch) + s->MemoryUsage();
  return bytes;
}

}  // namespace skeg::index
