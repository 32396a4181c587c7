/*
 * generation.c: a configuration and everything built from it
 * (generation.h).
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "chain.h"
#include "config.h"
#include "generation.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "ticketkeys.h"
#include "tlsctx.h"

static void generation_free(struct generation *g);

int
generation_same_addr(const struct config_hostport *a,
    const struct config_hostport *b)
{
	const char *ha = a->host != NULL ? a->host : "";
	const char *hb = b->host != NULL ? b->host : "";

	return a->port == b->port && strcmp(ha, hb) == 0;
}

static struct gen_listen *
generation_listen_for(struct generation *g, const struct config_hostport *hp)
{
	struct gen_listen *gl;
	size_t i;

	for (i = 0; i < g->nlistens; i++)
		if (generation_same_addr(g->listens[i].addr, hp))
			return &g->listens[i];
	gl = &g->listens[g->nlistens];
	if ((gl->sni = tlsctx_sni_new()) == NULL) {
		log_warn("generation_load");
		return NULL;
	}
	if ((gl->passthrough = calloc(g->nsites,
	    sizeof(*gl->passthrough))) == NULL) {
		log_warn("generation_load");
		tlsctx_sni_free(gl->sni);
		gl->sni = NULL;
		return NULL;
	}
	gl->addr = hp;
	g->nlistens++;
	return gl;
}

const struct config_site *
generation_listen_site(const struct gen_listen *gl)
{
	const struct config_site *a = gl->first != NULL ? gl->first->cfg :
	    NULL;
	const struct config_site *b = gl->npassthrough > 0 ?
	    gl->passthrough[0]->cfg : NULL;

	/* Sites are in file order in the configuration: the earlier one. */
	if (a == NULL || (b != NULL && b->line < a->line))
		return b;
	return a;
}

struct gen_site *
generation_passthrough(const struct gen_listen *gl, const char *sni)
{
	const struct config_site *cs;
	const char *dot;
	size_t i, j;

	if (sni == NULL || *sni == '\0')
		return NULL;
	for (i = 0; i < gl->npassthrough; i++) {
		cs = gl->passthrough[i]->cfg;
		for (j = 0; j < cs->nnames; j++)
			if (strcmp(cs->names[j], sni) == 0)
				return gl->passthrough[i];
	}
	/* A wildcard stands for one label: "*.x" covers "a.x", not "a.b.x". */
	if ((dot = strchr(sni, '.')) == NULL)
		return NULL;
	for (i = 0; i < gl->npassthrough; i++) {
		cs = gl->passthrough[i]->cfg;
		for (j = 0; j < cs->nnames; j++)
			if (cs->names[j][0] == '*' &&
			    strcmp(cs->names[j] + 1, dot) == 0)
				return gl->passthrough[i];
	}
	return NULL;
}

void
generation_site_spec(const struct config_site *cs, struct chain_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->label = cs->name;
	spec->cert = cs->cert;
	spec->key = cs->key;
	spec->password_file = cs->password_file;
	spec->intermediates = cs->intermediates;
	spec->roots = cs->roots;
	spec->send_root = cs->send_root;
	spec->need_key = 1;
	spec->public_intermediates = cs->public_intermediates;
	spec->aia_fetch = cs->aia_fetch;
	spec->aia_cache = cs->aia_cache;
	spec->legacy_roots = cs->legacy_roots;
}

/*
 * A passthrough site: no certificate, no TLS of ours; its backends' health
 * and counters, and its place among its address's passthrough sites.
 */
static int
generation_build_passthrough(struct generation *g, struct gen_site *gs)
{
	const struct config_site *cs = gs->cfg;

	if ((gs->health = health_site_new(cs)) == NULL)
		return -1;
	gs->metrics = metrics_site(cs->name);
	if ((gs->listen = generation_listen_for(g, &cs->listen)) == NULL)
		return -1;
	gs->listen->passthrough[gs->listen->npassthrough++] = gs;
	return 0;
}

static int
generation_build_site(struct generation *g, size_t i,
    struct chain_pools *pools)
{
	struct gen_site *gs = &g->sites[i];
	const struct config_site *cs = g->cfg->sites[i];
	struct chain_spec spec;

	gs->cfg = cs;
	if (cs->mode == CONFIG_MODE_PASSTHROUGH)
		return generation_build_passthrough(g, gs);
	generation_site_spec(cs, &spec);
	spec.pools = pools;
	if ((gs->chain = chain_build(&spec)) == NULL) {
		log_errx("site %s: cannot build the certificate chain of %s",
		    cs->name, cs->cert);
		return -1;
	}
	if ((gs->ctx = tlsctx_server_new(cs, gs->chain, gs)) == NULL ||
	    ticketkeys_install(g->tickets, gs->ctx) == -1)
		return -1;
	if (cs->backend_tls &&
	    (gs->backend = tlsctx_backend_new(cs)) == NULL)
		return -1;
	if ((gs->health = health_site_new(cs)) == NULL)
		return -1;
	/* Never freed: the site's series live as long as the process. */
	gs->metrics = metrics_site(cs->name);
	if ((gs->listen = generation_listen_for(g, &cs->listen)) == NULL)
		return -1;
	if (gs->listen->first == NULL)
		gs->listen->first = gs;
	if (tlsctx_sni_add(gs->listen->sni, gs->ctx,
	    chain_get(gs->chain, 0)->x509) == -1)
		return -1;
	return 0;
}

struct generation *
generation_load(const char *path, unsigned serial)
{
	struct generation *g;
	struct chain_pools *pools = NULL;
	struct config *cfg;
	size_t i;

	if ((cfg = config_load(path)) == NULL)
		return NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		log_warn("generation_load");
		config_free(cfg);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	g->serial = serial;
	g->cfg = cfg;
	if (cfg->nsites == 0) {
		log_errx("%s: no site is configured", path);
		goto err;
	}
	g->nsites = cfg->nsites;
	/* The public intermediates are loaded once for all the sites that
	 * need them, and let go once every chain is built. */
	if ((g->sites = calloc(cfg->nsites, sizeof(*g->sites))) == NULL ||
	    (g->listens = calloc(cfg->nsites, sizeof(*g->listens))) == NULL ||
	    (pools = chain_pools_new()) == NULL) {
		log_warn("generation_load");
		goto err;
	}
	/*
	 * A key file is read anew with each generation (a reload, or the
	 * file changed); generated keys belong to the process and outlive
	 * reloads, or every reload would end every client's resumption.
	 */
	if (cfg->ticket_keys != NULL) {
		if ((g->tickets = ticketkeys_load(cfg->ticket_keys,
		    cfg->ticket_keys_staged)) == NULL)
			goto err;
	} else if ((g->tickets = ticketkeys_shared(
	    cfg->ticket_key_rotation)) == NULL)
		goto err;
	for (i = 0; i < cfg->nsites; i++)
		if (generation_build_site(g, i, pools) == -1)
			goto err;
	chain_pools_free(pools);
	return g;
 err:
	chain_pools_free(pools);
	generation_free(g);
	return NULL;
}

void
generation_log(const struct generation *g)
{
	const struct gen_site *gs;
	const struct chain *legacy;
	char line[1024];
	size_t i, j;

	for (i = 0; i < g->nsites; i++) {
		gs = &g->sites[i];
		if (gs->chain == NULL) {
			log_info("site %s: listen %s, passthrough for %s%s to "
			    "backend %s (%zu)", gs->cfg->name,
			    gs->cfg->listen.text, gs->cfg->names[0],
			    gs->cfg->nnames > 1 ? " and more" : "",
			    gs->cfg->backends[0].text, gs->cfg->nbackends);
			continue;
		}
		log_info("site %s: listen %s, backend %s%s (%zu), verify %s, "
		    "serving %zu certificate%s%s", gs->cfg->name,
		    gs->cfg->listen.text, gs->cfg->backends[0].text,
		    gs->cfg->backend_tls ? "" : " (plain TCP)",
		    gs->cfg->nbackends,
		    config_verify_name(gs->cfg->backend_verify),
		    chain_served(gs->chain),
		    chain_served(gs->chain) == 1 ? "" : "s",
		    chain_trusted(gs->chain) ? "" :
		    " (chain does not end at a trusted root)");
		for (j = 0; j < chain_length(gs->chain); j++)
			log_info("site %s:   %s", gs->cfg->name,
			    chain_describe(gs->chain, j, line, sizeof(line)));
		if ((legacy = chain_legacy(gs->chain)) != NULL) {
			log_info("site %s: legacy chain (clients without TLS "
			    "1.3), to legacy_roots %s:", gs->cfg->name,
			    gs->cfg->legacy_roots);
			for (j = 0; j < chain_length(legacy); j++)
				log_info("site %s:   %s", gs->cfg->name,
				    chain_describe(legacy, j, line,
				    sizeof(line)));
		}
		/* Expiry is the expiry watch's to report (expiry.c). */
		chain_diagnose(gs->chain, gs->cfg->name,
		    g->cfg->expiry_warning_days, CHAIN_DIAG_NO_EXPIRY);
	}
	if (g->cfg->ticket_keys != NULL)
		log_info("session tickets: %s", ticketkeys_describe(g->tickets,
		    g->cfg->ticket_keys, line, sizeof(line)));
	else
		log_info("session tickets: keys made in memory, a new one "
		    "every %us", g->cfg->ticket_key_rotation);
}

int
generation_backends_up(const struct generation *g, char *why, size_t len)
{
	size_t i;

	for (i = 0; i < g->nsites; i++)
		if (!health_site_up(g->sites[i].health, why, len))
			return 0;
	return 1;
}

struct generation *
generation_ref(struct generation *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

void
generation_unref(struct generation *g)
{
	if (g == NULL)
		return;
	/* acq_rel: the last owner must see every other owner's writes. */
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		generation_free(g);
}

static void
generation_free(struct generation *g)
{
	size_t i;

	if (g == NULL)
		return;
	if (g->listens != NULL) {
		for (i = 0; i < g->nlistens; i++) {
			tlsctx_sni_free(g->listens[i].sni);
			free(g->listens[i].passthrough);
		}
	}
	if (g->sites != NULL) {
		for (i = 0; i < g->nsites; i++) {
			health_site_free(g->sites[i].health);
			tlsctx_backend_free(g->sites[i].backend);
			SSL_CTX_free(g->sites[i].ctx);
			chain_free(g->sites[i].chain);
		}
	}
	ticketkeys_unref(g->tickets);
	free(g->listens);
	free(g->sites);
	config_free(g->cfg);
	free(g);
}

/*
 * A load on its own thread.  The thread only builds: it touches nothing the
 * event loop uses, and hands its result back by making an event on base
 * active (safe from another thread once evthread_use_pthreads() was
 * called), so the callback, and whatever it swaps, runs on base's thread.
 */
struct generation_loader {
	char			*path;
	unsigned		 serial;
	struct event		*done;
	generation_loaded_cb	 cb;
	void			*arg;
	pthread_t		 thread;
	struct generation	*g;	/* the thread's result */
};

static void *
generation_loader_main(void *arg)
{
	struct generation_loader *l = arg;

	l->g = generation_load(l->path, l->serial);
	event_active(l->done, EV_READ, 0);
	return NULL;
}

static void
generation_loader_destroy(struct generation_loader *l)
{
	event_free(l->done);
	free(l->path);
	free(l);
}

/* On base's thread, once the load is over: hand the result on, then go. */
static void
generation_loader_done(evutil_socket_t fd, short what, void *arg)
{
	struct generation_loader *l = arg;
	struct generation *g;

	(void)fd;
	(void)what;
	pthread_join(l->thread, NULL);
	g = l->g;
	l->cb(g, l->arg);
	/* Freeing the event from its own callback is allowed. */
	generation_loader_destroy(l);
}

struct generation_loader *
generation_load_start(struct event_base *base, const char *path,
    unsigned serial, generation_loaded_cb cb, void *arg)
{
	struct generation_loader *l;
	sigset_t all, old;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->path = strdup(path)) == NULL) {
		log_warn("generation_load_start");
		free(l);
		return NULL;
	}
	l->serial = serial;
	l->cb = cb;
	l->arg = arg;
	if ((l->done = event_new(base, -1, 0, generation_loader_done,
	    l)) == NULL) {
		log_warnx("generation_load_start: cannot create an event");
		free(l->path);
		free(l);
		return NULL;
	}
	/* Signals are the main thread's: block them in the loader. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->thread, NULL, generation_loader_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warnx("generation_load_start: pthread_create: %s",
		    strerror(rc));
		generation_loader_destroy(l);
		return NULL;
	}
	return l;
}

void
generation_load_cancel(struct generation_loader *l)
{
	if (l == NULL)
		return;
	/* The build cannot be interrupted: wait for it, keep nothing. */
	pthread_join(l->thread, NULL);
	generation_unref(l->g);
	generation_loader_destroy(l);
}
