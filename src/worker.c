/*
 * worker.c: event-loop threads (worker.h).
 *
 * The main thread accepts and queues each connection here; the queue is a
 * mutex-protected list and a user event made active with event_active(),
 * which wakes the worker's base from another thread because the bases are
 * created after evthread_use_pthreads().
 *
 * Every request from another thread (new jobs, close all, stop) is such an
 * event, never a flag set on the base from outside: event_base_loop()
 * clears the break flag when it starts, so an event_base_loopbreak() that
 * comes before the worker has entered its loop would be lost and the worker
 * would wait in epoll_wait(2) forever.  An event made active before the
 * loop starts waits on the active queue and runs once it does.
 */
#include <sys/socket.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "fdslots.h"
#include "generation.h"
#include "log.h"
#include "session.h"
#include "worker.h"

struct worker_job {
	struct worker_job	*next;
	int			 fd;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct generation	*gen;
	struct gen_listen	*gl;
};

struct worker {
	unsigned		 id;
	pthread_t		 thread;
	int			 running;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct event		*wake;		/* jobs queued */
	struct event		*kill;		/* close all sessions */
	struct event		*stop;		/* leave the loop */
	pthread_mutex_t		 lock;
	struct worker_job	*head, *tail;	/* under lock */
	size_t			 queued;	/* under lock */
	const char		*kill_reason;	/* under lock */
	struct session_list	 sessions;	/* worker thread only */
	struct session_env	 env;
	int			 fdslots;	/* base's descriptor entries made
						   below this (fdslots.h) */
};

static void
worker_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct worker_job *j, *next;
	size_t n;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->lock);
	j = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_unlock(&w->lock);
	for (n = 0; j != NULL; j = next, n++) {
		next = j->next;
		/*
		 * Before the session allocates anything: libevent's entry
		 * for fd (and, a block ahead, for the backend socket to
		 * come) must not land in the middle of its memory.
		 */
		fdslots_reserve(w->base, &w->fdslots, j->fd);
		(void)session_start(&w->env, j->fd,
		    (struct sockaddr *)&j->ss, j->sslen, j->gen, j->gl);
		free(j);
	}
	/*
	 * Only now: the drain counts queued plus live sessions, and a
	 * connection must never be in neither.
	 */
	pthread_mutex_lock(&w->lock);
	w->queued -= n;
	pthread_mutex_unlock(&w->lock);
}

static void
worker_kill(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	const char *reason;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->lock);
	reason = w->kill_reason != NULL ? w->kill_reason : "shutdown";
	pthread_mutex_unlock(&w->lock);
	session_close_all(&w->sessions, reason);
}

/* worker_stop()'s request, run inside the loop: leave it. */
static void
worker_stopped(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(w->base);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	/* Stay alive with no sessions until worker_stop() breaks out. */
	if (event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY) == -1)
		log_warnx("worker %u: event loop failed", w->id);
	return NULL;
}

static void
worker_free(struct worker *w)
{
	struct worker_job *j, *next;

	for (j = w->head; j != NULL; j = next) {
		next = j->next;
		close(j->fd);
		generation_unref(j->gen);
		free(j);
	}
	session_close_all(&w->sessions, "shutdown");
	if (w->wake != NULL)
		event_free(w->wake);
	if (w->kill != NULL)
		event_free(w->kill);
	if (w->stop != NULL)
		event_free(w->stop);
	/* No session is left to wait for an answer: no need to fail them. */
	if (w->dns != NULL)
		evdns_base_free(w->dns, 0);
	if (w->base != NULL)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/*
 * The worker's event_base.  Sessions change a socket's interest only when
 * their state needs it (session.c); the changelist folds the changes of
 * one loop turn into at most one epoll_ctl(2) per socket at the next
 * epoll_wait(2), none if they cancel out.  Its known hazard, a dup(2)ed fd
 * closed between changes, does not arise: every fd here has exactly one
 * event.
 *
 * A session that has moved its byte budget queues itself again with
 * event_active(), which libevent runs in the same pass: after
 * WORKER_MAX_CALLBACKS callbacks the loop polls again, so sockets that just
 * became ready get their turn between a bulk transfer's rounds.
 */
#define WORKER_MAX_CALLBACKS	64

static struct event_base *
worker_base_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	event_config_set_max_dispatch_interval(cfg, NULL,
	    WORKER_MAX_CALLBACKS, 0);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

struct worker *
worker_start(unsigned id)
{
	struct worker *w;
	sigset_t all, old;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("worker_start");
		return NULL;
	}
	w->id = id;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		return NULL;
	}
	if ((w->base = worker_base_new()) == NULL)
		goto err;
	if ((w->dns = evdns_base_new(w->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		/*
		 * Without a usable /etc/resolv.conf: backends given as
		 * addresses (or in /etc/hosts) still work.
		 */
		log_warnx("worker %u: no DNS servers configured", id);
		if ((w->dns = evdns_base_new(w->base, 0)) == NULL)
			goto err;
		evdns_base_load_hosts(w->dns, NULL);
	}
	if ((w->wake = event_new(w->base, -1, 0, worker_wake, w)) == NULL ||
	    (w->kill = event_new(w->base, -1, 0, worker_kill, w)) == NULL ||
	    (w->stop = event_new(w->base, -1, 0, worker_stopped, w)) == NULL)
		goto err;
	w->env.base = w->base;
	w->env.dns = w->dns;
	w->env.list = &w->sessions;

	/* Signals are the main thread's: block them in the worker. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warnx("worker %u: pthread_create: %s", id, strerror(rc));
		worker_free(w);
		return NULL;
	}
	w->running = 1;
	return w;
 err:
	log_warnx("worker %u: cannot create its event loop", id);
	worker_free(w);
	return NULL;
}

int
worker_submit(struct worker *w, int fd, const struct sockaddr *sa,
    socklen_t salen, struct generation *g, struct gen_listen *gl)
{
	struct worker_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_warn("worker_submit");
		close(fd);
		generation_unref(g);
		return -1;
	}
	j->fd = fd;
	if (salen > sizeof(j->ss))
		salen = sizeof(j->ss);
	memcpy(&j->ss, sa, salen);
	j->sslen = salen;
	j->gen = g;
	j->gl = gl;
	pthread_mutex_lock(&w->lock);
	if (w->tail != NULL)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->queued++;
	pthread_mutex_unlock(&w->lock);
	event_active(w->wake, 0, 0);
	return 0;
}

size_t
worker_queued(struct worker *w)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->queued;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void
worker_close_all(struct worker *w, const char *reason)
{
	pthread_mutex_lock(&w->lock);
	w->kill_reason = reason;
	pthread_mutex_unlock(&w->lock);
	event_active(w->kill, 0, 0);
}

void
worker_stop(struct worker *w)
{
	if (w == NULL)
		return;
	if (w->running) {
		/* Not event_base_loopbreak() from here: see the top. */
		event_active(w->stop, 0, 0);
		pthread_join(w->thread, NULL);
	}
	worker_free(w);
}
