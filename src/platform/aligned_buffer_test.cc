#include "platform/aligned_buffer.h"

#include <algorithm>
#include <utility>

#include <gtest/gtest.h>

namespace skeg::platform {
namespace {

TEST(AlignedBufferTest, AllocatesAlignedZeroedMemory) {
  AlignedBuffer buf(10000);
  ASSERT_NE(buf.data(), nullptr);
  EXPECT_EQ(buf.size(), 10000u);
  EXPECT_EQ(buf.alignment(), kDirectIoAlignment);
  EXPECT_TRUE(IsAligned(buf.data(), kDirectIoAlignment));
  EXPECT_TRUE(std::all_of(buf.data(), buf.data() + buf.size(), [](char c) { return c == 0; }));
  EXPECT_EQ(buf.span().size(), 10000u);

  AlignedBuffer small(3, 64);
  EXPECT_TRUE(IsAligned(small.data(), 64));
  AlignedBuffer tiny_align(5, 1);  // below sizeof(void*): still valid
  EXPECT_NE(tiny_align.data(), nullptr);
}

TEST(AlignedBufferTest, EmptyBuffer) {
  AlignedBuffer empty;
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
  AlignedBuffer zero(0);
  EXPECT_EQ(zero.data(), nullptr);
}

TEST(AlignedBufferTest, MoveTransfersOwnership) {
  AlignedBuffer a(8192);
  a.data()[0] = 'x';
  char* p = a.data();
  AlignedBuffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.data()[0], 'x');
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.size(), 0u);       // NOLINT(bugprone-use-after-move)
  AlignedBuffer c(16);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.size(), 8192u);
}

TEST(AlignedBufferTest, ResizeReusesCapacityOrReallocates) {
  AlignedBuffer buf(8192);
  char* p = buf.data();
  buf.Resize(4096);
  EXPECT_EQ(buf.data(), p);
  EXPECT_EQ(buf.size(), 4096u);
  EXPECT_EQ(buf.capacity(), 8192u);
  buf.Resize(1 << 20);
  EXPECT_EQ(buf.size(), size_t{1} << 20);
  EXPECT_TRUE(IsAligned(buf.data(), kDirectIoAlignment));
  buf.data()[buf.size() - 1] = 1;  // writable to the end (ASan checks)
}

TEST(AlignedBufferTest, RoundingHelpers) {
  static_assert(RoundUpToAlignment(0, 4096) == 0);
  static_assert(RoundUpToAlignment(1, 4096) == 4096);
  static_assert(RoundUpToAlignment(4096, 4096) == 4096);
  static_assert(RoundUpToAlignment(4097, 4096) == 8192);
  static_assert(RoundDownToAlignment(4097, 4096) == 4096);
  static_assert(RoundDownToAlignment(4095, 4096) == 0);
  static_assert(IsAligned(uint64_t{8192}, 4096));
  static_assert(!IsAligned(uint64_t{100}, 64));
  static_assert(IsPowerOfTwo(4096) && !IsPowerOfTwo(0) && !IsPowerOfTwo(12));
  EXPECT_EQ(RoundUpToAlignment(10, 8), 16u);
}

}  // namespace
}  // namespace skeg::platform
