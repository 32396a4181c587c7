/*
 * proxy.c: the daemon's lifecycle (proxy.h): load, bind, serve, reload on
 * SIGHUP, drain on SIGTERM/SIGINT.
 *
 * The main thread owns the event_base that runs the listeners, the signals,
 * the admin endpoint and reloads; workers (worker.c) run the sessions.  The
 * live generation is only ever replaced here, on the main thread, and each
 * connection carries its own reference to the generation it was accepted
 * on.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <malloc.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "admin.h"
#include "config.h"
#include "expiry.h"
#include "generation.h"
#include "healthcheck.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "selftest.h"
#include "service.h"
#include "session.h"
#include "watch.h"
#include "worker.h"

#define PROXY_DRAIN_POLL_MS	100
#define PROXY_STATUS_SECS	10	/* systemd STATUS= refresh */

struct proxy {
	const char		*path;
	const char		*report;	/* --listen-report FILE or NULL */
	char			 admin_addr[300];	/* its report line's address */
	struct event_base	*base;
	struct generation	*gen;		/* the live one; our reference */
	unsigned		 serial;
	struct listener		**listeners;	/* parallel to gen->listens */
	size_t			 nlisteners;
	struct worker		**workers;
	size_t			 nworkers;
	size_t			 next;		/* round robin */
	size_t			 trim_peak;	/* connections, since the last
						   malloc_trim() */
	struct event		*sighup, *sigterm, *sigint;
	struct event		*drain_timer;
	struct event		*status_timer;
	struct event		*expiry_timer;
	unsigned		 expiry_interval;	/* as armed, seconds */
	struct admin		*admin;
	struct watch		*watch;		/* reload when files change */
	struct generation_loader *loader;	/* a reload being built */
	int			 reload_again;	/* SIGHUP while it was */
	struct generation	*expiry_old;	/* the expiry check's reload
						   replaces this (our ref) */
	int			 draining;
	int			 killed;	/* sessions told to close */
	struct timespec		 drain_start;
};

static void
proxy_accept(struct listener *l, int fd, const struct sockaddr *sa,
    socklen_t salen, void *arg)
{
	struct proxy *p = arg;
	struct worker *w;
	size_t i = listener_index(l);

	if (p->draining || i >= p->gen->nlistens) {
		close(fd);
		listener_fd_released();
		return;
	}
	w = p->workers[p->next++ % p->nworkers];
	/* On failure worker_submit closed fd: it no longer counts. */
	if (worker_submit(w, fd, sa, salen, generation_ref(p->gen),
	    &p->gen->listens[i]) == -1)
		listener_fd_released();
}

static void
proxy_free_listeners(struct listener **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		listener_free(v[i]);
	free(v);
}

/*
 * Listeners for every address of g: the running ones are kept for
 * addresses that stay (no window where connections are refused), new ones
 * bound.  On success the old array's unused listeners are freed and the
 * proxy switches to the new array; on failure nothing changes.
 */
static int
proxy_bind(struct proxy *p, struct generation *g)
{
	const struct config_site *cs;
	struct listener **v, **old = p->listeners;
	unsigned char *fresh;
	char where[PATH_MAX + 128];
	size_t i, j;

	if ((v = calloc(g->nlistens, sizeof(*v))) == NULL ||
	    (fresh = calloc(g->nlistens, 1)) == NULL) {
		free(v);
		log_warn("proxy_bind");
		return -1;
	}
	for (i = 0; i < g->nlistens; i++) {
		for (j = 0; j < p->nlisteners; j++) {
			if (old[j] != NULL && generation_same_addr(
			    listener_addr(old[j]), g->listens[i].addr)) {
				v[i] = old[j];
				break;
			}
		}
		if (v[i] != NULL)
			continue;
		/* Name the line and the site a failure is about. */
		cs = generation_listen_site(&g->listens[i]);
		snprintf(where, sizeof(where), "%s:%d: [%s] listen",
		    g->cfg->path, cs->listen_line, cs->name);
		if ((v[i] = listener_new(p->base, g->listens[i].addr, where,
		    proxy_accept, p)) == NULL)
			goto err;
		fresh[i] = 1;
	}
	for (j = 0; j < p->nlisteners; j++) {
		for (i = 0; i < g->nlistens; i++)
			if (v[i] == old[j])
				break;
		if (i == g->nlistens) {
			log_info("listen %s: closed",
			    listener_addr(old[j])->text);
			listener_free(old[j]);
		}
	}
	for (i = 0; i < g->nlistens; i++) {
		listener_set_index(v[i], i);
		listener_set_keepalive(v[i], g->cfg->client_keepalive);
	}
	free(old);
	free(fresh);
	p->listeners = v;
	p->nlisteners = g->nlistens;
	return 0;
 err:
	for (i = 0; i < g->nlistens; i++)
		if (fresh[i])
			listener_free(v[i]);
	free(v);
	free(fresh);
	return -1;
}

/* "host:port" of hp with port, for the listen report: "*" is any address. */
static void
proxy_report_addr(const struct config_hostport *hp, uint16_t port, char *buf,
    size_t len)
{
	const char *h = hp->host != NULL && *hp->host != '\0' ? hp->host : "*";

	(void)snprintf(buf, len, strchr(h, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    h, (unsigned)port);
}

/*
 * Write the listen report (--listen-report FILE): "SITE listen HOST:PORT"
 * for every site, then "global admin_listen HOST:PORT", each with the port
 * actually bound (the system's pick for port 0), so tests and scripts need
 * not guess free ports.  Written beside and renamed over FILE: a reader
 * sees the whole report or none.  Returns 0, or -1 (logged).
 */
static int
proxy_report(const struct proxy *p)
{
	const struct gen_site *gs;
	char tmp[4096], addr[300];
	FILE *f = NULL;
	size_t i;

	if (p->report == NULL)
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", p->report) >=
	    sizeof(tmp)) {
		log_warnx("--listen-report %s: name too long", p->report);
		return -1;
	}
	if ((f = fopen(tmp, "we")) == NULL)
		goto err;
	for (i = 0; i < p->gen->nsites; i++) {
		gs = &p->gen->sites[i];
		proxy_report_addr(&gs->cfg->listen, listener_port(
		    p->listeners[gs->listen - p->gen->listens]), addr,
		    sizeof(addr));
		fprintf(f, "%s listen %s\n", gs->cfg->name, addr);
	}
	if (p->admin != NULL)
		fprintf(f, "global admin_listen %s\n", p->admin_addr);
	if (fclose(f) != 0) {
		f = NULL;
		goto err;
	}
	f = NULL;
	if (rename(tmp, p->report) == -1)
		goto err;
	return 0;
 err:
	log_warn("--listen-report %s", p->report);
	if (f != NULL)
		fclose(f);
	(void)unlink(tmp);
	return -1;
}

static void
proxy_status(struct proxy *p)
{
	service_status("serving %zu site%s on %zu address%s, %zu sessions",
	    p->gen->nsites, p->gen->nsites == 1 ? "" : "s",
	    p->gen->nlistens, p->gen->nlistens == 1 ? "" : "es",
	    session_count());
}

/*
 * After a crowd of connections has gone, hand the memory their sessions
 * used back to the system.  glibc keeps what is freed in its arenas (one
 * per worker thread) for reuse, so the RSS of 10,000 idle sessions stays
 * after they close (measured by tests/soak/soak.sh: +7 MB after 200
 * sessions); malloc_trim() releases the free pages of every arena.  Only
 * when the count fell by half and by at least PROXY_TRIM_MIN since its
 * peak: a trim walks the heaps, and the next crowd would take the memory
 * again at once.
 */
#define PROXY_TRIM_MIN	256

static void
proxy_trim(struct proxy *p)
{
	size_t n = listener_connections();

	if (n > p->trim_peak)
		p->trim_peak = n;
	if (p->trim_peak - n < PROXY_TRIM_MIN || n > p->trim_peak / 2)
		return;
#ifdef __GLIBC__
	log_debug("%zu connections, down from %zu: returning freed memory",
	    n, p->trim_peak);
	(void)malloc_trim(0);
#endif
	p->trim_peak = n;
}

static void
proxy_status_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proxy_status(arg);
	proxy_trim(arg);
}

/* (Re)arm the expiry check for the live generation's interval. */
static void
proxy_expiry_arm(struct proxy *p)
{
	struct timeval tv;

	if (p->expiry_interval == p->gen->cfg->expiry_check_interval)
		return;
	p->expiry_interval = p->gen->cfg->expiry_check_interval;
	tv.tv_sec = (time_t)p->expiry_interval;
	tv.tv_usec = 0;
	if (event_add(p->expiry_timer, &tv) == -1)
		log_warnx("cannot schedule the certificate expiry check");
}

/* Descriptors kept for everything but sessions: listeners, the admin
 * endpoint and its clients, the log, DNS, files read by a reload. */
#define PROXY_FD_RESERVE	128

/*
 * max_connections for cfg: as configured, or from the open files limit
 * (each connection costs two descriptors, client and backend).  A
 * configured value the limit cannot hold is used, and warned about.
 */
static size_t
proxy_max_connections(const struct config *cfg)
{
	struct rlimit rl;
	size_t fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		fit = SIZE_MAX / 4;
	else if (rl.rlim_cur > 2 * PROXY_FD_RESERVE)
		fit = (size_t)(rl.rlim_cur - PROXY_FD_RESERVE) / 2;
	else
		/* A tiny limit (tests): a quarter for the rest. */
		fit = (size_t)rl.rlim_cur * 3 / 8;
	if (fit < 1)
		fit = 1;
	if (cfg->max_connections == 0)
		return fit;
	if (cfg->max_connections > fit)
		log_warnx("max_connections %u needs about %u open files and the "
		    "limit is %llu: accepting will pause on fd exhaustion "
		    "first (raise LimitNOFILE or ulimit -n)",
		    cfg->max_connections, cfg->max_connections * 2 +
		    PROXY_FD_RESERVE, (unsigned long long)rl.rlim_cur);
	return cfg->max_connections;
}

/* Apply the live generation's max_connections. */
static void
proxy_set_max(struct proxy *p)
{
	size_t max = proxy_max_connections(p->gen->cfg);

	if (listener_set_max(p->base, max) == 0)
		log_info("max_connections %zu%s", max,
		    p->gen->cfg->max_connections == 0 ? " (auto: from the "
		    "open files limit)" : "");
}

static void proxy_reloaded(struct generation *, void *);

/*
 * Start a reload: the new generation is built on a thread of its own (ten
 * thousand intermediates take seconds to parse), and swapped in by
 * proxy_reloaded() on this thread, so accepting never waits for it.  One
 * at a time: a SIGHUP meanwhile asks for another one afterwards, since the
 * files may have changed after the running one read them.
 */
static void
proxy_reload(struct proxy *p)
{
	if (p->loader != NULL) {
		p->reload_again = 1;
		log_info("reload of %s asked for while one is running: "
		    "again once it is done", p->path);
		return;
	}
	log_info("reloading %s", p->path);
	service_reloading();
	watch_begin(p->watch);
	if ((p->loader = generation_load_start(p->base, p->path,
	    p->serial + 1, proxy_reloaded, p)) == NULL) {
		log_errx("reload of %s failed: keeping the running "
		    "configuration", p->path);
		metrics_inc(M_RELOAD_FAIL);
		service_ready();
		(void)watch_set(p->watch, p->gen->cfg);
	}
}

/* The reload's result, on the main thread: swap it in, or keep the old. */
static void
proxy_reloaded(struct generation *g, void *arg)
{
	struct proxy *p = arg;
	struct generation *old;

	p->loader = NULL;
	if (p->draining) {
		/* Stopping: nothing new is served any more. */
		generation_unref(g);
		goto done;
	}
	if (g == NULL) {
		log_errx("reload of %s failed: keeping the running "
		    "configuration", p->path);
		goto fail;
	}
	if (proxy_bind(p, g) == -1) {
		log_errx("reload of %s failed: cannot listen: keeping the "
		    "running configuration", p->path);
		generation_unref(g);
		goto fail;
	}
	if (g->cfg->workers != p->gen->cfg->workers)
		log_warnx("workers changed: takes effect on restart");
	if ((g->cfg->admin_listen.host == NULL) !=
	    (p->gen->cfg->admin_listen.host == NULL) ||
	    (g->cfg->admin_listen.host != NULL &&
	    !generation_same_addr(&g->cfg->admin_listen,
	    &p->gen->cfg->admin_listen)))
		log_warnx("admin_listen changed: takes effect on restart");
	if ((g->cfg->user == NULL) != (p->gen->cfg->user == NULL) ||
	    (g->cfg->user != NULL && strcmp(g->cfg->user,
	    p->gen->cfg->user) != 0))
		log_warnx("user changed: takes effect on restart");
	/* Sessions hold their own references: the old one dies with them. */
	old = p->gen;
	p->gen = g;
	p->serial = g->serial;
	generation_unref(old);
	(void)healthcheck_set(g);
	log_setlevel(g->cfg->log_level);
	proxy_set_max(p);
	generation_log(g);
	(void)expiry_check(g, time(NULL));
	proxy_expiry_arm(p);
	metrics_inc(M_RELOADS);
	(void)proxy_report(p);
	log_info("reloaded %s: %zu site%s (generation %u)", p->path,
	    g->nsites, g->nsites == 1 ? "" : "s", g->serial);
	service_ready();
	proxy_status(p);
	(void)watch_set(p->watch, p->gen->cfg);
	goto done;
 fail:
	metrics_inc(M_RELOAD_FAIL);
	service_ready();
	/* The running files again, from the state this reload saw. */
	(void)watch_set(p->watch, p->gen->cfg);
 done:
	if (p->expiry_old != NULL) {
		if (p->gen != p->expiry_old)
			(void)expiry_log_replaced(p->expiry_old, p->gen,
			    time(NULL));
		generation_unref(p->expiry_old);
		p->expiry_old = NULL;
	}
	if (p->reload_again && !p->draining) {
		p->reload_again = 0;
		proxy_reload(p);
	}
}

/* A watched file changed: the same reload as SIGHUP. */
static void
proxy_watch_changed(void *arg, const char *why)
{
	struct proxy *p = arg;

	if (p->draining)
		return;
	log_info("%s changed: reloading", why);
	proxy_reload(p);
}

/*
 * The periodic expiry check.  A served certificate that is no longer valid
 * is worth a reload only when the same files now give a better chain (a
 * renewed intermediate was dropped into the directory); the reload is the
 * SIGHUP one, so the new chains are swapped in only if everything builds.
 */
static void
proxy_expiry_tick(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *p = arg;
	time_t now = time(NULL);

	(void)fd;
	(void)what;
	if (p->draining || p->loader != NULL || expiry_check(p->gen, now) ==
	    0 || !expiry_rebuild_helps(p->gen, now))
		return;
	/* proxy_reloaded() says what was replaced, and drops this. */
	p->expiry_old = generation_ref(p->gen);
	proxy_reload(p);
}

static void
proxy_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct proxy *p = arg;

	(void)sig;
	(void)what;
	if (!p->draining)
		proxy_reload(p);
}

static void
proxy_drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *p = arg;
	struct timespec now;
	size_t i, n = session_count();

	(void)fd;
	(void)what;
	/* Accepted but not yet started connections are sessions too. */
	for (i = 0; i < p->nworkers; i++)
		n += worker_queued(p->workers[i]);
	if (n == 0) {
		log_info("drained: exiting");
		event_base_loopbreak(p->base);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!p->killed && now.tv_sec - p->drain_start.tv_sec >=
	    (time_t)p->gen->cfg->shutdown_timeout) {
		log_info("shutdown_timeout (%us) passed: closing %zu "
		    "session%s", p->gen->cfg->shutdown_timeout, n,
		    n == 1 ? "" : "s");
		p->killed = 1;
		for (i = 0; i < p->nworkers; i++)
			worker_close_all(p->workers[i], "shutdown timeout");
	}
}

static void
proxy_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct proxy *p = arg;
	struct timeval tv = { 0, PROXY_DRAIN_POLL_MS * 1000 };
	size_t i;

	(void)what;
	if (p->draining) {
		log_info("signal %d again: closing every session now",
		    (int)sig);
		p->killed = 1;
		for (i = 0; i < p->nworkers; i++)
			worker_close_all(p->workers[i], "shutdown");
		return;
	}
	p->draining = 1;
	clock_gettime(CLOCK_MONOTONIC, &p->drain_start);
	/* Stop accepting: close the sockets so a new instance can bind. */
	proxy_free_listeners(p->listeners, p->nlisteners);
	p->listeners = NULL;
	p->nlisteners = 0;
	service_stopping();
	log_info("signal %d: draining %zu session%s (up to %us)", (int)sig,
	    session_count(), session_count() == 1 ? "" : "s",
	    p->gen->cfg->shutdown_timeout);
	event_add(p->drain_timer, &tv);
	proxy_drain_check(-1, 0, p);
}

static int
proxy_admin_draining(void *arg)
{
	const struct proxy *p = arg;

	return p->draining;
}

static int
proxy_admin_site(void *arg, size_t i, struct admin_site *site)
{
	const struct proxy *p = arg;
	const struct gen_site *gs;

	if (i >= p->gen->nsites)
		return -1;
	gs = &p->gen->sites[i];
	site->name = gs->cfg->name;
	site->chain = gs->chain;
	site->health = gs->health;
	site->passthrough = gs->cfg->mode == CONFIG_MODE_PASSTHROUGH;
	site->expiry_warning_days = p->gen->cfg->expiry_warning_days;
	return 0;
}

static const struct admin_ops proxy_admin_ops = {
	proxy_admin_draining,
	proxy_admin_site,
};

static unsigned
proxy_nworkers(const struct config *cfg)
{
	long n;

	if (cfg->workers > 0)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > 256)
		n = 256;
	return (unsigned)n;
}

int
proxy_main(const char *config_path, const char *report_path)
{
	struct timeval status_tv = { PROXY_STATUS_SECS, 0 };
	struct proxy p;
	int rc = 1;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.path = config_path;
	/* A daemon's log outside the journal needs the time of each line. */
	log_timestamps(1);
	p.report = report_path;
	/* A peer that goes away must not kill us from inside SSL_write. */
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() == -1) {
		log_errx("cannot enable libevent threads");
		return 1;
	}
	if ((p.gen = generation_load(config_path, 1)) == NULL) {
		log_errx("%s: cannot start", config_path);
		goto out;
	}
	p.serial = 1;
	log_setlevel(p.gen->cfg->log_level);
	generation_log(p.gen);
	(void)expiry_check(p.gen, time(NULL));

	if ((p.base = event_base_new()) == NULL) {
		log_errx("cannot create the event loop");
		goto out;
	}
	proxy_set_max(&p);
	if (proxy_bind(&p, p.gen) == -1)
		goto out;
	if (p.gen->cfg->admin_listen.host != NULL &&
	    (p.admin = admin_start(p.base, &p.gen->cfg->admin_listen,
	    &proxy_admin_ops, &p)) == NULL)
		goto out;
	if (p.admin != NULL)
		proxy_report_addr(&p.gen->cfg->admin_listen, admin_port(p.admin),
		    p.admin_addr, sizeof(p.admin_addr));
	/* Before dropping root: the report may go where only root writes. */
	if (proxy_report(&p) == -1)
		goto out;
	/* Listening sockets bound and keys loaded: root is not needed. */
	if (service_drop_privileges(p.gen->cfg->user,
	    p.gen->cfg->allow_root) == -1)
		goto out;

	p.nworkers = proxy_nworkers(p.gen->cfg);
	if ((p.workers = calloc(p.nworkers, sizeof(*p.workers))) == NULL) {
		log_warn("proxy_main");
		goto out;
	}
	for (i = 0; i < p.nworkers; i++)
		if ((p.workers[i] = worker_start((unsigned)i)) == NULL)
			goto out;

	if ((p.sighup = evsignal_new(p.base, SIGHUP, proxy_sighup, &p)) ==
	    NULL || (p.sigterm = evsignal_new(p.base, SIGTERM, proxy_sigterm,
	    &p)) == NULL || (p.sigint = evsignal_new(p.base, SIGINT,
	    proxy_sigterm, &p)) == NULL || (p.drain_timer = event_new(p.base,
	    -1, EV_PERSIST, proxy_drain_check, &p)) == NULL ||
	    (p.status_timer = event_new(p.base, -1, EV_PERSIST,
	    proxy_status_tick, &p)) == NULL ||
	    (p.expiry_timer = event_new(p.base, -1, EV_PERSIST,
	    proxy_expiry_tick, &p)) == NULL ||
	    event_add(p.sighup, NULL) == -1 ||
	    event_add(p.sigterm, NULL) == -1 ||
	    event_add(p.sigint, NULL) == -1) {
		log_errx("cannot set up signal handling");
		goto out;
	}

	log_info("chainfix %s: serving %zu site%s on %zu address%s with %zu "
	    "worker%s", CHAINFIX_VERSION, p.gen->nsites,
	    p.gen->nsites == 1 ? "" : "s", p.gen->nlistens,
	    p.gen->nlistens == 1 ? "" : "es", p.nworkers,
	    p.nworkers == 1 ? "" : "s");
	service_ready();
	/* Advisory, in the background: serving does not wait for it. */
	(void)selftest_start(p.gen);
	(void)healthcheck_set(p.gen);
	proxy_status(&p);
	event_add(p.status_timer, &status_tv);
	proxy_expiry_arm(&p);
	if ((p.watch = watch_new(p.base, proxy_watch_changed, &p, 0)) ==
	    NULL || watch_set(p.watch, p.gen->cfg) == -1)
		log_warnx("watch: changed files are noticed late or only on "
		    "reload (SIGHUP)");
	if (event_base_dispatch(p.base) == -1)
		log_errx("the main event loop failed");
	else
		rc = 0;
 out:
	/* A reload still building: wait for it, keep nothing. */
	generation_load_cancel(p.loader);
	generation_unref(p.expiry_old);
	proxy_free_listeners(p.listeners, p.nlisteners);
	if (p.workers != NULL) {
		for (i = 0; i < p.nworkers; i++)
			worker_stop(p.workers[i]);
		free(p.workers);
	}
	admin_free(p.admin);
	/* After the workers: their last sessions released their count. */
	listener_limit_free();
	watch_free(p.watch);
	if (p.expiry_timer != NULL)
		event_free(p.expiry_timer);
	if (p.status_timer != NULL)
		event_free(p.status_timer);
	if (p.drain_timer != NULL)
		event_free(p.drain_timer);
	if (p.sigint != NULL)
		event_free(p.sigint);
	if (p.sigterm != NULL)
		event_free(p.sigterm);
	if (p.sighup != NULL)
		event_free(p.sighup);
	generation_unref(p.gen);
	if (p.base != NULL)
		event_base_free(p.base);
	/* Let LeakSanitizer see a clean exit: libevent's global state too. */
	libevent_global_shutdown();
	return rc;
}
