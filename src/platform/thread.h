// Per-thread OS settings for skeg's own threads: a name (shown by `top -H`, `ps -L`, perf and
// /proc/PID/task/TID/comm) and a lower CPU priority for background work.
//
// Linux gives every thread its own nice value (setpriority(PRIO_PROCESS, tid) acts on one
// thread), so a background thread can yield the CPU to the request threads of the same process
// and to the rest of the machine (on skeg's target machine: the language model) without any
// change to the others. Without CAP_SYS_NICE (or an RLIMIT_NICE allowance) a process can raise
// a thread's nice value but never lower it again, so lowering is one-way: a thread that must
// sometimes run at the server's priority has to hand that work to another thread.
//
// Thread-safety: each function acts on the calling thread only.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace skeg::platform {

// Names the calling thread. Linux keeps at most 15 bytes; a longer name is cut to 15.
// Best effort: a failure changes nothing and is not reported.
void SetCurrentThreadName(std::string_view name);

// The calling thread's name ("" if it cannot be read).
std::string CurrentThreadName();

// Adds `increment` (1..19) to the calling thread's nice value, capped at 19 (the lowest CPU
// priority short of SCHED_IDLE). Errors: InvalidArgument for an increment outside 1..19,
// the errno status (Status::FromErrno) if the kernel refuses.
Status LowerCurrentThreadPriority(int increment);

// The calling thread's nice value (-20..19).
int CurrentThreadNice();

}  // namespace skeg::platform
