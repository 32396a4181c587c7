/*
 * test_fdslots.c: libevent's per-descriptor entries are made a block at a
 * time, ahead of the descriptors, so that watching a new descriptor later
 * allocates nothing (fdslots.h says why that matters), and reserving
 * leaves the events already on the base working.
 *
 * libevent's allocations are counted through event_set_mem_functions(),
 * set before libevent allocates anything.
 */
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "fdslots.h"

static long nalloc;	/* libevent's malloc() and realloc() calls */
static int nwarn;	/* libevent's warnings */

static void
count_log(int severity, const char *msg)
{
	(void)msg;
	if (severity >= EVENT_LOG_WARN)
		nwarn++;
}

static void *
count_malloc(size_t n)
{
	nalloc++;
	return malloc(n);
}

static void *
count_realloc(void *p, size_t n)
{
	nalloc++;
	return realloc(p, n);
}

static void
count_free(void *p)
{
	free(p);
}

/* The workers' kind of base (worker.c). */
static struct event_base *
base_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	assert_non_null(cfg = event_config_new());
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	assert_non_null(base);
	return base;
}

static void
fired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(*(int *)arg)++;
}

/*
 * Allocations libevent makes to add a read event on fd to base (the event
 * itself is ours); the event is left added and is returned.
 */
static struct event *
add_counted(struct event_base *base, int fd, int *hits, long *n)
{
	struct event *ev;

	assert_non_null(ev = malloc(event_get_struct_event_size()));
	assert_int_equal(event_assign(ev, base, fd, EV_READ | EV_PERSIST,
	    fired, hits), 0);
	nalloc = 0;
	assert_int_equal(event_add(ev, NULL), 0);
	*n = nalloc;
	return ev;
}

static void
event_drop(struct event *ev)
{
	assert_int_equal(event_del(ev), 0);
	free(ev);
}

static void
test_reserve(void **state)
{
	struct event_base *base, *plain;
	struct event *before, *later, *far;
	int sv[2], fd, upto = 0, hits0 = 0, hits1 = 0, unused = 0;
	long n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* A descriptor number no base has seen yet, as a new session's. */
	assert_true((fd = dup2(sv[0], 900)) == 900);

	/* Without reserving, watching a new descriptor allocates. */
	plain = base_new();
	later = add_counted(plain, fd, &hits1, &n);
	assert_true(n > 0);
	event_drop(later);
	event_base_free(plain);

	base = base_new();
	before = add_counted(base, sv[0], &hits0, &n);
	fdslots_reserve(base, &upto, sv[1]);
	/* Every descriptor below sv[1] + FDSLOTS_BLOCK, in whole blocks. */
	assert_true(upto >= sv[1] + FDSLOTS_BLOCK);
	assert_int_equal(upto % FDSLOTS_BLOCK, 0);
	/*
	 * Apply (and empty) the changelist the reservation filled: the adds
	 * and deletes cancelled out, so epoll was not asked about the
	 * descriptors that are not open (it would refuse them, and libevent
	 * would warn).
	 */
	assert_int_not_equal(event_base_loop(base, EVLOOP_NONBLOCK), -1);
	assert_int_equal(nwarn, 0);

	/* Inside the block: no call allocates, and upto stays. */
	nalloc = 0;
	fdslots_reserve(base, &upto, fd - FDSLOTS_BLOCK + 1 > 0 ?
	    fd - FDSLOTS_BLOCK + 1 : 0);
	assert_int_equal(nalloc, 0);
	later = add_counted(base, fd, &hits1, &n);
	assert_int_equal(n, 0);

	/* Both events work: the one added before, the one added after. */
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
	    0);
	assert_int_equal(hits0, 1);
	assert_int_equal(hits1, 1);
	event_drop(later);
	event_drop(before);

	/*
	 * The next block once a descriptor comes near the end (never
	 * dispatched: the number is not open).
	 */
	n = upto;
	fdslots_reserve(base, &upto, upto - 1);
	assert_true(upto >= n + FDSLOTS_BLOCK);
	far = add_counted(base, upto - 1, &unused, &n);
	assert_int_equal(n, 0);
	event_drop(far);

	event_base_free(base);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserve),
	};

	event_set_mem_functions(count_malloc, count_realloc, count_free);
	event_set_log_callback(count_log);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
