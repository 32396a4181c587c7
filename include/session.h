/*
 * session.h: one client connection and its own fresh backend connection,
 * relayed in both directions on one worker's event_base.
 *
 * Sessions are never shared between threads: everything here is called on
 * the worker that owns the session.  Each session ends through one door
 * that logs one line (client, SNI, site, backend, bytes each way, duration,
 * reason) and counts the reason (metrics.h, METRICS_SESSION_REASONS).
 */
#ifndef CHAINFIX_SESSION_H
#define CHAINFIX_SESSION_H

#include <sys/socket.h>

#include <stddef.h>

struct event_base;
struct evdns_base;
struct gen_listen;
struct generation;
struct session;

/*
 * The sessions of one worker (its owner embeds it, zeroed), and the relay
 * buffers they lend each other.
 */
struct session_list {
	struct session	*head;
	size_t		 n;
	void		*pool;		/* free relay buffers, linked */
	size_t		 npool;
};

/* What a worker lends its sessions. */
struct session_env {
	struct event_base	*base;
	struct evdns_base	*dns;	/* resolves backend names */
	struct session_list	*list;
};

/*
 * session_start(env, fd, sa, salen, g, gl):
 * Start the client TLS handshake on fd (non-blocking), accepted on listen
 * address gl of generation g.  Takes ownership of fd and of one reference
 * to g in every case.  Returns 0, or -1 (logged; fd closed, reference
 * dropped).
 */
int session_start(const struct session_env *env, int fd,
    const struct sockaddr *sa, socklen_t salen, struct generation *g,
    struct gen_listen *gl);

/*
 * session_close_all(l, reason):
 * End every session of l now (reason "shutdown", with the given detail)
 * and free the relay buffers l keeps.
 */
void session_close_all(struct session_list *l, const char *reason);

/* session_count(): sessions alive in the whole process (any thread). */
size_t session_count(void);

#endif /* CHAINFIX_SESSION_H */
