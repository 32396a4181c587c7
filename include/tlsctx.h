/*
 * tlsctx.h: the TLS contexts of one configuration generation.
 *
 * Server side: one SSL_CTX per site, holding the chain the engine assembled
 * (built once; SSL_MODE_NO_AUTO_CHAIN so OpenSSL never re-builds it per
 * handshake), and one SNI table per listen address that moves a connection
 * to the site whose leaf names match the client's server name.
 * Backend side: one client SSL_CTX per site with its verification policy
 * and a small cache of the latest TLS session per backend, so a new client
 * costs one full handshake, not two.
 */
#ifndef CHAINFIX_TLSCTX_H
#define CHAINFIX_TLSCTX_H

#include <stddef.h>

#include <openssl/ssl.h>

struct chain;
struct config_site;

/*
 * tlsctx_server_new(site, chain, site_arg):
 * A server SSL_CTX serving chain's served certificates and key with the
 * site's protocol and cipher settings, session cache and tickets on.
 * site_arg is remembered (see tlsctx_server_site()).  Returns the context
 * (owned by the caller, SSL_CTX_free()), or NULL (logged).
 */
SSL_CTX *tlsctx_server_new(const struct config_site *site,
    const struct chain *chain, void *site_arg);

/*
 * tlsctx_server_site(ssl):
 * The site_arg of the context ssl is on now (after SNI selection), or NULL.
 */
void *tlsctx_server_site(const SSL *ssl);

/* One listen address's SNI table. */
struct tlsctx_sni;

/* tlsctx_sni_new(): an empty table, or NULL on out of memory. */
struct tlsctx_sni *tlsctx_sni_new(void);

/*
 * tlsctx_sni_add(t, ctx, leaf):
 * Add a site's context and its leaf certificate (both borrowed: they must
 * outlive the table).  The first added is the default: connections start
 * on it.  Installs a ClientHello callback on ctx that moves a connection
 * to the site its SNI names before anything is negotiated, with that
 * site's whole policy (versions, ciphers, TLS 1.3 suites, options,
 * security level) and session id context, so a session resumes only on
 * the site that made it.  Returns 0 or -1.
 */
int tlsctx_sni_add(struct tlsctx_sni *t, SSL_CTX *ctx, X509 *leaf);

/* tlsctx_sni_default(t): the default context (borrowed), NULL if empty. */
SSL_CTX *tlsctx_sni_default(const struct tlsctx_sni *t);

/*
 * tlsctx_sni_lookup(t, name):
 * The context whose leaf matches name: an exact name before a wildcard,
 * else the default.  Borrowed.
 */
SSL_CTX *tlsctx_sni_lookup(const struct tlsctx_sni *t, const char *name);

/* tlsctx_sni_free(t): NULL is a no-op; the contexts are not freed. */
void tlsctx_sni_free(struct tlsctx_sni *t);

/* One site's backend client context and session cache. */
struct tlsctx_backend;

/*
 * tlsctx_backend_new(site):
 * The client context for site's backends, per backend_verify (CA from
 * backend_ca or the system store; or a pin; or nothing, warned loudly).
 * site is borrowed and must outlive the context.  Returns it, or NULL
 * (logged).
 */
struct tlsctx_backend *tlsctx_backend_new(const struct config_site *site);

/* tlsctx_backend_free(tb): NULL is a no-op. */
void tlsctx_backend_free(struct tlsctx_backend *tb);

/*
 * tlsctx_backend_ssl(tb, idx, client_sni):
 * A new client SSL for backend idx: SNI = backend_sni, else client_sni if
 * it is a valid host name (tlsctx_valid_hostname()), else the backend host
 * when it is a name; expected name (verify = yes) =
 * backend_sni, else the backend host (a name or an IP address); the latest
 * cached session for that backend to resume.  Returns the SSL (owned by the
 * caller) or NULL (logged).
 */
SSL *tlsctx_backend_ssl(struct tlsctx_backend *tb, size_t idx,
    const char *client_sni);

/*
 * tlsctx_backend_check(tb, ssl, why, len):
 * After the backend handshake: with a pin, compare the SHA-256 of the
 * peer's leaf DER.  Returns 0 if the peer is acceptable, -1 with a reason
 * in why.
 */
int tlsctx_backend_check(struct tlsctx_backend *tb, SSL *ssl, char *why,
    size_t len);

/*
 * tlsctx_backend_verify_error(ssl):
 * Why certificate verification of the backend failed (static string), or
 * NULL if it did not fail.
 */
const char *tlsctx_backend_verify_error(const SSL *ssl);

/*
 * tlsctx_valid_hostname(s):
 * 1 if s is a host name fit for SNI (RFC 6066: LDH labels of 1 to 63
 * bytes, '_' allowed, 253 bytes at most, no trailing dot), else 0.
 */
int tlsctx_valid_hostname(const char *s);

/*
 * tlsctx_set_sni(ssl, name):
 * Send name as the server name (SNI) in ssl's ClientHello; OpenSSL keeps
 * its own copy.  Returns 1, or 0 on failure (SSL_set_tlsext_host_name()).
 */
int tlsctx_set_sni(SSL *ssl, const char *name);

#endif /* CHAINFIX_TLSCTX_H */
