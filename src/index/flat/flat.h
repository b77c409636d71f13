// FlatIndex: the exact-by-construction ("flat") vector index. Every vector's representation
// lives in RAM and a search scans all of them with the SIMD kernels of index/distance, then
// re-ranks the best candidates with exact f32 arithmetic.
//
// Two modes:
//   exact  the raw f32 vectors are the rows (kind f32 always; quantized kinds whose quantizer
//          still needs training, until AdoptTrainedQuantizer()). The scan itself is exact.
//   codes  the rows are the quantizer's codes (code_size() bytes each); the scan ranks by the
//          asymmetric code distance, keeps the best k x rerank_multiplier candidates, and
//          re-ranks them with the f32 vectors read through a VectorSource (the collection reads
//          the vector records from the value log: one Store::Get per candidate).
// Scores are exact in both modes: cosine similarity (descending), squared L2 (ascending) or
// inner product (descending). Cosine is computed as <q/|q|, x> / |x| with |x| from NormF32, in
// both modes, so a vector's score does not depend on the kind.
//
// RAM per vector (MemoryUsage()): the row (4 * dim bytes in exact mode, code_size() in codes
// mode, as fast-scan blocks + norm for the TurboQuant kinds; plus 4 bytes of 1/|x| for cosine in
// exact mode), 8 bytes slot -> id, 24 bytes of slot metadata (attr, payload size, token range,
// flags), about 5-8 bytes of the id -> slot hash table (4-byte entries, load factor <= 0.75), and
// 16 bytes per payload attribute (filter.h). Vector capacity grows geometrically (std::vector), so
// up to 2x of the row bytes may be slack right after a growth step.
//
// Deletes free their slot (reused by the next insert), so the rows never hold tombstones
// longer than until the next insert; deleted() counts the free slots.
//
// Thread-safety: every method is thread-safe. Upsert/Remove/AdoptTrainedQuantizer take the
// index's lock exclusively (short: RAM only); Search holds it shared for the scan and releases
// it before the re-rank reads, so writers are never blocked by disk reads. Per-query scratch
// comes from a pool owned by the index (no allocation once warm, except inside the
// VectorSource's reads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "index/distance/distance.h"
#include "index/filter/filter.h"
#include "index/quant/quantizer.h"

namespace skeg::index {

// A vector's current record, as the re-rank reads it.
struct FetchedRecord {
  std::string bytes;             // storage backing `payload`; reused between fetches
  std::string_view payload;      // empty when the vector has none
  std::optional<uint64_t> attr;  // ATTR, when set
};

// Where the re-rank reads exact vectors from. Implementations must be thread-safe.
class VectorSource {
 public:
  virtual ~VectorSource() = default;
  // Reads the current record of `id`: dim floats into `vec`, payload and attr into *record.
  // Returns false when `id` no longer exists (deleted after the scan). Errors: storage errors.
  virtual Result<bool> Fetch(uint64_t id, float* vec, FetchedRecord* record) const = 0;
};

// One search result. `score` is in the metric's user units (see the file comment).
struct SearchHit {
  uint64_t id = 0;
  float score = 0;
};

struct FlatSearchRequest {
  const float* query = nullptr;    // dim floats, finite
  size_t k = 10;                   // >= 1
  const Filter* filter = nullptr;  // null: no payload filter
  // ATTR range [range_lo, range_hi] when has_range; vectors without ATTR never match it.
  bool has_range = false;
  uint64_t range_lo = 0;
  uint64_t range_hi = 0;
};

class FlatIndex {
 public:
  // `quantizer` null: kind f32. Otherwise the index's quantizer (ownership passes): a trained
  // one starts in codes mode, an untrained one in exact mode. `rerank_multiplier` >= 1: codes
  // mode re-ranks the best k * rerank_multiplier candidates.
  // REQUIRES: dim >= 1; quantizer (if any) has this dim and metric.
  FlatIndex(size_t dim, Metric metric, std::unique_ptr<Quantizer> quantizer,
            size_t rerank_multiplier);
  ~FlatIndex();
  FlatIndex(const FlatIndex&) = delete;
  FlatIndex& operator=(const FlatIndex&) = delete;

  size_t dim() const { return dim_; }
  Metric metric() const { return metric_; }
  size_t rerank_multiplier() const { return rerank_multiplier_; }

  // Inserts `id` or replaces its vector, payload attributes and attr. `payload` is parsed into
  // PayloadTokens (filter.h; at most kMaxTokensPerVector kept). REQUIRES: vec has dim finite
  // floats.
  void Upsert(uint64_t id, const float* vec, std::string_view payload,
              std::optional<uint64_t> attr);
  // Removes `id`; false when absent.
  bool Remove(uint64_t id);
  // When no vector is live, frees the storage of every slot (rows, codes, ids, metadata, the
  // id table, payload tokens, the search scratch pool): an index emptied by removals gives its
  // memory back instead of keeping the capacity for reuse. No-op otherwise. Returns the bytes
  // released (MemoryUsage() before minus after).
  size_t ReleaseIfEmpty();
  bool Contains(uint64_t id) const;

  // The ids of the live vectors, in slot order.
  std::vector<uint64_t> LiveIds() const;

  // Live vectors and free (deleted, not yet reused) slots.
  size_t size() const;
  size_t deleted() const;
  // True while the rows are f32 vectors (kind f32, or a quantizer awaiting training).
  bool exact_mode() const;
  // True when the quantizer needs training (exact mode with a quantizer).
  bool awaiting_training() const;
  // Sum of the payload bytes of the live vectors.
  uint64_t payload_bytes() const;

  // Copies up to max_rows raw vectors (slot order, live only) for training, row-major.
  std::vector<float> TrainingSample(size_t max_rows) const;
  // Switches to codes mode with `trained` (same kind, dim, metric as the current quantizer, and
  // trained): encodes every live vector and frees the f32 rows. Errors: kInvalidArgument when
  // the quantizer does not fit or the index is not awaiting training.
  [[nodiscard]] Status AdoptTrainedQuantizer(std::unique_ptr<Quantizer> trained);
  // The current quantizer's Serialize() bytes, or empty (kind f32).
  std::string SerializedQuantizer() const;

  // The top k live vectors (best first) that pass the filter and range, with exact scores.
  // `source` is required in codes mode (kInvalidArgument otherwise). *hits is cleared first.
  // Errors: those of the source.
  [[nodiscard]] Status Search(const FlatSearchRequest& request, const VectorSource* source,
                              std::vector<SearchHit>* hits) const;

  // Bytes of RAM held: rows, maps, metadata, tokens, quantizer parameters, scratch pool.
  size_t MemoryUsage() const;

  // Attributes kept per vector for filtering; further ones are ignored.
  static constexpr size_t kMaxTokensPerVector = 65535;

 private:
  struct SlotMeta {
    uint64_t attr = 0;
    uint32_t tok_begin = 0;
    uint32_t payload_bytes = 0;
    uint16_t tok_count = 0;
    uint8_t flags = 0;  // kLive | kHasAttr
  };
  static constexpr uint8_t kLive = 1;
  static constexpr uint8_t kHasAttr = 2;
  static constexpr uint32_t kEmpty = UINT32_MAX;

  struct Scratch;
  struct Candidate {
    float dist;  // smaller is better
    uint32_t slot;
  };

  // Open-addressing id -> slot table (linear probing, backward-shift deletion). Entries are
  // slots; the id is ids_[slot].
  uint32_t FindSlot(uint64_t id) const;
  void MapInsert(uint32_t slot);
  void MapErase(uint64_t id);
  void MapGrow();
  size_t MapHome(uint64_t id) const;

  uint32_t AllocSlot();
  void WriteRow(uint32_t slot, const float* vec);
  void SetTokens(uint32_t slot, std::string_view payload);
  void CompactTokens();
  bool PassesMeta(const SlotMeta& m, const FlatSearchRequest& r) const;
  bool PassesRecord(const FetchedRecord& rec, const FlatSearchRequest& r, Scratch* s) const;
  float ExactDistance(const float* qn, const float* x) const;
  void PutFastScanCode(uint32_t slot, const uint8_t* code);
  // Fast-scan distances of rows [base, base + n) into dist (n <= 256, base % 32 == 0).
  void FastScanBlock(Scratch* s, size_t base, size_t n, float* dist) const;
  float ScoreOf(float dist) const { return metric_ == Metric::kL2 ? dist : -dist; }

  std::unique_ptr<Scratch> AcquireScratch() const;
  void ReleaseScratch(std::unique_ptr<Scratch> s) const;

  const size_t dim_;
  const Metric metric_;
  const size_t rerank_multiplier_;

  mutable std::shared_mutex mu_;
  std::unique_ptr<Quantizer> quantizer_;  // null: kind f32
  // TurboQuant kinds (tq1/tq2/tq4) are scanned in the 4-bit fast-scan layout: their codes are
  // m nibbles (one LUT row each) then the f32 norm, so the rows live as PackFastScan4 blocks of
  // 32 codes (fs_blocks_) plus the norms (fs_norms_), and the scan runs fastscan4_u8_batch with
  // a u8-quantized LUT (QuantizeLut) instead of the float LUT gather (about 5x faster). codes_
  // stays empty for these kinds.
  bool fast_scan_ = false;
  size_t fs_m_ = 0;  // nibbles per code (even)
  std::vector<uint8_t> fs_blocks_;
  std::vector<float> fs_norms_;
  std::vector<uint8_t> encode_buf_;  // one code, for Upsert under the exclusive lock
  bool exact_ = true;
  std::vector<float> vecs_;      // exact mode: slot * dim floats
  std::vector<float> inv_norm_;  // exact mode, cosine: 1 / |x| per slot (0 for x = 0)
  std::vector<uint8_t> codes_;   // codes mode: slot * code_size bytes
  size_t code_size_ = 0;
  std::vector<uint64_t> ids_;
  std::vector<SlotMeta> meta_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> map_;  // kEmpty or a slot
  size_t live_ = 0;
  uint64_t payload_bytes_ = 0;
  std::vector<PayloadToken> tokens_;
  size_t dead_tokens_ = 0;

  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Scratch>> pool_;
};

}  // namespace skeg::index
