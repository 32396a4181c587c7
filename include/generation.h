/*
 * generation.h: one loaded configuration with everything built from it:
 * the chains, the server and backend TLS contexts and the SNI table of each
 * listen address.  A reload builds a whole new generation on the side and
 * swaps it in only if every step succeeded; each session holds a reference
 * to the generation it started on, so old contexts live until their last
 * session ends.  Nothing in a generation changes after generation_load().
 */
#ifndef CHAINFIX_GENERATION_H
#define CHAINFIX_GENERATION_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "chain.h"
#include "config.h"
#include "tlsctx.h"

struct event_base;
struct gen_listen;
struct health_site;
struct metrics_site;
struct ticketkeys;

/* A site as the proxy serves it. */
struct gen_site {
	const struct config_site *cfg;		/* in generation->cfg */
	struct chain		*chain;		/* NULL: passthrough */
	SSL_CTX			*ctx;		/* server side; NULL: passthrough */
	struct tlsctx_backend	*backend;	/* NULL: backend_tls = no */
	struct health_site	*health;	/* its backends' (health.h) */
	struct metrics_site	*metrics;	/* its counters; NULL: none
						   (out of memory) */
	struct gen_listen	*listen;
};

/*
 * A distinct listen address and the sites sharing it: the terminated ones
 * in its SNI table (the first is the default), the passthrough ones in
 * file order.
 */
struct gen_listen {
	const struct config_hostport *addr;	/* of its first site */
	struct gen_site		*first;		/* the default terminated site;
						   NULL: passthrough only */
	struct tlsctx_sni	*sni;
	struct gen_site		**passthrough;	/* mode = passthrough */
	size_t			 npassthrough;
};

struct generation {
	atomic_uint		 refs;
	unsigned		 serial;	/* 1, 2, ... per load */
	struct config		*cfg;
	struct gen_site		*sites;
	size_t			 nsites;
	struct gen_listen	*listens;
	size_t			 nlistens;
	struct ticketkeys	*tickets;	/* on every server context */
};

/*
 * generation_load(path, serial):
 * Load the configuration at path and build every chain and context.  Every
 * failure is logged.  Returns a generation holding one reference, or NULL.
 */
struct generation *generation_load(const char *path, unsigned serial);

/*
 * generation_site_spec(cs, spec):
 * Fill *spec with what chain_build() needs for site cs, as a load does;
 * the strings point into cs, which must outlive spec.
 */
void generation_site_spec(const struct config_site *cs,
    struct chain_spec *spec);

/*
 * generation_loaded_cb(g, arg): the result of a load started with
 * generation_load_start(): a generation holding one reference (the
 * callee's), or NULL if it failed (logged).
 */
typedef void (*generation_loaded_cb)(struct generation *g, void *arg);

struct generation_loader;

/*
 * generation_load_start(base, path, serial, cb, arg):
 * generation_load(path, serial) on a thread of its own, so the thread that
 * runs base (the one accepting connections) goes on meanwhile; then cb(g,
 * arg) on base's thread.  The loader frees itself after cb returns.
 * evthread_use_pthreads() must have been called.  Returns the loader (only
 * for generation_load_cancel()), or NULL (logged; cb is not called).
 */
struct generation_loader *generation_load_start(struct event_base *base,
    const char *path, unsigned serial, generation_loaded_cb cb, void *arg);

/*
 * generation_load_cancel(l):
 * At exit, with the load not yet handed over: wait for the thread and drop
 * its result; cb is not called.  Call on base's thread.  NULL is a no-op.
 */
void generation_load_cancel(struct generation_loader *l);

/* generation_log(g): log each site's listen, backends and served chain. */
void generation_log(const struct generation *g);

/* generation_ref(g): take a reference; returns g. Any thread. */
struct generation *generation_ref(struct generation *g);

/* generation_unref(g): drop one; the last frees.  NULL is a no-op. */
void generation_unref(struct generation *g);

/*
 * generation_listen_site(gl): the first site of gl's address in the file
 * (terminated or passthrough), for messages and defaults such as its
 * handshake_timeout.
 */
const struct config_site *generation_listen_site(const struct gen_listen *gl);

/*
 * generation_passthrough(gl, sni):
 * The passthrough site of gl that answers sni (lowercase, as
 * clienthello_parse() gives it): one naming it exactly, else one whose
 * wildcard covers it (one label), in file order; NULL if none does or sni
 * is "".
 */
struct gen_site *generation_passthrough(const struct gen_listen *gl,
    const char *sni);

/*
 * generation_backends_up(g, why, len):
 * 1 if every site of g has at least one backend up (health_site_up()); 0
 * with the first site that has none, and its backends, in why.  For
 * readiness.  Any thread holding a reference to g.
 */
int generation_backends_up(const struct generation *g, char *why,
    size_t len);

/* generation_same_addr(a, b): 1 if two listen addresses are the same. */
int generation_same_addr(const struct config_hostport *a,
    const struct config_hostport *b);

#endif /* CHAINFIX_GENERATION_H */
