/*
 * allocfail.h: out-of-memory tests, failing one allocation at a time.
 *
 * Counts libevent's allocations (event_set_mem_functions) and those of the
 * code linked into the test with -Wl,--wrap=malloc -Wl,--wrap=calloc
 * (chainfix's own modules: tests/CMakeLists.txt), not the shared
 * libraries' own (OpenSSL's, libc's).  Link allocfail.c only into a test
 * linked with those options.
 */
#ifndef CHAINFIX_ALLOCFAIL_H
#define CHAINFIX_ALLOCFAIL_H

#include <stddef.h>

/*
 * allocfail_init(spare):
 * Install the counting allocator in libevent: call it before any other
 * libevent call.  spare, if not NULL, is asked about the allocation that
 * is about to fail (its size); non-zero lets it succeed and fails the next
 * one instead (an allocation whose failure a library does not survive).
 */
void allocfail_init(int (*spare)(size_t size));

/* allocfail_arm(n): fail the n'th allocation from now (1: the next); 0:
   fail none from now on. */
void allocfail_arm(long n);

/* allocfail_failed(): whether an allocation failed since the last
   allocfail_arm() with n > 0. */
int allocfail_failed(void);

#endif /* CHAINFIX_ALLOCFAIL_H */
