/*
 * healthcheck.c: the active backend checks (healthcheck.h).
 *
 * The thread (bgthread.h) sleeps in poll(2) until the next check is due: a
 * byte on the wake pipe means a new generation (a reload); the cancel fd
 * means exit, and also ends a probe in progress.
 * XXX checks run one after the other: a backend that times out delays the
 * others' checks by up to its timeouts; fine for the handful of backends a
 * site has.
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

struct healthcheck {
	int			 wake[2];	/* a byte: new generation */
	struct generation	*g;		/* healthcheck_lock; a ref */
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

/*
 * One round over g: every check that is due.  Returns when the next one
 * is (health_now() seconds), or 0 if the thread was cancelled.
 */
static time_t
healthcheck_round(struct generation *g, int cancel_fd)
{
	const struct config_site *cs;
	struct gen_site *gs;
	time_t next, at;
	char why[512];
	size_t i, idx;
	int ok;

	next = health_now() + HEALTHCHECK_IDLE;
	for (i = 0; i < g->nsites; i++) {
		gs = &g->sites[i];
		cs = gs->cfg;
		if (cs->backend_check == CONFIG_CHECK_NONE)
			continue;
		for (idx = 0; idx < cs->nbackends; idx++) {
			at = health_check_at(gs->health, idx);
			if (at <= health_now()) {
				why[0] = '\0';
				ok = healthcheck_run(cs, gs->backend, idx,
				    cancel_fd, why, sizeof(why));
				if (healthcheck_readable(cancel_fd))
					return 0;
				log_debug("site %s: backend %s: check %s%s%s",
				    cs->name, cs->backends[idx].text,
				    ok ? "passed" : "failed", ok ? "" : ": ",
				    ok ? "" : why);
				health_checked(gs->health, idx, ok, why);
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

static void
healthcheck_main(void *arg, int cancel_fd)
{
	struct healthcheck *hc = arg;
	struct generation *g;
	struct pollfd pfd[2];
	time_t next, left;
	char buf[64];

	for (;;) {
		pthread_mutex_lock(&healthcheck_lock);
		g = generation_ref(hc->g);
		pthread_mutex_unlock(&healthcheck_lock);
		next = healthcheck_round(g, cancel_fd);
		generation_unref(g);
		if (next == 0)
			return;
		left = next - health_now();
		pfd[0].fd = cancel_fd;
		pfd[1].fd = hc->wake[0];
		pfd[0].events = pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (left > 0 && poll(pfd, 2, healthcheck_ms((unsigned)left)) ==
		    -1 && errno != EINTR)
			return;
		if (healthcheck_readable(cancel_fd))
			return;
		/* A new generation: the next round checks it. */
		while (healthcheck_readable(hc->wake[0]) &&
		    read(hc->wake[0], buf, sizeof(buf)) > 0)
			;
	}
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
	close(hc->wake[0]);
	close(hc->wake[1]);
	free(hc);
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

	if ((hc = calloc(1, sizeof(*hc))) == NULL) {
		log_warn("health checks");
		return -1;
	}
	if (pipe2(hc->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("health checks: pipe");
		free(hc);
		return -1;
	}
	hc->g = generation_ref(g);
	if (bgthread_start("health checks", healthcheck_main,
	    healthcheck_fini, hc) == -1) {
		generation_unref(hc->g);
		close(hc->wake[0]);
		close(hc->wake[1]);
		free(hc);
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
