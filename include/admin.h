/*
 * admin.h: the admin HTTP endpoint on `admin_listen` (libevent evhttp):
 *   /healthz  200 "ok" while serving, 503 "draining" while draining
 *   /metrics  Prometheus text: metrics.h counters plus, per served
 *             certificate {site,depth,subject}:
 *             chainfix_certificate_not_after_seconds,
 *             chainfix_certificate_expiring and chainfix_certificate_expired
 *             (0/1, expiry.h); per backend {site,backend}:
 *             chainfix_backend_up (health.h)
 *   /chains   JSON: every site's chain as served (each certificate with
 *             where it was found: "origin"), and its "legacy" chain for
 *             clients without TLS 1.3 (null when they get the same)
 * It runs on the daemon's main event_base, the thread that also reloads, so
 * the site list it reads cannot change under a request.  Clients are
 * bounded: 16 connections at once (more wait in the listen backlog), each
 * request over within 10 s of the connection or the previous answer
 * (however slowly it trickles in), and on fd exhaustion the listener
 * pauses and resumes (listener_adopt()).
 */
#ifndef CHAINFIX_ADMIN_H
#define CHAINFIX_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "config.h"

struct event_base;
struct health_site;

/* One served site as the admin endpoint shows it. */
struct admin_site {
	const char		*name;
	const struct chain	*chain;
	const struct health_site *health;	/* its backends; NULL: none */
	int			 passthrough;	/* no chain of its own: TLS
						   goes to the backend */
	unsigned		 expiry_warning_days;	/* for the expiring gauge */
};

/* What the admin endpoint asks the daemon; called on the main thread. */
struct admin_ops {
	/* 1 while draining (healthz answers 503). */
	int	(*draining)(void *arg);
	/* Fill *site with live site i (0, 1, ...); what it points to
	   stays valid until the callback returns to the event loop.
	   Returns 0, or -1 past the last site. */
	int	(*site)(void *arg, size_t i, struct admin_site *site);
};

struct admin;

/*
 * admin_start(base, listen, ops, arg):
 * Bind listen (listen->host "" = any address; an IPv6 literal binds
 * IPv6) and serve on base.  ops and arg are kept, not copied: they must
 * outlive the endpoint.  Call only when admin_listen is set (host != NULL).
 * Returns the endpoint (free with admin_free()), or NULL (logged) if it
 * cannot bind.
 */
struct admin *admin_start(struct event_base *base,
    const struct config_hostport *listen, const struct admin_ops *ops,
    void *arg);

/*
 * admin_port(a): the TCP port actually bound (the kernel's choice when
 * listen asked for port 0); 0 if unknown or a is NULL.
 */
uint16_t admin_port(const struct admin *a);

/*
 * admin_connections(a): admin connections open now (accepted and not yet
 * closed; at most 16).  Call on the thread that runs base.
 */
size_t admin_connections(const struct admin *a);

/*
 * admin_free(a): stop serving (closes the listener and any open admin
 * connection) and free; call it on the thread that runs base, before
 * base is freed.  NULL is a no-op.
 */
void admin_free(struct admin *a);

#endif /* CHAINFIX_ADMIN_H */
