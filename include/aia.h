/*
 * aia.h: fetch a certificate's missing issuer from the URL its Authority
 * Information Access extension names (caIssuers), and keep what was
 * fetched in a cache directory so that a restart needs no network.
 *
 * Only at startup, on reload and in the tools (fetch.h runs its own event
 * loop): never on the handshake path.  What is fetched is only a candidate:
 * the chain engine checks it like any other certificate (signature, CA,
 * the path verified by X509_verify_cert).
 */
#ifndef CHAINFIX_AIA_H
#define CHAINFIX_AIA_H

#include <stddef.h>

#include <openssl/x509.h>

#include "certload.h"

#define AIA_MAX_URLS	4	/* caIssuers URLs tried per certificate */
#define AIA_URL_MAX	1024	/* longer ones are skipped */

/* How a fetch may go. */
struct aia_opts {
	unsigned	 timeout;	/* seconds per URL; 0: 5 */
	size_t		 max_size;	/* bytes per answer; 0: 256 KiB */
};

/*
 * aia_urls(x, urls, max):
 * Copy the caIssuers URIs of x, in order, at most max, into urls (raw: a
 * peer may have written them; escape them before logging).  Returns how
 * many.
 */
size_t aia_urls(X509 *x, char urls[][AIA_URL_MAX], size_t max);

/*
 * aia_fetch(child, opts, label, out):
 * Fetch every http and https caIssuers URL of child and add each
 * certificate of each answer (DER, PEM or PKCS#7) to out, remembered as
 * coming from its URL.  Other schemes (ldap:) are logged as skipped; a
 * failed fetch or an answer without a certificate is a warning naming
 * label and the URL.  Returns the number of certificates added.
 */
int aia_fetch(X509 *child, const struct aia_opts *opts, const char *label,
    struct certload_set *out);

/*
 * aia_cache_load(dir, set):
 * Add the certificates kept in dir to set.  A directory that does not exist
 * yet holds nothing: 0.  Returns the number added, or -1 (logged).
 */
int aia_cache_load(const char *dir, struct certload_set *set);

/*
 * aia_cache_store(dir, x, label):
 * Keep x in dir as <sha256 of its DER>.pem, written atomically; dir is
 * created (mode 0755) if it does not exist.  Returns 0, or -1 with a
 * warning naming label and the file.
 */
int aia_cache_store(const char *dir, X509 *x, const char *label);

#endif /* CHAINFIX_AIA_H */
