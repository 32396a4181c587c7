/*
 * chain.h: assemble the certificate chain a server must send.
 *
 * The search is ours; the checks are OpenSSL's.  Starting at the leaf, every
 * candidate issuer (the other certificates of the cert file, the
 * intermediates directory, the roots) that really signed the child
 * (X509_check_issued: name, AKI/SKI, key usage; X509_verify: signature) and
 * is a CA is tried, depth first, without repeating a certificate, until a
 * root in `roots` or a self-signed certificate ends the path.  Complete paths
 * are ranked: ends at a trusted root, then every certificate valid now, then
 * shortest, then latest expiry.  The winner is confirmed with
 * X509_verify_cert() given exactly that path.  OpenSSL's own path builder is
 * not used for the search: handed a pool holding a cross-sign, OpenSSL 3.0
 * takes the first plausible issuer and does not backtrack (docs/design.md,
 * "OpenSSL's path builder and cross-signs").
 */
#ifndef CHAINFIX_CHAIN_H
#define CHAINFIX_CHAIN_H

#include <stddef.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certload.h"

struct chain_pools;

/* Where a chain's pieces come from (a [site] section, or bundle's flags). */
struct chain_spec {
	const char	*label;		/* site name or file, for messages */
	const char	*cert;		/* required */
	const char	*key;		/* NULL: the key is in cert, or absent */
	const char	*password_file;	/* NULL: no password */
	const char	*intermediates;	/* NULL: no directory */
	const char	*roots;		/* NULL = "system" */
	int		 send_root;
	int		 need_key;	/* fail if no private key is found */
	/* The last resorts, tried in this order only when the above give no
	 * valid path to a root in roots (chain_complete()): */
	const char	*aia_cache;	/* issuers fetched before; NULL: none */
	const char	*public_intermediates;	/* NULL or "no": none;
					   "yes": corpus.h's; or a file */
	int		 aia_fetch;	/* fetch from caIssuers URLs */
	const char	*legacy_roots;	/* NULL: one chain for every client;
					   "android", a file or a directory:
					   also build the chain to one of
					   these for clients without TLS 1.3 */
	struct chain_pools *pools;	/* the loaded corpus and legacy roots,
					   shared by builds; NULL: per build */
};

/* Where a certificate on the chain was found.  X-macro: names can't drift. */
#define CHAIN_ORIGINS(X)							X(CHAIN_ORIGIN_CONFIG,	 "")		/* cert, intermediates, roots */ 	X(CHAIN_ORIGIN_CACHE,	 "AIA cache")	/* fetched by an earlier run */		X(CHAIN_ORIGIN_PUBLIC,	 "public intermediate") /* the corpus */		X(CHAIN_ORIGIN_FETCHED,	 "fetched from caIssuers") /* by this build */

enum chain_origin {
#define CHAIN_ORIGIN_ENUM(sym, name) sym,
	CHAIN_ORIGINS(CHAIN_ORIGIN_ENUM)
#undef CHAIN_ORIGIN_ENUM
};

/* chain_origin_name(o): "public intermediate", ...; "" for the config. */
const char *chain_origin_name(enum chain_origin o);

/* What the chain knows about each of its certificates. */
struct chain_cert {
	X509		*x509;		/* borrowed from the chain */
	char		 subject[256];	/* certinfo_name() */
	char		 issuer[256];
	time_t		 not_before;
	time_t		 not_after;
	unsigned char	 sha256[32];	/* of the DER */
	size_t		 der_len;
	const char	*source;	/* file (or URL) it came from */
	int		 served;	/* 0: the root, left out unless send_root */
	enum chain_origin origin;
};

/*
 * Where a certificate stands at a given time (the expiry watch, the admin
 * endpoint's gauges).  X-macro: names can't drift.
 */
#define CHAIN_VALIDITY(X)						\
	X(CHAIN_VALID,		"valid")	/* valid past the warning window */ \
	X(CHAIN_EXPIRING,	"expiring")	/* valid, notAfter inside it */	\
	X(CHAIN_EXPIRED,	"expired")	/* notAfter has passed */	\
	X(CHAIN_NOT_YET_VALID,	"not yet valid") /* notBefore is to come */

enum chain_validity {
#define CHAIN_VALIDITY_ENUM(sym, name) sym,
	CHAIN_VALIDITY(CHAIN_VALIDITY_ENUM)
#undef CHAIN_VALIDITY_ENUM
};

/*
 * chain_cert_validity(cc, now, warn_days):
 * Where cc stands at now: expiring when its notAfter is less than warn_days
 * days away (never with warn_days 0).  A pure function of its arguments.
 */
enum chain_validity chain_cert_validity(const struct chain_cert *cc,
    time_t now, unsigned warn_days);

/* chain_validity_name(v): "valid", "expired", ...; static storage. */
const char *chain_validity_name(enum chain_validity v);

struct chain;

/*
 * chain_build(spec):
 * Load the cert file (and key, password, intermediates, roots) named by spec,
 * find the leaf (the certificate matching the key; without a key, the one
 * that issued none of the others) and assemble its chain.  Errors are logged
 * naming the file or, for an incomplete chain, the missing issuer and the
 * AIA caIssuers URL.  Returns a new chain (free with chain_free()) or NULL.
 * Fails if the leaf is expired or not yet valid.  Succeeds with a warning
 * when the path ends at a self-signed certificate that is not in `roots`
 * (chain_trusted() is then 0) or holds an expired intermediate for which no
 * valid twin exists; certificates of the cert file left off the path are
 * reported at info level.
 */
struct chain *chain_build(const struct chain_spec *spec);

/*
 * chain_assemble(leaf, leaf_source, key, pool, roots, send_root, err, errlen):
 * The engine under chain_build(), for callers that already hold the pieces
 * (chainfix check).  Takes its own references to leaf, key (may be NULL) and
 * every certificate it keeps.  On failure writes a one-line reason to err
 * and returns NULL; nothing is logged.
 */
struct chain *chain_assemble(X509 *leaf, const char *leaf_source,
    EVP_PKEY *key, const struct certload_set *pool,
    const struct certload_set *roots, int send_root,
    char *err, size_t errlen);

/*
 * chain_complete(leaf, leaf_source, key, pool, roots, spec, err, errlen):
 * chain_assemble() with spec's last resorts, for chain_build() and for
 * callers that hold the pieces (check's fix): when pool gives no valid path
 * to a root in roots, the AIA cache and the public intermediates join the
 * pool (appended to it), then, with aia_fetch, issuers fetched from the
 * dead end's caIssuers URLs, a few levels up.  Ranking is chain_assemble()'s
 * throughout.  With legacy_roots, also the legacy chain (chain_legacy()).
 * Logs (label spec->label) which certificates came from where; on failure
 * writes the reason to err and returns NULL.
 */
struct chain *chain_complete(X509 *leaf, const char *leaf_source,
    EVP_PKEY *key, struct certload_set *pool,
    const struct certload_set *roots, const struct chain_spec *spec,
    char *err, size_t errlen);

/*
 * chain_pools_new() / chain_pools_free(p):
 * What several builds (the sites of one configuration) load only once: the
 * public intermediates and the legacy roots.  Set spec->pools to share
 * them; free after the last build (the chains keep what they use).  _new()
 * returns NULL on out of memory; _free(NULL) is a no-op.
 */
struct chain_pools *chain_pools_new(void);
void chain_pools_free(struct chain_pools *p);

/*
 * chain_legacy(c):
 * The chain served instead of c to clients that do not offer TLS 1.3: the
 * path to a root in legacy_roots, when c itself does not reach one (a
 * cross-signed intermediate toward an older root).  NULL when every client
 * gets c, and for a NULL chain.  Borrowed from c.
 */
const struct chain *chain_legacy(const struct chain *c);

/*
 * chain_issued(issuer, child):
 * 1 if issuer is a CA whose name, key identifier and key match child's
 * issuer and whose key verifies child's signature; 0 otherwise.
 */
int chain_issued(X509 *issuer, X509 *child);

/*
 * chain_length(c): certificates on the path, leaf first, root included; 0
 * for NULL (a passthrough site has no chain).
 */
size_t chain_length(const struct chain *c);

/* chain_served(c): how many of them are sent (the root only with send_root). */
size_t chain_served(const struct chain *c);

/*
 * chain_get(c, i): certificate i (0 = leaf); borrowed from the chain; NULL
 * past the end or for a NULL chain.
 */
const struct chain_cert *chain_get(const struct chain *c, size_t i);

/*
 * chain_describe(c, i, buf, len):
 * Certificate i as one line: depth, subject, notAfter, source file, and
 * "(root, not sent)" or where it was found ("(public intermediate)") where
 * it applies; what configtest, bundle and the daemon's startup log print.
 * Returns buf.
 */
char *chain_describe(const struct chain *c, size_t i, char *buf,
    size_t len);

/* chain_key(c): the private key, borrowed; NULL if the spec had none. */
EVP_PKEY *chain_key(const struct chain *c);

/* chain_trusted(c): 1 if the path ends at a root from `roots`. */
int chain_trusted(const struct chain *c);

/* chain_served_size(c): bytes of DER sent in the Certificate message. */
size_t chain_served_size(const struct chain *c);

/* chain_write_pem(c, out): the served certificates, leaf first.  0 or -1. */
int chain_write_pem(const struct chain *c, BIO *out);

/* chain_diagnose() flags. */
#define CHAIN_DIAG_NO_EXPIRY	0x1	/* leave expiry to the caller (the
					   daemon's expiry watch, expiry.h) */

/*
 * chain_diagnose(c, label, warn_days, flags):
 * Log a warning for each thing worth fixing that does not stop the chain
 * from being served: a certificate expired or expiring within warn_days
 * (unless CHAIN_DIAG_NO_EXPIRY), an intermediate that expires before the
 * leaf, a weak signature or key, a Certificate message over one TCP initial
 * window (certinfo.h draws each line).  Returns the number of warnings.
 */
int chain_diagnose(const struct chain *c, const char *label,
    unsigned warn_days, int flags);

/* chain_free(c): NULL is a no-op. */
void chain_free(struct chain *c);

#endif /* CHAINFIX_CHAIN_H */
