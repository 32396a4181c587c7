/*
 * healthcheck.c: the active backend checks (healthcheck.h).
 *
 * The scheduler (a thread of bgthread.h) starts each check that is due on
 * a short-lived thread of its own, at most HEALTHCHECK_MAX at once and one
 * per backend, so a backend that hangs (a blackholed address, a server
 * that accepts and never answers) holds only its own check and never
 * delays another backend's.  A check's thread writes its slot number on
 * the done pipe as it ends; the scheduler joins it and records the result
 * (health.h), so a check's thread shares nothing with the others.  Between
 * those, the scheduler sleeps in poll(2) until the next check is due: a
 * byte on the wake pipe means a new generation (a reload), the cancel fd
 * means exit.  Either way it writes the stop pipe, the cancel fd of every
 * probe in progress, which ends them all at once, and joins them before it
 * lets go of their generation: neither a reload nor the shutdown waits for
 * a hung backend's timeouts, and the checks a reload ended start over at
 * once on the new configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bgthread.h"
#include "config.h"
#include "generation.h"
#include "health.h"
#include "healthcheck.h"
#include "log.h"
#include "probe.h"
#include "tlsctx.h"

/* Longest sleep when nothing is due (a reload wakes the thread anyway). */
#define HEALTHCHECK_IDLE	3600
/* The status line and some headers: all a check reads of the answer. */
#define HEALTHCHECK_ANSWER	512
/*
 * Checks in progress at once, at most: far more than the backends a site
 * has, and a bound on the threads (and sockets) one hung network can hold.
 */
#define HEALTHCHECK_MAX		16

/*
 * A check in progress, on a thread of its own.  Only the scheduler touches
 * a slot, except between pthread_create() and pthread_join(): then only
 * its check's thread does, and only ok, cancelled and why.
 */
struct healthcheck_slot {
	size_t			 n;		/* its number, for the done pipe */
	int			 busy;		/* a thread not joined yet */
	pthread_t		 thread;
	struct gen_site		*gs;		/* of the scheduler's generation */
	size_t			 idx;		/* the backend checked */
	int			 stop_fd;	/* the probe's cancel fd */
	int			 done_fd;	/* our number here: over */
	int			 ok;		/* the result: 1 passed, */
	int			 cancelled;	/* 1: ended by stop_fd, no result */
	char			 why[512];	/* why it failed */
};

struct healthcheck {
	int			 wake[2];	/* a byte: new generation */
	struct generation	*g;		/* healthcheck_lock; a ref */
	/* The scheduler's own: */
	int			 stop[2];	/* a byte: end every check */
	int			 done[2];	/* slot numbers of checks over */
	size_t			 nbusy;
	struct healthcheck_slot	 slot[HEALTHCHECK_MAX];
};

static pthread_mutex_t healthcheck_lock = PTHREAD_MUTEX_INITIALIZER;
static struct healthcheck *healthcheck_running;

static int
healthcheck_ms(unsigned secs)
{
	return secs > INT_MAX / 1000 ? INT_MAX : (int)secs * 1000;
}

/*
 * "HTTP/1.1 200 OK\r\n...": 1 if the status is 200, else 0 with why.
 * Only the status line is looked at.
 */
static int
healthcheck_status(const struct config_site *cs, const char *answer,
    char *why, size_t len)
{
	char line[80], esc[4 * sizeof(line)];
	size_t n;

	n = strcspn(answer, "\r\n");
	snprintf(line, sizeof(line), "%.*s", (int)n, answer);
	if (strncmp(line, "HTTP/1.", 7) == 0 && line[7] != '\0' &&
	    line[8] == ' ' && strncmp(line + 9, "200", 3) == 0 &&
	    (line[12] == ' ' || line[12] == '\0'))
		return 1;
	snprintf(why, len, "GET %s: %s", cs->backend_check_path,
	    n == 0 ? "no answer" : log_escape(line, esc, sizeof(esc)));
	return 0;
}

/* The request of a GET check. */
static void
healthcheck_request(const struct config_site *cs, size_t idx, char *req,
    size_t len)
{
	/* The name the backend expects: as the proxy sends it (SNI). */
	snprintf(req, len, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
	    "chainfix-healthcheck/%s\r\nConnection: close\r\n\r\n",
	    cs->backend_check_path, cs->backend_sni != NULL ?
	    cs->backend_sni : cs->backends[idx].host, CHAINFIX_VERSION);
}

/* GET over the TLS connection of p: 1 if the answer is 200. */
static int
healthcheck_get_tls(const struct config_site *cs, size_t idx,
    struct probe *p, char *why, size_t len)
{
	char req[512], answer[HEALTHCHECK_ANSWER], err[256];
	long long deadline = probe_now_ms() +
	    healthcheck_ms(cs->handshake_timeout);
	size_t n, got = 0;
	int rv;

	healthcheck_request(cs, idx, req, sizeof(req));
	if (probe_write(p, req, strlen(req), &n, deadline, "request", err,
	    sizeof(err)) != 1) {
		snprintf(why, len, "GET %s: %s", cs->backend_check_path, err);
		return 0;
	}
	/* Until the status line is in, the peer is done, or it is full. */
	while (got < sizeof(answer) - 1 &&
	    memchr(answer, '\n', got) == NULL) {
		rv = probe_read(p, answer + got, sizeof(answer) - 1 - got, &n,
		    deadline, "answer", err, sizeof(err));
		if (rv == 0)
			break;
		if (rv == -1) {
			snprintf(why, len, "GET %s: %s",
			    cs->backend_check_path, err);
			return 0;
		}
		got += n;
	}
	answer[got] = '\0';
	return healthcheck_status(cs, answer, why, len);
}

/* GET on the plain connection of p: 1 if the answer is 200. */
static int
healthcheck_get_plain(const struct config_site *cs, size_t idx,
    struct probe *p, char *why, size_t len)
{
	char req[512], answer[HEALTHCHECK_ANSWER], err[256];
	size_t got;

	healthcheck_request(cs, idx, req, sizeof(req));
	if (probe_plain(p, req, strlen(req), answer, sizeof(answer) - 1,
	    &got, healthcheck_ms(cs->handshake_timeout), err,
	    sizeof(err)) == -1) {
		snprintf(why, len, "GET %s: %s", cs->backend_check_path, err);
		return 0;
	}
	answer[got] = '\0';
	return healthcheck_status(cs, answer, why, len);
}

int
healthcheck_run(const struct config_site *cs, struct tlsctx_backend *tb,
    size_t idx, int cancel_fd, char *why, size_t len)
{
	const struct config_hostport *b = &cs->backends[idx];
	struct probe *p;
	char port[8], err[512];
	int ok = 0;

	snprintf(port, sizeof(port), "%u", (unsigned)b->port);
	if ((p = probe_connect_cancel(b->host, port,
	    healthcheck_ms(cs->connect_timeout), cancel_fd, NULL, err,
	    sizeof(err))) == NULL) {
		snprintf(why, len, "%s", err);
		return 0;
	}
	if (tb != NULL) {
		/* The proxy's own context: what it would refuse fails. */
		if (probe_handshake(p, tlsctx_backend_ssl(tb, idx, NULL),
		    healthcheck_ms(cs->handshake_timeout), err,
		    sizeof(err)) == -1) {
			snprintf(why, len, "%s", err);
			goto done;
		}
		if (tlsctx_backend_check(tb, probe_ssl(p), err,
		    sizeof(err)) == -1) {
			snprintf(why, len, "%s", err);
			goto done;
		}
	}
	if (cs->backend_check != CONFIG_CHECK_GET)
		ok = 1;
	else if (tb != NULL)
		ok = healthcheck_get_tls(cs, idx, p, why, len);
	else
		ok = healthcheck_get_plain(cs, idx, p, why, len);
 done:
	probe_close(p);
	ERR_clear_error();
	return ok;
}

/* 1 if a byte waits in fd. */
static int
healthcheck_readable(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, 0) == 1;
}

/* Read what waits in the non-blocking fd, and drop it. */
static void
healthcheck_drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * One check, on a thread of its own: the slot was filled by the
 * scheduler before the thread started, and is read again only after it
 * is joined.
 */
static void *
healthcheck_check_main(void *arg)
{
	struct healthcheck_slot *s = arg;
	unsigned char n = (unsigned char)s->n;

	s->why[0] = '\0';
	s->ok = healthcheck_run(s->gs->cfg, s->gs->backend, s->idx,
	    s->stop_fd, s->why, sizeof(s->why));
	/* Ended by the stop pipe: a result about nothing. */
	s->cancelled = healthcheck_readable(s->stop_fd);
	/* OpenSSL keeps per-thread state (the error queue): give it back. */
	OPENSSL_thread_stop();
	/* Signals are blocked (inherited); 16 bytes at most: never full. */
	while (write(s->done_fd, &n, 1) == -1 && errno == EINTR)
		;
	return NULL;
}

/* The slot checking backend idx of gs, or NULL if none is. */
static struct healthcheck_slot *
healthcheck_busy(struct healthcheck *hc, const struct gen_site *gs,
    size_t idx)
{
	size_t n;

	for (n = 0; n < HEALTHCHECK_MAX; n++)
		if (hc->slot[n].busy && hc->slot[n].gs == gs &&
		    hc->slot[n].idx == idx)
			return &hc->slot[n];
	return NULL;
}

/*
 * Start checking backend idx of gs in a free slot: 0, or -1 (logged) if
 * its thread could not start.
 */
static int
healthcheck_launch(struct healthcheck *hc, struct gen_site *gs, size_t idx)
{
	struct healthcheck_slot *s = NULL;
	size_t n;
	int rc;

	for (n = 0; n < HEALTHCHECK_MAX && s == NULL; n++)
		if (!hc->slot[n].busy)
			s = &hc->slot[n];
	if (s == NULL)
		return -1;	/* not reached: the caller counts them */
	s->gs = gs;
	s->idx = idx;
	s->stop_fd = hc->stop[0];
	s->done_fd = hc->done[1];
	s->ok = s->cancelled = 0;
	log_debug("site %s: backend %s: checking", gs->cfg->name,
	    gs->cfg->backends[idx].text);
	if ((rc = pthread_create(&s->thread, NULL, healthcheck_check_main,
	    s)) != 0) {
		log_warnx("site %s: backend %s: cannot start its check: %s; "
		    "next try in %us", gs->cfg->name,
		    gs->cfg->backends[idx].text, strerror(rc),
		    gs->cfg->backend_check_interval);
		return -1;
	}
	s->busy = 1;
	hc->nbusy++;
	return 0;
}

/* Join the check of slot s and record what it found (unless cancelled). */
static void
healthcheck_reap(struct healthcheck *hc, struct healthcheck_slot *s)
{
	const struct config_site *cs = s->gs->cfg;

	pthread_join(s->thread, NULL);
	s->busy = 0;
	hc->nbusy--;
	if (s->cancelled) {
		/* A reload checks it again at once; exit does not care. */
		log_debug("site %s: backend %s: check cancelled", cs->name,
		    cs->backends[s->idx].text);
		return;
	}
	log_debug("site %s: backend %s: check %s%s%s", cs->name,
	    cs->backends[s->idx].text, s->ok ? "passed" : "failed",
	    s->ok ? "" : ": ", s->ok ? "" : s->why);
	health_checked(s->gs->health, s->idx, s->ok, s->why);
	health_check_next(s->gs->health, s->idx,
	    health_now() + (time_t)cs->backend_check_interval);
}

/* Reap every check that said it is over on the done pipe. */
static void
healthcheck_reap_done(struct healthcheck *hc)
{
	unsigned char buf[HEALTHCHECK_MAX];
	ssize_t got, i;

	while ((got = read(hc->done[0], buf, sizeof(buf))) > 0)
		for (i = 0; i < got; i++)
			if (buf[i] < HEALTHCHECK_MAX &&
			    hc->slot[buf[i]].busy)
				healthcheck_reap(hc, &hc->slot[buf[i]]);
}

/*
 * Start every check of g that is due and not in progress, as slots allow.
 * Returns when the next one not in progress is due (health_now()
 * seconds); a due check left waiting for a slot is not counted: the end
 * of a check in progress wakes the scheduler anyway.
 */
static time_t
healthcheck_due(struct healthcheck *hc, struct generation *g)
{
	const struct config_site *cs;
	struct gen_site *gs;
	time_t next, at;
	size_t i, idx;

	next = health_now() + HEALTHCHECK_IDLE;
	for (i = 0; i < g->nsites; i++) {
		gs = &g->sites[i];
		cs = gs->cfg;
		if (cs->backend_check == CONFIG_CHECK_NONE)
			continue;
		for (idx = 0; idx < cs->nbackends; idx++) {
			if (healthcheck_busy(hc, gs, idx) != NULL)
				continue;
			at = health_check_at(gs->health, idx);
			if (at <= health_now()) {
				if (hc->nbusy == HEALTHCHECK_MAX)
					continue;
				if (healthcheck_launch(hc, gs, idx) == 0)
					continue;
				/* No thread: try again an interval later. */
				at = health_now() +
				    (time_t)cs->backend_check_interval;
				health_check_next(gs->health, idx, at);
			}
			if (at < next)
				next = at;
		}
	}
	return next;
}

/*
 * End every check in progress (the stop pipe cancels their probes at
 * once) and join them; a check that was over already is recorded.
 */
static void
healthcheck_stop_all(struct healthcheck *hc)
{
	size_t n;

	if (hc->nbusy == 0)
		return;
	while (write(hc->stop[1], "s", 1) == -1 && errno == EINTR)
		;
	for (n = 0; n < HEALTHCHECK_MAX; n++)
		if (hc->slot[n].busy)
			healthcheck_reap(hc, &hc->slot[n]);
	/* Every check is joined: nothing reads these any more. */
	healthcheck_drain(hc->stop[0]);
	healthcheck_drain(hc->done[0]);
}

/*
 * Check the backends of g until the thread is cancelled (returns 0) or
 * handed a new generation (returns 1).  Every check started is over and
 * joined when it returns, so none outlives the reference to g.
 */
static int
healthcheck_serve(struct healthcheck *hc, struct generation *g,
    int cancel_fd)
{
	struct pollfd pfd[3];
	time_t left;
	int rc = -1;

	while (rc == -1) {
		left = healthcheck_due(hc, g) - health_now();
		pfd[0].fd = cancel_fd;
		pfd[1].fd = hc->wake[0];
		pfd[2].fd = hc->done[0];
		pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		if (left > 0 && poll(pfd, 3, healthcheck_ms((unsigned)left)) ==
		    -1 && errno != EINTR) {
			log_warn("health checks: poll");
			rc = 0;
			break;
		}
		healthcheck_reap_done(hc);
		if (healthcheck_readable(cancel_fd))
			rc = 0;
		else if (healthcheck_readable(hc->wake[0])) {
			/*
			 * A new generation: its checks start over on its own
			 * configuration (timeouts, check, backends), at once.
			 */
			healthcheck_drain(hc->wake[0]);
			rc = 1;
		}
	}
	healthcheck_stop_all(hc);
	return rc;
}

static void
healthcheck_main(void *arg, int cancel_fd)
{
	struct healthcheck *hc = arg;
	struct generation *g;
	int more;

	do {
		pthread_mutex_lock(&healthcheck_lock);
		g = generation_ref(hc->g);
		pthread_mutex_unlock(&healthcheck_lock);
		more = healthcheck_serve(hc, g, cancel_fd);
		generation_unref(g);
	} while (more);
}

/* Close a pipe's ends that are open (-1: not). */
static void
healthcheck_close_pipe(int fd[2])
{
	if (fd[0] != -1)
		close(fd[0]);
	if (fd[1] != -1)
		close(fd[1]);
}

/* Close hc's pipes and free it (not its generation); NULL is a no-op. */
static void
healthcheck_free(struct healthcheck *hc)
{
	if (hc == NULL)
		return;
	healthcheck_close_pipe(hc->wake);
	healthcheck_close_pipe(hc->stop);
	healthcheck_close_pipe(hc->done);
	free(hc);
}

/* At exit, once the thread is joined. */
static void
healthcheck_fini(void *arg)
{
	struct healthcheck *hc = arg;

	pthread_mutex_lock(&healthcheck_lock);
	healthcheck_running = NULL;
	pthread_mutex_unlock(&healthcheck_lock);
	generation_unref(hc->g);
	healthcheck_free(hc);
}

/* 1 if some site of g asks for active checks. */
static int
healthcheck_wanted(const struct generation *g)
{
	size_t i;

	for (i = 0; i < g->nsites; i++)
		if (g->sites[i].cfg->backend_check != CONFIG_CHECK_NONE)
			return 1;
	return 0;
}

/* Start the thread on g (healthcheck_lock held). */
static int
healthcheck_start(struct generation *g)
{
	struct healthcheck *hc;
	size_t n;

	if ((hc = calloc(1, sizeof(*hc))) == NULL) {
		log_warn("health checks");
		return -1;
	}
	hc->wake[0] = hc->wake[1] = hc->stop[0] = hc->stop[1] = -1;
	hc->done[0] = hc->done[1] = -1;
	for (n = 0; n < HEALTHCHECK_MAX; n++)
		hc->slot[n].n = n;
	/*
	 * Non-blocking: the scheduler drains them; a write never finds one
	 * full (a byte per reload, per stop, per check in progress).
	 */
	if (pipe2(hc->wake, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(hc->stop, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(hc->done, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("health checks: pipe");
		healthcheck_free(hc);
		return -1;
	}
	hc->g = generation_ref(g);
	if (bgthread_start("health checks", healthcheck_main,
	    healthcheck_fini, hc) == -1) {
		generation_unref(hc->g);
		healthcheck_free(hc);
		return -1;
	}
	healthcheck_running = hc;
	return 0;
}

int
healthcheck_set(struct generation *g)
{
	struct healthcheck *hc;
	struct generation *old;
	int rc = 0;

	pthread_mutex_lock(&healthcheck_lock);
	if ((hc = healthcheck_running) == NULL) {
		if (healthcheck_wanted(g))
			rc = healthcheck_start(g);
		pthread_mutex_unlock(&healthcheck_lock);
		return rc;
	}
	old = hc->g;
	hc->g = generation_ref(g);
	if (write(hc->wake[1], "w", 1) == -1) {
		/* Full (EAGAIN): it already says "wake up". */
	}
	pthread_mutex_unlock(&healthcheck_lock);
	generation_unref(old);
	return 0;
}
