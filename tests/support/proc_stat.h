// What /proc says of a process the test started: CPU time used and how
// often its threads went to sleep.
#pragma once

#include <sys/types.h>

namespace sluice::test {

// utime + stime of `pid` (every thread), in clock ticks (sysconf(_SC_CLK_TCK)
// a second); 0 when it cannot be read.
long cpu_ticks(pid_t pid);

// Voluntary context switches of every thread of `pid`: how many times its
// threads blocked (a sleep in epoll_wait, a lock, a read).
long voluntary_switches(pid_t pid);

}  // namespace sluice::test
