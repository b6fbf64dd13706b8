// Linked into the TSan build only (scripts/sanitize.sh tsan). Debian's libabsl is not built
// with -fsanitize=thread, so TSan cannot see absl::Mutex lock and unlock, and reports every
// access guarded by one as a race. This file interposes the absl::Mutex and CondVar entry
// points hai uses (the executable's definitions win over the shared library's), tells TSan
// about each acquire and release with its mutex annotations, and calls the real function.
// Waits (Await, AwaitWithTimeout, CondVar::Wait) release the mutex and take it again.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"

namespace {

template <typename Fn>
Fn Real(const char* symbol) {
  void* f = dlsym(RTLD_NEXT, symbol);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

void Acquired(void* mu) {
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
}

void Releasing(void* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
}

}  // namespace

void absl::Mutex::Lock() {
  static const auto real = Real<void (*)(absl::Mutex*)>("_ZN4absl7debian35Mutex4LockEv");
  real(this);
  Acquired(this);
}

void absl::Mutex::Unlock() {
  static const auto real = Real<void (*)(absl::Mutex*)>("_ZN4absl7debian35Mutex6UnlockEv");
  Releasing(this);
  real(this);
}

void absl::Mutex::Await(const absl::Condition& cond) {
  static const auto real = Real<void (*)(absl::Mutex*, const absl::Condition&)>(
      "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  Releasing(this);
  real(this, cond);
  Acquired(this);
}

bool absl::Mutex::AwaitWithTimeout(const absl::Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration)>(
      "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Releasing(this);
  const bool r = real(this, cond, timeout);
  Acquired(this);
  return r;
}

void absl::CondVar::Wait(absl::Mutex* mu) {
  static const auto real =
      Real<void (*)(absl::CondVar*, absl::Mutex*)>("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Releasing(mu);
  real(this, mu);
  Acquired(mu);
}
