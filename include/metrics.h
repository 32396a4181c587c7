/*
 * metrics.h: process-wide counters for the admin endpoint (/metrics).
 *
 * Counters are updated from every worker thread with relaxed atomic
 * operations: no locks on the connection path.  Names and help strings come
 * from one X-macro table, so /metrics and the code cannot drift.
 */
#ifndef CHAINFIX_METRICS_H
#define CHAINFIX_METRICS_H

#include <stdint.h>

struct evbuffer;

/* X(symbol, prometheus name, type, help) */
#define METRICS_COUNTERS(X)						\
	X(M_ACCEPTED, "chainfix_connections_accepted_total", "counter",	\
	    "Client connections accepted")				\
	X(M_ACTIVE, "chainfix_connections_active", "gauge",		\
	    "Client connections open now")				\
	X(M_LEGACY_CHAIN, "chainfix_legacy_chain_served_total", "counter", \
	    "Full handshakes served a site's legacy chain (no TLS 1.3)") \
	X(M_RELOADS, "chainfix_reloads_total", "counter",		\
	    "Configuration reloads that succeeded")			\
	X(M_RELOAD_FAIL, "chainfix_reload_failures_total", "counter",	\
	    "Configuration reloads that failed (old one kept)")		\
	X(M_CONN_OPEN, "chainfix_connections_open", "gauge",		\
	    "Client connections counted toward max_connections "	\
	    "(accepted, not yet closed)")				\
	X(M_CONN_MAX, "chainfix_connections_max", "gauge",		\
	    "max_connections: at this count accepting pauses")		\
	X(M_CONN_LIMIT_PAUSES, "chainfix_connections_limit_pauses_total", \
	    "counter", "Times accepting paused at max_connections")	\
	X(M_SITE_LIMIT_REFUSED,						\
	    "chainfix_site_connections_refused_total", "counter",	\
	    "Handshakes refused because their site was at its "	\
	    "max_connections")						\
	X(M_SESSCACHE_BYTES, "chainfix_tls_session_cache_bytes", "gauge", \
	    "Memory the TLS 1.2 session cache has filled (its slots "	\
	    "written at least once)")

/*
 * Counters kept per site, exported with a {site} label (a connection has no
 * site until its SNI chose one, hence accepted and active above have none).
 * X(symbol, prometheus name, help)
 */
#define METRICS_SITE_COUNTERS(X)					\
	X(MS_HANDSHAKES, "chainfix_handshakes_total",			\
	    "Client TLS handshakes completed, by site")			\
	X(MS_RESUMED, "chainfix_handshakes_resumed_total",		\
	    "Client TLS handshakes that resumed a session, by site")	\
	X(MS_BACKEND_CONNECT_FAIL,					\
	    "chainfix_backend_connect_failures_total",			\
	    "Backend connection attempts that failed or timed out, by site") \
	X(MS_BACKEND_VERIFY_FAIL,					\
	    "chainfix_backend_verify_failures_total",			\
	    "Backend certificates that failed verification, by site")	\
	X(MS_BACKEND_RESUMED, "chainfix_backend_resumed_total",	\
	    "Backend TLS handshakes that resumed a session, by site")	\
	X(MS_BYTES_IN, "chainfix_client_bytes_received_total",		\
	    "Bytes received from clients (decrypted), by site")		\
	X(MS_BYTES_OUT, "chainfix_client_bytes_sent_total",		\
	    "Bytes sent to clients (before encryption), by site")

enum metrics_site_counter {
#define METRICS_SITE_ENUM(sym, name, help) sym,
	METRICS_SITE_COUNTERS(METRICS_SITE_ENUM)
#undef METRICS_SITE_ENUM
	MS__COUNT
};

enum metrics_counter {
#define METRICS_ENUM(sym, name, type, help) sym,
	METRICS_COUNTERS(METRICS_ENUM)
#undef METRICS_ENUM
	M__COUNT
};

/* Why a client handshake failed: the label of chainfix_handshake_failures_total. */
#define METRICS_HS_FAILURES(X)						\
	X(HSF_TIMEOUT,  "timeout")	/* handshake_timeout passed */	\
	X(HSF_PROTOCOL, "protocol")	/* not TLS, no shared version/cipher */ \
	X(HSF_EOF,      "eof")		/* client went away mid-handshake */ \
	X(HSF_OTHER,    "other")

enum metrics_hs_failure {
#define METRICS_HSF_ENUM(sym, label) sym,
	METRICS_HS_FAILURES(METRICS_HSF_ENUM)
#undef METRICS_HSF_ENUM
	HSF__COUNT
};

/*
 * Why a session ended: the label of chainfix_sessions_closed_total (the
 * session's log line adds a detail string).
 */
#define METRICS_SESSION_REASONS(X)					\
	/* both directions done, the client ended first */		\
	X(SR_CLIENT_CLOSED,	   "client_closed")			\
	/* both directions done, the backend ended first */		\
	X(SR_BACKEND_CLOSED,	   "backend_closed")			\
	/* reset, socket or TLS error on the client leg after the	\
	   handshake */							\
	X(SR_CLIENT_ERROR,	   "client_error")			\
	/* reset, socket or TLS error on the backend leg once up */	\
	X(SR_BACKEND_ERROR,	   "backend_error")			\
	X(SR_IDLE_TIMEOUT,	   "idle_timeout")			\
	X(SR_HANDSHAKE_TIMEOUT,	   "handshake_timeout")			\
	/* not TLS, no shared protocol or cipher, bad messages */	\
	X(SR_HANDSHAKE_FAILED,	   "handshake_failed")			\
	/* the client went away during its handshake */		\
	X(SR_HANDSHAKE_EOF,	   "handshake_eof")			\
	/* every backend failed: DNS, connect, TLS, timeouts */	\
	X(SR_BACKEND_UNREACHABLE,  "backend_unreachable")		\
	/* the backend's certificate failed verification or the pin */	\
	X(SR_BACKEND_REFUSED,	   "backend_refused")			\
	/* drain timeout or shutdown */					\
	X(SR_SHUTDOWN,		   "shutdown")				\
	/* out of memory or descriptors on our side */			\
	X(SR_RESOURCES,		   "resources")

enum metrics_session_reason {
#define METRICS_SR_ENUM(sym, label) sym,
	METRICS_SESSION_REASONS(METRICS_SR_ENUM)
#undef METRICS_SR_ENUM
	SR__COUNT
};

/* metrics_add(c, n): add n (may be negative for gauges) to counter c. */
void metrics_add(enum metrics_counter c, int64_t n);

/* metrics_set(c, v): set gauge c to v. */
void metrics_set(enum metrics_counter c, int64_t v);

/* metrics_inc(c): metrics_add(c, 1). */
void metrics_inc(enum metrics_counter c);

/* metrics_hs_failure(why): count one failed client handshake. */
void metrics_hs_failure(enum metrics_hs_failure why);

/*
 * metrics_session_closed(site, reason):
 * Count one session that ended for reason on site,
 * the site's name (NULL: the session ended before a site was chosen,
 * counted as "-").  A site's series appear from its first session on and
 * stay for the life of the process, reloads included.  Any thread; no lock
 * once a site has been seen.
 */
void metrics_session_closed(const char *site,
    enum metrics_session_reason reason);

/* metrics_session_reason_label(r): "client_closed" etc.; "?" if unknown. */
const char *metrics_session_reason_label(enum metrics_session_reason r);

/* One site's counters (never freed; a site name keeps its entry). */
struct metrics_site;

/*
 * metrics_site(name):
 * The counters of the site named name, made on first use (its series then
 * appear in /metrics, at 0, and stay for the life of the process, reloads
 * included).  NULL ("-") is the entry of sessions that ended before a site
 * was chosen.  Returns NULL on out of memory (logged once per call);
 * metrics_site_add() takes that as "count nothing".  Any thread; no lock
 * once the name has been seen.
 */
struct metrics_site *metrics_site(const char *name);

/* metrics_site_add(ms, c, n): add n to ms's counter c; NULL ms: nothing. */
void metrics_site_add(struct metrics_site *ms, enum metrics_site_counter c,
    int64_t n);

/* metrics_site_get(ms, c): its current value (0 for a NULL ms). */
int64_t metrics_site_get(const struct metrics_site *ms,
    enum metrics_site_counter c);

/* metrics_get(c): the current value of counter c. */
int64_t metrics_get(enum metrics_counter c);

/*
 * metrics_render(out):
 * Append every counter to out in the Prometheus text format (the caller
 * adds per-certificate series from the live configuration).  Returns 0 or -1.
 */
int metrics_render(struct evbuffer *out);

#endif /* CHAINFIX_METRICS_H */
