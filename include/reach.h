/*
 * reach.h: on which devices a chain verifies, as it is sent.
 *
 * The stores: the system's current one (or whatever the caller trusts:
 * check's and bundle's --roots) and the frozen root stores of Android 2.2,
 * 2.3, 3.x, 4.0 and 4.4 shipped in the data directory (datadir.h).  Each is
 * modelled with X509_verify_cert() and the flags that client would use:
 * the sent certificates as the only untrusted pool, the store as the only
 * anchors, the server purpose; and for Android before 7.1.1, a trust
 * anchor's validity dates are ignored (those devices never checked them:
 * an expired root such as DST Root CA X3 still anchors a chain there).
 * What is not modelled: protocol versions and cipher suites, and the
 * algorithms an old device cannot verify (ECDSA on Android 2.x).
 */
#ifndef CHAINFIX_REACH_H
#define CHAINFIX_REACH_H

#include <stddef.h>

#include <openssl/x509.h>

#include "certload.h"

/* The stores.  X-macro: enum, JSON names, titles and files can't drift. */
#define REACH_STORES(X)							\
	X(REACH_SYSTEM,		"system",	"system store",	NULL)	\
	X(REACH_ANDROID_2_2,	"android-2.2",	"Android 2.2",	"froyo.pem") \
	X(REACH_ANDROID_2_3,	"android-2.3",	"Android 2.3",	"gingerbread.pem") \
	X(REACH_ANDROID_3,	"android-3",	"Android 3.x",	"honeycomb.pem") \
	X(REACH_ANDROID_4_0,	"android-4.0",	"Android 4.0",	"ics.pem") \
	X(REACH_ANDROID_4_4,	"android-4.4",	"Android 4.4",	"kitkat.pem")

enum reach_store {
#define REACH_ENUM(sym, name, title, file) sym,
	REACH_STORES(REACH_ENUM)
#undef REACH_ENUM
	REACH_NSTORES
};

/* Where the Android stores live, under the data directory. */
#define REACH_ANDROID_DIR	"trusted_roots"

/* reach_store_name(s): "android-4.4"; the --json key.  Static. */
const char *reach_store_name(enum reach_store s);

/* reach_store_title(s): "Android 4.4"; for people.  Static. */
const char *reach_store_title(enum reach_store s);

/* What reach_check() found, per store. */
struct reach_result {
	int	 verified[REACH_NSTORES];	/* 1 yes, 0 no, -1 store
						   not available */
	char	 why[REACH_NSTORES][128];	/* the verify error, if no */
};

/* The loaded stores. */
struct reach;

/*
 * reach_new(system):
 * Load the Android stores from the data directory (a missing or unreadable
 * one is logged once and reported as not available) and take system (the
 * caller's trust anchors; NULL: none, the system store is then reported
 * as not available).  Returns the stores (free with reach_free()), or NULL
 * on out of memory.
 */
struct reach *reach_new(const struct certload_set *system);

/* reach_free(r): NULL is a no-op. */
void reach_free(struct reach *r);

/*
 * reach_check(r, sent, n, out):
 * Verify the chain sent[0..n) (the leaf first, then what the server sends
 * with it, in any order) against every store.  Returns the number of
 * Android stores on which it verifies.
 */
int reach_check(const struct reach *r, X509 *const *sent, size_t n,
    struct reach_result *out);

/*
 * reach_describe(res, s, title, buf, len):
 * One line for store s, named title (NULL: its own title): "Android 4.4:
 * yes", "Android 2.2: no (unable to get local issuer certificate)",
 * "system store: not checked (store not available)".  Returns buf.
 */
char *reach_describe(const struct reach_result *res, enum reach_store s,
    const char *title, char *buf, size_t len);

/*
 * reach_no_android(res, buf, len):
 * When the chain verifies on none of the Android stores checked, their
 * titles ("Android 2.2, 2.3, 3.x, 4.0 and 4.4") into buf and 1; else 0.
 */
int reach_no_android(const struct reach_result *res, char *buf, size_t len);

/*
 * reach_verify(anchors, sent, n, old_android, why, whylen):
 * The check of one store given as a set: 1 if sent[0..n) verifies to a
 * certificate of anchors, 0 if not (the reason in why).  old_android
 * ignores the anchor's validity dates.  -1 on out of memory.
 */
int reach_verify(const struct certload_set *anchors, X509 *const *sent,
    size_t n, int old_android, char *why, size_t whylen);

/*
 * reach_ignore_anchor_dates(ok, ctx):
 * An X509_STORE_CTX verify callback that accepts a trust anchor's expiry or
 * not-yet-validity (and nothing else), as Android before 7.1.1 does; for
 * other verifications of old clients' chains (the legacy chain).
 */
int reach_ignore_anchor_dates(int ok, X509_STORE_CTX *ctx);

/*
 * reach_android_roots(set):
 * Add the union of the Android stores to set (`legacy_roots = android`).
 * Returns the number added, or -1 (logged) if a store cannot be read.
 */
int reach_android_roots(struct certload_set *set);

#endif /* CHAINFIX_REACH_H */
