// thread_annotations: clang's thread-safety attributes as macros, so that the
// compiler checks which mutex guards which field (-Wthread-safety; the
// thread-safety build of `make check`). Empty on other compilers.
//
//   GUARDED_BY(mu)       a field read or written only with `mu` held
//   PT_GUARDED_BY(mu)    what a pointer field points to, likewise
//   REQUIRES(mu)         a function called only with `mu` held
//   EXCLUDES(mu)         a function that takes `mu` itself (never held on entry)
//   ACQUIRE / RELEASE    a function that takes / lets go of a capability
//   CAPABILITY           a class that is a lock (fanout::Mutex)
//   SCOPED_CAPABILITY    a class holding a lock while it lives (MutexLock)
//   ASSERT_CAPABILITY    a function that checks (or asserts) a lock is held
//   NO_THREAD_SAFETY_ANALYSIS  a function the analysis cannot follow
#pragma once

#if defined(__clang__)
#define FANOUT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define FANOUT_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) FANOUT_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY FANOUT_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) FANOUT_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) FANOUT_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) FANOUT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) FANOUT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) FANOUT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) FANOUT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) FANOUT_THREAD_ANNOTATION(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS FANOUT_THREAD_ANNOTATION(no_thread_safety_analysis)
