/*
 * test_worker.c: a worker thread stops whenever worker_stop() is called,
 * also before its thread has entered its event loop.
 *
 * That order used to hang: worker_stop() called event_base_loopbreak()
 * from the main thread, and event_base_loop() clears the break flag when it
 * starts, so a worker that got there late waited in epoll_wait(2) forever.
 * To make the late start certain instead of a rare race, this test is
 * linked with -Wl,--wrap=event_base_loop,--wrap=pthread_join
 * (tests/CMakeLists.txt): while `hold` is set, the worker's call to
 * event_base_loop() waits until worker_stop() has reached pthread_join(),
 * that is until the stop was requested.  A hang is caught by an alarm
 * (TEST_SECS), which fails the test.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "worker.h"

#define TEST_SECS	60	/* far more than any stop takes: a hang */

int __real_event_base_loop(struct event_base *, int);
int __wrap_event_base_loop(struct event_base *, int);
int __real_pthread_join(pthread_t, void **);
int __wrap_pthread_join(pthread_t, void **);

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int hold;		/* make the loop start after the stop */
static int stop_requested;	/* worker_stop() reached pthread_join() */
static int loops_entered;

int
__wrap_event_base_loop(struct event_base *base, int flags)
{
	pthread_mutex_lock(&gate_lock);
	while (hold && !stop_requested)
		pthread_cond_wait(&gate_cond, &gate_lock);
	loops_entered++;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	return __real_event_base_loop(base, flags);
}

int
__wrap_pthread_join(pthread_t t, void **ret)
{
	pthread_mutex_lock(&gate_lock);
	stop_requested = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	return __real_pthread_join(t, ret);
}

static void
gate_reset(int h)
{
	pthread_mutex_lock(&gate_lock);
	hold = h;
	stop_requested = 0;
	loops_entered = 0;
	pthread_mutex_unlock(&gate_lock);
}

static void
on_alarm(int sig)
{
	static const char msg[] =
	    "test_worker: a worker did not stop (hang)\n";

	(void)sig;
	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_worker", LOG_LEVEL_WARN, 0);
	if (evthread_use_pthreads() == -1)
		return -1;
	signal(SIGALRM, on_alarm);
	return 0;
}

/* The stop comes before the worker's loop starts: it must still stop. */
static void
test_stop_before_loop(void **state)
{
	struct worker *w;

	(void)state;
	gate_reset(1);
	alarm(TEST_SECS);
	w = worker_start(0);
	assert_non_null(w);
	worker_stop(w);
	alarm(0);
	/* The loop did start, after the request: the order we wanted. */
	pthread_mutex_lock(&gate_lock);
	assert_int_equal(loops_entered, 1);
	assert_int_equal(stop_requested, 1);
	pthread_mutex_unlock(&gate_lock);
}

/* The usual order: the loop runs, then the stop. */
static void
test_stop_running(void **state)
{
	struct worker *w;

	(void)state;
	gate_reset(0);
	alarm(TEST_SECS);
	w = worker_start(1);
	assert_non_null(w);
	pthread_mutex_lock(&gate_lock);
	while (loops_entered == 0)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	worker_stop(w);
	alarm(0);
}

/* Whatever the threads' timing: many starts and stops in a row. */
static void
test_start_stop_many(void **state)
{
	struct worker *w;
	int i;

	(void)state;
	gate_reset(0);
	alarm(TEST_SECS);
	for (i = 0; i < 100; i++) {
		w = worker_start((unsigned)i);
		assert_non_null(w);
		worker_stop(w);
	}
	alarm(0);
	worker_stop(NULL);	/* a no-op */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_before_loop),
		cmocka_unit_test(test_stop_running),
		cmocka_unit_test(test_start_stop_many),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
