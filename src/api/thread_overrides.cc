// pthread_join and pthread_detach, wrapped: a thread that exited keeps the value it returned
// in its descriptor until it is joined, and the leak check scans the descriptors of exited
// threads (mark/roots.h) until these say the value has been taken or will never be. The C
// library's functions are found with dlsym(RTLD_NEXT) on first use (never inside malloc).
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <atomic>

#include "core/config.h"
#include "mark/roots.h"

namespace {

template <typename Function>
Function next_function(std::atomic<Function>& cache, const char* name) {
  Function function = cache.load(std::memory_order_acquire);
  if (TALLY_LIKELY(function != nullptr)) return function;
  function = reinterpret_cast<Function>(dlsym(RTLD_NEXT, name));
  cache.store(function, std::memory_order_release);
  return function;
}

using Join = int (*)(pthread_t, void**);
using TimedJoin = int (*)(pthread_t, void**, const struct timespec*);
using ClockJoin = int (*)(pthread_t, void**, clockid_t, const struct timespec*);
using Detach = int (*)(pthread_t);

std::atomic<Join> g_join{nullptr};
std::atomic<Join> g_tryjoin{nullptr};
std::atomic<TimedJoin> g_timedjoin{nullptr};
std::atomic<ClockJoin> g_clockjoin{nullptr};
std::atomic<Detach> g_detach{nullptr};

int joined(pthread_t thread, int result) {
  if (result == 0) tally::roots_forget_exited_thread(static_cast<uintptr_t>(thread));
  return result;
}

}  // namespace

extern "C" {

TALLY_EXPORT int pthread_join(pthread_t thread, void** value) {
  Join join = next_function(g_join, "pthread_join");
  return join ? joined(thread, join(thread, value)) : ENOSYS;
}
TALLY_EXPORT int pthread_tryjoin_np(pthread_t thread, void** value) {
  Join join = next_function(g_tryjoin, "pthread_tryjoin_np");
  return join ? joined(thread, join(thread, value)) : ENOSYS;
}
TALLY_EXPORT int pthread_timedjoin_np(pthread_t thread, void** value,
                                      const struct timespec* deadline) {
  TimedJoin join = next_function(g_timedjoin, "pthread_timedjoin_np");
  return join ? joined(thread, join(thread, value, deadline)) : ENOSYS;
}
TALLY_EXPORT int pthread_clockjoin_np(pthread_t thread, void** value, clockid_t clock,
                                      const struct timespec* deadline) {
  ClockJoin join = next_function(g_clockjoin, "pthread_clockjoin_np");
  return join ? joined(thread, join(thread, value, clock, deadline)) : ENOSYS;
}
TALLY_EXPORT int pthread_detach(pthread_t thread) {
  Detach detach = next_function(g_detach, "pthread_detach");
  return detach ? joined(thread, detach(thread)) : ENOSYS;
}

}  // extern "C"
