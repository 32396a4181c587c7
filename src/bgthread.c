/*
 * bgthread.c: the daemon's background threads (bgthread.h).
 *
 * Why the exit handler: OpenSSL frees its global state in an atexit
 * handler of its own, registered when it initialised (before ours), so it
 * runs after ours; a thread still inside an OpenSSL call at that point
 * would race it, and a thread left running leaks what it holds for
 * LeakSanitizer to report.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bgthread.h"
#include "log.h"

struct bgthread {
	struct bgthread	*next;		/* bgthread_lock */
	pthread_t	 thread;
	int		 cancel[2];	/* a byte in [1]: stop */
	bgthread_fn	*fn;
	void		(*fini)(void *);
	void		*arg;
};

static pthread_mutex_t bgthread_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bgthread *bgthread_list;
static int bgthread_registered;

static void *
bgthread_main(void *p)
{
	struct bgthread *t = p;

	t->fn(t->arg, t->cancel[0]);
	/* OpenSSL keeps per-thread state (the error queue): give it back. */
	OPENSSL_thread_stop();
	return NULL;
}

static void
bgthread_atexit(void)
{
	struct bgthread *list, *t, *next;

	pthread_mutex_lock(&bgthread_lock);
	list = bgthread_list;
	bgthread_list = NULL;
	pthread_mutex_unlock(&bgthread_lock);
	/* Tell them all first: they stop side by side. */
	for (t = list; t != NULL; t = t->next)
		while (write(t->cancel[1], "x", 1) == -1 && errno == EINTR)
			;
	for (t = list; t != NULL; t = next) {
		next = t->next;
		pthread_join(t->thread, NULL);
		if (t->fini != NULL)
			t->fini(t->arg);
		close(t->cancel[0]);
		close(t->cancel[1]);
		free(t);
	}
}

int
bgthread_start(const char *what, bgthread_fn *fn, void (*fini)(void *),
    void *arg)
{
	struct bgthread *t;
	sigset_t all, old;
	int rc;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("%s", what);
		return -1;
	}
	t->fn = fn;
	t->fini = fini;
	t->arg = arg;
	if (pipe2(t->cancel, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", what);
		free(t);
		return -1;
	}
	pthread_mutex_lock(&bgthread_lock);
	if (!bgthread_registered && atexit(bgthread_atexit) != 0) {
		pthread_mutex_unlock(&bgthread_lock);
		log_warnx("%s: cannot register the exit handler", what);
		goto err;
	}
	bgthread_registered = 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t->thread, NULL, bgthread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_mutex_unlock(&bgthread_lock);
		log_warnx("%s: pthread_create: %s", what, strerror(rc));
		goto err;
	}
	t->next = bgthread_list;
	bgthread_list = t;
	pthread_mutex_unlock(&bgthread_lock);
	return 0;
 err:
	close(t->cancel[0]);
	close(t->cancel[1]);
	free(t);
	return -1;
}
