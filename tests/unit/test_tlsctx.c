/*
 * test_tlsctx.c: server contexts serve exactly the assembled chain, SNI
 * picks the site (exact names before wildcards, else the default), and the
 * protocol settings follow the site's configuration.  Handshakes run in
 * memory over BIO pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "certload.h"
#include "chain.h"
#include "config.h"
#include "metrics.h"
#include "tlsctx.h"
#include "testpki.h"

static struct testpki *P;

struct site {
	struct config_site	 cfg;
	struct chain		*chain;
	SSL_CTX			*ctx;
	X509			*leaf;
	EVP_PKEY		*key;
};

static int
setup(void **state)
{
	(void)state;
	P = testpki_new();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testpki_free(P);
	return 0;
}

/*
 * A site serving leaf (key) with int2, int1 from the pool, root trusted,
 * with its own protocol floor and cipher policy (NULL: the defaults).
 */
static void
site_init_policy(struct site *s, const char *name, X509 *leaf, EVP_PKEY *key,
    int min_protocol, const char *ciphers, const char *suites)
{
	struct certload_set *pool, *roots;
	char err[256];

	memset(s, 0, sizeof(*s));
	s->cfg.name = (char *)(uintptr_t)name;
	s->cfg.min_protocol = min_protocol;
	s->cfg.ciphers = (char *)(uintptr_t)ciphers;
	s->cfg.ciphersuites = (char *)(uintptr_t)suites;
	assert_non_null(pool = certload_set_new());
	assert_non_null(roots = certload_set_new());
	assert_int_equal(certload_set_add(pool, P->int1, "int1"), 1);
	assert_int_equal(certload_set_add(pool, P->int2, "int2"), 1);
	assert_int_equal(certload_set_add(roots, P->root, "root"), 1);
	s->chain = chain_assemble(leaf, name, key, pool, roots, 0, err,
	    sizeof(err));
	if (s->chain == NULL)
		fail_msg("chain_assemble: %s", err);
	certload_set_free(pool);
	certload_set_free(roots);
	s->ctx = tlsctx_server_new(&s->cfg, s->chain, s);
	assert_non_null(s->ctx);
	s->leaf = leaf;
	s->key = key;
}

/* A site with the default cipher policy. */
static void
site_init(struct site *s, const char *name, X509 *leaf, EVP_PKEY *key,
    int min_protocol)
{
	site_init_policy(s, name, leaf, key, min_protocol, NULL, NULL);
}

static void
site_clear(struct site *s)
{
	SSL_CTX_free(s->ctx);
	chain_free(s->chain);
}

/* Another leaf under int2 with the given SAN. */
static X509 *
leaf_with(const char *cn, const char *san)
{
	struct testpki_certspec spec;

	memset(&spec, 0, sizeof(spec));
	spec.cn = cn;
	spec.key = P->leaf2_key;
	spec.issuer = P->int2;
	spec.issuer_key = P->int2_key;
	spec.not_before = -TESTPKI_DAY;
	spec.not_after = 30 * TESTPKI_DAY;
	spec.server = 1;
	spec.san = san;
	return testpki_cert(&spec);
}

/* The handshake of client c and server s (testpki_handshake()): 1 if both
 * ends finished and the client verified the server. */
static int
pump(SSL *c, SSL *s)
{
	return testpki_handshake(c, s) && SSL_get_verify_result(c) == X509_V_OK;
}

/*
 * Handshake a strict client (trusts anchor alone, checks servername, speaks
 * at most max_version, 0: any) against a server SSL made from sctx.
 * Returns the server SSL (caller frees), how many certificates the client
 * received and, if top is not NULL, a reference to the last one.
 */
static SSL *
handshake_ex(SSL_CTX *sctx, const char *servername, X509 *anchor,
    int max_version, int *ncerts, int *ok, X509 **top)
{
	SSL_CTX *cctx;
	SSL *c, *s;
	X509_STORE *store;
	STACK_OF(X509) *sent;

	assert_non_null(cctx = SSL_CTX_new(TLS_client_method()));
	if (max_version != 0)
		assert_int_equal(SSL_CTX_set_max_proto_version(cctx,
		    max_version), 1);
	store = SSL_CTX_get_cert_store(cctx);
	assert_int_equal(X509_STORE_add_cert(store, anchor), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	assert_non_null(c = SSL_new(cctx));
	assert_non_null(s = SSL_new(sctx));
	if (servername != NULL) {
		assert_int_equal(tlsctx_set_sni(c, servername), 1);
		assert_int_equal(SSL_set1_host(c, servername), 1);
	}
	*ok = pump(c, s);
	sent = SSL_get_peer_cert_chain(c);
	*ncerts = sent != NULL ? sk_X509_num(sent) : 0;
	if (top != NULL) {
		*top = *ncerts > 0 ? sk_X509_value(sent, *ncerts - 1) : NULL;
		if (*top != NULL)
			X509_up_ref(*top);
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_CTX_free(cctx);
	return s;
}

/*
 * Handshake a strict client (trusts root alone, checks servername) against
 * a server SSL made from sctx.  Returns the server SSL (caller frees) and
 * how many certificates the client received.
 */
static SSL *
handshake(SSL_CTX *sctx, const char *servername, int *ncerts, int *ok)
{
	return handshake_ex(sctx, servername, P->root, 0, ncerts, ok, NULL);
}

/* The context serves leaf, int2, int1 (not the root) and never more. */
static void
test_server_chain(void **state)
{
	struct site a;
	STACK_OF(X509) *extra = NULL;
	int n, ok;
	SSL *s;

	(void)state;
	site_init(&a, "a", P->leaf, P->leaf_key, 0);
	assert_true(SSL_CTX_get_mode(a.ctx) & SSL_MODE_NO_AUTO_CHAIN);
	assert_true(SSL_CTX_get_mode(a.ctx) & SSL_MODE_RELEASE_BUFFERS);
	assert_int_equal(SSL_CTX_get0_chain_certs(a.ctx, &extra), 1);
	assert_int_equal(sk_X509_num(extra), 2);
	assert_int_equal(X509_cmp(sk_X509_value(extra, 0), P->int2), 0);
	assert_int_equal(X509_cmp(sk_X509_value(extra, 1), P->int1), 0);
	assert_int_equal(SSL_CTX_get_min_proto_version(a.ctx),
	    TLS1_2_VERSION);

	s = handshake(a.ctx, "localhost", &n, &ok);
	assert_true(ok);
	assert_int_equal(n, 3);
	assert_ptr_equal(tlsctx_server_site(s), &a);
	SSL_free(s);
	site_clear(&a);
}

/* Old devices: TLS 1.0 only when asked, with the security level lowered. */
static void
test_min_protocol(void **state)
{
	struct site a;

	(void)state;
	site_init(&a, "old", P->leaf, P->leaf_key, TLS1_VERSION);
	assert_int_equal(SSL_CTX_get_min_proto_version(a.ctx), TLS1_VERSION);
	assert_int_equal(SSL_CTX_get_security_level(a.ctx), 0);
	site_clear(&a);
	site_init(&a, "new", P->leaf, P->leaf_key, 0);
	assert_true(SSL_CTX_get_security_level(a.ctx) > 0);
	site_clear(&a);
}

/* Exact names win over wildcards whatever the order; else the default. */
static void
test_sni_lookup(void **state)
{
	struct site a, wild, exact;
	struct tlsctx_sni *t;
	X509 *lw, *le;

	(void)state;
	lw = leaf_with("other.test", "DNS:other.test,DNS:*.other.test");
	le = leaf_with("exact.other.test", "DNS:exact.other.test");
	site_init(&a, "a", P->leaf, P->leaf_key, 0);
	site_init(&wild, "wild", lw, P->leaf2_key, 0);
	site_init(&exact, "exact", le, P->leaf2_key, 0);
	assert_non_null(t = tlsctx_sni_new());
	assert_null(tlsctx_sni_default(t));
	assert_int_equal(tlsctx_sni_add(t, a.ctx, a.leaf), 0);
	assert_int_equal(tlsctx_sni_add(t, wild.ctx, wild.leaf), 0);
	assert_int_equal(tlsctx_sni_add(t, exact.ctx, exact.leaf), 0);

	assert_ptr_equal(tlsctx_sni_default(t), a.ctx);
	assert_ptr_equal(tlsctx_sni_lookup(t, NULL), a.ctx);
	assert_ptr_equal(tlsctx_sni_lookup(t, ""), a.ctx);
	assert_ptr_equal(tlsctx_sni_lookup(t, "localhost"), a.ctx);
	assert_ptr_equal(tlsctx_sni_lookup(t, "LOCALHOST"), a.ctx);
	assert_ptr_equal(tlsctx_sni_lookup(t, "other.test"), wild.ctx);
	assert_ptr_equal(tlsctx_sni_lookup(t, "mail.other.test"), wild.ctx);
	assert_ptr_equal(tlsctx_sni_lookup(t, "exact.other.test"),
	    exact.ctx);
	/* A wildcard covers one label only. */
	assert_ptr_equal(tlsctx_sni_lookup(t, "a.b.other.test"), a.ctx);
	assert_ptr_equal(tlsctx_sni_lookup(t, "unknown.example"), a.ctx);

	tlsctx_sni_free(t);
	site_clear(&exact);
	site_clear(&wild);
	site_clear(&a);
	X509_free(le);
	X509_free(lw);
	tlsctx_sni_free(NULL);
}

/* The servername callback moves the handshake to the matching site. */
static void
test_sni_handshake(void **state)
{
	struct site a, b;
	struct tlsctx_sni *t;
	X509 *lb;
	int n, ok;
	SSL *s;

	(void)state;
	lb = leaf_with("other.test", "DNS:other.test,DNS:*.other.test");
	site_init(&a, "a", P->leaf, P->leaf_key, 0);
	site_init(&b, "b", lb, P->leaf2_key, 0);
	assert_non_null(t = tlsctx_sni_new());
	assert_int_equal(tlsctx_sni_add(t, a.ctx, a.leaf), 0);
	assert_int_equal(tlsctx_sni_add(t, b.ctx, b.leaf), 0);

	s = handshake(tlsctx_sni_default(t), "www.other.test", &n, &ok);
	assert_true(ok);
	assert_int_equal(n, 3);
	assert_ptr_equal(tlsctx_server_site(s), &b);
	SSL_free(s);

	s = handshake(tlsctx_sni_default(t), "localhost", &n, &ok);
	assert_true(ok);
	assert_ptr_equal(tlsctx_server_site(s), &a);
	SSL_free(s);

	/* No SNI: the default site (the client does not check names). */
	s = handshake(tlsctx_sni_default(t), NULL, &n, &ok);
	assert_true(ok);
	assert_ptr_equal(tlsctx_server_site(s), &a);
	SSL_free(s);

	tlsctx_sni_free(t);
	site_clear(&b);
	site_clear(&a);
	X509_free(lb);
}

/*
 * A site whose pool holds int1 and its cross-sign by root-old: the usual
 * chain ends at root, the legacy one (legacy_roots = root-old) at root-old.
 */
static void
site_init_legacy(struct site *s, const char *name, X509 *leaf, EVP_PKEY *key)
{
	struct certload_set *pool, *roots;
	struct chain_spec spec;
	X509 *oldv[] = { P->root_old, NULL };
	char err[256], *dir = testpki_tmpdir(), *old;

	memset(s, 0, sizeof(*s));
	s->cfg.name = (char *)(uintptr_t)name;
	old = testpki_path(dir, "root-old.pem");
	testpki_write_pem(old, oldv, NULL, NULL);
	assert_non_null(pool = certload_set_new());
	assert_non_null(roots = certload_set_new());
	assert_int_equal(certload_set_add(pool, P->int1, "int1"), 1);
	assert_int_equal(certload_set_add(pool, P->int1_cross, "cross"), 1);
	assert_int_equal(certload_set_add(pool, P->int2, "int2"), 1);
	assert_int_equal(certload_set_add(roots, P->root, "root"), 1);
	memset(&spec, 0, sizeof(spec));
	spec.label = name;
	spec.legacy_roots = old;
	testpki_capture_start();
	s->chain = chain_complete(leaf, name, key, pool, roots, &spec, err,
	    sizeof(err));
	free(testpki_capture_end());
	if (s->chain == NULL)
		fail_msg("chain_complete: %s", err);
	assert_non_null(chain_legacy(s->chain));
	certload_set_free(pool);
	certload_set_free(roots);
	testpki_rmtree(dir);
	free(old);
	free(dir);
	s->ctx = tlsctx_server_new(&s->cfg, s->chain, s);
	assert_non_null(s->ctx);
	s->leaf = leaf;
	s->key = key;
}

/*
 * Clients without TLS 1.3 get the legacy chain, the others the usual one,
 * also after SNI moved the handshake to the site, and only for that site.
 */
static void
test_legacy_chain(void **state)
{
	struct site a, b;
	struct tlsctx_sni *t;
	X509 *lb, *top;
	int64_t legacy_before;
	int n, ok;
	SSL *s;

	(void)state;
	site_init_legacy(&a, "a", P->leaf, P->leaf_key);
	legacy_before = metrics_get(M_LEGACY_CHAIN);
	s = handshake_ex(a.ctx, "localhost", P->root_old, TLS1_2_VERSION,
	    &n, &ok, &top);
	assert_true(ok);
	assert_int_equal(metrics_get(M_LEGACY_CHAIN), legacy_before + 1);
	assert_int_equal(n, 3);
	assert_int_equal(X509_cmp(top, P->int1_cross), 0);
	X509_free(top);
	SSL_free(s);
	s = handshake_ex(a.ctx, "localhost", P->root, 0, &n, &ok, &top);
	assert_true(ok);
	assert_int_equal(SSL_version(s), TLS1_3_VERSION);
	assert_int_equal(metrics_get(M_LEGACY_CHAIN), legacy_before + 1);
	assert_int_equal(X509_cmp(top, P->int1), 0);
	X509_free(top);
	SSL_free(s);
	/* Each client gets one chain, never both: TLS 1.3 and the old
	 * root do not verify, nor TLS 1.2 and the new one. */
	SSL_free(handshake_ex(a.ctx, "localhost", P->root_old, 0, &n, &ok,
	    NULL));
	assert_false(ok);
	SSL_free(handshake_ex(a.ctx, "localhost", P->root, TLS1_2_VERSION,
	    &n, &ok, NULL));
	assert_false(ok);

	/* Behind SNI: the default site has no legacy chain, b has one. */
	lb = leaf_with("other.test", "DNS:other.test");
	site_init(&b, "plain", P->leaf, P->leaf_key, 0);
	site_clear(&a);
	site_init_legacy(&a, "legacy", lb, P->leaf2_key);
	assert_non_null(t = tlsctx_sni_new());
	assert_int_equal(tlsctx_sni_add(t, b.ctx, b.leaf), 0);
	assert_int_equal(tlsctx_sni_add(t, a.ctx, a.leaf), 0);
	s = handshake_ex(tlsctx_sni_default(t), "other.test", P->root_old,
	    TLS1_2_VERSION, &n, &ok, &top);
	assert_true(ok);
	assert_ptr_equal(tlsctx_server_site(s), &a);
	assert_int_equal(X509_cmp(top, P->int1_cross), 0);
	X509_free(top);
	SSL_free(s);
	s = handshake_ex(tlsctx_sni_default(t), "localhost", P->root,
	    TLS1_2_VERSION, &n, &ok, &top);
	assert_true(ok);
	assert_ptr_equal(tlsctx_server_site(s), &b);
	assert_int_equal(X509_cmp(top, P->int1), 0);
	X509_free(top);
	SSL_free(s);
	tlsctx_sni_free(t);
	site_clear(&a);
	site_clear(&b);
	X509_free(lb);
}

/*
 * A backend context with backend_verify = no for the one backend hp, and
 * backend_sni (may be NULL); what it logged in *out (free() it), or
 * dropped if out is NULL.
 */
static struct tlsctx_backend *
backend_new(struct config_site *cfg, struct config_hostport *hp,
    const char *sni, char **out)
{
	struct tlsctx_backend *tb;
	char *log;

	memset(cfg, 0, sizeof(*cfg));
	cfg->name = (char *)(uintptr_t)"nv";
	cfg->backends = hp;
	cfg->nbackends = 1;
	cfg->backend_tls = 1;
	cfg->backend_verify = CONFIG_VERIFY_NO;
	cfg->backend_sni = (char *)(uintptr_t)sni;
	testpki_capture_start();
	tb = tlsctx_backend_new(cfg);
	log = testpki_capture_end();
	assert_non_null(tb);
	if (out != NULL)
		*out = log;
	else
		free(log);
	return tb;
}

/* What a client offers, and what came of the handshake. */
struct hs {
	const char	*servername;
	int		 max_version;	/* 0: any */
	const char	*ciphers;	/* TLS <= 1.2 list; NULL: default */
	const char	*suites;	/* TLS 1.3; NULL: default */
	int		 no_ticket;	/* TLS 1.2 session ids, not tickets */
	SSL_SESSION	*resume;	/* offered, or NULL */
	/* out */
	int		 ok;
	int		 reused;
	SSL_SESSION	*session;	/* the client's, to resume; free it */
	void		*site;		/* tlsctx_server_site() */
	int		 tickets;	/* sessions the client was given */
};

static int hs_tickets;

/* The client's new-session callback: count, keep nothing. */
static int
hs_count_ticket(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	(void)sess;
	hs_tickets++;
	return 0;
}

/* One handshake of a client as h says against a new SSL of sctx. */
static void
hs_run(SSL_CTX *sctx, struct hs *h)
{
	SSL_CTX *cctx;
	SSL *c, *s;
	char buf[1];

	assert_non_null(cctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx),
	    P->root), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	/* No client cache: freeing cctx would mark its sessions spent. */
	/* TLS 1.0 needs the old signature algorithms. */
	SSL_CTX_set_security_level(cctx, 0);
	SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
	if (h->max_version != 0)
		assert_int_equal(SSL_CTX_set_max_proto_version(cctx,
		    h->max_version), 1);
	if (h->ciphers != NULL)
		assert_int_equal(SSL_CTX_set_cipher_list(cctx, h->ciphers), 1);
	if (h->suites != NULL)
		assert_int_equal(SSL_CTX_set_ciphersuites(cctx, h->suites), 1);
	if (h->no_ticket)
		SSL_CTX_set_options(cctx, SSL_OP_NO_TICKET);
	/* Only to count what the server hands out (new_cb keeps none). */
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(cctx, hs_count_ticket);
	hs_tickets = 0;
	assert_non_null(c = SSL_new(cctx));
	assert_non_null(s = SSL_new(sctx));
	if (h->servername != NULL)
		assert_int_equal(tlsctx_set_sni(c, h->servername), 1);
	if (h->resume != NULL)
		assert_int_equal(SSL_set_session(c, h->resume), 1);
	h->ok = pump(c, s);
	h->reused = h->ok && SSL_session_reused(s);
	h->site = h->ok ? tlsctx_server_site(s) : NULL;
	h->session = NULL;
	if (h->ok) {
		/* TLS 1.3 tickets come after the handshake: read them. */
		(void)SSL_read(c, buf, sizeof(buf));
		h->session = SSL_get1_session(c);
		h->tickets = hs_tickets;
		/* Freed without a shutdown, a session is not resumable. */
		SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
}

/*
 * Two sites on one address: a (the default) allows what OpenSSL allows by
 * default, b forbids it.  A client offering only what a allows reaches a,
 * and is refused by b: every part of b's policy holds after SNI, not only
 * its certificate.
 */
static void
test_sni_policy(void **state)
{
	static const struct {
		const char	*what;
		int		 b_min;
		const char	*b_ciphers, *b_suites;
		struct hs	 client;
	} cases[] = {
		{ "b: TLS 1.3 only, client at most TLS 1.2", TLS1_3_VERSION,
		    NULL, NULL, { .max_version = TLS1_2_VERSION } },
		{ "b: AES-256 only, TLS 1.2 client offers AES-128", 0,
		    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
		    NULL, { .max_version = TLS1_2_VERSION,
		    .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:"
		    "ECDHE-RSA-AES128-GCM-SHA256" } },
		{ "b: TLS_AES_256 only, TLS 1.3 client offers TLS_AES_128",
		    0, NULL, "TLS_AES_256_GCM_SHA384",
		    { .suites = "TLS_AES_128_GCM_SHA256" } },
	};
	struct site a, b;
	struct tlsctx_sni *t;
	struct hs h;
	X509 *lb;
	size_t i;

	(void)state;
	lb = leaf_with("other.test", "DNS:other.test");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		site_init(&a, "a", P->leaf, P->leaf_key, 0);
		site_init_policy(&b, "b", lb, P->leaf2_key, cases[i].b_min,
		    cases[i].b_ciphers, cases[i].b_suites);
		assert_non_null(t = tlsctx_sni_new());
		assert_int_equal(tlsctx_sni_add(t, a.ctx, a.leaf), 0);
		assert_int_equal(tlsctx_sni_add(t, b.ctx, b.leaf), 0);
		h = cases[i].client;
		h.servername = "localhost";
		hs_run(tlsctx_sni_default(t), &h);
		if (!h.ok || h.site != &a)
			fail_msg("%s: site a refused the client", cases[i].what);
		SSL_SESSION_free(h.session);
		h = cases[i].client;
		h.servername = "other.test";
		hs_run(tlsctx_sni_default(t), &h);
		if (h.ok)
			fail_msg("%s: site b accepted the client",
			    cases[i].what);
		/* And b itself still serves a client that fits it. */
		memset(&h, 0, sizeof(h));
		h.servername = "other.test";
		hs_run(tlsctx_sni_default(t), &h);
		if (!h.ok || h.site != &b)
			fail_msg("%s: site b refused a default client",
			    cases[i].what);
		SSL_SESSION_free(h.session);
		tlsctx_sni_free(t);
		site_clear(&b);
		site_clear(&a);
	}

	/* The other way round: b lets in TLS 1.0, which a (default) does
	 * not: the security level and cipher list follow b as well. */
	site_init(&a, "a", P->leaf, P->leaf_key, 0);
	site_init(&b, "b", lb, P->leaf2_key, TLS1_VERSION);
	assert_non_null(t = tlsctx_sni_new());
	assert_int_equal(tlsctx_sni_add(t, a.ctx, a.leaf), 0);
	assert_int_equal(tlsctx_sni_add(t, b.ctx, b.leaf), 0);
	memset(&h, 0, sizeof(h));
	h.servername = "other.test";
	h.max_version = TLS1_VERSION;
	hs_run(tlsctx_sni_default(t), &h);
	assert_true(h.ok);
	assert_ptr_equal(h.site, &b);
	SSL_SESSION_free(h.session);
	h.servername = "localhost";
	hs_run(tlsctx_sni_default(t), &h);
	assert_false(h.ok);
	tlsctx_sni_free(t);
	site_clear(&b);
	site_clear(&a);
	X509_free(lb);
}

/*
 * A session made on site b resumes on b, never on a of the same address
 * (nor the reverse): TLS 1.3 tickets, TLS 1.2 tickets and TLS 1.2 session
 * ids.  Both sites share one session cache and ticket keys (those of the
 * address's default context): the session id context alone keeps them
 * apart, as it must once ticket keys are shared between sites.
 */
static void
test_sni_resumption(void **state)
{
	static const struct {
		const char	*what;
		int		 max_version, no_ticket;
	} modes[] = {
		{ "TLS 1.3 ticket", 0, 0 },
		{ "TLS 1.2 ticket", TLS1_2_VERSION, 0 },
		{ "TLS 1.2 session id", TLS1_2_VERSION, 1 },
	};
	static const char *const names[] = { "localhost", "other.test" };
	struct site a, b;
	struct tlsctx_sni *t;
	struct hs h, r;
	void *sites[2];
	X509 *lb;
	size_t m, from, to;

	(void)state;
	lb = leaf_with("other.test", "DNS:other.test");
	site_init(&a, "a", P->leaf, P->leaf_key, 0);
	site_init(&b, "b", lb, P->leaf2_key, 0);
	sites[0] = &a;
	sites[1] = &b;
	assert_non_null(t = tlsctx_sni_new());
	assert_int_equal(tlsctx_sni_add(t, a.ctx, a.leaf), 0);
	assert_int_equal(tlsctx_sni_add(t, b.ctx, b.leaf), 0);
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		for (from = 0; from < 2; from++) {
			memset(&h, 0, sizeof(h));
			h.servername = names[from];
			h.max_version = modes[m].max_version;
			h.no_ticket = modes[m].no_ticket;
			hs_run(tlsctx_sni_default(t), &h);
			assert_true(h.ok);
			assert_ptr_equal(h.site, sites[from]);
			assert_non_null(h.session);
			for (to = 0; to < 2; to++) {
				r = h;
				r.servername = names[to];
				r.resume = h.session;
				hs_run(tlsctx_sni_default(t), &r);
				if (!r.ok || r.site != sites[to])
					fail_msg("%s made on %s, offered to "
					    "%s: handshake failed",
					    modes[m].what, names[from],
					    names[to]);
				if (r.reused != (from == to))
					fail_msg("%s made on %s, offered to "
					    "%s: %s", modes[m].what,
					    names[from], names[to], r.reused ?
					    "resumed" : "not resumed");
				SSL_SESSION_free(r.session);
			}
			SSL_SESSION_free(h.session);
		}
	}
	tlsctx_sni_free(t);
	site_clear(&b);
	site_clear(&a);
	X509_free(lb);
}

/*
 * One TLS 1.3 ticket per handshake, full or resumed, not OpenSSL's two:
 * a client that reconnects one connection at a time (a phone) needs one,
 * and each resumption brings the next.
 */
static void
test_one_ticket(void **state)
{
	struct site a;
	struct hs h, r;

	(void)state;
	site_init(&a, "a", P->leaf, P->leaf_key, 0);
	memset(&h, 0, sizeof(h));
	h.servername = "localhost";
	hs_run(a.ctx, &h);
	assert_true(h.ok);
	assert_int_equal(SSL_SESSION_get_protocol_version(h.session),
	    TLS1_3_VERSION);
	assert_int_equal(h.tickets, 1);
	r = h;
	r.resume = h.session;
	hs_run(a.ctx, &r);
	assert_true(r.ok);
	assert_true(r.reused);
	assert_int_equal(r.tickets, 1);
	/* And the ticket the resumption brought resumes in its turn. */
	h = r;
	h.resume = r.session;
	hs_run(a.ctx, &h);
	assert_true(h.ok);
	assert_true(h.reused);
	SSL_SESSION_free(h.session);
	SSL_SESSION_free(r.session);
	SSL_SESSION_free(r.resume);
	site_clear(&a);
}

/* backend_verify = no is accepted, and said loudly. */
static void
test_backend_verify_no_warns(void **state)
{
	struct config_hostport hp = { (char *)(uintptr_t)"127.0.0.1", 443,
	    (char *)(uintptr_t)"127.0.0.1:443" };
	struct config_site cfg;
	struct tlsctx_backend *tb;
	char *out;
	SSL *ssl;

	(void)state;
	tb = backend_new(&cfg, &hp, NULL, &out);
	assert_non_null(strstr(out, "NOT checked"));
	free(out);
	assert_non_null(ssl = tlsctx_backend_ssl(tb, 0, "client.example"));
	assert_string_equal(SSL_get_servername(ssl,
	    TLSEXT_NAMETYPE_host_name), "client.example");
	assert_int_equal(SSL_get_verify_mode(ssl), SSL_VERIFY_NONE);
	SSL_free(ssl);
	tlsctx_backend_free(tb);
	tlsctx_backend_free(NULL);
}

/* The SNI a backend SSL would send, "" for none. */
static const char *
backend_sni(struct tlsctx_backend *tb, const char *client_sni, SSL **ssl)
{
	const char *n;

	assert_non_null(*ssl = tlsctx_backend_ssl(tb, 0, client_sni));
	n = SSL_get_servername(*ssl, TLSEXT_NAMETYPE_host_name);
	return n != NULL ? n : "";
}

/*
 * Without backend_sni the client's SNI goes to the backend only when it is
 * a host name: control characters, spaces, empty labels and the like fall
 * back to the backend's own name (or to no SNI for an address).
 */
static void
test_backend_sni(void **state)
{
	static const char *const bad[] = { "bad\x01name", "a\rb.example",
	    "a b.example", "a..b", ".a.b", "a.b.", "-a.example",
	    "a-.example", "a/b", "\xc3\xa4.example", "a:443", "*.example",
	    /* One element (a 64-byte label): the parentheses tell clang's
	       -Wstring-concatenation that the missing comma is meant. */
	    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".example"), "" };
	static const char *const good[] = { "mail.example.com", "localhost",
	    "x", "a-b.c_d.example", "xn--bcher-kva.example", "MAIL.Example" };
	struct config_hostport hp[2] = {
		{ (char *)(uintptr_t)"backend.corp", 443,
		    (char *)(uintptr_t)"backend.corp:443" },
		{ (char *)(uintptr_t)"127.0.0.1", 443,
		    (char *)(uintptr_t)"127.0.0.1:443" },
	};
	struct config_site cfg;
	struct tlsctx_backend *tb;
	char longname[300];
	size_t i, h;
	SSL *ssl;

	(void)state;
	memset(longname, 'a', sizeof(longname));
	for (i = 63; i < sizeof(longname); i += 64)
		longname[i] = '.';
	longname[254] = '\0';		/* 254 bytes: one too many */
	assert_int_equal(tlsctx_valid_hostname(longname), 0);
	longname[253] = '\0';
	assert_int_equal(tlsctx_valid_hostname(longname), 1);
	for (h = 0; h < 2; h++) {
		tb = backend_new(&cfg, &hp[h], NULL, NULL);
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(tlsctx_valid_hostname(bad[i]), 0);
			assert_string_equal(backend_sni(tb, bad[i], &ssl),
			    h == 0 ? "backend.corp" : "");
			SSL_free(ssl);
		}
		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			assert_int_equal(tlsctx_valid_hostname(good[i]), 1);
			assert_string_equal(backend_sni(tb, good[i], &ssl),
			    good[i]);
			SSL_free(ssl);
		}
		tlsctx_backend_free(tb);
	}
	/* backend_sni, when set, is what goes out whatever the client sent. */
	tb = backend_new(&cfg, &hp[0], "mail.example.com", NULL);
	assert_string_equal(backend_sni(tb, "bad\x01name", &ssl),
	    "mail.example.com");
	SSL_free(ssl);
	tlsctx_backend_free(tb);
}

/*
 * One handshake of a backend SSL (from tb) with a server SSL of sctx;
 * with tickets, the client reads what came after the handshake (TLS 1.3
 * tickets: they go to tb's cache).  Returns whether it resumed.
 */
static int
backend_hs(SSL *c, SSL_CTX *sctx, int tickets)
{
	SSL *s;
	char buf[1];
	int reused;

	assert_non_null(s = SSL_new(sctx));
	(void)testpki_handshake(c, s);	/* backend_verify = no */
	assert_true(SSL_is_init_finished(c));
	assert_true(SSL_is_init_finished(s));
	if (tickets)
		(void)SSL_read(c, buf, sizeof(buf));
	reused = SSL_session_reused(c);
	assert_int_equal(SSL_session_reused(s), reused);
	ERR_clear_error();
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(s);
	return reused;
}

/*
 * Backend connections made at once all resume with the cached session.
 * OpenSSL marks a TLS 1.3 session spent once a handshake resumed with it
 * (it wants tickets used once); if the connections shared the cached
 * SSL_SESSION, the first one to finish would send the others, and every
 * connection made before the next ticket arrives, to a full handshake
 * (83 % resumed at 64 connections at once in bench/bench.sh).
 */
static void
test_backend_resume_concurrent(void **state)
{
	struct config_hostport hp = { (char *)(uintptr_t)"127.0.0.1", 443,
	    (char *)(uintptr_t)"127.0.0.1:443" };
	struct config_site cfg;
	struct tlsctx_backend *tb;
	struct site srv;
	SSL *c, *c1, *c2, *c3;

	(void)state;
	site_init(&srv, "srv", P->leaf, P->leaf_key, 0);
	tb = backend_new(&cfg, &hp, NULL, NULL);
	/* A full handshake; its ticket goes to the cache. */
	assert_non_null(c = tlsctx_backend_ssl(tb, 0, NULL));
	assert_false(backend_hs(c, srv.ctx, 1));
	assert_int_equal(SSL_version(c), TLS1_3_VERSION);
	SSL_free(c);
	/* Three connections take the cached session before any finishes. */
	assert_non_null(c1 = tlsctx_backend_ssl(tb, 0, NULL));
	assert_non_null(c2 = tlsctx_backend_ssl(tb, 0, NULL));
	assert_non_null(c3 = tlsctx_backend_ssl(tb, 0, NULL));
	assert_true(backend_hs(c1, srv.ctx, 0));
	assert_true(backend_hs(c2, srv.ctx, 0));
	/* And one made after those finished, before any new ticket. */
	assert_non_null(c = tlsctx_backend_ssl(tb, 0, NULL));
	assert_true(backend_hs(c, srv.ctx, 1));
	assert_true(backend_hs(c3, srv.ctx, 1));
	SSL_free(c);
	SSL_free(c3);
	SSL_free(c2);
	SSL_free(c1);
	tlsctx_backend_free(tb);
	site_clear(&srv);
}

/* A backend context for cfg with one backend; its SSL's settings. */
static SSL *
backend_ssl(struct config_site *cfg, struct tlsctx_backend **tb, char **out)
{
	static struct config_hostport hp = { (char *)(uintptr_t)"127.0.0.1",
	    443, (char *)(uintptr_t)"127.0.0.1:443" };
	SSL *ssl;

	cfg->backends = &hp;
	cfg->nbackends = 1;
	cfg->backend_tls = 1;
	cfg->backend_verify = CONFIG_VERIFY_NO;
	testpki_capture_start();
	*tb = tlsctx_backend_new(cfg);
	*out = testpki_capture_end();
	assert_non_null(*tb);
	assert_non_null(ssl = tlsctx_backend_ssl(*tb, 0, NULL));
	return ssl;
}

/*
 * backend_min_protocol: TLS 1.2 by default at OpenSSL's security level;
 * TLSv1 (an Exchange 2010 backend) lowers the level of that backend
 * context only, and says so; backend_ciphers replaces the cipher list.
 */
static void
test_backend_min_protocol(void **state)
{
	struct config_site cfg, old;
	struct tlsctx_backend *tb, *tbold;
	STACK_OF(SSL_CIPHER) *sk;
	const SSL_CIPHER *c;
	struct site front;
	char *out;
	SSL *ssl, *sold;
	int i, n;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = (char *)(uintptr_t)"new";
	cfg.backend_min_protocol = TLS1_2_VERSION;
	ssl = backend_ssl(&cfg, &tb, &out);
	assert_int_equal(SSL_get_min_proto_version(ssl), TLS1_2_VERSION);
	assert_true(SSL_get_security_level(ssl) > 0);
	assert_null(strstr(out, "security level"));
	free(out);

	memset(&old, 0, sizeof(old));
	old.name = (char *)(uintptr_t)"old";
	old.backend_min_protocol = TLS1_VERSION;
	old.backend_ciphers = (char *)(uintptr_t)"AES128-SHA:@SECLEVEL=0";
	sold = backend_ssl(&old, &tbold, &out);
	assert_int_equal(SSL_get_min_proto_version(sold), TLS1_VERSION);
	assert_int_equal(SSL_get_security_level(sold), 0);
	assert_non_null(strstr(out, "site old: backend_min_protocol TLSv1"));
	assert_non_null(strstr(out, "security level lowered to 0"));
	free(out);
	/* TLS 1.2 and older: the one cipher asked for (1.3 suites apart). */
	sk = SSL_get_ciphers(sold);
	for (i = 0, n = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		c = sk_SSL_CIPHER_value(sk, i);
		if (strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0)
			continue;
		assert_string_equal(SSL_CIPHER_get_name(c), "AES128-SHA");
		n++;
	}
	assert_int_equal(n, 1);

	/* The other contexts keep their level: the new site's backend and
	   a server context built afterwards. */
	assert_true(SSL_get_security_level(ssl) > 0);
	site_init(&front, "front", P->leaf, P->leaf_key, 0);
	assert_true(SSL_CTX_get_security_level(front.ctx) > 0);
	site_clear(&front);

	SSL_free(sold);
	tlsctx_backend_free(tbold);
	SSL_free(ssl);
	tlsctx_backend_free(tb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_chain),
		cmocka_unit_test(test_min_protocol),
		cmocka_unit_test(test_sni_lookup),
		cmocka_unit_test(test_sni_handshake),
		cmocka_unit_test(test_sni_policy),
		cmocka_unit_test(test_sni_resumption),
		cmocka_unit_test(test_one_ticket),
		cmocka_unit_test(test_backend_resume_concurrent),
		cmocka_unit_test(test_legacy_chain),
		cmocka_unit_test(test_backend_verify_no_warns),
		cmocka_unit_test(test_backend_sni),
		cmocka_unit_test(test_backend_min_protocol),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
