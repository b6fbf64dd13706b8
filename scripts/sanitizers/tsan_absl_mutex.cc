// Linked into the TSan build only (scripts/sanitize.sh tsan). Debian's libabsl is not built
// with -fsanitize=thread, so TSan cannot see absl::Mutex lock and unlock, and reports every
// access guarded by one as a race. This file interposes the absl::Mutex and CondVar entry
// points (the executable's definitions win over the shared library's, for hai's calls and for
// libgrpc's alike), tells TSan about each acquire and release with its mutex annotations, and
// calls the real lock functions. Every lock entry point must be here: one left out (gRPC's
// timer takes TryLock, then Unlock) reads to TSan as an unlock of an unlocked mutex.
//
// Waits on a Condition (Await*, LockWhen*) are not passed to absl: absl evaluates a waiter's
// condition inside the library, sometimes on the thread that unlocks, where TSan cannot see
// the mutex held, and every field a condition reads would be reported. Here a wait is a loop
// on the waiting thread: evaluate with the mutex held, else release it, sleep 200 us, take it
// again. Slower to wake (fine under TSan), and every read is under the mutex as TSan sees it.
// CondVar waits release and retake around the real call (they evaluate no condition). No
// wrapper may reach another through the real library: it would release or take twice.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

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

using MutexFn = void (*)(absl::Mutex*);
using TryFn = bool (*)(absl::Mutex*);

void RealLock(absl::Mutex* mu) {
  static const auto real = Real<MutexFn>("_ZN4absl7debian35Mutex4LockEv");
  real(mu);
}
void RealUnlock(absl::Mutex* mu) {
  static const auto real = Real<MutexFn>("_ZN4absl7debian35Mutex6UnlockEv");
  real(mu);
}
void RealReaderLock(absl::Mutex* mu) {
  static const auto real = Real<MutexFn>("_ZN4absl7debian35Mutex10ReaderLockEv");
  real(mu);
}
void RealReaderUnlock(absl::Mutex* mu) {
  static const auto real = Real<MutexFn>("_ZN4absl7debian35Mutex12ReaderUnlockEv");
  real(mu);
}

constexpr unsigned kWrite = 0;
constexpr unsigned kRead = __tsan_mutex_read_lock;

void Acquired(void* mu, unsigned flags) {
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
}

void Releasing(void* mu, unsigned flags) {
  __tsan_mutex_pre_unlock(mu, flags);
  __tsan_mutex_post_unlock(mu, flags);
}

void Lock(absl::Mutex* mu, unsigned flags) {
  if (flags == kRead) {
    RealReaderLock(mu);
  } else {
    RealLock(mu);
  }
  Acquired(mu, flags);
}

void Unlock(absl::Mutex* mu, unsigned flags) {
  Releasing(mu, flags);
  if (flags == kRead) {
    RealReaderUnlock(mu);
  } else {
    RealUnlock(mu);
  }
}

// With `mu` held (as `flags`), waits until `cond` holds or `deadline` passes; `mu` is held on
// return. Returns whether `cond` holds.
bool WaitFor(absl::Mutex* mu, unsigned flags, const absl::Condition& cond, absl::Time deadline) {
  while (!cond.Eval()) {
    if (absl::Now() >= deadline) return false;
    Unlock(mu, flags);
    const timespec pause = {0, 200 * 1000};
    nanosleep(&pause, nullptr);
    Lock(mu, flags);
  }
  return true;
}

}  // namespace

void absl::Mutex::Lock() { ::Lock(this, kWrite); }

void absl::Mutex::Unlock() { ::Unlock(this, kWrite); }

void absl::Mutex::ReaderLock() { ::Lock(this, kRead); }

void absl::Mutex::ReaderUnlock() { ::Unlock(this, kRead); }

bool absl::Mutex::TryLock() {
  static const auto real = Real<TryFn>("_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) Acquired(this, kWrite);
  return locked;
}

bool absl::Mutex::ReaderTryLock() {
  static const auto real = Real<TryFn>("_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) Acquired(this, kRead);
  return locked;
}

void absl::Mutex::Await(const absl::Condition& cond) {
  WaitFor(this, kWrite, cond, absl::InfiniteFuture());
}

bool absl::Mutex::AwaitWithTimeout(const absl::Condition& cond, absl::Duration timeout) {
  return WaitFor(this, kWrite, cond, absl::Now() + timeout);
}

bool absl::Mutex::AwaitWithDeadline(const absl::Condition& cond, absl::Time deadline) {
  return WaitFor(this, kWrite, cond, deadline);
}

void absl::Mutex::LockWhen(const absl::Condition& cond) {
  ::Lock(this, kWrite);
  WaitFor(this, kWrite, cond, absl::InfiniteFuture());
}

bool absl::Mutex::LockWhenWithTimeout(const absl::Condition& cond, absl::Duration timeout) {
  ::Lock(this, kWrite);
  return WaitFor(this, kWrite, cond, absl::Now() + timeout);
}

bool absl::Mutex::LockWhenWithDeadline(const absl::Condition& cond, absl::Time deadline) {
  ::Lock(this, kWrite);
  return WaitFor(this, kWrite, cond, deadline);
}

void absl::Mutex::ReaderLockWhen(const absl::Condition& cond) {
  ::Lock(this, kRead);
  WaitFor(this, kRead, cond, absl::InfiniteFuture());
}

bool absl::Mutex::ReaderLockWhenWithTimeout(const absl::Condition& cond, absl::Duration timeout) {
  ::Lock(this, kRead);
  return WaitFor(this, kRead, cond, absl::Now() + timeout);
}

bool absl::Mutex::ReaderLockWhenWithDeadline(const absl::Condition& cond, absl::Time deadline) {
  ::Lock(this, kRead);
  return WaitFor(this, kRead, cond, deadline);
}

void absl::CondVar::Wait(absl::Mutex* mu) {
  static const auto real =
      Real<void (*)(absl::CondVar*, absl::Mutex*)>("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Releasing(mu, kWrite);
  real(this, mu);
  Acquired(mu, kWrite);
}

// The real WaitWithTimeout calls WaitWithDeadline through the PLT, that is this file's, which
// would release the mutex a second time: go there directly.
bool absl::CondVar::WaitWithTimeout(absl::Mutex* mu, absl::Duration timeout) {
  return WaitWithDeadline(mu, absl::Now() + timeout);
}

bool absl::CondVar::WaitWithDeadline(absl::Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(absl::CondVar*, absl::Mutex*, absl::Time)>(
      "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Releasing(mu, kWrite);
  const bool r = real(this, mu, deadline);
  Acquired(mu, kWrite);
  return r;
}
