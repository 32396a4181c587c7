/*
 * health.c: each backend's health, shared by the workers (health.h).
 *
 * The registry is a list under one lock, touched only when a configuration
 * is loaded or freed.  Each entry is a backend of a site; generations hold
 * references, sessions and the checker reach it through their generation
 * without the registry lock.  Queries are atomic loads; a change of state
 * takes the entry's lock, so exactly one thread sees the change and logs
 * it.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "config.h"
#include "health.h"
#include "log.h"

/* retry_at of a backend down by an active check: until a check passes. */
#define HEALTH_NEVER	LLONG_MAX

struct health_backend {
	struct health_backend	*next;		/* health_lock */
	unsigned		 refs;		/* health_lock */
	char			*site;		/* the key: site name and */
	char			*backend;	/* backend as written */

	_Atomic int		 down;		/* 0 up, 1 down */
	_Atomic long long	 retry_at;	/* usable again from then on
						   (monotonic s) */
	_Atomic long long	 next_check;	/* the checker's schedule */

	pthread_mutex_t		 lock;		/* changes of state, and: */
	time_t			 down_since;
	char			 refused[256];	/* last refusal logged */
};

struct health_site {
	const struct config_site *cfg;
	size_t			 n;
	struct health_backend	**v;		/* our references */
};

static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static struct health_backend *health_registry;

time_t
health_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The entry for (site, backend), new if unknown; a reference for us. */
static struct health_backend *
health_get(const char *site, const char *backend)
{
	struct health_backend *hb;

	pthread_mutex_lock(&health_lock);
	for (hb = health_registry; hb != NULL; hb = hb->next)
		if (strcmp(hb->site, site) == 0 &&
		    strcmp(hb->backend, backend) == 0)
			break;
	if (hb != NULL) {
		hb->refs++;
		pthread_mutex_unlock(&health_lock);
		return hb;
	}
	if ((hb = calloc(1, sizeof(*hb))) == NULL ||
	    (hb->site = strdup(site)) == NULL ||
	    (hb->backend = strdup(backend)) == NULL ||
	    pthread_mutex_init(&hb->lock, NULL) != 0) {
		if (hb != NULL) {
			free(hb->site);
			free(hb->backend);
			free(hb);
		}
		pthread_mutex_unlock(&health_lock);
		return NULL;
	}
	hb->refs = 1;
	hb->next = health_registry;
	health_registry = hb;
	pthread_mutex_unlock(&health_lock);
	return hb;
}

static void
health_put(struct health_backend *hb)
{
	struct health_backend **pp;

	if (hb == NULL)
		return;
	pthread_mutex_lock(&health_lock);
	if (--hb->refs > 0) {
		pthread_mutex_unlock(&health_lock);
		return;
	}
	for (pp = &health_registry; *pp != hb; pp = &(*pp)->next)
		;
	*pp = hb->next;
	pthread_mutex_unlock(&health_lock);
	pthread_mutex_destroy(&hb->lock);
	free(hb->site);
	free(hb->backend);
	free(hb);
}

struct health_site *
health_site_new(const struct config_site *cs)
{
	struct health_site *hs;
	size_t i;

	if ((hs = calloc(1, sizeof(*hs))) == NULL ||
	    (hs->v = calloc(cs->nbackends ? cs->nbackends : 1,
	    sizeof(*hs->v))) == NULL)
		goto err;
	hs->cfg = cs;
	for (i = 0; i < cs->nbackends; i++) {
		if ((hs->v[i] = health_get(cs->name,
		    cs->backends[i].text)) == NULL)
			goto err;
		hs->n++;
	}
	return hs;
 err:
	log_warnx("site %s: out of memory for the backends' health",
	    cs->name);
	health_site_free(hs);
	return NULL;
}

void
health_site_free(struct health_site *hs)
{
	size_t i;

	if (hs == NULL)
		return;
	for (i = 0; i < hs->n; i++)
		health_put(hs->v[i]);
	free(hs->v);
	free(hs);
}

static int
health_usable_at(const struct health_backend *hb, time_t now)
{
	return !atomic_load_explicit(&hb->down, memory_order_relaxed) ||
	    (long long)now >= atomic_load_explicit(&hb->retry_at,
	    memory_order_relaxed);
}

int
health_usable(const struct health_site *hs, size_t idx)
{
	return idx < hs->n && health_usable_at(hs->v[idx], health_now());
}

int
health_any_usable(const struct health_site *hs)
{
	time_t now = health_now();
	size_t i;

	for (i = 0; i < hs->n; i++)
		if (health_usable_at(hs->v[i], now))
			return 1;
	return 0;
}

/*
 * Mark backend idx down until retry_at; log it if it was up.  by says who
 * saw it ("sessions skip it for 30s", "until a check passes").
 */
static void
health_down(struct health_site *hs, size_t idx, long long retry_at,
    const char *why, const char *by)
{
	struct health_backend *hb = hs->v[idx];
	time_t now = health_now();

	pthread_mutex_lock(&hb->lock);
	/*
	 * A session failing on a backend a check holds down (sessions try
	 * every backend when all are down) must not cut that short.
	 */
	if (!atomic_load_explicit(&hb->down, memory_order_relaxed) ||
	    retry_at > atomic_load_explicit(&hb->retry_at,
	    memory_order_relaxed))
		atomic_store_explicit(&hb->retry_at, retry_at,
		    memory_order_relaxed);
	if (!atomic_load_explicit(&hb->down, memory_order_relaxed)) {
		hb->down_since = now;
		atomic_store_explicit(&hb->down, 1, memory_order_relaxed);
		log_warnx("site %s: backend %s is down: %s; %s", hs->cfg->name,
		    hb->backend, why, by);
	}
	pthread_mutex_unlock(&hb->lock);
}

/* Mark backend idx up; log it if it was down. */
static void
health_up(struct health_site *hs, size_t idx, const char *how)
{
	struct health_backend *hb = hs->v[idx];

	if (!atomic_load_explicit(&hb->down, memory_order_relaxed))
		return;
	pthread_mutex_lock(&hb->lock);
	if (atomic_load_explicit(&hb->down, memory_order_relaxed)) {
		atomic_store_explicit(&hb->down, 0, memory_order_relaxed);
		log_info("site %s: backend %s is up again (%s, after %llds "
		    "down)", hs->cfg->name, hb->backend, how,
		    (long long)(health_now() - hb->down_since));
	}
	pthread_mutex_unlock(&hb->lock);
}

void
health_failed(struct health_site *hs, size_t idx, const char *why)
{
	char by[96];

	if (idx >= hs->n)
		return;
	snprintf(by, sizeof(by), "new sessions skip it for %us",
	    hs->cfg->backend_retry);
	/* With active checks, a check passing brings it back sooner. */
	health_down(hs, idx, (long long)health_now() + hs->cfg->backend_retry,
	    why, by);
}

void
health_ok(struct health_site *hs, size_t idx)
{
	if (idx >= hs->n || hs->cfg->backend_check != CONFIG_CHECK_NONE)
		return;
	health_up(hs, idx, "a session got through");
}

void
health_checked(struct health_site *hs, size_t idx, int ok, const char *why)
{
	char msg[512];

	if (idx >= hs->n)
		return;
	if (ok) {
		health_up(hs, idx, "check passed");
		return;
	}
	snprintf(msg, sizeof(msg), "check failed: %s", why);
	health_down(hs, idx, HEALTH_NEVER, msg,
	    "new sessions skip it until a check passes");
}

void
health_refused(struct health_site *hs, size_t idx, const char *cause)
{
	struct health_backend *hb;

	if (idx >= hs->n)
		return;
	hb = hs->v[idx];
	pthread_mutex_lock(&hb->lock);
	if (strcmp(hb->refused, cause) != 0) {
		snprintf(hb->refused, sizeof(hb->refused), "%s", cause);
		log_warnx("site %s: backend %s: certificate refused: %s "
		    "(logged once per backend and cause; `chainfix "
		    "configtest` prints the fix)", hs->cfg->name, hb->backend,
		    cause);
	}
	pthread_mutex_unlock(&hb->lock);
}

time_t
health_check_at(const struct health_site *hs, size_t idx)
{
	if (idx >= hs->n)
		return 0;
	return (time_t)atomic_load_explicit(&hs->v[idx]->next_check,
	    memory_order_relaxed);
}

void
health_check_next(struct health_site *hs, size_t idx, time_t when)
{
	if (idx < hs->n)
		atomic_store_explicit(&hs->v[idx]->next_check,
		    (long long)when, memory_order_relaxed);
}

int
health_site_up(const struct health_site *hs, char *why, size_t len)
{
	time_t now = health_now();
	size_t i, off;

	for (i = 0; i < hs->n; i++)
		if (health_usable_at(hs->v[i], now))
			return 1;
	off = (size_t)snprintf(why, len, "site %s: every backend is down:",
	    hs->cfg->name);
	for (i = 0; i < hs->n && off < len; i++)
		off += (size_t)snprintf(why + off, len - off, "%s %s",
		    i > 0 ? "," : "", hs->v[i]->backend);
	return 0;
}

int
health_render_header(struct evbuffer *out)
{
	return evbuffer_add_printf(out, "# HELP chainfix_backend_up 1 while "
	    "new sessions may use the backend, 0 while it is skipped as "
	    "down\n# TYPE chainfix_backend_up gauge\n") < 0 ? -1 : 0;
}

int
health_render(const struct health_site *hs, struct evbuffer *out)
{
	time_t now = health_now();
	size_t i;

	/*
	 * Site names and backends are letters, digits, '.', '-', '_', ':'
	 * and brackets (config.c): nothing to escape in a label value.
	 */
	for (i = 0; i < hs->n; i++)
		if (evbuffer_add_printf(out, "chainfix_backend_up{site=\"%s\","
		    "backend=\"%s\"} %d\n", hs->cfg->name, hs->v[i]->backend,
		    health_usable_at(hs->v[i], now)) < 0)
			return -1;
	return 0;
}
