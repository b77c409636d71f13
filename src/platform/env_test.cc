#include "platform/env.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "platform/aligned_buffer.h"
#include "testing/temp_dir.h"

namespace skeg::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

OpenOptions Writable() {
  OpenOptions o;
  o.read_only = false;
  o.create = true;
  return o;
}

std::string ReadAll(const File& f, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  Result<size_t> got = f.ReadAt(offset, n, out.data());
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  out.resize(got.ok() ? *got : 0);
  return out;
}

class EnvTest : public ::testing::Test {
 protected:
  Env* env_ = Env::Default();
  skeg::testing::TempDir dir_;
};

TEST_F(EnvTest, WriteThenReadRoundTrip) {
  auto f = env_->OpenFile(dir_.Sub("a"), Writable());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const std::string_view chunks[] = {"hello ", "", "world"};
  ASSERT_TRUE((*f)->WriteAt(0, chunks).ok());
  EXPECT_EQ(ReadAll(**f, 0, 11), "hello world");
  EXPECT_EQ(ReadAll(**f, 6, 5), "world");
  EXPECT_EQ(*(*f)->Size(), 11u);
  EXPECT_GE((*f)->fd(), 0);
  EXPECT_FALSE((*f)->is_direct());
  EXPECT_EQ((*f)->path(), dir_.Sub("a"));
  EXPECT_TRUE((*f)->Sync(SyncMode::kData).ok());
  EXPECT_TRUE((*f)->Sync(SyncMode::kFull).ok());
}

TEST_F(EnvTest, WriteAtManyChunksBeyondIovMax) {
  auto f = env_->OpenFile(dir_.Sub("many"), Writable());
  ASSERT_TRUE(f.ok());
  // 3000 chunks of varying size: more than IOV_MAX (1024), so pwritev must be repeated.
  std::vector<std::string> storage;
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    storage.push_back(std::string(1 + i % 7, static_cast<char>('a' + i % 26)));
    expected += storage.back();
  }
  std::vector<std::string_view> chunks(storage.begin(), storage.end());
  ASSERT_TRUE((*f)->WriteAt(100, chunks).ok());
  EXPECT_EQ(*(*f)->Size(), 100 + expected.size());
  EXPECT_EQ(ReadAll(**f, 100, expected.size()), expected);
  EXPECT_EQ(ReadAll(**f, 0, 100), std::string(100, '\0'));  // hole reads as zeros
}

TEST_F(EnvTest, ReadAtPastEndOfFile) {
  auto f = env_->OpenFile(dir_.Sub("short"), Writable());
  ASSERT_TRUE(f.ok());
  const std::string_view chunks[] = {"0123456789"};
  ASSERT_TRUE((*f)->WriteAt(0, chunks).ok());
  EXPECT_EQ(ReadAll(**f, 5, 100), "56789");  // short read at EOF
  EXPECT_EQ(ReadAll(**f, 10, 10), "");
  EXPECT_EQ(ReadAll(**f, 1000, 10), "");
}

TEST_F(EnvTest, OpenErrorsNameTheFile) {
  OpenOptions ro;
  auto missing = env_->OpenFile(dir_.Sub("nope"), ro);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir_.Sub("nope")));

  ASSERT_TRUE(env_->OpenFile(dir_.Sub("x"), Writable()).ok());
  OpenOptions excl = Writable();
  excl.exclusive = true;
  auto again = env_->OpenFile(dir_.Sub("x"), excl);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);

  OpenOptions bad;
  bad.truncate = true;  // read-only + truncate
  EXPECT_TRUE(env_->OpenFile(dir_.Sub("x"), bad).status().IsInvalidArgument());
}

TEST_F(EnvTest, TruncateOptionAndTruncateCall) {
  {
    auto f = env_->OpenFile(dir_.Sub("t"), Writable());
    ASSERT_TRUE(f.ok());
    const std::string_view chunks[] = {"abcdef"};
    ASSERT_TRUE((*f)->WriteAt(0, chunks).ok());
    ASSERT_TRUE((*f)->Truncate(3).ok());
    EXPECT_EQ(ReadAll(**f, 0, 10), "abc");
  }
  OpenOptions o = Writable();
  o.truncate = true;
  auto f = env_->OpenFile(dir_.Sub("t"), o);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*(*f)->Size(), 0u);
}

TEST_F(EnvTest, AllocateKeepsSize) {
  auto f = env_->OpenFile(dir_.Sub("alloc"), Writable());
  ASSERT_TRUE(f.ok());
  Status s = (*f)->Allocate(0, 1 << 20);
  if (s.code() == StatusCode::kNotSupported) GTEST_SKIP() << s.ToString();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(*(*f)->Size(), 0u);
  EXPECT_TRUE((*f)->Allocate(0, 0).ok());
}

TEST_F(EnvTest, PrivateModeCreatesOwnerOnlyFile) {
  OpenOptions o = Writable();
  o.private_mode = true;
  ASSERT_TRUE(env_->OpenFile(dir_.Sub("secret"), o).ok());
  struct stat st;
  ASSERT_EQ(::stat(dir_.Sub("secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(EnvTest, DirectIoOpensOrFallsBack) {
  OpenOptions o = Writable();
  o.direct = true;
  auto f = env_->OpenFile(dir_.Sub("direct"), o);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  AlignedBuffer buf(2 * kDirectIoAlignment);
  std::fill(buf.data(), buf.data() + buf.size(), 'd');
  const std::string_view chunks[] = {std::string_view(buf.data(), buf.size())};
  ASSERT_TRUE((*f)->WriteAt(kDirectIoAlignment, chunks).ok());
  ASSERT_TRUE((*f)->Truncate(3 * kDirectIoAlignment - 100).ok());  // unaligned size
  AlignedBuffer in(4 * kDirectIoAlignment);
  // A read across end of file returns the bytes up to it, even on an O_DIRECT file.
  Result<size_t> n = (*f)->ReadAt(kDirectIoAlignment, in.size(), in.data());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2 * kDirectIoAlignment - 100);
  EXPECT_EQ(std::count(in.data(), in.data() + *n, 'd'), static_cast<long>(*n));
  std::cout << "O_DIRECT on " << dir_.path() << ": " << ((*f)->is_direct() ? "yes" : "no") << "\n";

  // Exclusive create + direct works too (the EINVAL fallback must not trip over O_EXCL).
  o.exclusive = true;
  EXPECT_TRUE(env_->OpenFile(dir_.Sub("direct2"), o).ok());
}

TEST_F(EnvTest, DirectIoFallsBackWhereRefused) {
  // procfs refuses O_DIRECT with EINVAL; the file must open buffered instead.
  OpenOptions o;
  o.direct = true;
  auto f = env_->OpenFile("/proc/self/status", o);
  if (!f.ok()) GTEST_SKIP() << f.status().ToString();
  EXPECT_FALSE((*f)->is_direct());
  EXPECT_THAT(ReadAll(**f, 0, 4096), HasSubstr("Name:"));
}

TEST_F(EnvTest, DirectoryOperations) {
  const std::string sub = dir_.Sub("sub");
  ASSERT_TRUE(env_->CreateDir(sub).ok());
  ASSERT_TRUE(env_->CreateDir(sub).ok());  // already exists: fine
  ASSERT_TRUE(env_->OpenFile(JoinPath(sub, "f1"), Writable()).ok());
  ASSERT_TRUE(env_->OpenFile(JoinPath(sub, "f2"), Writable()).ok());
  ASSERT_TRUE(env_->SyncDir(sub).ok());
  EXPECT_THAT(*env_->ListDir(sub), UnorderedElementsAre("f1", "f2"));

  ASSERT_TRUE(env_->RenameFile(JoinPath(sub, "f1"), JoinPath(sub, "f3")).ok());
  EXPECT_FALSE(env_->FileExists(JoinPath(sub, "f1")));
  EXPECT_TRUE(env_->FileExists(JoinPath(sub, "f3")));
  ASSERT_TRUE(env_->RemoveFile(JoinPath(sub, "f2")).ok());
  EXPECT_THAT(*env_->ListDir(sub), UnorderedElementsAre("f3"));
  EXPECT_EQ(*env_->FileSize(JoinPath(sub, "f3")), 0u);

  EXPECT_TRUE(env_->RemoveFile(JoinPath(sub, "f2")).IsNotFound());
  EXPECT_TRUE(env_->FileSize(JoinPath(sub, "f2")).status().IsNotFound());
  EXPECT_TRUE(env_->ListDir(dir_.Sub("missing")).status().IsNotFound());
  EXPECT_FALSE(env_->SyncDir(dir_.Sub("missing")).ok());
  // A regular file where a directory is wanted is an error, not "already exists, fine".
  EXPECT_FALSE(env_->CreateDir(JoinPath(sub, "f3")).ok());
}

TEST_F(EnvTest, LockConflictNamesHolder) {
  const std::string path = dir_.Sub("LOCK");
  auto lock = env_->LockFile(path);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_TRUE((*lock)->SetHolderInfo("pid=123 addrs=127.0.0.1:6379 and some more").ok());
  ASSERT_TRUE((*lock)->SetHolderInfo("pid=123 addrs=127.0.0.1:6379").ok());  // shorter: cut

  auto second = env_->LockFile(path);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy());
  EXPECT_EQ(second.status().message(),
            "data directory is locked by another process (pid=123 addrs=127.0.0.1:6379): " + path);

  lock->reset();  // released on destruction
  auto third = env_->LockFile(path);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST_F(EnvTest, JoinPath) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("a//", "/b"), "a/b");
  EXPECT_EQ(JoinPath("/", "b"), "/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

TEST_F(EnvTest, WriteFileAtomicReplacesContent) {
  const std::string path = dir_.Sub("MANIFEST");
  ASSERT_TRUE(WriteFileAtomic(env_, path, "first version, rather long").ok());
  EXPECT_EQ(*ReadFileToString(env_, path), "first version, rather long");
  ASSERT_TRUE(WriteFileAtomic(env_, path, "second", /*private_mode=*/true).ok());
  EXPECT_EQ(*ReadFileToString(env_, path), "second");
  EXPECT_FALSE(env_->FileExists(path + ".tmp"));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_TRUE(WriteFileAtomic(env_, path, "").ok());
  EXPECT_EQ(*ReadFileToString(env_, path), "");
  EXPECT_TRUE(ReadFileToString(env_, dir_.Sub("missing")).status().IsNotFound());
  EXPECT_FALSE(WriteFileAtomic(env_, dir_.Sub("no/such/dir/file"), "x").ok());
}

TEST_F(EnvTest, ReadFileToStringLargeFile) {
  std::string big(300000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  ASSERT_TRUE(WriteFileAtomic(env_, dir_.Sub("big"), big).ok());
  EXPECT_EQ(*ReadFileToString(env_, dir_.Sub("big")), big);
}

}  // namespace
}  // namespace skeg::platform
