#include "platform/thread.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <sys/resource.h>

namespace skeg::platform {

void SetCurrentThreadName(std::string_view name) {
  char buf[16] = {};
  std::memcpy(buf, name.data(), std::min(name.size(), sizeof(buf) - 1));
  pthread_setname_np(pthread_self(), buf);
}

std::string CurrentThreadName() {
  char buf[16] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof(buf)) != 0) return "";
  return buf;
}

Status LowerCurrentThreadPriority(int increment) {
  if (increment < 1 || increment > 19) {
    return Status::InvalidArgument("nice increment " + std::to_string(increment) +
                                   " is outside 1..19");
  }
  const int target = std::min(CurrentThreadNice() + increment, 19);
  // PRIO_PROCESS with a thread id sets that one thread's nice value (Linux, see setpriority(2)).
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), target) != 0) {
    return Status::FromErrno(errno, "setpriority(nice " + std::to_string(target) + ")");
  }
  return Status::Ok();
}

int CurrentThreadNice() {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  return errno == 0 ? nice : 0;
}

}  // namespace skeg::platform
