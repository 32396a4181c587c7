/*
 * tlsctx.c: server and backend TLS contexts (tlsctx.h).
 */
#include <sys/stat.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "chain.h"
#include "config.h"
#include "file.h"
#include "log.h"
#include "metrics.h"
#include "sesscache.h"
#include "tlsctx.h"

/*
 * A modern TLS 1.2 policy (forward secret AEAD suites only).  TLS 1.3
 * suites are OpenSSL's defaults unless `ciphersuites` says otherwise.
 */
#define TLSCTX_CIPHERS_MODERN						\
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"	\
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"	\
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/*
 * What a server context's SSL must be given when SNI moves a connection to
 * it: SSL_set_SSL_CTX() swaps the certificate, the key and (here, always)
 * the session id context, but the version range, ciphers, TLS 1.3 suites,
 * options and security level were copied from the address's default
 * context by SSL_new().  The cipher strings are kept because OpenSSL has no
 * getter for them.
 */
/*
 * A site's connections at once, for its max_connections.  Counted by site
 * name, so the count goes on across reloads (a new generation's contexts
 * find the same counter; the newest configuration sets the limit).  Kept
 * for the life of the process: one per site name ever configured.
 */
struct tlsctx_sitecount {
	char			*name;
	atomic_uint		 n;
	atomic_uint		 max;		/* 0: no limit of its own */
	atomic_llong		 logged;	/* last refusal logged, s */
	struct tlsctx_sitecount	*next;
};

static pthread_mutex_t tlsctx_counts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tlsctx_sitecount *tlsctx_counts;

#define TLSCTX_FULL_LOG_SECS	60	/* a site's refusals, logged at most */

struct tlsctx_policy {
	struct tlsctx_sitecount	*count;	/* this site's */
	char		*ciphers;	/* TLS <= 1.2 */
	char		*suites;	/* TLS 1.3 */
	unsigned char	 sid[SHA256_DIGEST_LENGTH];	/* session id context */
	unsigned int	 sidlen;
};

struct tlsctx_sni_entry {
	SSL_CTX		*ctx;
	X509		*leaf;
};

struct tlsctx_sni {
	struct tlsctx_sni_entry *v;
	size_t		 n;
};

struct tlsctx_backend {
	SSL_CTX		*ctx;
	const struct config_site *site;
	/* Workers share the cache: the lock guards only the slot swap. */
	pthread_mutex_t	 lock;
	SSL_SESSION	**sessions;	/* latest resumable one per backend */
};

static pthread_once_t tlsctx_once = PTHREAD_ONCE_INIT;
static int tlsctx_ctx_site_idx = -1;	/* SSL_CTX: site_arg */
static int tlsctx_ctx_policy_idx = -1;	/* SSL_CTX: tlsctx_policy, owned */
static int tlsctx_ctx_legacy_idx = -1;	/* SSL_CTX: legacy chain (owned) */
static int tlsctx_ctx_backend_idx = -1;	/* SSL_CTX: tlsctx_backend */
static int tlsctx_ssl_backend_idx = -1;	/* SSL: backend index + 1 */
static int tlsctx_ssl_count_idx = -1;	/* SSL: tlsctx_sitecount counted in */

/* The context's legacy chain goes with the context. */
static void
tlsctx_legacy_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	sk_X509_pop_free(ptr, X509_free);
}

static void
tlsctx_policy_free(struct tlsctx_policy *pol)
{
	if (pol == NULL)
		return;
	free(pol->ciphers);
	free(pol->suites);
	free(pol);
}

/* ex_data free function: the policy dies with its context. */
static void
tlsctx_policy_exfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	tlsctx_policy_free(ptr);
}

/* The counter of site name, made on first use; NULL on out of memory. */
static struct tlsctx_sitecount *
tlsctx_sitecount(const char *name)
{
	struct tlsctx_sitecount *c;

	pthread_mutex_lock(&tlsctx_counts_lock);
	for (c = tlsctx_counts; c != NULL; c = c->next)
		if (strcmp(c->name, name) == 0)
			break;
	if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL) {
		if ((c->name = strdup(name)) == NULL) {
			free(c);
			c = NULL;
		} else {
			c->next = tlsctx_counts;
			tlsctx_counts = c;
		}
	}
	pthread_mutex_unlock(&tlsctx_counts_lock);
	return c;
}

/* ex_data free function: a counted connection's SSL is freed. */
static void
tlsctx_count_exfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct tlsctx_sitecount *c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (c != NULL)
		atomic_fetch_sub(&c->n, 1);
}

static void
tlsctx_init_once(void)
{
	tlsctx_ctx_legacy_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    tlsctx_legacy_free);
	tlsctx_ssl_count_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    tlsctx_count_exfree);
	tlsctx_ctx_site_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL);
	tlsctx_ctx_policy_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    tlsctx_policy_exfree);
	tlsctx_ctx_backend_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL,
	    NULL, NULL);
	tlsctx_ssl_backend_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL);
}

static int
tlsctx_init(void)
{
	if (pthread_once(&tlsctx_once, tlsctx_init_once) != 0 ||
	    tlsctx_ctx_site_idx < 0 || tlsctx_ctx_policy_idx < 0 ||
	    tlsctx_ctx_legacy_idx < 0 ||
	    tlsctx_ssl_count_idx < 0 ||
	    tlsctx_ctx_backend_idx < 0 || tlsctx_ssl_backend_idx < 0) {
		log_ssl(LOG_LEVEL_ERR, "cannot allocate OpenSSL ex_data");
		return -1;
	}
	return 0;
}

int
tlsctx_set_sni(SSL *ssl, const char *name)
{
	/*
	 * SSL_set_tlsext_host_name() is a macro that casts its argument to
	 * (void *) for SSL_ctrl(), which -Wcast-qual flags in every caller
	 * (clang does; gcc hides it in the system header).  This control
	 * only reads the name and stores a copy, so dropping const is safe;
	 * through uintptr_t it is said once, here, and the warning stays on
	 * for everything else.
	 */
	return (int)SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
	    TLSEXT_NAMETYPE_host_name, (void *)(uintptr_t)name);
}

/*
 * A host name as RFC 6066 wants it in SNI: dot-separated labels of 1 to 63
 * letters, digits, '-' (not first or last) and '_' (found in real internal
 * names), 253 bytes at most, no trailing dot.  A client's SNI is passed on
 * to a backend only if it is one: its bytes are the peer's choice.
 */
int
tlsctx_valid_hostname(const char *s)
{
	size_t n = 0, label = 0;
	unsigned char c, prev = '.';

	for (; (c = (unsigned char)s[n]) != '\0'; n++, prev = c) {
		if (c == '.') {
			if (label == 0 || prev == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' ||
		    (c == '-' && label > 0)))
			return 0;
		if (++label > 63)
			return 0;
	}
	return n > 0 && n <= 253 && label > 0 && prev != '-';
}

/* Settings both sides share. */
static void
tlsctx_common(SSL_CTX *ctx)
{
	/*
	 * Microsoft's TLS stack closes without close_notify; OpenSSL 3
	 * would report that as an error.  Renegotiation is never needed.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION);
	/* Thousands of idle phones: give the record buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

/*
 * The certificate callback runs after SNI has picked the site and the
 * version has been negotiated, once per full handshake.  We offer TLS 1.3,
 * so a client below it did not offer it: it gets the legacy chain (arg).
 * Everyone else costs one comparison.
 */
static int
tlsctx_legacy_cb(SSL *ssl, void *arg)
{
	if (SSL_version(ssl) >= TLS1_3_VERSION)
		return 1;
	/* set1: the connection takes its own references to the stack's
	 * certificates, shared with the context's. */
	if (SSL_set1_chain(ssl, arg) != 1)
		return 0;
	/* How many old clients are left: when to drop legacy_roots. */
	metrics_inc(M_LEGACY_CHAIN);
	return 1;
}

/* Serve chain_legacy(chain), if any, to clients without TLS 1.3. */
static int
tlsctx_server_legacy(SSL_CTX *ctx, const struct chain *chain)
{
	const struct chain *legacy = chain_legacy(chain);
	STACK_OF(X509) *sk;
	size_t i;

	if (legacy == NULL)
		return 0;
	if ((sk = sk_X509_new_null()) == NULL)
		return -1;
	for (i = 1; i < chain_served(legacy); i++) {
		if (!sk_X509_push(sk, chain_get(legacy, i)->x509)) {
			sk_X509_pop_free(sk, X509_free);
			return -1;
		}
		X509_up_ref(chain_get(legacy, i)->x509);
	}
	if (SSL_CTX_set_ex_data(ctx, tlsctx_ctx_legacy_idx, sk) != 1) {
		sk_X509_pop_free(sk, X509_free);
		return -1;
	}
	SSL_CTX_set_cert_cb(ctx, tlsctx_legacy_cb, sk);
	return 0;
}

SSL_CTX *
tlsctx_server_new(const struct config_site *site, const struct chain *chain,
    void *site_arg)
{
	const struct chain_cert *cc;
	struct tlsctx_policy *pol = NULL;
	SSL_CTX *ctx;
	EVP_PKEY *key;
	const char *ciphers;
	size_t i;

	if (tlsctx_init() == -1)
		return NULL;
	if ((key = chain_key(chain)) == NULL || chain_served(chain) == 0) {
		log_errx("site %s: no private key or certificate to serve",
		    site->name);
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto err;
	tlsctx_common(ctx);
	/*
	 * The chain is exactly what the engine assembled: never let OpenSSL
	 * build or extend it from its store at handshake time.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);

	cc = chain_get(chain, 0);
	if (SSL_CTX_use_certificate(ctx, cc->x509) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto err;
	for (i = 1; i < chain_served(chain); i++) {
		cc = chain_get(chain, i);
		/* add1: the context takes its own reference, no copy. */
		if (SSL_CTX_add1_chain_cert(ctx, cc->x509) != 1)
			goto err;
	}
	if (tlsctx_server_legacy(ctx, chain) == -1)
		goto err;

	if (site->min_protocol != 0 && site->min_protocol < TLS1_2_VERSION) {
		/*
		 * OpenSSL 3's default security level refuses TLS 1.0/1.1
		 * (their handshake signatures use SHA-1): lower it only
		 * because the configuration asked for old devices.
		 */
		SSL_CTX_set_security_level(ctx, 0);
		log_warnx("site %s: min_protocol %s: old protocols enabled, "
		    "OpenSSL security level lowered to 0", site->name,
		    certinfo_protocol_name(site->min_protocol));
	}
	if (SSL_CTX_set_min_proto_version(ctx, site->min_protocol != 0 ?
	    site->min_protocol : TLS1_2_VERSION) != 1)
		goto err;
	if (site->ciphers != NULL)
		ciphers = site->ciphers;
	else if (site->min_protocol == 0 ||
	    site->min_protocol >= TLS1_2_VERSION)
		ciphers = TLSCTX_CIPHERS_MODERN;
	else
		ciphers = OSSL_default_cipher_list();
	if ((pol = calloc(1, sizeof(*pol))) == NULL ||
	    (pol->count = tlsctx_sitecount(site->name)) == NULL ||
	    (pol->ciphers = strdup(ciphers)) == NULL ||
	    (pol->suites = strdup(site->ciphersuites != NULL ?
	    site->ciphersuites : OSSL_default_ciphersuites())) == NULL) {
		log_warn("site %s", site->name);
		goto err1;
	}
	if (SSL_CTX_set_cipher_list(ctx, pol->ciphers) != 1) {
		log_ssl(LOG_LEVEL_ERR, "site %s: bad ciphers \"%s\"",
		    site->name, pol->ciphers);
		goto err1;
	}
	if (SSL_CTX_set_ciphersuites(ctx, pol->suites) != 1) {
		log_ssl(LOG_LEVEL_ERR, "site %s: bad ciphersuites \"%s\"",
		    site->name, pol->suites);
		goto err1;
	}

	/*
	 * A session resumes only on the site it was made for: SNI may move
	 * a connection to another context, and OpenSSL compares this id
	 * when a client offers a session id or a ticket.  Sites of one
	 * address share the default context's ticket keys, so this is what
	 * keeps their tickets apart (a cached session id is also bound to
	 * the context that made it, sesscache.h).
	 */
	pol->sidlen = sizeof(pol->sid);
	if (EVP_Digest(site->name, strlen(site->name), pol->sid, &pol->sidlen,
	    EVP_sha256(), NULL) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, pol->sid, pol->sidlen) != 1)
		goto err;
	/*
	 * TLS 1.2 sessions in slots taken once (sesscache.h: OpenSSL's own
	 * cache scatters them among the connections' memory, which then
	 * cannot be given back), bound to this context.
	 */
	if (sesscache_attach(ctx, sesscache_shared()) == -1)
		goto err;
	SSL_CTX_set_timeout(ctx, 3600);
	/*
	 * One TLS 1.3 ticket per handshake, not OpenSSL's default two (which
	 * HAProxy 2.6 and nginx 1.22 keep).  A client that reconnects one
	 * connection at a time, a phone, uses one ticket per resumption and
	 * gets the next one from it; a second ticket only serves a client
	 * that opens two resumed connections at once, which then makes one
	 * full handshake.  Each ticket is a session encoded and encrypted and
	 * one more record and send(2): one fewer saves ~15 us of CPU per
	 * new connection (bench/bench.sh's ECDSA shape, 566 -> 551 us).
	 */
	if (SSL_CTX_set_num_tickets(ctx, 1) != 1)
		goto err;

	if (SSL_CTX_set_ex_data(ctx, tlsctx_ctx_site_idx, site_arg) != 1 ||
	    SSL_CTX_set_ex_data(ctx, tlsctx_ctx_policy_idx, pol) != 1)
		goto err;
	/* The newest configuration's limit; the count goes on. */
	atomic_store(&pol->count->max, site->max_connections);
	return ctx;
 err:
	log_ssl(LOG_LEVEL_ERR, "site %s: cannot set up the TLS context",
	    site->name);
 err1:
	tlsctx_policy_free(pol);
	SSL_CTX_free(ctx);
	return NULL;
}

void *
tlsctx_server_site(const SSL *ssl)
{
	return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tlsctx_ctx_site_idx);
}

struct tlsctx_sni *
tlsctx_sni_new(void)
{
	return calloc(1, sizeof(struct tlsctx_sni));
}

SSL_CTX *
tlsctx_sni_default(const struct tlsctx_sni *t)
{
	return t->n > 0 ? t->v[0].ctx : NULL;
}

SSL_CTX *
tlsctx_sni_lookup(const struct tlsctx_sni *t, const char *name)
{
	SSL_CTX *wild = NULL;
	size_t i;

	if (t->n == 0)
		return NULL;
	if (name == NULL || *name == '\0')
		return t->v[0].ctx;
	for (i = 0; i < t->n; i++) {
		if (X509_check_host(t->v[i].leaf, name, 0,
		    X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1)
			return t->v[i].ctx;
		if (wild == NULL && X509_check_host(t->v[i].leaf, name, 0, 0,
		    NULL) == 1)
			wild = t->v[i].ctx;
	}
	return wild != NULL ? wild : t->v[0].ctx;
}

/*
 * Give ssl, just moved to ctx, the rest of ctx's policy (see struct
 * tlsctx_policy).  Returns 0 or -1.
 */
static int
tlsctx_apply_policy(SSL *ssl, SSL_CTX *ctx)
{
	const struct tlsctx_policy *pol;
	uint64_t opts = SSL_CTX_get_options(ctx);

	if ((pol = SSL_CTX_get_ex_data(ctx, tlsctx_ctx_policy_idx)) == NULL)
		return -1;
	SSL_clear_options(ssl, SSL_get_options(ssl) & ~opts);
	SSL_set_options(ssl, opts);
	/* Before the cipher lists: the level decides what they may keep. */
	SSL_set_security_level(ssl, SSL_CTX_get_security_level(ctx));
	if (SSL_set_min_proto_version(ssl,
	    SSL_CTX_get_min_proto_version(ctx)) != 1 ||
	    SSL_set_max_proto_version(ssl,
	    SSL_CTX_get_max_proto_version(ctx)) != 1 ||
	    SSL_set_cipher_list(ssl, pol->ciphers) != 1 ||
	    SSL_set_ciphersuites(ssl, pol->suites) != 1 ||
	    SSL_set_session_id_context(ssl, pol->sid, pol->sidlen) != 1)
		return -1;
	return 0;
}

/*
 * The host name in a ClientHello's server_name extension, copied into buf
 * (NUL-terminated), or NULL if there is none or it does not parse (then
 * OpenSSL refuses the handshake a moment later anyway).
 */
static const char *
tlsctx_hello_name(SSL *ssl, char *buf, size_t len)
{
	const unsigned char *p;
	size_t left, n;

	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
	    &left) || left < 2)
		return NULL;
	/* ServerNameList: a 2-byte length, then type, 2-byte length, name. */
	n = (size_t)p[0] << 8 | p[1];
	if (n != left - 2)
		return NULL;
	p += 2;
	left -= 2;
	while (left >= 3) {
		n = (size_t)p[1] << 8 | p[2];
		if (n > left - 3)
			return NULL;
		if (p[0] == TLSEXT_NAMETYPE_host_name) {
			if (n == 0 || n >= len || memchr(p + 3, '\0', n) != NULL)
				return NULL;
			memcpy(buf, p + 3, n);
			buf[n] = '\0';
			return buf;
		}
		p += 3 + n;
		left -= 3 + n;
	}
	return NULL;
}

/*
 * Count ssl in its site (ctx), once (a second ClientHello after a
 * HelloRetryRequest comes here again); the count drops when ssl is freed.
 * Returns -1 if the site is at its max_connections: that handshake is
 * refused, since the site is known only now, long after accept.
 */
static int
tlsctx_count_in(SSL *ssl, SSL_CTX *ctx)
{
	const struct tlsctx_policy *pol;
	struct tlsctx_sitecount *c;
	struct timespec now;
	unsigned max, n;
	long long last;

	if (SSL_get_ex_data(ssl, tlsctx_ssl_count_idx) != NULL ||
	    (pol = SSL_CTX_get_ex_data(ctx, tlsctx_ctx_policy_idx)) == NULL)
		return 0;
	c = pol->count;
	n = atomic_fetch_add(&c->n, 1) + 1;
	max = atomic_load(&c->max);
	if (max != 0 && n > max) {
		atomic_fetch_sub(&c->n, 1);
		metrics_inc(M_SITE_LIMIT_REFUSED);
		clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
		last = atomic_load(&c->logged);
		if ((last == 0 || now.tv_sec - last >= TLSCTX_FULL_LOG_SECS) &&
		    atomic_compare_exchange_strong(&c->logged, &last,
		    (long long)now.tv_sec))
			log_info("site %s: max_connections (%u) reached: "
			    "refusing handshakes for it", c->name, max);
		return -1;
	}
	if (SSL_set_ex_data(ssl, tlsctx_ssl_count_idx, c) != 1) {
		atomic_fetch_sub(&c->n, 1);
		return -1;
	}
	return 0;
}

/*
 * The ClientHello callback moves the connection to its site before OpenSSL
 * does anything with the hello: the version is negotiated, the cipher
 * chosen and an offered session looked up (and its session id context
 * compared) only after it returns.  The servername callback would be too
 * late for all three: by then a session of another site of the same
 * address could already have been resumed, and the version and cipher
 * chosen under the default site's policy.
 */
static int
tlsctx_hello_cb(SSL *ssl, int *al, void *arg)
{
	const struct tlsctx_sni *t = arg;
	const char *name;
	char buf[256];
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);

	if (t->n > 1) {
		name = tlsctx_hello_name(ssl, buf, sizeof(buf));
		ctx = tlsctx_sni_lookup(t, name);
		if (ctx != NULL && ctx != SSL_get_SSL_CTX(ssl) &&
		    (SSL_set_SSL_CTX(ssl, ctx) == NULL ||
		    tlsctx_apply_policy(ssl, ctx) == -1)) {
			log_ssl(LOG_LEVEL_WARN, "cannot move a connection "
			    "to its site");
			*al = SSL_AD_INTERNAL_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
	}
	if (tlsctx_count_in(ssl, SSL_get_SSL_CTX(ssl)) == -1) {
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * The site was chosen by tlsctx_hello_cb(); saying OK here acknowledges
 * the name and keeps it in a TLS 1.2 session.
 */
static int
tlsctx_sni_cb(SSL *ssl, int *al, void *arg)
{
	(void)ssl;
	(void)al;
	(void)arg;
	return SSL_TLSEXT_ERR_OK;
}

int
tlsctx_sni_add(struct tlsctx_sni *t, SSL_CTX *ctx, X509 *leaf)
{
	struct tlsctx_sni_entry *v;

	if ((v = reallocarray(t->v, t->n + 1, sizeof(*v))) == NULL) {
		log_warn("tlsctx_sni_add");
		return -1;
	}
	t->v = v;
	t->v[t->n].ctx = ctx;
	t->v[t->n].leaf = leaf;
	t->n++;
	/* Every site's context: after a move, OpenSSL calls the callbacks
	 * of the context the connection is on now. */
	SSL_CTX_set_client_hello_cb(ctx, tlsctx_hello_cb, t);
	SSL_CTX_set_tlsext_servername_callback(ctx, tlsctx_sni_cb);
	return 0;
}

void
tlsctx_sni_free(struct tlsctx_sni *t)
{
	if (t == NULL)
		return;
	free(t->v);
	free(t);
}

/*
 * Called by OpenSSL when the backend hands us a session (TLS 1.2 at the
 * end of the handshake, TLS 1.3 with each ticket).  Returning 1 keeps the
 * reference OpenSSL gave us.
 */
static int
tlsctx_backend_newsess(SSL *ssl, SSL_SESSION *sess)
{
	struct tlsctx_backend *tb;
	SSL_SESSION *old;
	uintptr_t idx;

	tb = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
	    tlsctx_ctx_backend_idx);
	idx = (uintptr_t)SSL_get_ex_data(ssl, tlsctx_ssl_backend_idx);
	if (tb == NULL || idx == 0 || idx > tb->site->nbackends ||
	    !SSL_SESSION_is_resumable(sess))
		return 0;
	pthread_mutex_lock(&tb->lock);
	old = tb->sessions[idx - 1];
	tb->sessions[idx - 1] = sess;
	pthread_mutex_unlock(&tb->lock);
	SSL_SESSION_free(old);
	return 1;
}

static int
tlsctx_load_ca(SSL_CTX *ctx, const char *path)
{
	struct stat st;
	char why[128];
	int fd;

	if (stat(path, &st) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return SSL_CTX_load_verify_dir(ctx, path) == 1 ? 0 : -1;
	/* OpenSSL would block reading a FIFO: only a regular file. */
	if ((fd = file_open(path, &st, why, sizeof(why))) == -1) {
		log_warnx("%s: %s", path, why);
		return -1;
	}
	close(fd);
	return SSL_CTX_load_verify_file(ctx, path) == 1 ? 0 : -1;
}

/*
 * Protocol versions and ciphers toward the backend.  An old backend
 * (Exchange 2010 on Windows Server 2008 R2 speaks TLS 1.0 only) needs
 * OpenSSL's security level lowered: at level 1 and up, TLS 1.0/1.1's
 * MD5+SHA-1 handshake signature is refused ("legacy sigalg disallowed").
 * That happens on this site's backend context alone, because the
 * configuration asked for it, and loudly.
 */
static int
tlsctx_backend_policy(SSL_CTX *ctx, const struct config_site *site)
{
	const char *ciphers = site->backend_ciphers;
	int min = site->backend_min_protocol != 0 ?
	    site->backend_min_protocol : TLS1_2_VERSION;

	if (SSL_CTX_set_min_proto_version(ctx, min) != 1) {
		log_ssl(LOG_LEVEL_ERR, "site %s: cannot set "
		    "backend_min_protocol", site->name);
		return -1;
	}
	if (min < TLS1_2_VERSION) {
		SSL_CTX_set_security_level(ctx, 0);
		/* backend_ciphers may still say otherwise (@SECLEVEL=n). */
		if (ciphers == NULL)
			ciphers = "DEFAULT:@SECLEVEL=0";
		log_warnx("site %s: backend_min_protocol %s: the backend "
		    "connections of this site accept old protocols, OpenSSL "
		    "security level lowered to 0 for them (only them)",
		    site->name, certinfo_protocol_name(min));
	}
	if (ciphers != NULL && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		log_ssl(LOG_LEVEL_ERR, "site %s: bad backend_ciphers \"%s\"",
		    site->name, ciphers);
		return -1;
	}
	return 0;
}

struct tlsctx_backend *
tlsctx_backend_new(const struct config_site *site)
{
	struct tlsctx_backend *tb;

	if (tlsctx_init() == -1)
		return NULL;
	if ((tb = calloc(1, sizeof(*tb))) == NULL) {
		log_warn("tlsctx_backend_new");
		return NULL;
	}
	tb->site = site;
	if (pthread_mutex_init(&tb->lock, NULL) != 0) {
		free(tb);
		return NULL;
	}
	if ((tb->sessions = calloc(site->nbackends ? site->nbackends : 1,
	    sizeof(*tb->sessions))) == NULL) {
		log_warn("tlsctx_backend_new");
		goto err;
	}
	if ((tb->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto errssl;
	tlsctx_common(tb->ctx);
	/*
	 * The cache is ours (one slot per backend, see newsess): OpenSSL's
	 * internal client store would only grow.
	 */
	SSL_CTX_set_session_cache_mode(tb->ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(tb->ctx, tlsctx_backend_newsess);
	if (SSL_CTX_set_ex_data(tb->ctx, tlsctx_ctx_backend_idx, tb) != 1)
		goto errssl;
	if (tlsctx_backend_policy(tb->ctx, site) == -1)
		goto err;

	switch (site->backend_verify) {
	case CONFIG_VERIFY_YES:
		SSL_CTX_set_verify(tb->ctx, SSL_VERIFY_PEER, NULL);
		if (site->backend_ca != NULL) {
			if (tlsctx_load_ca(tb->ctx, site->backend_ca) == -1) {
				log_ssl(LOG_LEVEL_ERR, "site %s: cannot load "
				    "backend_ca %s", site->name,
				    site->backend_ca);
				goto err;
			}
		} else if (SSL_CTX_set_default_verify_paths(tb->ctx) != 1)
			goto errssl;
		break;
	case CONFIG_VERIFY_PIN:
		/* The pin replaces the CA check (self-signed Exchange). */
		SSL_CTX_set_verify(tb->ctx, SSL_VERIFY_NONE, NULL);
		break;
	case CONFIG_VERIFY_NO:
		SSL_CTX_set_verify(tb->ctx, SSL_VERIFY_NONE, NULL);
		log_warnx("site %s: backend_verify = no: the backend's "
		    "certificate is NOT checked; anyone on the path to the "
		    "backend can read and change this site's traffic",
		    site->name);
		break;
	}
	return tb;
 errssl:
	log_ssl(LOG_LEVEL_ERR, "site %s: cannot set up the backend TLS "
	    "context", site->name);
 err:
	tlsctx_backend_free(tb);
	return NULL;
}

void
tlsctx_backend_free(struct tlsctx_backend *tb)
{
	size_t i;

	if (tb == NULL)
		return;
	if (tb->sessions != NULL) {
		for (i = 0; i < tb->site->nbackends; i++)
			SSL_SESSION_free(tb->sessions[i]);
		free(tb->sessions);
	}
	SSL_CTX_free(tb->ctx);
	pthread_mutex_destroy(&tb->lock);
	free(tb);
}

SSL *
tlsctx_backend_ssl(struct tlsctx_backend *tb, size_t idx,
    const char *client_sni)
{
	const struct config_site *site = tb->site;
	const char *host = site->backends[idx].host;
	const char *sni, *expect;
	SSL_SESSION *sess, *dup;
	SSL *ssl;

	if ((ssl = SSL_new(tb->ctx)) == NULL)
		goto err;
	if (SSL_set_ex_data(ssl, tlsctx_ssl_backend_idx,
	    (void *)(uintptr_t)(idx + 1)) != 1)
		goto err;

	sni = site->backend_sni;
	if (sni == NULL && client_sni != NULL &&
	    tlsctx_valid_hostname(client_sni))
		sni = client_sni;
	if (sni == NULL && !certinfo_is_ip(host))
		sni = host;
	if (sni != NULL && *sni != '\0' && !certinfo_is_ip(sni) &&
	    tlsctx_set_sni(ssl, sni) != 1)
		goto err;

	if (site->backend_verify == CONFIG_VERIFY_YES) {
		expect = site->backend_sni != NULL ? site->backend_sni : host;
		if (certinfo_is_ip(expect)) {
			if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    expect) != 1)
				goto err;
		} else if (SSL_set1_host(ssl, expect) != 1)
			goto err;
	}

	pthread_mutex_lock(&tb->lock);
	if ((sess = tb->sessions[idx]) != NULL)
		SSL_SESSION_up_ref(sess);
	pthread_mutex_unlock(&tb->lock);
	if (sess != NULL &&
	    SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION) {
		/*
		 * A TLS 1.3 session goes in as a copy of its own: once a
		 * handshake has resumed with it, OpenSSL marks that
		 * SSL_SESSION spent (it wants a ticket used once).  Shared,
		 * the first connection to finish would send every other one
		 * that holds it, and every one made before the next ticket
		 * arrives, to a full handshake: 17 % of them at 64 new
		 * clients at once (bench/bench.sh).  The backend leg reuses
		 * the latest ticket as HAProxy and nginx do: RFC 8446's
		 * reason to use one once, a passive observer linking the
		 * connections, does not hold for connections that all come
		 * from this proxy.
		 */
		dup = SSL_SESSION_dup(sess);
		SSL_SESSION_free(sess);
		sess = dup;	/* NULL: no resumption this time */
	}
	if (sess != NULL) {
		/* SSL_set_session takes its own reference. */
		SSL_set_session(ssl, sess);
		SSL_SESSION_free(sess);
	}
	ERR_clear_error();
	return ssl;
 err:
	log_ssl(LOG_LEVEL_WARN, "site %s: cannot set up a backend TLS "
	    "connection", site->name);
	SSL_free(ssl);
	return NULL;
}

int
tlsctx_backend_check(struct tlsctx_backend *tb, SSL *ssl, char *why,
    size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509 *peer;
	size_t off;

	if (tb->site->backend_verify != CONFIG_VERIFY_PIN)
		return 0;
	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(why, len, "backend sent no certificate to pin");
		return -1;
	}
	if (X509_digest(peer, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != sizeof(tb->site->backend_pin)) {
		ERR_clear_error();
		snprintf(why, len, "cannot hash the backend certificate");
		return -1;
	}
	if (memcmp(md, tb->site->backend_pin, mdlen) == 0)
		return 0;
	off = (size_t)snprintf(why, len, "backend certificate does not match "
	    "the pin: sha256:");
	if (off < len)
		certinfo_hex(md, mdlen, why + off, len - off);
	return -1;
}

const char *
tlsctx_backend_verify_error(const SSL *ssl)
{
	long r;

	if (ssl == NULL || (r = SSL_get_verify_result(ssl)) == X509_V_OK)
		return NULL;
	return X509_verify_cert_error_string(r);
}
