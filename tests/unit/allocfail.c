/*
 * allocfail.c: an allocator that fails the armed'th allocation (allocfail.h).
 * Safe from any thread: the count is atomic.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <event2/event.h>

#include "allocfail.h"

static atomic_long allocfail_countdown;	/* 0: never fail */
static atomic_int allocfail_did;
static int (*allocfail_spare)(size_t);

static int
allocfail_now(size_t size)
{
	if (atomic_load(&allocfail_countdown) == 0)
		return 0;
	if (atomic_fetch_sub(&allocfail_countdown, 1) != 1)
		return 0;
	if (allocfail_spare != NULL && allocfail_spare(size)) {
		atomic_store(&allocfail_countdown, 1);
		return 0;
	}
	atomic_store(&allocfail_did, 1);
	return 1;
}

/* The linker's names for the real allocator and our wrappers. */
void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);

void *
__wrap_malloc(size_t n)
{
	return allocfail_now(n) ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return allocfail_now(n * size) ? NULL : __real_calloc(n, size);
}

/* libevent's allocator. */
static void *
allocfail_malloc(size_t n)
{
	return allocfail_now(n) ? NULL : __real_malloc(n);
}

static void *
allocfail_realloc(void *p, size_t n)
{
	return allocfail_now(n) ? NULL : realloc(p, n);
}

static void
allocfail_free(void *p)
{
	free(p);
}

void
allocfail_init(int (*spare)(size_t))
{
	allocfail_spare = spare;
	event_set_mem_functions(allocfail_malloc, allocfail_realloc,
	    allocfail_free);
}

void
allocfail_arm(long n)
{
	if (n != 0)
		atomic_store(&allocfail_did, 0);
	atomic_store(&allocfail_countdown, n);
}

int
allocfail_failed(void)
{
	return atomic_load(&allocfail_did);
}
