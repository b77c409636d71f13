#include "platform/thread.h"

#include <thread>

#include <gtest/gtest.h>

namespace skeg::platform {
namespace {

TEST(ThreadTest, NamesTheCallingThreadOnlyAndCutsLongNames) {
  const std::string before = CurrentThreadName();
  std::string inside, inside_long;
  std::thread([&] {
    SetCurrentThreadName("skeg-test");
    inside = CurrentThreadName();
    SetCurrentThreadName("a-name-longer-than-fifteen-bytes");
    inside_long = CurrentThreadName();
  }).join();
  EXPECT_EQ(inside, "skeg-test");
  EXPECT_EQ(inside_long, "a-name-longer-t");
  EXPECT_EQ(CurrentThreadName(), before);
}

TEST(ThreadTest, LowersThePriorityOfTheCallingThreadOnly) {
  const int before = CurrentThreadNice();
  int inside = -100;
  Status status;
  std::thread([&] {
    status = LowerCurrentThreadPriority(5);
    inside = CurrentThreadNice();
  }).join();
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(inside, std::min(before + 5, 19));
  EXPECT_EQ(CurrentThreadNice(), before);
}

TEST(ThreadTest, PriorityIsCappedAtNineteenAndIncrementsAreChecked) {
  int inside = -100;
  Status twice, zero, too_big;
  std::thread([&] {
    twice = LowerCurrentThreadPriority(19);
    if (twice.ok()) twice = LowerCurrentThreadPriority(19);
    inside = CurrentThreadNice();
    zero = LowerCurrentThreadPriority(0);
    too_big = LowerCurrentThreadPriority(20);
  }).join();
  ASSERT_TRUE(twice.ok()) << twice.ToString();
  EXPECT_EQ(inside, 19);
  EXPECT_EQ(zero.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_big.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skeg::platform
