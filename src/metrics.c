/*
 * metrics.c: process-wide counters, rendered for /metrics.
 *
 * Every worker thread updates these on the connection path, so they are
 * plain C11 atomics with relaxed ordering: each counter only needs to be
 * exact on its own, nothing is ordered against anything else, and a scrape
 * that sees one counter a moment before another is fine for Prometheus.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/crypto.h>

#include "log.h"
#include "metrics.h"

static _Atomic int64_t metrics_counters[M__COUNT];
static _Atomic int64_t metrics_hsf[HSF__COUNT];

static const struct {
	const char	*name;
	const char	*type;
	const char	*help;
} metrics_table[M__COUNT] = {
#define METRICS_TABLE(sym, name, type, help) [sym] = { name, type, help },
	METRICS_COUNTERS(METRICS_TABLE)
#undef METRICS_TABLE
};

static const char *const metrics_hsf_labels[HSF__COUNT] = {
#define METRICS_HSF_LABEL(sym, label) [sym] = label,
	METRICS_HS_FAILURES(METRICS_HSF_LABEL)
#undef METRICS_HSF_LABEL
};

/*
 * The {site} counters and chainfix_sessions_closed_total{site,reason}: one
 * entry per site name ever seen.  Entries are only ever added (at the head,
 * under the lock, published with a release store) and never freed, so any
 * worker finds its site's with a lock-free walk (and a generation keeps the
 * pointer); the list is as long as the number of distinct site names
 * configured over the process's life.
 */
static const char *const metrics_reason_labels[SR__COUNT] = {
#define METRICS_REASON_LABEL(sym, label) [sym] = label,
	METRICS_SESSION_REASONS(METRICS_REASON_LABEL)
#undef METRICS_REASON_LABEL
};

static const struct {
	const char	*name;
	const char	*help;
} metrics_site_table[MS__COUNT] = {
#define METRICS_SITE_TABLE(sym, name, help) [sym] = { name, help },
	METRICS_SITE_COUNTERS(METRICS_SITE_TABLE)
#undef METRICS_SITE_TABLE
};

struct metrics_site {
	struct metrics_site	*next;	/* immutable once published */
	_Atomic int64_t		 closed[SR__COUNT];
	_Atomic int64_t		 counters[MS__COUNT];
	char			 name[];
};

static _Atomic(struct metrics_site *) metrics_sites;
static pthread_mutex_t metrics_sites_lock = PTHREAD_MUTEX_INITIALIZER;

static struct metrics_site *
metrics_site_find(struct metrics_site *ms, const char *name)
{
	for (; ms != NULL; ms = ms->next)
		if (strcmp(ms->name, name) == 0)
			return ms;
	return NULL;
}

void
metrics_add(enum metrics_counter c, int64_t n)
{
	if ((unsigned)c >= M__COUNT)
		return;
	atomic_fetch_add_explicit(&metrics_counters[c], n,
	    memory_order_relaxed);
}

void
metrics_set(enum metrics_counter c, int64_t v)
{
	if ((unsigned)c >= M__COUNT)
		return;
	atomic_store_explicit(&metrics_counters[c], v, memory_order_relaxed);
}

void
metrics_inc(enum metrics_counter c)
{
	metrics_add(c, 1);
}

void
metrics_hs_failure(enum metrics_hs_failure why)
{
	if ((unsigned)why >= HSF__COUNT)
		why = HSF_OTHER;
	atomic_fetch_add_explicit(&metrics_hsf[why], 1, memory_order_relaxed);
}

const char *
metrics_session_reason_label(enum metrics_session_reason r)
{
	return (unsigned)r < SR__COUNT ? metrics_reason_labels[r] : "?";
}

struct metrics_site *
metrics_site(const char *site)
{
	struct metrics_site *ms, *head;
	size_t len;

	if (site == NULL)
		site = "-";
	head = atomic_load_explicit(&metrics_sites, memory_order_acquire);
	if ((ms = metrics_site_find(head, site)) != NULL)
		return ms;
	pthread_mutex_lock(&metrics_sites_lock);
	head = atomic_load_explicit(&metrics_sites, memory_order_relaxed);
	if ((ms = metrics_site_find(head, site)) == NULL) {
		len = strlen(site) + 1;
		if ((ms = calloc(1, sizeof(*ms) + len)) != NULL) {
			memcpy(ms->name, site, len);
			ms->next = head;
			atomic_store_explicit(&metrics_sites, ms,
			    memory_order_release);
		}
	}
	pthread_mutex_unlock(&metrics_sites_lock);
	if (ms == NULL)
		log_warnx("metrics: out of memory for site %s", site);
	return ms;
}

void
metrics_site_add(struct metrics_site *ms, enum metrics_site_counter c,
    int64_t n)
{
	if (ms == NULL || (unsigned)c >= MS__COUNT)
		return;
	atomic_fetch_add_explicit(&ms->counters[c], n, memory_order_relaxed);
}

int64_t
metrics_site_get(const struct metrics_site *ms, enum metrics_site_counter c)
{
	if (ms == NULL || (unsigned)c >= MS__COUNT)
		return 0;
	return atomic_load_explicit(&ms->counters[c], memory_order_relaxed);
}

void
metrics_session_closed(const char *site, enum metrics_session_reason reason)
{
	struct metrics_site *ms;

	if ((unsigned)reason >= SR__COUNT || (ms = metrics_site(site)) == NULL)
		return;
	atomic_fetch_add_explicit(&ms->closed[reason], 1,
	    memory_order_relaxed);
}

int64_t
metrics_get(enum metrics_counter c)
{
	if ((unsigned)c >= M__COUNT)
		return 0;
	return atomic_load_explicit(&metrics_counters[c],
	    memory_order_relaxed);
}

/*
 * Each {site} family with every site seen; "-" (sessions that ended before
 * a site was chosen) has no site's counters.
 */
static int
metrics_render_sites(struct evbuffer *out)
{
	struct metrics_site *head, *ms;
	size_t i;

	head = atomic_load_explicit(&metrics_sites, memory_order_acquire);
	for (i = 0; i < MS__COUNT; i++) {
		if (evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n",
		    metrics_site_table[i].name, metrics_site_table[i].help,
		    metrics_site_table[i].name) < 0)
			return -1;
		for (ms = head; ms != NULL; ms = ms->next) {
			if (strcmp(ms->name, "-") == 0)
				continue;
			/* Site names are [A-Za-z0-9._-] (config.c). */
			if (evbuffer_add_printf(out, "%s{site=\"%s\"} %lld\n",
			    metrics_site_table[i].name, ms->name,
			    (long long)atomic_load_explicit(&ms->counters[i],
			    memory_order_relaxed)) < 0)
				return -1;
		}
	}
	return 0;
}

/* Every site seen, every reason (so rate() has a series at once). */
static int
metrics_render_closed(struct evbuffer *out)
{
	struct metrics_site *ms;
	size_t i;

	if (evbuffer_add_printf(out,
	    "# HELP chainfix_sessions_closed_total "
	    "Sessions that ended, by site and reason\n"
	    "# TYPE chainfix_sessions_closed_total counter\n") < 0)
		return -1;
	for (ms = atomic_load_explicit(&metrics_sites, memory_order_acquire);
	    ms != NULL; ms = ms->next) {
		for (i = 0; i < SR__COUNT; i++) {
			/* Site names are [A-Za-z0-9._-] (config.c). */
			if (evbuffer_add_printf(out,
			    "chainfix_sessions_closed_total{site=\"%s\","
			    "reason=\"%s\"} %lld\n", ms->name,
			    metrics_reason_labels[i],
			    (long long)atomic_load_explicit(&ms->closed[i],
			    memory_order_relaxed)) < 0)
				return -1;
		}
	}
	return 0;
}

int
metrics_render(struct evbuffer *out)
{
	size_t i;
	int64_t v;

	for (i = 0; i < M__COUNT; i++) {
		v = atomic_load_explicit(&metrics_counters[i],
		    memory_order_relaxed);
		if (evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n"
		    "%s %lld\n", metrics_table[i].name, metrics_table[i].help,
		    metrics_table[i].name, metrics_table[i].type,
		    metrics_table[i].name, (long long)v) < 0)
			return -1;
	}

	/* Which build answers: joins with any series on the instance. */
	if (evbuffer_add_printf(out,
	    "# HELP chainfix_build_info The running chainfix and its "
	    "libraries\n"
	    "# TYPE chainfix_build_info gauge\n"
	    "chainfix_build_info{version=\"%s\",openssl=\"%s\","
	    "libevent=\"%s\"} 1\n", CHAINFIX_VERSION,
	    OpenSSL_version(OPENSSL_VERSION_STRING), event_get_version()) < 0)
		return -1;

	/* One family with a label per reason; every reason is always
	   present so rate() has a series from the first scrape. */
	if (evbuffer_add_printf(out,
	    "# HELP chainfix_handshake_failures_total "
	    "Client TLS handshakes that failed, by reason\n"
	    "# TYPE chainfix_handshake_failures_total counter\n") < 0)
		return -1;
	for (i = 0; i < HSF__COUNT; i++) {
		v = atomic_load_explicit(&metrics_hsf[i],
		    memory_order_relaxed);
		if (evbuffer_add_printf(out,
		    "chainfix_handshake_failures_total{reason=\"%s\"} %lld\n",
		    metrics_hsf_labels[i], (long long)v) < 0)
			return -1;
	}
	if (metrics_render_sites(out) == -1)
		return -1;
	return metrics_render_closed(out);
}
