#ifndef VALENCE_CSYSCALLS_SHIM_H
#define VALENCE_CSYSCALLS_SHIM_H
// System calls Swift cannot reach through Glibc: openat2(2) has no libc wrapper, and syscall(2)
// is variadic (unavailable to Swift). Linux only; elsewhere the functions fail with ENOSYS.
#include <errno.h>
#include <stdint.h>
#ifdef __linux__
#include <unistd.h>
#include <sys/syscall.h>
#include <fcntl.h>
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define VALENCE_HAS_OPENAT2 1
#endif
// <fcntl.h> declares O_PATH only under _GNU_SOURCE; its value on x86-64, arm64 and every
// asm-generic architecture.
#ifndef O_PATH
#define O_PATH 010000000
#endif
#endif

/// openat2(2) with `resolve` flags (RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS, ...): a descriptor, or -1
/// with errno set (ENOSYS before Linux 5.6 and off Linux).
static inline int valence_openat2(int directory, const char *path, uint64_t flags, uint64_t resolve) {
#if defined(__linux__) && defined(SYS_openat2) && defined(VALENCE_HAS_OPENAT2)
    struct open_how how = { .flags = flags, .mode = 0, .resolve = resolve };
    return (int)syscall(SYS_openat2, directory, path, &how, sizeof how);
#else
    (void)directory; (void)path; (void)flags; (void)resolve;
    errno = ENOSYS;
    return -1;
#endif
}

/// An O_PATH descriptor for `path` below `directory`, reached without leaving it and through no
/// symbolic link (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); -1 with errno set otherwise.
static inline int valence_open_path_beneath(int directory, const char *path) {
#if defined(__linux__) && defined(SYS_openat2) && defined(VALENCE_HAS_OPENAT2)
    return valence_openat2(directory, path, O_PATH | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
#else
    (void)directory; (void)path;
    errno = ENOSYS;
    return -1;
#endif
}

/// `path` below `directory` opened as a directory (O_RDONLY | O_DIRECTORY | O_CLOEXEC), reached
/// without leaving `directory` and through no symbolic link; -1 with errno set otherwise.
static inline int valence_open_directory_beneath(int directory, const char *path) {
#if defined(__linux__) && defined(SYS_openat2) && defined(VALENCE_HAS_OPENAT2)
    return valence_openat2(directory, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
#else
    (void)directory; (void)path;
    errno = ENOSYS;
    return -1;
#endif
}
#endif
