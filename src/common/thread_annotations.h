// Clang's thread-safety analysis (-Wthread-safety, an error in the clang builds: TSan, fuzz):
// GUARDED_BY(mu) on state, REQUIRES(mu) on functions called with mu held, EXCLUDES(mu) on those
// that take it. Other compilers see nothing. The names follow LevelDB's port/thread_annotations.h.
#pragma once

#if defined(__clang__)
#define SANDGATE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SANDGATE_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) SANDGATE_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY SANDGATE_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) SANDGATE_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) SANDGATE_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) SANDGATE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SANDGATE_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) SANDGATE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) SANDGATE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SANDGATE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SANDGATE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SANDGATE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) SANDGATE_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) SANDGATE_THREAD_ANNOTATION(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS SANDGATE_THREAD_ANNOTATION(no_thread_safety_analysis)
