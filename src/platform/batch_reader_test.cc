#include "platform/batch_reader.h"

#include <unistd.h>

#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "platform/aligned_buffer.h"
#include "platform/fault_env.h"
#include "testing/temp_dir.h"

namespace skeg::platform {
namespace {

constexpr size_t kFileSize = 1 << 20;

class BatchReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    content_.resize(kFileSize);
    std::mt19937_64 rng(42);
    for (char& c : content_) c = static_cast<char>(rng());
    ASSERT_TRUE(WriteFileAtomic(Env::Default(), path(), content_).ok());
  }
  std::string path() const { return dir_.Sub("data"); }

  std::unique_ptr<File> OpenRead(Env* env, bool direct = false) {
    OpenOptions o;
    o.direct = direct;
    auto f = env->OpenFile(path(), o);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(f).value() : nullptr;
  }

  // Reads `count` random ranges (some crossing or past end of file) through `reader` and
  // checks each against pread on the same file.
  void CheckRandomReads(BatchReader& reader, const File& file, int count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> bufs(count);
    std::vector<ReadRequest> reqs(count);
    for (int i = 0; i < count; ++i) {
      const uint64_t offset = rng() % (kFileSize + 8192);
      const size_t length = 1 + rng() % 16384;
      bufs[i].assign(length, '\xAA');
      reqs[i] = ReadRequest{&file, offset, length, bufs[i].data()};
    }
    ASSERT_TRUE(reader.ReadBatch(reqs).ok());
    for (int i = 0; i < count; ++i) {
      const ReadRequest& r = reqs[i];
      std::string expect(r.length, '\0');
      const ssize_t n =
          ::pread(fd_for_check_, expect.data(), r.length, static_cast<off_t>(r.offset));
      ASSERT_GE(n, 0);
      expect.resize(static_cast<size_t>(n));
      ASSERT_TRUE(r.status.ok()) << r.status.ToString();
      ASSERT_EQ(r.bytes_read, expect.size()) << "request " << i << " offset " << r.offset;
      EXPECT_EQ(0, std::memcmp(bufs[i].data(), expect.data(), expect.size()));
      EXPECT_EQ(expect, content_.substr(std::min<size_t>(r.offset, kFileSize), r.length));
    }
  }

  void RunBackend(BatchReader& reader) {
    auto file = OpenRead(Env::Default());
    fd_for_check_ = file->fd();
    CheckRandomReads(reader, *file, 1, 1);
    CheckRandomReads(reader, *file, 500, 2);  // more than any queue depth used here
    CheckRandomReads(reader, *file, 0, 3);
    // A fault-injection file has no descriptor and goes through ReadAt.
    FaultInjectionEnv fenv;
    auto wrapped = OpenRead(&fenv);
    ASSERT_EQ(wrapped->fd(), -1);
    CheckRandomReads(reader, *wrapped, 100, 4);
  }

  skeg::testing::TempDir dir_;
  std::string content_;
  int fd_for_check_ = -1;
};

TEST_F(BatchReaderTest, PreadBackendMatchesPread) {
  auto reader = NewPreadBatchReader();
  EXPECT_EQ(reader->backend_name(), "pread");
  RunBackend(*reader);
}

TEST_F(BatchReaderTest, IoUringBackendMatchesPreadOrFallbackIsChosen) {
  BatchReaderOptions opts;
  opts.queue_depth = 8;
  auto uring = NewIoUringBatchReader(opts);
  auto chosen = NewBatchReader(opts);
  ASSERT_TRUE(chosen.ok());
  if (!uring.ok()) {
    std::cout << "io_uring unavailable: " << uring.status().ToString() << "\n";
    EXPECT_EQ(uring.status().code(), StatusCode::kNotSupported);
    EXPECT_EQ((*chosen)->backend_name(), "pread");
    EXPECT_FALSE((*chosen)->fallback_reason().empty());
    RunBackend(**chosen);
    return;
  }
  std::cout << "io_uring available\n";
  EXPECT_EQ((*uring)->backend_name(), "io_uring");
  EXPECT_EQ((*chosen)->backend_name(), "io_uring");
  RunBackend(**uring);
  RunBackend(**chosen);  // queue depth 64
}

TEST_F(BatchReaderTest, NotPreferringIoUringGivesPread) {
  BatchReaderOptions opts;
  opts.prefer_io_uring = false;
  auto r = NewBatchReader(opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->backend_name(), "pread");
  EXPECT_EQ((*r)->fallback_reason(), "");
}

TEST_F(BatchReaderTest, InvalidOptions) {
  BatchReaderOptions opts;
  opts.queue_depth = 0;
  EXPECT_TRUE(NewBatchReader(opts).status().IsInvalidArgument());
  opts.queue_depth = 100000;
  EXPECT_TRUE(NewIoUringBatchReader(opts).status().IsInvalidArgument());
}

// Per-request outcomes: a request without a file fails on its own, a zero-length request reads
// nothing, and the rest of the batch still completes in both backends.
TEST_F(BatchReaderTest, PerRequestStatusAndFirstError) {
  for (bool prefer : {false, true}) {
    BatchReaderOptions opts;
    opts.prefer_io_uring = prefer;
    auto reader = NewBatchReader(opts);
    ASSERT_TRUE(reader.ok());
    auto file = OpenRead(Env::Default());
    std::string a(100, '\0'), b(100, '\0');
    ReadRequest reqs[] = {
        {file.get(), 0, 100, a.data()},
        {nullptr, 0, 100, b.data()},
        {file.get(), 50, 0, b.data()},
        {file.get(), 1000, 100, b.data()},
    };
    reqs[0].bytes_read = 77;  // outputs are reset
    Status s = (*reader)->ReadBatch(reqs);
    EXPECT_TRUE(s.IsInvalidArgument()) << (*reader)->backend_name();
    EXPECT_TRUE(reqs[0].status.ok());
    EXPECT_EQ(reqs[0].bytes_read, 100u);
    EXPECT_EQ(a, content_.substr(0, 100));
    EXPECT_TRUE(reqs[1].status.IsInvalidArgument());
    EXPECT_EQ(reqs[2].bytes_read, 0u);
    EXPECT_EQ(reqs[3].bytes_read, 100u);
    EXPECT_EQ(b, content_.substr(1000, 100));
  }
}

TEST_F(BatchReaderTest, DirectIoReadsIncludingUnalignedEof) {
  // Make the file size unaligned so the last block is short.
  {
    OpenOptions o;
    o.read_only = false;
    auto f = Env::Default()->OpenFile(path(), o);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Truncate(kFileSize - 1000).ok());
  }
  for (bool prefer : {false, true}) {
    auto reader = NewBatchReader(BatchReaderOptions{.prefer_io_uring = prefer});
    ASSERT_TRUE(reader.ok());
    auto file = OpenRead(Env::Default(), /*direct=*/true);
    constexpr int kReqs = 20;
    std::vector<AlignedBuffer> bufs;
    std::vector<ReadRequest> reqs;
    std::mt19937_64 rng(7);
    for (int i = 0; i < kReqs; ++i) {
      bufs.emplace_back(2 * kDirectIoAlignment);
      const uint64_t block = i == 0 ? kFileSize / kDirectIoAlignment - 1
                                    : rng() % (kFileSize / kDirectIoAlignment - 1);
      reqs.push_back(
          {file.get(), block * kDirectIoAlignment, 2 * kDirectIoAlignment, bufs.back().data()});
    }
    Status s = (*reader)->ReadBatch(reqs);
    ASSERT_TRUE(s.ok()) << s.ToString() << " " << (*reader)->backend_name();
    for (int i = 0; i < kReqs; ++i) {
      const size_t expect_len = std::min<size_t>(reqs[i].length, kFileSize - 1000 - reqs[i].offset);
      ASSERT_EQ(reqs[i].bytes_read, expect_len) << i;
      EXPECT_EQ(0, std::memcmp(bufs[i].data(), content_.data() + reqs[i].offset, expect_len));
    }
  }
}

}  // namespace
}  // namespace skeg::platform
