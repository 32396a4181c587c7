/*
 * metrics.c: process-wide counters, rendered for /metrics.
 *
 * Every worker thread updates these on the connection path, so they are
 * plain C11 atomics with relaxed ordering: each counter only needs to be
 * exact on its own, nothing is ordered against anything else, and a scrape
 * that sees one counter a moment before another is fine for Prometheus.
 */
#include <stdatomic.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/crypto.h>

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

void
metrics_add(enum metrics_counter c, int64_t n)
{
	if ((unsigned)c >= M__COUNT)
		return;
	atomic_fetch_add_explicit(&metrics_counters[c], n,
	    memory_order_relaxed);
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

int64_t
metrics_get(enum metrics_counter c)
{
	if ((unsigned)c >= M__COUNT)
		return 0;
	return atomic_load_explicit(&metrics_counters[c],
	    memory_order_relaxed);
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
	return 0;
}
