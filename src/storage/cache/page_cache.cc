#include "storage/cache/page_cache.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "storage/cache/ghost_queue.h"

namespace skeg::storage {

namespace {

using cache_internal::GhostQueue;
using cache_internal::Key;
using cache_internal::KeyHasher;

constexpr size_t kCharge = PageCache::kPageSize + PageCache::kEntryOverheadBytes;
constexpr uint8_t kMaxFreq = 3;

// A shard's index of its pages: open addressing with linear probing and backward-shift
// deletion (no tombstones), power-of-two capacity: doubled past 3/4 full, halved below 1/8
// (the gap keeps a cache that hovers at a size from resizing back and forth). The table only
// grows when it passes 3/4, so a full shard's table is at least 3/8 full. A slot
// carries what a read hit needs (the page's data pointer and valid bytes) besides the key, so
// a hit costs one slot probe and the copy of the data, not a walk through a node-based map,
// the entry and the page object. 40 bytes per slot, at most 107 per page of a full shard (charged
// in kEntryOverheadBytes).
template <typename E>
class PageTable {
 public:
  struct Slot {
    uint64_t file = 0;
    uint64_t page = 0;
    const char* data = nullptr;
    E* entry = nullptr;  // null: empty slot
    uint32_t valid = 0;
    // S3-FIFO access count (0..kMaxFreq), kept here rather than in the entry so that a hit
    // touches the slot and the page only (in the slot's padding: no extra bytes).
    uint8_t freq = 0;
  };

  PageTable() : slots_(kMinSlots) {}

  size_t size() const { return size_; }
  size_t slot_bytes() const { return slots_.size() * sizeof(Slot); }

  Slot* Find(const Key& key) {
    for (size_t i = Home(key);; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.entry == nullptr) return nullptr;
      if (s.file == key.file && s.page == key.page) return &s;
    }
  }

  // Starts loading the slot where Find(key) starts probing (it may span two cache lines).
  void PrefetchHome(const Key& key) const {
    const Slot* s = &slots_[Home(key)];
    __builtin_prefetch(s);
    __builtin_prefetch(reinterpret_cast<const char*>(s) + sizeof(Slot) - 1);
  }

  // REQUIRES: `key` absent.
  Slot* Insert(const Key& key, E* entry) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Resize(slots_.size() * 2);
    size_t i = Home(key);
    while (slots_[i].entry != nullptr) i = (i + 1) & mask();
    slots_[i] = Slot{key.file, key.page, nullptr, entry, 0, 0};
    ++size_;
    return &slots_[i];
  }

  void Erase(const Key& key) {
    Slot* s = Find(key);
    if (s == nullptr) return;
    // Backward shift: move later members of the probe run into the hole.
    size_t hole = static_cast<size_t>(s - slots_.data());
    for (size_t i = (hole + 1) & mask();; i = (i + 1) & mask()) {
      Slot& t = slots_[i];
      if (t.entry == nullptr) break;
      const size_t home = Home(Key{t.file, t.page});
      // t may fill the hole when its home is not cyclically within (hole, i].
      if (((i - home) & mask()) >= ((i - hole) & mask())) {
        slots_[hole] = t;
        hole = i;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    if (slots_.size() > kMinSlots && size_ * 8 < slots_.size()) Resize(slots_.size() / 2);
  }

 private:
  static constexpr size_t kMinSlots = 64;
  size_t mask() const { return slots_.size() - 1; }
  size_t Home(const Key& key) const { return KeyHasher()(key) & mask(); }
  void Resize(size_t n) {
    std::vector<Slot> old(n);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.entry == nullptr) continue;
      size_t i = Home(Key{s.file, s.page});
      while (slots_[i].entry != nullptr) i = (i + 1) & mask();
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

std::atomic<uint64_t> g_next_file_id{1};

}  // namespace

class PageCache::Shard {
 public:
  explicit Shard(size_t capacity)
      : capacity_(capacity),
        small_capacity_(std::max<size_t>(capacity / 10, kCharge)),
        ghosts_(capacity / kCharge) {}

  std::shared_ptr<const Page> Lookup(const Key& key) {
    std::lock_guard lock(mu_);
    auto* slot = index_.Find(key);
    if (slot == nullptr) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    if (slot->freq < kMaxFreq) ++slot->freq;
    return slot->entry->page;
  }

  bool ReadIfCached(const Key& key, size_t offset, size_t n, char* dst) {
    std::lock_guard lock(mu_);
    auto* slot = index_.Find(key);
    if (slot == nullptr || slot->valid < offset + n) {
      ++misses_;
      return false;
    }
    ++hits_;
    if (slot->freq < kMaxFreq) ++slot->freq;
    std::memcpy(dst, slot->data + offset, n);
    return true;
  }

  void PrefetchSlot(const Key& key) {
    std::lock_guard lock(mu_);
    index_.PrefetchHome(key);
  }

  bool PrefetchBytes(const Key& key, size_t offset, size_t n) {
    std::lock_guard lock(mu_);
    const auto* slot = index_.Find(key);
    if (slot == nullptr || slot->valid < offset + n || n == 0) return false;
    constexpr uintptr_t kLine = 64;
    const uintptr_t first = reinterpret_cast<uintptr_t>(slot->data + offset) & ~(kLine - 1);
    const uintptr_t last = reinterpret_cast<uintptr_t>(slot->data + offset + n - 1);
    for (uintptr_t line = first; line <= last; line += kLine) {
      __builtin_prefetch(reinterpret_cast<const void*>(line));
    }
    return true;
  }

  std::shared_ptr<const Page> Insert(const Key& key, std::shared_ptr<const Page> page,
                                     uint32_t owner, Admit admit) {
    if (capacity_ < kCharge) return page;
    std::lock_guard lock(mu_);
    ++inserts_;
    if (auto* slot = index_.Find(key); slot != nullptr) {
      slot->data = page->data.get();
      slot->valid = page->valid;
      slot->entry->page = std::move(page);  // same charge: pages are fixed-size buffers
      return slot->entry->page;
    }
    auto* e = new Entry{key, std::move(page), false, owner};
    auto* slot = index_.Insert(key, e);
    slot->data = e->page->data.get();
    slot->valid = e->page->valid;
    Charge(owner, static_cast<int64_t>(kCharge));
    // A key evicted recently (a ghost) proved it is reused: straight into main; so does a page
    // the caller knows will be read back (Admit::kMain).
    bool to_main = admit == Admit::kMain;
    if (ghosts_.Contains(key)) to_main = true;
    if (to_main) {
      e->in_main = true;
      main_.push_back(e);
      main_bytes_ += kCharge;
    } else {
      small_.push_back(e);
      small_bytes_ += kCharge;
    }
    std::shared_ptr<const Page> out = e->page;
    while (small_bytes_ + main_bytes_ > capacity_) EvictOne();
    return out;
  }

  void EraseFile(uint64_t file, uint64_t from_page) {
    std::lock_guard lock(mu_);
    auto doomed = [&](const Entry* e) { return e->key.file == file && e->key.page >= from_page; };
    for (auto* q : {&small_, &main_}) {
      std::deque<Entry*> kept;
      for (Entry* e : *q) {
        if (doomed(e)) {
          (e->in_main ? main_bytes_ : small_bytes_) -= kCharge;
          Charge(e->owner, -static_cast<int64_t>(kCharge));
          index_.Erase(e->key);
          delete e;
        } else {
          kept.push_back(e);
        }
      }
      q->swap(kept);
    }
  }

  void AddStats(Stats* s) const {
    std::lock_guard lock(mu_);
    s->hits += hits_;
    s->misses += misses_;
    s->inserts += inserts_;
    s->evictions += evictions_;
    s->bytes += small_bytes_ + main_bytes_;
    s->pages += index_.size();
  }

  size_t MemoryUsage() const {
    std::lock_guard lock(mu_);
    return sizeof(*this) + small_bytes_ + main_bytes_ + ghosts_.MemoryUsage();
  }

  ~Shard() {
    for (Entry* e : small_) delete e;
    for (Entry* e : main_) delete e;
  }

 private:
  struct Entry {
    Key key;
    std::shared_ptr<const Page> page;
    bool in_main;
    uint32_t owner;
  };

 public:
  void SetOwnerShare(uint32_t owner, size_t bytes) {
    std::lock_guard lock(mu_);
    if (bytes == 0) {
      shares_.erase(owner);
    } else {
      shares_[owner] = bytes;
    }
    RecountOver();
  }

  size_t OwnerBytes(uint32_t owner) const {
    std::lock_guard lock(mu_);
    auto it = owner_bytes_.find(owner);
    return it == owner_bytes_.end() ? 0 : it->second;
  }

 private:
  bool OverShare(uint32_t owner) const {
    auto s = shares_.find(owner);
    if (s == shares_.end()) return false;
    auto b = owner_bytes_.find(owner);
    return b != owner_bytes_.end() && b->second > s->second;
  }
  void RecountOver() {
    over_ = 0;
    for (const auto& [owner, share] : shares_) over_ += OverShare(owner) ? 1 : 0;
  }
  void Charge(uint32_t owner, int64_t delta) {
    if (owner == kNoOwner) return;  // shared pages: never over a share
    const bool was = OverShare(owner);
    size_t& b = owner_bytes_[owner];
    b = static_cast<size_t>(static_cast<int64_t>(b) + delta);
    if (b == 0) owner_bytes_.erase(owner);
    const bool now = OverShare(owner);
    if (was != now) over_ += now ? 1 : -1;
  }

  // Per-tenant fairness (ARCHITECTURE.md section 6): while some owner holds more than its share,
  // a page at the head of the queue S3-FIFO is about to evict from whose owner is within its
  // share is moved to the tail of main instead (kept, as if it had been hit), up to kFairScan
  // pages per eviction; the first over-share page reached goes through the plain S3-FIFO step.
  // O(kFairScan) per eviction, queues untouched when no owner is over its share.
  void ProtectWithinShare() {
    for (size_t moved = 0; over_ > 0 && moved < kFairScan; ++moved) {
      const bool from_small = small_bytes_ > small_capacity_ || main_.empty();
      std::deque<Entry*>& q = from_small ? small_ : main_;
      if (q.empty()) return;
      Entry* e = q.front();
      if (e->owner == kNoOwner || OverShare(e->owner)) return;
      q.pop_front();
      if (from_small) {
        small_bytes_ -= kCharge;
        main_bytes_ += kCharge;
        e->in_main = true;
      }
      main_.push_back(e);
    }
  }

  // S3-FIFO eviction step (Yang et al. 2023, Algorithm 1). REQUIRES: mu_ held.
  void EvictOne() {
    ProtectWithinShare();
    if (small_bytes_ > small_capacity_ || main_.empty()) {
      Entry* e = small_.front();
      small_.pop_front();
      small_bytes_ -= kCharge;
      uint8_t& freq = index_.Find(e->key)->freq;
      if (freq > 0) {
        // Hit while in the small queue: worth keeping.
        freq = 0;
        e->in_main = true;
        main_.push_back(e);
        main_bytes_ += kCharge;
        return;
      }
      RememberGhost(e->key);
      Drop(e);
      return;
    }
    Entry* e = main_.front();
    main_.pop_front();
    if (uint8_t& freq = index_.Find(e->key)->freq; freq > 0) {
      --freq;
      main_.push_back(e);  // second chance, as in CLOCK
      return;
    }
    main_bytes_ -= kCharge;
    Drop(e);
  }

  void Drop(Entry* e) {
    Charge(e->owner, -static_cast<int64_t>(kCharge));
    index_.Erase(e->key);
    delete e;
    ++evictions_;
  }

  void RememberGhost(const Key& key) { ghosts_.Push(key); }

  const size_t capacity_;
  const size_t small_capacity_;
  mutable std::mutex mu_;
  PageTable<Entry> index_;
  std::deque<Entry*> small_, main_;
  size_t small_bytes_ = 0, main_bytes_ = 0;
  GhostQueue ghosts_;
  uint64_t hits_ = 0, misses_ = 0, inserts_ = 0, evictions_ = 0;
  // Fairness: shares per owner (this shard's part), bytes per owner, owners over their share.
  static constexpr size_t kFairScan = 1024;  // each moved page waits a whole main cycle
  std::unordered_map<uint32_t, size_t> shares_;
  std::unordered_map<uint32_t, size_t> owner_bytes_;
  int over_ = 0;
};

PageCache::PageCache(size_t capacity_bytes, uint32_t shards) : capacity_bytes_(capacity_bytes) {
  shards = std::max<uint32_t>(1, shards);
  // Small caches use fewer shards, so each shard still holds a useful number of pages.
  while (shards > 1 && capacity_bytes / shards < 64 * kCharge) shards /= 2;
  for (uint32_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<Shard>(capacity_bytes / shards));
  }
}

PageCache::~PageCache() = default;

uint64_t PageCache::NewFileId() { return g_next_file_id.fetch_add(1, std::memory_order_relaxed); }

std::shared_ptr<PageCache::Page> PageCache::NewPage() {
  static_assert(kPageSize == PageBuffers::kBufferBytes);
  auto page = std::make_shared<Page>();
  page->data.reset(PageBuffers::Global().Allocate());
  return page;
}

PageCache::Shard& PageCache::ShardFor(uint64_t file_id, uint64_t page_no) {
  return *shards_[KeyHasher()(Key{file_id, page_no}) % shards_.size()];
}

std::shared_ptr<const PageCache::Page> PageCache::Lookup(uint64_t file_id, uint64_t page_no) {
  return ShardFor(file_id, page_no).Lookup(Key{file_id, page_no});
}

void PageCache::SetOwnerShare(uint32_t owner, size_t bytes) {
  if (owner == kNoOwner) return;
  for (auto& shard : shards_)
    shard->SetOwnerShare(owner, (bytes + shards_.size() - 1) / shards_.size());
}

size_t PageCache::OwnerBytes(uint32_t owner) const {
  size_t total = 0;
  for (const auto& shard : shards_) total += shard->OwnerBytes(owner);
  return total;
}

std::shared_ptr<const PageCache::Page> PageCache::Insert(uint64_t file_id, uint64_t page_no,
                                                         std::shared_ptr<const Page> page,
                                                         uint32_t owner, Admit admit) {
  return ShardFor(file_id, page_no).Insert(Key{file_id, page_no}, std::move(page), owner, admit);
}

bool PageCache::ReadIfCached(uint64_t file_id, uint64_t page_no, size_t offset, size_t n,
                             char* dst) {
  return ShardFor(file_id, page_no).ReadIfCached(Key{file_id, page_no}, offset, n, dst);
}

void PageCache::PrefetchSlot(uint64_t file_id, uint64_t page_no) {
  ShardFor(file_id, page_no).PrefetchSlot(Key{file_id, page_no});
}

bool PageCache::PrefetchBytes(uint64_t file_id, uint64_t page_no, size_t offset, size_t n) {
  return ShardFor(file_id, page_no).PrefetchBytes(Key{file_id, page_no}, offset, n);
}

void PageCache::EraseFile(uint64_t file_id, uint64_t from_page) {
  for (auto& s : shards_) s->EraseFile(file_id, from_page);
}

PageCache::Stats PageCache::stats() const {
  Stats s;
  s.capacity_bytes = capacity_bytes_;
  for (const auto& shard : shards_) shard->AddStats(&s);
  return s;
}

size_t PageCache::MemoryUsage() const {
  size_t bytes = sizeof(*this);
  for (const auto& shard : shards_) bytes += shard->MemoryUsage();
  return bytes;
}

}  // namespace skeg::storage
