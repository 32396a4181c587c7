/*
 * check_analyze.c: what a strict client makes of the chain a server sent
 * (check_int.h).
 *
 * X509_verify_cert() with only --roots trusted and only the certificates
 * the server sent as the untrusted pool: no AIA fetching, no cache of
 * intermediates, nothing from earlier connections.  The order of the chain
 * is judged by signatures (chain_issued()), never by names, and the fix is
 * computed by chain_assemble(), the engine behind `chainfix bundle`, so the
 * two commands cannot disagree.  What is weak, too large or about to expire
 * is certinfo.h's rule, as for bundle and the daemon.
 *
 * Everything here reads certificates a server chose: none of it may trust
 * a length, a name or a date in them (tests/fuzz/fuzz_check.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "certload.h"
#include "chain.h"
#include "check_int.h"
#include "log.h"

static const struct {
	const char	*id;
	enum check_sev	 sev;
	const char	*title;
} check_codes[] = {
#define CHECK_ROW(sym, id, sev, title) [sym] = { id, sev, title },
	CHECK_PROBLEMS(CHECK_ROW)
#undef CHECK_ROW
};

static const char *const check_verdicts[] = {
	[CHECK_SEV_OK] = "OK",
	[CHECK_SEV_WARN] = "WARNING",
	[CHECK_SEV_CRIT] = "CRITICAL",
};

const char *
check_analyze_code_id(enum check_code code)
{
	return check_codes[code].id;
}

enum check_sev
check_analyze_code_sev(enum check_code code)
{
	return check_codes[code].sev;
}

const char *
check_analyze_code_title(enum check_code code)
{
	return check_codes[code].title;
}

const char *
check_analyze_verdict(enum check_sev sev)
{
	return check_verdicts[sev];
}

void
check_analyze_problem(struct check_report *r, enum check_code code,
    const char *fmt, ...)
{
	struct check_problem *p;
	va_list ap;

	if (r->nproblems >= CHECK_MAX_PROBLEMS)
		return;
	p = &r->problems[r->nproblems++];
	p->code = code;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
}

int
check_analyze_has(const struct check_report *r, enum check_code code)
{
	size_t i;

	for (i = 0; i < r->nproblems; i++)
		if (r->problems[i].code == code)
			return 1;
	return 0;
}

enum check_sev
check_analyze_worst(const struct check_report *r)
{
	enum check_sev worst = CHECK_SEV_OK;
	size_t i;

	for (i = 0; i < r->nproblems; i++)
		if (check_codes[r->problems[i].code].sev > worst)
			worst = check_codes[r->problems[i].code].sev;
	return worst;
}

/*
 * The chain as sent.
 */

static void
check_analyze_describe(struct check_cert *c, X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_PKEY *pk;
	const char *tn;
	int len, mdnid = NID_undef, pknid, secbits;
	uint32_t flags;
	size_t dummy;

	c->x = x;
	c->duplicate_of = -1;
	c->walk_pos = -1;
	certinfo_name(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	certinfo_name(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	snprintf(c->key_type, sizeof(c->key_type), "unknown");
	if ((pk = X509_get0_pubkey(x)) != NULL) {
		if ((tn = EVP_PKEY_get0_type_name(pk)) != NULL)
			snprintf(c->key_type, sizeof(c->key_type), "%s", tn);
		c->key_bits = EVP_PKEY_get_bits(pk);
		c->weak_key = certinfo_weak_key(pk);
		if (EVP_PKEY_get_group_name(pk, c->key_curve,
		    sizeof(c->key_curve), &dummy) != 1)
			c->key_curve[0] = '\0';
	}
	if ((tn = OBJ_nid2ln(X509_get_signature_nid(x))) == NULL)
		tn = "unknown";
	snprintf(c->sig_alg, sizeof(c->sig_alg), "%s", tn);
	if (X509_get_signature_info(x, &mdnid, &pknid, &secbits, &flags) != 1)
		mdnid = NID_undef;
	c->sig_md = mdnid;
	(void)certinfo_time(X509_get0_notBefore(x), &c->not_before);
	(void)certinfo_time(X509_get0_notAfter(x), &c->not_after);
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1)
		mdlen = 0;
	certinfo_hex(md, mdlen, c->sha256, sizeof(c->sha256));
	len = i2d_X509(x, NULL);
	c->der_len = len > 0 ? (size_t)len : 0;
	c->self_signed = certinfo_self_signed(x);
	ERR_clear_error();
}

void
check_analyze_sent(struct check_report *r, STACK_OF(X509) *sk)
{
	X509 *x;
	size_t der = 0;
	int i, n, len;

	n = sk != NULL ? sk_X509_num(sk) : 0;
	r->ncerts_received = (size_t)n;
	for (i = 0; i < n; i++) {
		x = sk_X509_value(sk, i);
		if ((len = i2d_X509(x, NULL)) > 0)
			der += (size_t)len;
		if (r->ncerts >= CHECK_MAX_CERTS || X509_up_ref(x) != 1)
			continue;
		check_analyze_describe(&r->certs[r->ncerts++], x);
	}
	r->msg_size = certinfo_msg_size((size_t)n, der);
}

/*
 * What a strict client makes of it.
 */

static int
check_analyze_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	struct check_report *r = X509_STORE_CTX_get_app_data(ctx);
	struct check_verr *v;
	X509 *cur;
	int code, depth, i;

	if (ok || r == NULL)
		return ok;
	code = X509_STORE_CTX_get_error(ctx);
	depth = X509_STORE_CTX_get_error_depth(ctx);
	for (i = 0; i < r->nverrs; i++)
		if (r->verrs[i].code == code && r->verrs[i].depth == depth)
			return 1;
	if (r->nverrs < CHECK_MAX_VERRS) {
		v = &r->verrs[r->nverrs++];
		v->code = code;
		v->depth = depth;
		cur = X509_STORE_CTX_get_current_cert(ctx);
		v->cert = cur != NULL && X509_up_ref(cur) == 1 ? cur : NULL;
	}
	/* Go on: we want every problem, and the whole path built. */
	return 1;
}

static int
check_analyze_in_set(const struct certload_set *set, X509 *x)
{
	size_t i, n = certload_set_count(set);

	for (i = 0; i < n; i++)
		if (X509_cmp(certload_set_cert(set, i), x) == 0)
			return 1;
	return 0;
}

/* Index of x among the certificates sent, or -1. */
int
check_analyze_sent_index(const struct check_report *r, X509 *x)
{
	size_t i;

	for (i = 0; i < r->ncerts; i++)
		if (r->certs[i].duplicate_of == -1 &&
		    X509_cmp(r->certs[i].x, x) == 0)
			return (int)i;
	return -1;
}

static int
check_analyze_on_vpath(const struct check_report *r, X509 *x)
{
	int i;

	if (r->path == NULL)
		return 0;
	for (i = 0; i < sk_X509_num(r->path); i++)
		if (X509_cmp(sk_X509_value(r->path, i), x) == 0)
			return 1;
	return 0;
}

/* X509_verify_cert() with only roots trusted and only the sent pool. */
static int
check_analyze_verify(struct check_report *r, const struct certload_set *roots)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *pool = NULL;
	X509_VERIFY_PARAM *param;
	size_t i, n;
	int rv = -1, vr;

	if ((store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    (pool = sk_X509_new_null()) == NULL)
		goto done;
	n = certload_set_count(roots);
	for (i = 0; i < n; i++)
		if (X509_STORE_add_cert(store,
		    certload_set_cert(roots, i)) != 1)
			ERR_clear_error();	/* a duplicate root */
	for (i = 1; i < r->ncerts; i++)
		if (sk_X509_push(pool, r->certs[i].x) <= 0)
			goto done;
	if (X509_STORE_CTX_init(ctx, store, r->certs[0].x, pool) != 1)
		goto done;
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	param = X509_STORE_CTX_get0_param(ctx);
	/*
	 * Any certificate in --roots is an anchor, self-signed or not: the
	 * same rule as chain_assemble(), so check and bundle agree.
	 */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_app_data(ctx, r);
	X509_STORE_CTX_set_verify_cb(ctx, check_analyze_verify_cb);
	vr = X509_verify_cert(ctx);
	ERR_clear_error();
	r->verified = vr == 1 && r->nverrs == 0;
	r->path = X509_STORE_CTX_get1_chain(ctx);
	if (r->path != NULL && sk_X509_num(r->path) > 0)
		r->path_trusted = check_analyze_in_set(roots,
		    sk_X509_value(r->path, sk_X509_num(r->path) - 1));
	rv = 0;
 done:
	if (rv == -1) {
		char reason[256];

		snprintf(r->error, sizeof(r->error), "cannot verify: %s",
		    log_ssl_reason(reason, sizeof(reason)));
	}
	sk_X509_free(pool);	/* the certificates are r's */
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rv;
}

/*
 * The path through the certificates as sent, by signatures: from the
 * leaf, each next certificate is one (not yet used) that really issued the
 * current one.  Among several, the one the verifier chose, then one valid
 * now, then the one sent earliest wins.
 */
static void
check_analyze_walk(struct check_report *r, int *walk, size_t *nwalk, time_t now)
{
	size_t i, j, cur = 0;
	int best, score, bestscore;

	*nwalk = 0;
	if (r->ncerts == 0)
		return;
	for (i = 1; i < r->ncerts; i++)
		for (j = 0; j < i; j++)
			if (r->certs[j].duplicate_of == -1 &&
			    X509_cmp(r->certs[i].x, r->certs[j].x) == 0) {
				r->certs[i].duplicate_of = (int)j;
				break;
			}
	walk[(*nwalk)++] = 0;
	r->certs[0].walk_pos = 0;
	while (!r->certs[cur].self_signed && *nwalk < CHECK_MAX_CERTS) {
		best = -1;
		bestscore = -1;
		for (j = 1; j < r->ncerts; j++) {
			struct check_cert *c = &r->certs[j];

			if (c->duplicate_of != -1 || c->walk_pos != -1)
				continue;
			if (!chain_issued(c->x, r->certs[cur].x)) {
				ERR_clear_error();
				continue;
			}
			score = 0;
			if (check_analyze_on_vpath(r, c->x))
				score += 2;
			if (c->not_before <= now && now <= c->not_after)
				score += 1;
			if (score > bestscore) {
				best = (int)j;
				bestscore = score;
			}
		}
		if (best == -1)
			break;
		r->certs[best].walk_pos = (int)*nwalk;
		walk[(*nwalk)++] = best;
		cur = (size_t)best;
	}
}

/*
 * A valid certificate with x's subject and key but another DER (a renewed
 * copy or a cross-sign), or NULL.  A copy from x's own issuer wins over a
 * cross-sign: it is the one to send instead.
 */
static int
check_analyze_is_twin(X509 *x, X509 *y, time_t now)
{
	if (y == NULL || X509_cmp(x, y) == 0)
		return 0;
	if (X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_subject_name(y)) != 0)
		return 0;
	if (EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(y)) != 1)
		return 0;
	return certinfo_valid_at(y, now);
}

static X509 *
check_analyze_twin(const struct check_report *r, X509 *x,
    const struct certload_set *roots, const struct certload_set *pool,
    time_t now)
{
	const struct certload_set *sets[2] = { roots, pool };
	X509 *y, *best = NULL;
	size_t i, k, n;

	for (k = 0; k < 3; k++) {
		n = k == 0 ? r->ncerts : sets[k - 1] != NULL ?
		    certload_set_count(sets[k - 1]) : 0;
		for (i = 0; i < n; i++) {
			y = k == 0 ? r->certs[i].x :
			    certload_set_cert(sets[k - 1], i);
			if (!check_analyze_is_twin(x, y, now))
				continue;
			if (X509_NAME_cmp(X509_get_issuer_name(x),
			    X509_get_issuer_name(y)) == 0)
				return y;
			if (best == NULL)
				best = y;
		}
	}
	ERR_clear_error();
	return best;
}

/* Dates of every certificate above the leaf on the verifier's path. */
static void
check_analyze_dates(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots, const struct certload_set *pool,
    time_t now)
{
	char d1[32], d2[32], name[256], tname[256], tiss[256], where[64];
	const char *what, *state;
	time_t nb, na, when;
	X509 *x, *twin;
	int i, n, idx, top;

	if (r->path == NULL || r->ncerts == 0)
		return;
	n = sk_X509_num(r->path);
	for (i = 1; i < n; i++) {
		x = sk_X509_value(r->path, i);
		if (certinfo_time(X509_get0_notBefore(x), &nb) == -1 ||
		    certinfo_time(X509_get0_notAfter(x), &na) == -1)
			continue;
		certinfo_name(X509_get_subject_name(x), name, sizeof(name));
		idx = check_analyze_sent_index(r, x);
		top = i == n - 1 && r->path_trusted;
		what = top ? "root" : "intermediate";
		if (idx >= 0)
			snprintf(where, sizeof(where), "sent as #%d", idx);
		else
			snprintf(where, sizeof(where), "from the roots");
		if (na < now || nb > now) {
			state = na < now ? "expired on" : "is not valid before";
			when = na < now ? na : nb;
			certinfo_timestr(when, CERTINFO_TIME_DAY, d1,
			    sizeof(d1));
			twin = top ? NULL : check_analyze_twin(r, x, roots,
			    pool, now);
			if (top) {
				check_analyze_problem(r, P_ROOT_EXPIRED,
				    "the root \"%s\" (%s) %s %s", name, where,
				    state, d1);
			} else if (twin != NULL &&
			    X509_NAME_cmp(X509_get_issuer_name(twin),
			    X509_get_issuer_name(x)) != 0) {
				certinfo_name(X509_get_issuer_name(x), tiss,
				    sizeof(tiss));
				certinfo_name(X509_get_issuer_name(twin), tname,
				    sizeof(tname));
				check_analyze_problem(r, P_EXPIRED_CROSS,
				    "the chain verifies only through the "
				    "cross-sign \"%s\" (%s) issued by \"%s\", "
				    "which %s %s (the same name and key, "
				    "issued by \"%s\", is valid)", name, where,
				    tiss, state, d1, tname);
			} else if (twin != NULL) {
				check_analyze_problem(r, P_INT_EXPIRED,
				    "the intermediate \"%s\" (%s) %s %s; a "
				    "valid certificate with the same name and "
				    "key is known: send that one instead", name,
				    where, state, d1);
			} else {
				check_analyze_problem(r, P_INT_EXPIRED,
				    "the intermediate \"%s\" (%s) %s %s",
				    name, where, state, d1);
			}
			continue;
		}
		certinfo_timestr(na, CERTINFO_TIME_DAY, d1, sizeof(d1));
		if (certinfo_days_left(na, now) < (long)o->warn_days)
			check_analyze_problem(r, P_INT_EXPIRING,
			    "the %s \"%s\" (%s) expires on %s, in %ld days",
			    what, name, where, d1, certinfo_days_left(na, now));
		else if (certinfo_expires_before(na, r->certs[0].not_after))
			check_analyze_problem(r, P_INT_BEFORE_LEAF,
			    "the %s \"%s\" (%s) expires on %s, before the leaf "
			    "(%s): the chain stops verifying then", what,
			    name, where, d1, certinfo_timestr(
			    r->certs[0].not_after, CERTINFO_TIME_DAY, d2,
			    sizeof(d2)));
	}
}

static void
check_analyze_verrs(struct check_report *r)
{
	char name[256];
	int i;

	for (i = 0; i < r->nverrs; i++) {
		struct check_verr *v = &r->verrs[i];

		if (v->cert != NULL)
			certinfo_name(X509_get_subject_name(v->cert), name,
			    sizeof(name));
		else
			snprintf(name, sizeof(name), "?");
		switch (v->code) {
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
			if (check_analyze_has(r, P_INCOMPLETE) ||
			    v->cert == NULL)
				break;
			snprintf(r->missing_of, sizeof(r->missing_of), "%s",
			    name);
			certinfo_name(X509_get_issuer_name(v->cert),
			    r->missing_subject, sizeof(r->missing_subject));
			certinfo_aia(v->cert, 1, r->missing_aia,
			    sizeof(r->missing_aia));
			check_analyze_problem(r, P_INCOMPLETE,
			    "the issuer of \"%s\", \"%s\", is neither sent by "
			    "the server nor a trusted root%s%s", name,
			    r->missing_subject, r->missing_aia[0] != '\0' ?
			    "; the certificate says it can be fetched from " :
			    " (the certificate names no AIA URL for it)",
			    r->missing_aia);
			break;
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
			check_analyze_problem(r, P_UNTRUSTED,
			    "the server sends a self-signed certificate \"%s\" "
			    "that is not among the trusted roots", name);
			break;
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
			check_analyze_problem(r, P_UNTRUSTED,
			    "the chain ends at the self-signed \"%s\", which "
			    "is not among the trusted roots", name);
			break;
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			/* Dates are judged per certificate, below. */
			break;
		default:
			check_analyze_problem(r, P_VERIFY,
			    "%s (depth %d, \"%s\")",
			    X509_verify_cert_error_string(v->code), v->depth,
			    name);
			break;
		}
	}
}

static void
check_analyze_leaf(struct check_report *r, const struct check_opts *o,
    time_t now)
{
	struct check_cert *leaf = &r->certs[0];
	char d[32], name[300];
	int rv;

	rv = 1;		/* check --chain without a name: none to check */
	if (o->checkname != NULL) {
		log_escape(o->checkname, name, sizeof(name));
		if (o->name_is_ip)
			rv = X509_check_ip_asc(leaf->x, o->checkname, 0);
		else
			/*
			 * As browsers, Go and Python do: the SAN alone
			 * counts (no fallback to the subject CN), no
			 * partial wildcards.
			 */
			rv = X509_check_host(leaf->x, o->checkname, 0,
			    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
			    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
	}
	ERR_clear_error();
	if (rv != 1)
		check_analyze_problem(r, P_HOSTNAME,
		    "the certificate \"%s\" does not cover %s%s "
		    "(subjectAltName)", leaf->subject,
		    o->name_is_ip ? "the address " : "", name);
	if (leaf->not_after < now)
		check_analyze_problem(r, P_LEAF_EXPIRED,
		    "the certificate \"%s\" expired on %s"
		    , leaf->subject,
		    certinfo_timestr(leaf->not_after, CERTINFO_TIME_ISO8601,
		    d, sizeof(d)));
	else if (leaf->not_before > now)
		check_analyze_problem(r, P_LEAF_NOT_YET,
		    "the certificate \"%s\" is not valid before %s"
		    , leaf->subject,
		    certinfo_timestr(leaf->not_before, CERTINFO_TIME_ISO8601,
		    d, sizeof(d)));
	else if (certinfo_days_left(leaf->not_after, now) < (long)o->warn_days)
		check_analyze_problem(r, P_LEAF_EXPIRING,
		    "the certificate \"%s\" expires on %s, in %ld days"
		    , leaf->subject,
		    certinfo_timestr(leaf->not_after, CERTINFO_TIME_ISO8601,
		    d, sizeof(d)),
		    certinfo_days_left(leaf->not_after, now));
}

static void
check_analyze_shape(struct check_report *r, const struct certload_set *roots,
    const int *walk, size_t nwalk)
{
	char order[256], sent[256];
	size_t i, j, len;
	int sorted[CHECK_MAX_CERTS], t, misordered = 0, gap;

	for (i = 0; i < r->ncerts; i++) {
		struct check_cert *c = &r->certs[i];

		if (c->duplicate_of != -1)
			c->role = "duplicate";
		else if (c->walk_pos == 0)
			c->role = "leaf";
		else if (c->walk_pos > 0 && (c->self_signed ||
		    check_analyze_in_set(roots, c->x)))
			c->role = "anchor";
		else if (c->walk_pos > 0)
			c->role = "intermediate";
		else
			c->role = "extra";
	}
	/* The path as sent stops short of any root: something is missing. */
	gap = nwalk > 0 && !r->certs[walk[nwalk - 1]].self_signed &&
	    !check_analyze_in_set(roots, r->certs[walk[nwalk - 1]].x) &&
	    check_analyze_has(r, P_INCOMPLETE);
	for (i = 1; i < r->ncerts; i++) {
		struct check_cert *c = &r->certs[i];

		if (c->duplicate_of != -1)
			check_analyze_problem(r, P_EXTRA,
			    "#%zu \"%s\" is a duplicate of #%d"
			    , i, c->subject, c->duplicate_of);
		else if (c->walk_pos == -1 && gap)
			check_analyze_problem(r, P_EXTRA, "#%zu \"%s\" is not "
			    "connected to the leaf: it signed none of the "
			    "certificates on the chain, which breaks before it "
			    "(see incomplete)", i, c->subject);
		else if (c->walk_pos == -1)
			check_analyze_problem(r, P_EXTRA,
			    "#%zu \"%s\" is not on the leaf's chain: it signed "
			    "none of the certificates on it", i, c->subject);
		if (c->duplicate_of == -1 && (strcmp(c->role, "anchor") == 0 ||
		    c->self_signed))
			check_analyze_problem(r, P_ANCHOR,
			    "#%zu \"%s\" is a root: clients must already have "
			    "it, sending it only costs %zu bytes",
			    i, c->subject, c->der_len);
	}
	if (r->ncerts_received > r->ncerts)
		check_analyze_problem(r, P_EXTRA,
		    "the server sent %zu certificates; only the first %zu were "
		    "examined", r->ncerts_received,
		    r->ncerts);
	/* The path's certificates must appear in path order. */
	for (i = 0; i < nwalk; i++)
		sorted[i] = walk[i];
	for (i = 1; i < nwalk; i++) {
		if (walk[i] < walk[i - 1])
			misordered = 1;
		for (j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
			t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	}
	if (!misordered)
		return;
	order[0] = sent[0] = '\0';
	for (i = 0; i < nwalk; i++) {
		len = strlen(order);
		snprintf(order + len, sizeof(order) - len, "%s#%d",
		    i ? " " : "", walk[i]);
		len = strlen(sent);
		snprintf(sent + len, sizeof(sent) - len, "%s#%d",
		    i ? " " : "", sorted[i]);
	}
	check_analyze_problem(r, P_ORDER,
	    "the server sends %s, but by signatures the order is %s: each "
	    "certificate must be followed by the one that signed it",
	    sent, order);
}

void
check_analyze_run(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots, const struct certload_set *pool)
{
	int walk[CHECK_MAX_CERTS];
	size_t i, nwalk;
	time_t now = time(NULL);

	if (r->ncerts == 0) {
		check_analyze_problem(r, P_INCOMPLETE, "the server sent no "
		    "certificate at all");
		return;
	}
	if (check_analyze_verify(r, roots) == -1) {
		check_analyze_problem(r, P_VERIFY, "%s", r->error);
		return;
	}
	check_analyze_walk(r, walk, &nwalk, now);
	check_analyze_verrs(r);
	check_analyze_leaf(r, o, now);
	check_analyze_dates(r, o, roots, pool, now);
	check_analyze_shape(r, roots, walk, nwalk);
	for (i = 0; i < r->ncerts; i++) {
		struct check_cert *c = &r->certs[i];
		char d[32];

		if (c->duplicate_of != -1)
			continue;
		/*
		 * An expired certificate the client did not need (an old
		 * cross-sign kept "for compatibility"): dead weight, and a
		 * trap for clients that pick it.
		 */
		if (i > 0 && r->verified && c->walk_pos > 0 &&
		    !check_analyze_on_vpath(r, c->x) && c->not_after < now)
			check_analyze_problem(r, P_EXTRA,
			    "#%zu \"%s\" expired on %s and is not on the path "
			    "a strict client builds: drop it", i, c->subject,
			    certinfo_timestr(c->not_after, CERTINFO_TIME_DAY,
			    d, sizeof(d)));
		/* A root's own signature is never checked by anyone. */
		if (!c->self_signed && certinfo_weak_digest(c->sig_md))
			check_analyze_problem(r, P_SHA1,
			    "#%zu \"%s\" is signed with %s"
			    , i, c->subject, c->sig_alg);
		if (c->weak_key)
			check_analyze_problem(r, P_WEAK_KEY,
			    "#%zu \"%s\" has a weak key: %s %d bits"
			    , i, c->subject, c->key_type,
			    c->key_bits);
	}
	if (r->msg_size > CERTINFO_INITIAL_WINDOW)
		check_analyze_problem(r, P_TOO_LARGE,
		    "the Certificate message is %zu bytes, more than one TCP "
		    "initial window (~%d bytes): the handshake needs an extra "
		    "round trip", r->msg_size,
		    CERTINFO_INITIAL_WINDOW);
	if (r->tls12 == 0 && r->tls13 == 0)
		check_analyze_problem(r, P_OLD_TLS,
		    "the server negotiates only %s: neither TLS 1.2 nor TLS "
		    "1.3 succeeded", r->protocol);
}

/*
 * The fix: what chain_assemble() (the engine behind `chainfix bundle`)
 * makes of the leaf, the certificates sent and the --intermediates
 * directory.
 */
void
check_analyze_fix(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots, struct certload_set *pool)
{
	const struct chain_cert *cc;
	struct chain_spec spec;
	struct chain *c;
	BIO *b = NULL;
	char *data, line[1024];
	long n;
	size_t i, len;

	r->fix_tried = 1;
	if (r->ncerts == 0) {
		snprintf(r->fix_error, sizeof(r->fix_error), "no leaf");
		return;
	}
	/* The engine bundle uses, with the same last resorts. */
	memset(&spec, 0, sizeof(spec));
	spec.label = "fix";
	spec.public_intermediates = o->public_intermediates;
	spec.aia_fetch = o->fetch;
	c = chain_complete(r->certs[0].x, "the server's leaf", NULL, pool,
	    roots, &spec, r->fix_error, sizeof(r->fix_error));
	if (c == NULL) {
		if (r->fix_error[0] == '\0')
			snprintf(r->fix_error, sizeof(r->fix_error),
			    "the chain cannot be completed");
		return;
	}
	r->fix_error[0] = '\0';
	r->fix_ok = 1;
	r->fix_trusted = chain_trusted(c);
	r->fix_count = chain_served(c);
	r->fix_same = r->fix_count == r->ncerts;
	for (i = 0; r->fix_same && i < r->fix_count; i++) {
		cc = chain_get(c, i);
		if (cc == NULL || X509_cmp(cc->x509, r->certs[i].x) != 0)
			r->fix_same = 0;
	}
	/* Where each certificate was found, as bundle says it. */
	len = chain_length(c) * sizeof(line);
	if ((r->fix_lines = malloc(len)) != NULL) {
		r->fix_lines[0] = '\0';
		for (i = 0; i < chain_length(c); i++)
			snprintf(r->fix_lines + strlen(r->fix_lines),
			    len - strlen(r->fix_lines), "%s\n",
			    chain_describe(c, i, line, sizeof(line)));
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL || chain_write_pem(c, b) == -1 ||
	    (n = BIO_get_mem_data(b, &data)) <= 0 ||
	    (r->fix_pem = malloc((size_t)n + 1)) == NULL) {
		snprintf(r->fix_error, sizeof(r->fix_error), "cannot write the "
		    "bundle");
		r->fix_ok = 0;
		ERR_clear_error();
	} else {
		memcpy(r->fix_pem, data, (size_t)n);
		r->fix_pem[n] = '\0';
	}
	BIO_free(b);
	chain_free(c);
}

void
check_analyze_free(struct check_report *r)
{
	size_t i;
	int j;

	for (i = 0; i < r->ncerts; i++)
		X509_free(r->certs[i].x);
	for (j = 0; j < r->nverrs; j++)
		X509_free(r->verrs[j].cert);
	if (r->path != NULL)
		sk_X509_pop_free(r->path, X509_free);
	free(r->fix_pem);
	free(r->fix_lines);
}
