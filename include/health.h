/*
 * health.h: what chainfix knows about each backend's health, shared by every
 * worker thread.
 *
 * A backend is up or down.  Sessions report what they see (passive): a
 * connect or TLS handshake that failed marks the backend down, and new
 * sessions skip it for backend_retry seconds; sessions that arrive while
 * every backend of their site is down still try them all, in order.  A
 * session that got through marks it up again.  With backend_check
 * (healthcheck.c) the checks decide instead: a failed check marks the
 * backend down until a check passes.  Each change of state is logged once,
 * by the thread that saw it.
 *
 * The state lives in a process-wide registry keyed by site name and backend
 * (as written), so a reload keeps what is known about the backends it
 * keeps, and sessions still running on the previous configuration report
 * into the same state.  Queries take no lock (atomics); a change of state
 * takes the backend's own lock.
 */
#ifndef CHAINFIX_HEALTH_H
#define CHAINFIX_HEALTH_H

#include <stddef.h>
#include <time.h>

struct config_site;
struct evbuffer;

/* The backends of one site, in its failover order. */
struct health_site;

/*
 * health_site_new(cs):
 * The health of cs's backends: existing state for a backend the registry
 * already knows under this site name, else up.  cs is borrowed and must
 * outlive the result.  Returns it (free with health_site_free()), or NULL
 * on out of memory (logged).
 */
struct health_site *health_site_new(const struct config_site *cs);

/* health_site_free(hs): drop its references; NULL is a no-op. */
void health_site_free(struct health_site *hs);

/*
 * health_usable(hs, idx):
 * 1 if new sessions may use backend idx: it is up, or it was marked down by
 * sessions and backend_retry has passed since (one more try).  0 while it
 * is skipped.  Any thread.
 */
int health_usable(const struct health_site *hs, size_t idx);

/*
 * health_any_usable(hs):
 * 1 if at least one backend of the site is usable; when none is, sessions
 * try every backend in order anyway.
 */
int health_any_usable(const struct health_site *hs);

/*
 * health_failed(hs, idx, why):
 * A session could not connect to backend idx or finish its TLS handshake
 * (why: one line, peer strings already escaped).  Marks it down for
 * backend_retry seconds, logging a warning if it was up.  Any thread.
 */
void health_failed(struct health_site *hs, size_t idx, const char *why);

/*
 * health_ok(hs, idx):
 * A session reached backend idx.  Without active checks, marks it up,
 * logging it if it was down; with them, the checks decide and this does
 * nothing.  One atomic load when the backend is up.  Any thread.
 */
void health_ok(struct health_site *hs, size_t idx);

/*
 * health_checked(hs, idx, ok, why):
 * The result of an active check of backend idx: up, or down (why) until a
 * check passes.  Changes are logged once.
 */
void health_checked(struct health_site *hs, size_t idx, int ok,
    const char *why);

/*
 * health_refused(hs, idx, cause):
 * The proxy refused backend idx's certificate (cause: why, escaped).  Logs
 * a warning the first time, and again only when the cause changes; each
 * session's own line says it anyway.  Any thread.
 */
void health_refused(struct health_site *hs, size_t idx, const char *cause);

/*
 * health_check_at(hs, idx), health_check_next(hs, idx, when):
 * The active checker's schedule of backend idx, in health_now() seconds,
 * kept in the shared state so a reload does not reset it: when the next
 * check is due (0 at first: now), and setting it.
 */
time_t health_check_at(const struct health_site *hs, size_t idx);
void health_check_next(struct health_site *hs, size_t idx, time_t when);

/*
 * health_site_up(hs, why, len):
 * 1 if at least one backend of the site is usable (health_usable()); 0 if
 * none is, with "every backend is down: B (why); ..." in why.  For
 * readiness: a site is ready while this is 1.
 */
int health_site_up(const struct health_site *hs, char *why, size_t len);

/*
 * health_render_header(out), health_render(hs, out):
 * The chainfix_backend_up family for /metrics: its # HELP and # TYPE lines
 * once, then per site "chainfix_backend_up{site="S",backend="B"} 1" (0
 * while health_usable() is 0).  Return 0 or -1.
 */
int health_render_header(struct evbuffer *out);
int health_render(const struct health_site *hs, struct evbuffer *out);

/* health_now(): the monotonic clock, in seconds. */
time_t health_now(void);

#endif /* CHAINFIX_HEALTH_H */
