/*
 * reach.c: where a chain verifies, store by store (reach.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "certload.h"
#include "datadir.h"
#include "log.h"
#include "reach.h"

static const struct {
	const char	*name;
	const char	*title;
	const char	*file;
} reach_stores[REACH_NSTORES] = {
#define REACH_ROW(sym, name, title, file) [sym] = { name, title, file },
	REACH_STORES(REACH_ROW)
#undef REACH_ROW
};

struct reach {
	X509_STORE	*store[REACH_NSTORES];	/* NULL: not available */
};

const char *
reach_store_name(enum reach_store s)
{
	return (size_t)s < REACH_NSTORES ? reach_stores[s].name : "?";
}

const char *
reach_store_title(enum reach_store s)
{
	return (size_t)s < REACH_NSTORES ? reach_stores[s].title : "?";
}

/*
 * Android before 7.1.1 never looked at a trust anchor's dates.  OpenSSL
 * checks them last, in internal_verify(), once the chain is built and its
 * top found trusted: a date error at the top depth is about the anchor.
 */
int
reach_ignore_anchor_dates(int ok, X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *chain;
	int e;

	if (ok)
		return ok;
	e = X509_STORE_CTX_get_error(ctx);
	chain = X509_STORE_CTX_get0_chain(ctx);
	if ((e == X509_V_ERR_CERT_HAS_EXPIRED ||
	    e == X509_V_ERR_CERT_NOT_YET_VALID) && chain != NULL &&
	    X509_STORE_CTX_get_error_depth(ctx) == sk_X509_num(chain) - 1)
		return 1;
	return ok;
}

/* One verification: 1, 0 with why, -1 out of memory. */
static int
reach_run(X509_STORE *store, X509 *const *sent, size_t n, int old_android,
    char *why, size_t whylen)
{
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	size_t i;
	int r = -1;

	if (n == 0) {
		snprintf(why, whylen, "no certificate");
		return 0;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    (untrusted = sk_X509_new_null()) == NULL)
		goto out;
	for (i = 1; i < n; i++)
		if (!sk_X509_push(untrusted, sent[i]))
			goto out;
	if (!X509_STORE_CTX_init(ctx, store, sent[0], untrusted))
		goto out;
	/* What a TLS client asks of a server's chain. */
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	if (old_android)
		X509_STORE_CTX_set_verify_cb(ctx, reach_ignore_anchor_dates);
	if (X509_verify_cert(ctx) == 1)
		r = 1;
	else {
		snprintf(why, whylen, "%s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		r = 0;
	}
out:
	ERR_clear_error();
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	return r;
}

static X509_STORE *
reach_store_of(const struct certload_set *set)
{
	X509_STORE *st;
	size_t i;

	if ((st = X509_STORE_new()) == NULL)
		return NULL;
	for (i = 0; i < certload_set_count(set); i++)
		if (!X509_STORE_add_cert(st, certload_set_cert(set, i))) {
			X509_STORE_free(st);
			ERR_clear_error();
			return NULL;
		}
	return st;
}

/* The Android store s into set; the count, or -1 (logged). */
static int
reach_load_android(enum reach_store s, struct certload_set *set)
{
	char dir[4096], path[4096];

	if (datadir_path(datadir_data(), REACH_ANDROID_DIR, dir,
	    sizeof(dir)) == NULL || datadir_path(dir, reach_stores[s].file,
	    path, sizeof(path)) == NULL) {
		log_warnx("%s: the data directory path is too long",
		    reach_stores[s].title);
		return -1;
	}
	return certload_file(path, NULL, set, NULL);
}

struct reach *
reach_new(const struct certload_set *system)
{
	struct certload_set *set;
	struct reach *r;
	struct stat st;
	char dir[4096];
	size_t s;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (system != NULL && certload_set_count(system) > 0 &&
	    (r->store[REACH_SYSTEM] = reach_store_of(system)) == NULL)
		goto oom;
	/* Not installed (a binary run from its build tree): say it once, as
	 * the public intermediates do, rather than once per store. */
	if (datadir_path(datadir_data(), REACH_ANDROID_DIR, dir,
	    sizeof(dir)) != NULL && stat(dir, &st) == -1 && errno == ENOENT) {
		log_warnx("Android root stores: %s: %s (set CHAINFIX_DATADIR); "
		    "reach on Android not checked", dir, strerror(ENOENT));
		return r;
	}
	for (s = 0; s < REACH_NSTORES; s++) {
		if (reach_stores[s].file == NULL)
			continue;
		if ((set = certload_set_new()) == NULL)
			goto oom;
		/* A missing store is reported, not fatal: the others still
		 * say something. */
		if (reach_load_android((enum reach_store)s, set) > 0 &&
		    (r->store[s] = reach_store_of(set)) == NULL) {
			certload_set_free(set);
			goto oom;
		}
		certload_set_free(set);
	}
	return r;
oom:
	reach_free(r);
	return NULL;
}

void
reach_free(struct reach *r)
{
	size_t s;

	if (r == NULL)
		return;
	for (s = 0; s < REACH_NSTORES; s++)
		X509_STORE_free(r->store[s]);
	free(r);
}

int
reach_check(const struct reach *r, X509 *const *sent, size_t n,
    struct reach_result *out)
{
	size_t s;
	int android = 0;

	memset(out, 0, sizeof(*out));
	for (s = 0; s < REACH_NSTORES; s++) {
		if (r->store[s] == NULL) {
			out->verified[s] = -1;
			snprintf(out->why[s], sizeof(out->why[s]),
			    "store not available");
			continue;
		}
		out->verified[s] = reach_run(r->store[s], sent, n,
		    s != REACH_SYSTEM, out->why[s], sizeof(out->why[s]));
		if (out->verified[s] == -1)
			snprintf(out->why[s], sizeof(out->why[s]),
			    "out of memory");
		if (s != REACH_SYSTEM && out->verified[s] == 1)
			android++;
	}
	return android;
}

char *
reach_describe(const struct reach_result *res, enum reach_store s,
    const char *title, char *buf, size_t len)
{
	if (title == NULL)
		title = reach_store_title(s);
	switch (res->verified[s]) {
	case 1:
		snprintf(buf, len, "%s: yes", title);
		break;
	case 0:
		snprintf(buf, len, "%s: no (%s)", title, res->why[s]);
		break;
	default:
		snprintf(buf, len, "%s: not checked (%s)", title,
		    res->why[s]);
		break;
	}
	return buf;
}

int
reach_no_android(const struct reach_result *res, char *buf, size_t len)
{
	size_t s, n = 0, left;
	const char *t;

	buf[0] = '\0';
	for (s = REACH_SYSTEM + 1; s < REACH_NSTORES; s++) {
		if (res->verified[s] == 1)
			return 0;
		if (res->verified[s] == 0)
			n++;
	}
	if (n == 0)
		return 0;
	/* "Android 2.2, 2.3, 3.x, 4.0 and 4.4" */
	for (s = REACH_SYSTEM + 1, left = n; s < REACH_NSTORES; s++) {
		if (res->verified[s] != 0)
			continue;
		t = reach_store_title((enum reach_store)s);
		if (left != n && strncmp(t, "Android ", 8) == 0)
			t += 8;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    left == n ? "" : left == 1 ? " and " : ", ", t);
		left--;
	}
	return 1;
}

int
reach_verify(const struct certload_set *anchors, X509 *const *sent,
    size_t n, int old_android, char *why, size_t whylen)
{
	X509_STORE *st;
	int r;

	if ((st = reach_store_of(anchors)) == NULL)
		return -1;
	r = reach_run(st, sent, n, old_android, why, whylen);
	X509_STORE_free(st);
	return r;
}

int
reach_android_roots(struct certload_set *set)
{
	size_t s, before = certload_set_count(set);

	for (s = 0; s < REACH_NSTORES; s++)
		if (reach_stores[s].file != NULL &&
		    reach_load_android((enum reach_store)s, set) == -1)
			return -1;
	return (int)(certload_set_count(set) - before);
}
