/*
 * chain.c: find the leaf, search every issuer path ourselves, rank the
 * complete ones, confirm the winner with X509_verify_cert().
 *
 * Why not let OpenSSL build the path: X509_verify_cert() given a pool takes
 * the first plausible issuer and never backtracks, so a cross-sign or an
 * expired twin that sorts first sends it down the wrong path
 * (docs/design.md, "OpenSSL's path builder and cross-signs").
 * Here every candidate that really signed the child is tried, depth first.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "aia.h"
#include "certinfo.h"
#include "certload.h"
#include "chain.h"
#include "corpus.h"
#include "log.h"
#include "reach.h"

#define CHAIN_MAXDEPTH	10	/* certificates on a path, leaf included */
#define CHAIN_MAXPATHS	256	/* complete paths kept for ranking */
#define CHAIN_MAXSTEPS	1000000	/* candidates looked at, all paths together */
#define CHAIN_MAXTRIES	8	/* ranked paths confirmed before failing */
#define CHAIN_MAXALT	3	/* other dead ends named in an error */
#define CHAIN_MAXAIA	4	/* caIssuers URLs named in an error */
#define CHAIN_AIA_LEVELS 4	/* issuers fetched up from one dead end */

struct chain {
	struct chain_cert	*certs;
	size_t			 n, served;
	EVP_PKEY		*key;
	int			 trusted;
	struct chain		*legacy;	/* chain_legacy() */
};

/* A certificate the search may use; nodes[0] is the leaf. */
struct chain_node {
	X509		*x;
	const char	*source;
	int		 root;		/* from `roots`: a trusted end */
	int		 selfsigned;
	int		 valid;		/* valid now */
	time_t		 not_after;
	unsigned char	 fp[32];
	unsigned long	 issuer_hash;	/* X509_NAME_hash_ex() of its issuer */
	size_t		*issuers;	/* nodes that signed it, in node order, */
	size_t		 nissuers;	/* once listed */
	int		 listed;
	enum chain_origin origin;
};

/*
 * The issuer index: every node by the hash of its subject name, sorted, so
 * a child's candidate issuers are found by its issuer name's hash with a
 * binary search instead of trying every node (quadratic in the size of an
 * intermediates directory: ten thousand files took seconds).
 */
struct chain_key {
	unsigned long	 hash;
	size_t		 idx;
};

struct chain_path {
	size_t		 idx[CHAIN_MAXDEPTH];
	size_t		 len;
	int		 trusted;
	int		 valid;
	time_t		 min_after;
	int		 rejected;	/* X509_verify_cert() said no */
};

struct chain_search {
	struct chain_node	*nodes;
	size_t			 n;
	struct chain_key	*bysubject;	/* n long, by (hash, idx) */
	int			 oom;
	size_t			 path[CHAIN_MAXDEPTH];
	struct chain_path	*found;
	size_t			 nfound;
	size_t			 top, topdepth;	/* deepest dead end */
	size_t			 alt[CHAIN_MAXALT];	/* others as deep */
	size_t			 nalt;
	unsigned long		 steps;
	int			 truncated;
	int			 legacy;	/* toward legacy_roots: an
						   anchor's dates do not count */
};

int
chain_issued(X509 *issuer, X509 *child)
{
	EVP_PKEY *pk;
	int ok;

	/* X509_check_issued(): names, AKI against SKI/serial, the issuer's
	 * keyUsage.  It does not look at the signature, hence X509_verify. */
	ok = X509_check_issued(issuer, child) == X509_V_OK &&
	    X509_check_ca(issuer) != 0 &&
	    (pk = X509_get0_pubkey(issuer)) != NULL &&
	    X509_verify(child, pk) == 1;
	ERR_clear_error();
	return ok;
}

static int
chain_key_cmp(const void *a, const void *b)
{
	const struct chain_key *ka = a, *kb = b;

	if (ka->hash != kb->hash)
		return ka->hash < kb->hash ? -1 : 1;
	return ka->idx < kb->idx ? -1 : ka->idx > kb->idx;
}

static unsigned long
chain_name_hash(const X509_NAME *name)
{
	unsigned long h;
	int ok = 0;

	/* SHA-1 of the canonical encoding, as OpenSSL's hashed directories;
	 * a failure puts the name in bucket 0, still compared in full. */
	h = X509_NAME_hash_ex(name, NULL, NULL, &ok);
	ERR_clear_error();
	return ok ? h : 0;
}

/*
 * List once the nodes that really issued node child (chain_issued()):
 * those whose subject hash is its issuer's, whose name is its issuer name
 * and whose subject key identifier, if both have one, is its authority
 * key identifier (X509_check_issued() checks that again; here it spares a
 * same-name decoy the signature check).  The leaf never issues.
 */
static int
chain_list_issuers(struct chain_search *s, size_t child)
{
	struct chain_node *c = &s->nodes[child];
	const ASN1_OCTET_STRING *akid, *skid;
	const X509_NAME *want;
	size_t lo = 0, hi = s->n, k, j, *v;

	if (c->listed)
		return 0;
	while (lo < hi) {
		k = lo + (hi - lo) / 2;
		if (s->bysubject[k].hash < c->issuer_hash)
			lo = k + 1;
		else
			hi = k;
	}
	want = X509_get_issuer_name(c->x);
	akid = X509_get0_authority_key_id(c->x);
	for (k = lo; k < s->n && s->bysubject[k].hash == c->issuer_hash; k++) {
		j = s->bysubject[k].idx;
		if (j == 0 || j == child || X509_NAME_cmp(want,
		    X509_get_subject_name(s->nodes[j].x)) != 0)
			continue;
		skid = X509_get0_subject_key_id(s->nodes[j].x);
		if (akid != NULL && skid != NULL &&
		    ASN1_OCTET_STRING_cmp(akid, skid) != 0)
			continue;
		if (!chain_issued(s->nodes[j].x, c->x))
			continue;
		if ((v = reallocarray(c->issuers, c->nissuers + 1,
		    sizeof(*v))) == NULL) {
			s->oom = 1;
			return -1;
		}
		c->issuers = v;
		c->issuers[c->nissuers++] = j;
	}
	c->listed = 1;
	return 0;
}

/* 1 if node issuer really issued node child. */
static int
chain_search_issued(struct chain_search *s, size_t child, size_t issuer)
{
	size_t k;

	if (chain_list_issuers(s, child) == -1)
		return 0;
	for (k = 0; k < s->nodes[child].nissuers; k++)
		if (s->nodes[child].issuers[k] == issuer)
			return 1;
	return 0;
}

/* Same subject and same key: a twin or cross-sign, never both on a path. */
static int
chain_same_entity(X509 *a, X509 *b)
{
	return X509_NAME_cmp(X509_get_subject_name(a),
	    X509_get_subject_name(b)) == 0 &&
	    EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}

static int chain_path_cmp(const struct chain_search *,
    const struct chain_path *, const struct chain_path *);

static void
chain_record(struct chain_search *s, size_t len, int trusted)
{
	struct chain_path p, *worst;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.len = len;
	p.trusted = trusted;
	p.valid = 1;
	p.min_after = s->nodes[s->path[0]].not_after;
	for (i = 0; i < len; i++) {
		p.idx[i] = s->path[i];
		/* Old clients never look at their anchor's dates. */
		if (s->legacy && trusted && i == len - 1)
			continue;
		if (!s->nodes[s->path[i]].valid)
			p.valid = 0;
		if (s->nodes[s->path[i]].not_after < p.min_after)
			p.min_after = s->nodes[s->path[i]].not_after;
	}
	if (s->nfound < CHAIN_MAXPATHS) {
		s->found[s->nfound++] = p;
		return;
	}
	/* Full: keep the best CHAIN_MAXPATHS, whatever the order met. */
	s->truncated = 1;
	worst = &s->found[0];
	for (i = 1; i < s->nfound; i++)
		if (chain_path_cmp(s, &s->found[i], worst) > 0)
			worst = &s->found[i];
	if (chain_path_cmp(s, &p, worst) < 0)
		*worst = p;
}

/* Extend the path of depth `depth` (path[depth - 1] is its top). */
static void
chain_dfs(struct chain_search *s, size_t depth)
{
	size_t cur = s->path[depth - 1], i, j, k;
	int extended = 0;
	struct chain_node *c;

	if (chain_list_issuers(s, cur) == -1)
		return;
	for (i = 0; i < s->nodes[cur].nissuers; i++) {
		if (++s->steps > CHAIN_MAXSTEPS) {
			s->truncated = 1;
			return;
		}
		j = s->nodes[cur].issuers[i];
		c = &s->nodes[j];
		for (k = 0; k < depth; k++)
			if (s->path[k] == j ||
			    chain_same_entity(s->nodes[s->path[k]].x, c->x))
				break;
		if (k < depth)
			continue;
		extended = 1;
		s->path[depth] = j;
		if (c->root)
			chain_record(s, depth + 1, 1);
		else if (c->selfsigned)
			chain_record(s, depth + 1, 0);
		else if (depth + 1 < CHAIN_MAXDEPTH)
			chain_dfs(s, depth + 1);
	}
	if (extended)
		return;
	if (depth > s->topdepth) {
		s->topdepth = depth;
		s->top = cur;
		s->nalt = 0;
	} else if (depth == s->topdepth && s->nalt < CHAIN_MAXALT) {
		/* Another dead end as deep (a cross-sign's other root):
		 * worth naming if it misses another issuer. */
		if (X509_NAME_cmp(X509_get_issuer_name(s->nodes[cur].x),
		    X509_get_issuer_name(s->nodes[s->top].x)) == 0)
			return;
		for (k = 0; k < s->nalt; k++)
			if (X509_NAME_cmp(X509_get_issuer_name(
			    s->nodes[cur].x), X509_get_issuer_name(
			    s->nodes[s->alt[k]].x)) == 0)
				return;
		s->alt[s->nalt++] = cur;
	}
}

/* <0 if a is the better path. */
static int
chain_path_cmp(const struct chain_search *s, const struct chain_path *a,
    const struct chain_path *b)
{
	size_t i;
	int r;

	if (a->trusted != b->trusted)
		return b->trusted - a->trusted;
	if (a->valid != b->valid)
		return b->valid - a->valid;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if (a->min_after != b->min_after)
		return a->min_after > b->min_after ? -1 : 1;
	/* Fingerprints, not pool positions: the same files in another
	 * order must give the same chain. */
	for (i = 0; i < a->len; i++)
		if ((r = memcmp(s->nodes[a->idx[i]].fp, s->nodes[b->idx[i]].fp,
		    sizeof(s->nodes[0].fp))) != 0)
			return r;
	return 0;
}

/* X509_verify_cert() with exactly the path: its top as the only anchor. */
static int
chain_confirm(const struct chain_search *s, const struct chain_path *p,
    char *why, size_t whylen)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	X509 *top = s->nodes[p->idx[p->len - 1]].x, *leaf = s->nodes[0].x;
	unsigned long flags = 0;
	char subj[256];
	size_t i;
	int ok = 0, e, depth;

	if ((store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    (untrusted = sk_X509_new_null()) == NULL ||
	    !X509_STORE_add_cert(store, top))
		goto oom;
	for (i = 1; i + 1 < p->len; i++)
		if (!sk_X509_push(untrusted, s->nodes[p->idx[i]].x))
			goto oom;
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted))
		goto oom;
	/* An anchor from `roots` need not be self-signed. */
	if (!s->nodes[p->idx[p->len - 1]].selfsigned)
		flags |= X509_V_FLAG_PARTIAL_CHAIN;
	/* Validity is ranked and reported by us; check (on a server's
	 * expired leaf) still wants the path. */
	if (!p->valid)
		flags |= X509_V_FLAG_NO_CHECK_TIME;
	X509_STORE_CTX_set_flags(ctx, flags);
	if (s->legacy)
		X509_STORE_CTX_set_verify_cb(ctx, reach_ignore_anchor_dates);
	if (X509_verify_cert(ctx) == 1)
		ok = 1;
	else {
		e = X509_STORE_CTX_get_error(ctx);
		depth = X509_STORE_CTX_get_error_depth(ctx);
		certinfo_name(X509_get_subject_name(
		    X509_STORE_CTX_get_current_cert(ctx) != NULL ?
		    X509_STORE_CTX_get_current_cert(ctx) : leaf),
		    subj, sizeof(subj));
		snprintf(why, whylen, "the chain does not verify: %s at "
		    "depth %d (\"%s\")", X509_verify_cert_error_string(e),
		    depth, subj);
	}
	goto out;
oom:
	snprintf(why, whylen, "out of memory");
out:
	ERR_clear_error();
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

/*
 * Add x to the node table (the caller has made sure it is not there yet).
 * Returns its index, or -1.
 */
static ssize_t
chain_node_add(struct chain_search *s, X509 *x, const char *source,
    int root)
{
	struct chain_node *nd;
	unsigned int len;

	nd = &s->nodes[s->n];
	memset(nd, 0, sizeof(*nd));
	nd->x = x;
	nd->source = source;
	nd->root = root;
	nd->selfsigned = certinfo_self_signed(x);
	(void)certinfo_time(X509_get0_notAfter(x), &nd->not_after);
	nd->valid = certinfo_valid_at(x, time(NULL));
	nd->issuer_hash = chain_name_hash(X509_get_issuer_name(x));
	len = sizeof(nd->fp);
	if (!X509_digest(x, EVP_sha256(), nd->fp, &len))
		return -1;
	ERR_clear_error();
	s->bysubject[s->n].hash = chain_name_hash(X509_get_subject_name(x));
	s->bysubject[s->n].idx = s->n;
	return (ssize_t)s->n++;
}

/*
 * The nodes: the leaf, then the pool and the roots without duplicates (a
 * root may also sit in the intermediates directory, the leaf in the pool),
 * found through the sets' own indexes.  Then the issuer index.
 */
static int
chain_nodes(struct chain_search *s, X509 *leaf, const char *leaf_source,
    const struct certload_set *pool, const enum chain_origin *origins,
    const struct certload_set *roots)
{
	size_t np = certload_set_count(pool), i, *pmap;
	ssize_t at;
	X509 *x;

	if ((pmap = calloc(np ? np : 1, sizeof(*pmap))) == NULL)
		return -1;
	if (chain_node_add(s, leaf, leaf_source, 0) == -1)
		goto err;
	for (i = 0; i < np; i++) {
		x = certload_set_cert(pool, i);
		if (X509_cmp(x, leaf) == 0)
			pmap[i] = 0;
		else if ((at = chain_node_add(s, x,
		    certload_set_source(pool, i), 0)) == -1)
			goto err;
		else {
			pmap[i] = (size_t)at;
			if (origins != NULL)
				s->nodes[at].origin = origins[i];
		}
	}
	for (i = 0; i < certload_set_count(roots); i++) {
		x = certload_set_cert(roots, i);
		/* Also in `roots`: that is what it is for the chain,
		 * wherever else a copy was found (an AIA answer often holds
		 * the root). */
		if ((at = certload_set_find(pool, x)) >= 0) {
			s->nodes[pmap[at]].root = 1;
			s->nodes[pmap[at]].source = certload_set_source(roots,
			    i);
			s->nodes[pmap[at]].origin = CHAIN_ORIGIN_CONFIG;
		}
		else if (X509_cmp(x, leaf) == 0)
			s->nodes[0].root = 1;
		else if (chain_node_add(s, x, certload_set_source(roots, i),
		    1) == -1)
			goto err;
	}
	free(pmap);
	qsort(s->bysubject, s->n, sizeof(*s->bysubject), chain_key_cmp);
	return 0;
 err:
	free(pmap);
	return -1;
}

static void
chain_missing(struct chain_search *s, char *err, size_t errlen)
{
	X509 *top = s->nodes[s->top].x, *leaf = s->nodes[0].x;
	const X509_NAME *want = X509_get_issuer_name(top);
	char issuer[256], subj[256], aia[512], leafaia[512], decoy[512];
	char issuer2[256], subj2[256], alts[1024];
	size_t i, len;
	int r;

	certinfo_name(want, issuer, sizeof(issuer));
	certinfo_name(X509_get_subject_name(top), subj, sizeof(subj));
	certinfo_aia(top, CHAIN_MAXAIA, aia, sizeof(aia));
	leafaia[0] = '\0';
	if (s->top != 0)
		certinfo_aia(leaf, CHAIN_MAXAIA, leafaia, sizeof(leafaia));
	/* A certificate with the right name that did not sign: say so, it
	 * is the first thing the administrator will look at. */
	decoy[0] = '\0';
	for (i = 1; i < s->n; i++) {
		if (i == s->top || X509_NAME_cmp(want,
		    X509_get_subject_name(s->nodes[i].x)) != 0)
			continue;
		/* It did sign, but was already on the path (or its twin
		 * was): the certificates only issue each other. */
		if (chain_search_issued(s, s->top, i))
			snprintf(decoy, sizeof(decoy), "; the certificates "
			    "issue each other in a loop");
		else
			snprintf(decoy, sizeof(decoy), "; %s has that name "
			    "but did not sign it (another key, or not a CA)",
			    s->nodes[i].source);
		break;
	}
	alts[0] = '\0';
	for (i = 0, len = 0; i < s->nalt; i++) {
		certinfo_name(X509_get_issuer_name(s->nodes[s->alt[i]].x),
		    issuer2, sizeof(issuer2));
		certinfo_name(X509_get_subject_name(s->nodes[s->alt[i]].x),
		    subj2, sizeof(subj2));
		r = snprintf(alts + len, sizeof(alts) - len, ", nor \"%s\" "
		    "for \"%s\"", issuer2, subj2);
		if (r < 0 || (size_t)r >= sizeof(alts) - len)
			break;
		len += (size_t)r;
	}
	snprintf(err, errlen, "incomplete chain: no issuer \"%s\" found for "
	    "\"%s\"%s%s%s%s%s%s", issuer, subj, alts,
	    aia[0] ? "; caIssuers: " : "", aia,
	    leafaia[0] ? "; leaf caIssuers: " : "", leafaia, decoy);
}

static void
chain_fill(struct chain_cert *cc, X509 *x, const char *source)
{
	unsigned int len = sizeof(cc->sha256);
	int dlen;

	cc->x509 = x;
	certinfo_name(X509_get_subject_name(x), cc->subject, sizeof(cc->subject));
	certinfo_name(X509_get_issuer_name(x), cc->issuer, sizeof(cc->issuer));
	(void)certinfo_time(X509_get0_notBefore(x), &cc->not_before);
	(void)certinfo_time(X509_get0_notAfter(x), &cc->not_after);
	if (!X509_digest(x, EVP_sha256(), cc->sha256, &len))
		memset(cc->sha256, 0, sizeof(cc->sha256));
	dlen = i2d_X509(x, NULL);
	cc->der_len = dlen > 0 ? (size_t)dlen : 0;
	cc->source = source;
	ERR_clear_error();
}

static struct chain *
chain_from_path(const struct chain_search *s, const struct chain_path *p,
    EVP_PKEY *key, int send_root)
{
	struct chain *c;
	const struct chain_node *nd;
	char *src;
	size_t i;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->certs = calloc(p->len, sizeof(*c->certs))) == NULL)
		goto err;
	for (i = 0; i < p->len; i++) {
		nd = &s->nodes[p->idx[i]];
		if ((src = strdup(nd->source != NULL ? nd->source : "-")) ==
		    NULL)
			goto err;
		if (!X509_up_ref(nd->x)) {
			free(src);
			goto err;
		}
		chain_fill(&c->certs[i], nd->x, src);
		c->certs[i].origin = nd->origin;
		/* The root: a client must already have it, so sending it
		 * only costs bytes (unless send_root). */
		c->certs[i].served = !(i == p->len - 1 && p->len > 1 &&
		    nd->selfsigned && !send_root);
		c->n++;
		if (c->certs[i].served)
			c->served++;
	}
	if (key != NULL) {
		if (!EVP_PKEY_up_ref(key))
			goto err;
		c->key = key;
	}
	c->trusted = p->trusted;
	return c;
err:
	chain_free(c);
	return NULL;
}

/*
 * chain_assemble() with more to say: origins[i] (NULL: all from the
 * configuration) is where pool[i] was found; legacy searches toward legacy
 * roots (whose dates do not count); on an incomplete chain, *top (if not
 * NULL) gets a reference to the dead end whose issuer is missing.
 */
static struct chain *
chain_assemble_ex(X509 *leaf, const char *leaf_source, EVP_PKEY *key,
    const struct certload_set *pool, const enum chain_origin *origins,
    const struct certload_set *roots, int send_root, int legacy, X509 **top,
    char *err, size_t errlen)
{
	struct chain_search s;
	struct chain *c = NULL;
	struct chain_path *best;
	size_t cap, i, try;
	char subj[256];

	memset(&s, 0, sizeof(s));
	s.legacy = legacy;
	err[0] = '\0';
	if (top != NULL)
		*top = NULL;
	if (key != NULL && X509_check_private_key(leaf, key) != 1) {
		ERR_clear_error();
		certinfo_name(X509_get_subject_name(leaf), subj, sizeof(subj));
		snprintf(err, errlen, "the private key does not match "
		    "certificate \"%s\"", subj);
		return NULL;
	}
	cap = 1 + certload_set_count(pool) + certload_set_count(roots);
	if ((s.nodes = calloc(cap, sizeof(*s.nodes))) == NULL ||
	    (s.bysubject = calloc(cap, sizeof(*s.bysubject))) == NULL ||
	    (s.found = calloc(CHAIN_MAXPATHS, sizeof(*s.found))) == NULL)
		goto oom;
	if (chain_nodes(&s, leaf, leaf_source, pool, origins, roots) == -1)
		goto oom;

	s.path[0] = 0;
	if (s.nodes[0].root || s.nodes[0].selfsigned)
		chain_record(&s, 1, s.nodes[0].root);
	else
		chain_dfs(&s, 1);
	if (s.oom)
		goto oom;
	/* s.truncated: the best paths found within the caps are ranked;
	 * only a pathological pool (hundreds of twins) gets here. */
	if (s.nfound == 0) {
		chain_missing(&s, err, errlen);
		if (top != NULL && X509_up_ref(s.nodes[s.top].x))
			*top = s.nodes[s.top].x;
		goto out;
	}
	for (try = 0; try < CHAIN_MAXTRIES; try++) {
		best = NULL;
		for (i = 0; i < s.nfound; i++)
			if (!s.found[i].rejected && (best == NULL ||
			    chain_path_cmp(&s, &s.found[i], best) < 0))
				best = &s.found[i];
		if (best == NULL)
			break;
		/* Keep the first refusal: it is about the best path. */
		if (chain_confirm(&s, best, try == 0 ? err : subj,
		    try == 0 ? errlen : sizeof(subj))) {
			if ((c = chain_from_path(&s, best, key,
			    send_root)) == NULL)
				goto oom;
			err[0] = '\0';
			goto out;
		}
		best->rejected = 1;
	}
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (s.nodes != NULL)
		for (i = 0; i < s.n; i++)
			free(s.nodes[i].issuers);
	free(s.bysubject);
	free(s.found);
	free(s.nodes);
	return c;
}

struct chain *
chain_assemble(X509 *leaf, const char *leaf_source, EVP_PKEY *key,
    const struct certload_set *pool, const struct certload_set *roots,
    int send_root, char *err, size_t errlen)
{
	return chain_assemble_ex(leaf, leaf_source, key, pool, NULL, roots,
	    send_root, 0, NULL, err, errlen);
}

/* The leaf of a file without a key: the certificate that issued none of
 * the others, a non-CA one if there is one. */
static X509 *
chain_find_leaf(const struct certload_set *set, size_t n, size_t *at)
{
	size_t i, j;
	ssize_t any = -1;

	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++)
			if (j != i && chain_issued(certload_set_cert(set, i),
			    certload_set_cert(set, j)))
				break;
		if (j < n)
			continue;
		if (!X509_check_ca(certload_set_cert(set, i))) {
			*at = i;
			return certload_set_cert(set, i);
		}
		if (any < 0)
			any = (ssize_t)i;
	}
	if (any < 0)
		return NULL;
	*at = (size_t)any;
	return certload_set_cert(set, (size_t)any);
}

/* Two certificates for one key (a renewal kept beside the old one):
 * prefer a non-CA, then one valid now, then the later expiry. */
static int
chain_better_leaf(X509 *a, X509 *b)
{
	int ca_a = X509_check_ca(a) != 0, ca_b = X509_check_ca(b) != 0;
	time_t now = time(NULL);
	int v_a = certinfo_valid_at(a, now), v_b = certinfo_valid_at(b, now);

	if (ca_a != ca_b)
		return ca_b;
	if (v_a != v_b)
		return v_a;
	return ASN1_TIME_compare(X509_get0_notAfter(a),
	    X509_get0_notAfter(b)) > 0;
}

static int
chain_on_path(const struct chain *c, X509 *x)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (X509_cmp(c->certs[i].x509, x) == 0)
			return 1;
	return 0;
}

struct chain *
chain_build(const struct chain_spec *spec)
{
	const char *label = spec->label != NULL ? spec->label : spec->cert;
	const char *rootspec = spec->roots != NULL ? spec->roots : "system";
	struct certload_set *set = NULL, *roots = NULL;
	struct chain *c = NULL;
	EVP_PKEY *key = NULL, *k2 = NULL;
	X509 *leaf = NULL;
	char *pw = NULL, err[1024], subj[256];
	size_t nfile, i, at = 0;
	time_t now;

	if (spec->password_file != NULL &&
	    certload_read_password(spec->password_file, &pw) == -1)
		goto out;
	if ((set = certload_set_new()) == NULL ||
	    (roots = certload_set_new()) == NULL) {
		log_warnx("%s: out of memory", label);
		goto out;
	}
	if (certload_file(spec->cert, pw, set, &key) == -1)
		goto out;
	if (spec->key != NULL) {
		/* An explicit key wins over one found in the cert file. */
		if (certload_key(spec->key, pw, &k2) == -1)
			goto out;
		EVP_PKEY_free(key);
		key = k2;
	}
	if (spec->need_key && key == NULL) {
		log_errx("%s: no private key in %s and no key file given",
		    label, spec->cert);
		goto out;
	}
	nfile = certload_set_count(set);
	if (key != NULL) {
		/* The leaf is the certificate of the key, wherever it
		 * stands in the file. */
		for (i = 0; i < nfile; i++)
			if (X509_check_private_key(certload_set_cert(set, i),
			    key) == 1 && (leaf == NULL || chain_better_leaf(
			    certload_set_cert(set, i), leaf))) {
				leaf = certload_set_cert(set, i);
				at = i;
			}
		ERR_clear_error();
		if (leaf == NULL) {
			log_errx("%s: the private key%s%s matches none of the "
			    "%zu certificate%s in %s", label,
			    spec->key != NULL ? " in " : "",
			    spec->key != NULL ? spec->key : "", nfile,
			    nfile == 1 ? "" : "s", spec->cert);
			goto out;
		}
	} else if ((leaf = chain_find_leaf(set, nfile, &at)) == NULL) {
		log_errx("%s: cannot tell the leaf among the certificates of "
		    "%s (they issued each other)", label, spec->cert);
		goto out;
	}
	if (spec->intermediates != NULL &&
	    certload_dir(spec->intermediates, set) == -1)
		goto out;
	if (certload_roots(rootspec, roots) == -1)
		goto out;

	c = chain_complete(leaf, certload_set_source(set, at), key, set,
	    roots, spec, err, sizeof(err));
	if (c == NULL) {
		log_errx("%s: %s", label, err);
		goto out;
	}
	now = time(NULL);
	if (c->certs[0].not_after < now || c->certs[0].not_before > now) {
		log_errx("%s: certificate \"%s\" in %s is %s", label,
		    c->certs[0].subject, spec->cert,
		    c->certs[0].not_after < now ? "expired" :
		    "not yet valid");
		chain_free(c);
		c = NULL;
		goto out;
	}
	for (i = 1; i < c->n; i++)
		if (c->certs[i].not_after < now ||
		    c->certs[i].not_before > now)
			log_warnx("%s: \"%s\" from %s is %s, and no valid "
			    "replacement was found: clients will reject the "
			    "chain", label, c->certs[i].subject,
			    c->certs[i].source, c->certs[i].not_after < now ?
			    "expired" : "not yet valid");
	if (!c->trusted)
		log_warnx("%s: the chain ends at self-signed \"%s\", which is "
		    "not in roots (%s)", label, c->certs[c->n - 1].subject,
		    rootspec);
	for (i = 0; i < nfile; i++)
		if (!chain_on_path(c, certload_set_cert(set, i))) {
			certinfo_name(X509_get_subject_name(
			    certload_set_cert(set, i)), subj, sizeof(subj));
			log_info("%s: dropping \"%s\" from %s: not on the "
			    "chain", label, subj, spec->cert);
		}
out:
	EVP_PKEY_free(key);
	certload_set_free(roots);
	certload_set_free(set);
	certload_password_free(pw);
	return c;
}

/*
 * The last resorts (chain_complete()).  They run only when what the
 * administrator gave yields no valid path to a root in roots, and what they
 * find joins the same pool: the engine ranks everything together, so an
 * expired certificate from the corpus never wins over a valid one.
 */

struct chain_pools {
	char			*corpus_spec;	/* what corpus was loaded */
	struct certload_set	*corpus;
	char			 corpus_file[4096];
	int			 corpus_failed;
	char			*legacy_spec;	/* what legacy_roots were */
	struct certload_set	*legacy;
	int			 legacy_failed;
};

/* What one chain_complete() has added to its pool, and from where. */
struct chain_resorts {
	const struct chain_spec	*spec;
	const char		*label;
	struct chain_pools	*pools;
	struct certload_set	*pool;
	enum chain_origin	*origins;	/* pool[i]'s; NULL: config */
	size_t			 norigins;
	int			 added;		/* cache and corpus are in */
	size_t			 public;	/* public intermediates added */
	const char		*corpus_file;
};

struct chain_pools *
chain_pools_new(void)
{
	return calloc(1, sizeof(struct chain_pools));
}

void
chain_pools_free(struct chain_pools *p)
{
	if (p == NULL)
		return;
	free(p->corpus_spec);
	certload_set_free(p->corpus);
	free(p->legacy_spec);
	certload_set_free(p->legacy);
	free(p);
}

/* Load what spec names into *set once per spec; NULL if it failed. */
static struct certload_set *
chain_pools_get(char **cur, struct certload_set **set, int *failed,
    const char *spec)
{
	if (*set != NULL && strcmp(*cur, spec) == 0)
		return *failed ? NULL : *set;
	free(*cur);
	certload_set_free(*set);
	*failed = 1;
	if ((*cur = strdup(spec)) == NULL ||
	    (*set = certload_set_new()) == NULL) {
		free(*cur);
		*cur = NULL;
		log_warnx("out of memory");
		return NULL;
	}
	return *set;
}

static const struct certload_set *
chain_pools_corpus(struct chain_pools *p, const char *spec, const char **file)
{
	struct certload_set *set;

	if (p->corpus != NULL && strcmp(p->corpus_spec, spec) == 0) {
		*file = p->corpus_file;
		return p->corpus_failed ? NULL : p->corpus;
	}
	if ((set = chain_pools_get(&p->corpus_spec, &p->corpus,
	    &p->corpus_failed, spec)) == NULL)
		return NULL;
	/* A corpus that cannot be read was logged: chains that need no
	 * public intermediate still build. */
	p->corpus_failed = corpus_load(spec, set, p->corpus_file,
	    sizeof(p->corpus_file)) == -1;
	*file = p->corpus_file;
	return p->corpus_failed ? NULL : set;
}

static const struct certload_set *
chain_pools_legacy(struct chain_pools *p, const char *spec)
{
	struct certload_set *set;

	if (p->legacy != NULL && strcmp(p->legacy_spec, spec) == 0)
		return p->legacy_failed ? NULL : p->legacy;
	if ((set = chain_pools_get(&p->legacy_spec, &p->legacy,
	    &p->legacy_failed, spec)) == NULL)
		return NULL;
	if (strcmp(spec, "android") == 0)
		p->legacy_failed = reach_android_roots(set) <= 0;
	else
		p->legacy_failed = certload_roots(spec, set) <= 0;
	return p->legacy_failed ? NULL : set;
}

/* Every certificate valid now (an old client's anchor excepted), and the
 * path ends at a root it trusts. */
static int
chain_good(const struct chain *c, int legacy)
{
	time_t now = time(NULL);
	size_t i, n;

	if (c == NULL || !c->trusted)
		return 0;
	n = legacy ? c->n - 1 : c->n;
	for (i = 0; i < n; i++)
		if (c->certs[i].not_after < now || c->certs[i].not_before > now)
			return 0;
	return 1;
}

/* The pool from `from` on came from o.  0, or -1 out of memory. */
static int
chain_resorts_mark(struct chain_resorts *r, size_t from, enum chain_origin o)
{
	size_t n = certload_set_count(r->pool), i;
	enum chain_origin *v;

	if (n <= r->norigins)
		return 0;
	if ((v = reallocarray(r->origins, n, sizeof(*v))) == NULL)
		return -1;
	for (i = r->norigins; i < n; i++)
		v[i] = i < from ? CHAIN_ORIGIN_CONFIG : o;
	r->origins = v;
	r->norigins = n;
	return 0;
}

/* The AIA cache and the public intermediates join the pool, once.
 * Returns 1 if the pool grew, 0 if not, -1 out of memory. */
static int
chain_resorts_add(struct chain_resorts *r)
{
	const struct chain_spec *spec = r->spec;
	const struct certload_set *corpus;
	size_t n0 = certload_set_count(r->pool), n1, i;

	if (r->added)
		return 0;
	r->added = 1;
	if (spec->aia_cache != NULL)
		(void)aia_cache_load(spec->aia_cache, r->pool);
	if (chain_resorts_mark(r, n0, CHAIN_ORIGIN_CACHE) == -1)
		return -1;
	n1 = certload_set_count(r->pool);
	if (spec->public_intermediates != NULL &&
	    strcmp(spec->public_intermediates, "no") != 0 &&
	    (corpus = chain_pools_corpus(r->pools, spec->public_intermediates,
	    &r->corpus_file)) != NULL) {
		for (i = 0; i < certload_set_count(corpus); i++)
			if (certload_set_add(r->pool, certload_set_cert(corpus,
			    i), certload_set_source(corpus, i)) < 0)
				return -1;
		r->public = certload_set_count(corpus);
	}
	if (chain_resorts_mark(r, n1, CHAIN_ORIGIN_PUBLIC) == -1)
		return -1;
	return certload_set_count(r->pool) > n0;
}

/*
 * Fetch the issuer of the dead end top from its caIssuers URLs; CA
 * certificates join the pool.  Returns 1 if the pool grew, else 0 (or -1
 * out of memory).
 */
static int
chain_resorts_fetch(struct chain_resorts *r, X509 *top)
{
	struct aia_opts o = { 0, 0 };
	struct certload_set *got;
	size_t n0 = certload_set_count(r->pool), i;
	X509 *x;

	if ((got = certload_set_new()) == NULL)
		return -1;
	(void)aia_fetch(top, &o, r->label, got);
	for (i = 0; i < certload_set_count(got); i++) {
		x = certload_set_cert(got, i);
		/* A leaf or junk in the answer is no candidate issuer. */
		if (X509_check_ca(x) == 0)
			continue;
		if (certload_set_add(r->pool, x, certload_set_source(got,
		    i)) < 0) {
			certload_set_free(got);
			return -1;
		}
	}
	ERR_clear_error();
	certload_set_free(got);
	if (chain_resorts_mark(r, n0, CHAIN_ORIGIN_FETCHED) == -1)
		return -1;
	return certload_set_count(r->pool) > n0;
}

/* Say where the chain's certificates came from beyond the configuration,
 * and keep what was fetched. */
static void
chain_resorts_report(struct chain_resorts *r, const struct chain *c,
    const char *what)
{
	const struct chain_cert *cc;
	size_t i;

	for (i = 0; i < c->n; i++) {
		cc = &c->certs[i];
		switch (cc->origin) {
		case CHAIN_ORIGIN_PUBLIC:
			log_info("%s: %s\"%s\" is a public intermediate (from "
			    "%s); to depend on your own files only, add it to "
			    "the intermediates directory (chainfix bundle "
			    "prints it)", r->label, what, cc->subject,
			    cc->source);
			break;
		case CHAIN_ORIGIN_FETCHED:
			if (r->spec->aia_cache != NULL &&
			    aia_cache_store(r->spec->aia_cache, cc->x509,
			    r->label) == 0)
				log_info("%s: %s\"%s\" was fetched from its "
				    "caIssuers URL %s, and kept in %s", r->label,
				    what, cc->subject, cc->source,
				    r->spec->aia_cache);
			else
				log_info("%s: %s\"%s\" was fetched from its "
				    "caIssuers URL %s%s", r->label, what,
				    cc->subject, cc->source,
				    r->spec->aia_cache == NULL ? " (set aia_cache "
				    "to keep it across restarts)" : "");
			break;
		case CHAIN_ORIGIN_CACHE:
			log_info("%s: %s\"%s\" is from aia_cache (%s)",
			    r->label, what, cc->subject, cc->source);
			break;
		case CHAIN_ORIGIN_CONFIG:
			break;
		}
	}
}

/* With legacy_roots: the chain for clients without TLS 1.3, if c is not
 * already one they verify. */
static void
chain_resorts_legacy(struct chain_resorts *r, struct chain *c, X509 *leaf,
    const char *leaf_source, EVP_PKEY *key)
{
	const struct chain_spec *spec = r->spec;
	const struct certload_set *legacy;
	struct chain *l;
	X509 *sent[CHAIN_MAXDEPTH];
	char why[1024];
	size_t i, n = 0;
	int grew;

	if ((legacy = chain_pools_legacy(r->pools, spec->legacy_roots)) ==
	    NULL) {
		log_warnx("%s: legacy_roots %s: no root certificate loaded; "
		    "every client gets the same chain", r->label,
		    spec->legacy_roots);
		return;
	}
	for (i = 0; i < c->n && n < CHAIN_MAXDEPTH; i++)
		if (c->certs[i].served)
			sent[n++] = c->certs[i].x509;
	if (reach_verify(legacy, sent, n, 1, why, sizeof(why)) == 1) {
		log_info("%s: the chain also verifies with legacy_roots (%s): "
		    "every client gets it", r->label, spec->legacy_roots);
		return;
	}
	for (;;) {
		l = chain_assemble_ex(leaf, leaf_source, key, r->pool,
		    r->origins, legacy, spec->send_root, 1, NULL, why,
		    sizeof(why));
		if (chain_good(l, 1))
			break;
		chain_free(l);
		l = NULL;
		/* The cross-sign toward the old root may be public only. */
		if ((grew = chain_resorts_add(r)) != 1)
			break;
	}
	if (l == NULL) {
		log_warnx("%s: no valid chain to legacy_roots (%s)%s%s; clients "
		    "without TLS 1.3 get the same chain as the others",
		    r->label, spec->legacy_roots, why[0] != '\0' ? ": " : "",
		    why);
		return;
	}
	c->legacy = l;
	chain_resorts_report(r, l, "legacy chain: ");
}

struct chain *
chain_complete(X509 *leaf, const char *leaf_source, EVP_PKEY *key,
    struct certload_set *pool, const struct certload_set *roots,
    const struct chain_spec *spec, char *err, size_t errlen)
{
	struct chain_resorts r;
	struct chain_pools *own = NULL;
	struct chain *c, *c2;
	X509 *top = NULL, *top2;
	char err2[1024];
	int level, grew;
	size_t len;

	memset(&r, 0, sizeof(r));
	r.spec = spec;
	r.label = spec->label != NULL ? spec->label : spec->cert;
	r.pool = pool;
	if ((r.pools = spec->pools) == NULL &&
	    (r.pools = own = chain_pools_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c = chain_assemble_ex(leaf, leaf_source, key, pool, NULL, roots,
	    spec->send_root, 0, &top, err, errlen);
	if (!chain_good(c, 0) && (grew = chain_resorts_add(&r)) != 0) {
		if (grew == -1)
			goto oom;
		c2 = chain_assemble_ex(leaf, leaf_source, key, pool,
		    r.origins, roots, spec->send_root, 0, &top2, err2,
		    sizeof(err2));
		/* The pool only grew: what was found before is found
		 * again, or something better. */
		if (c2 != NULL) {
			chain_free(c);
			c = c2;
		}
		if (c == NULL) {
			X509_free(top);
			top = top2;
			snprintf(err, errlen, "%s", err2);
		} else
			X509_free(top2);
	}
	for (level = 0; c == NULL && spec->aia_fetch && top != NULL &&
	    level < CHAIN_AIA_LEVELS; level++) {
		if ((grew = chain_resorts_fetch(&r, top)) == -1)
			goto oom;
		if (grew == 0)
			break;
		X509_free(top);
		c = chain_assemble_ex(leaf, leaf_source, key, pool, r.origins,
		    roots, spec->send_root, 0, &top, err, errlen);
	}
	if (c == NULL) {
		len = strlen(err);
		if (r.public > 0)
			snprintf(err + len, errlen - len, "; not among the %zu "
			    "public intermediates either", r.public);
		else if (!spec->aia_fetch && top != NULL &&
		    strstr(err, "caIssuers") != NULL)
			snprintf(err + len, errlen - len, " (aia_fetch = yes "
			    "would fetch it)");
		goto out;
	}
	chain_resorts_report(&r, c, "");
	if (spec->legacy_roots != NULL)
		chain_resorts_legacy(&r, c, leaf, leaf_source, key);
	goto out;
oom:
	chain_free(c);
	c = NULL;
	snprintf(err, errlen, "out of memory");
out:
	X509_free(top);
	free(r.origins);
	chain_pools_free(own);
	return c;
}

const struct chain *
chain_legacy(const struct chain *c)
{
	return c != NULL ? c->legacy : NULL;
}

size_t
chain_length(const struct chain *c)
{
	return c != NULL ? c->n : 0;
}

size_t
chain_served(const struct chain *c)
{
	return c->served;
}

const struct chain_cert *
chain_get(const struct chain *c, size_t i)
{
	return c != NULL && i < c->n ? &c->certs[i] : NULL;
}

EVP_PKEY *
chain_key(const struct chain *c)
{
	return c->key;
}

int
chain_trusted(const struct chain *c)
{
	return c->trusted;
}

size_t
chain_served_size(const struct chain *c)
{
	size_t i, sum = 0;

	for (i = 0; i < c->n; i++)
		if (c->certs[i].served)
			sum += c->certs[i].der_len;
	return sum;
}

int
chain_write_pem(const struct chain *c, BIO *out)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->certs[i].served && !PEM_write_bio_X509(out,
		    c->certs[i].x509))
			return -1;
	return BIO_flush(out) == 1 ? 0 : -1;
}

enum chain_validity
chain_cert_validity(const struct chain_cert *cc, time_t now,
    unsigned warn_days)
{
	if (cc->not_before > now)
		return CHAIN_NOT_YET_VALID;
	if (cc->not_after < now)
		return CHAIN_EXPIRED;
	if (certinfo_days_left(cc->not_after, now) < (long)warn_days)
		return CHAIN_EXPIRING;
	return CHAIN_VALID;
}

const char *
chain_validity_name(enum chain_validity v)
{
	static const char *const names[] = {
#define CHAIN_VALIDITY_NAME(sym, name) [sym] = name,
		CHAIN_VALIDITY(CHAIN_VALIDITY_NAME)
#undef CHAIN_VALIDITY_NAME
	};

	if ((size_t)v >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[v];
}

char *
chain_describe(const struct chain *c, size_t i, char *buf, size_t len)
{
	const struct chain_cert *cc = &c->certs[i];
	char when[32], from[64];

	if (cc->origin != CHAIN_ORIGIN_CONFIG)
		snprintf(from, sizeof(from), "  (%s)",
		    chain_origin_name(cc->origin));
	else
		from[0] = '\0';
	snprintf(buf, len, "%zu %s  notAfter %s  %s%s%s", i, cc->subject,
	    certinfo_timestr(cc->not_after, CERTINFO_TIME_LIST, when,
	    sizeof(when)), cc->source != NULL ? cc->source : "-",
	    cc->served ? "" : "  (root, not sent)", from);
	return buf;
}

const char *
chain_origin_name(enum chain_origin o)
{
	static const char *const names[] = {
#define CHAIN_ORIGIN_NAME(sym, name) [sym] = name,
		CHAIN_ORIGINS(CHAIN_ORIGIN_NAME)
#undef CHAIN_ORIGIN_NAME
	};

	if ((size_t)o >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[o];
}

int
chain_diagnose(const struct chain *c, const char *label, unsigned warn_days,
    int flags)
{
	const struct chain_cert *cc, *leaf = &c->certs[0];
	time_t now = time(NULL);
	int warnings = 0, mdnid = NID_undef, topself;
	char date[32];
	EVP_PKEY *pk;
	size_t i, size;

	for (i = 0; i < c->n; i++) {
		cc = &c->certs[i];
		topself = i == c->n - 1 && c->n > 1 &&
		    certinfo_self_signed(cc->x509);
		certinfo_timestr(cc->not_after, CERTINFO_TIME_UTC, date,
		    sizeof(date));
		if (!(flags & CHAIN_DIAG_NO_EXPIRY)) {
			if (cc->not_after < now) {
				log_warnx("%s: \"%s\" expired on %s", label,
				    cc->subject, date);
				warnings++;
			} else if (certinfo_days_left(cc->not_after, now) <
			    (long)warn_days) {
				log_warnx("%s: \"%s\" expires in %ld days "
				    "(%s)", label, cc->subject,
				    certinfo_days_left(cc->not_after, now),
				    date);
				warnings++;
			}
		}
		if (i > 0 && !topself &&
		    certinfo_expires_before(cc->not_after, leaf->not_after)) {
			log_warnx("%s: intermediate \"%s\" expires (%s) "
			    "before the leaf", label, cc->subject, date);
			warnings++;
		}
		/* A root's own signature is never checked by clients. */
		if (!topself && X509_get_signature_info(cc->x509, &mdnid,
		    NULL, NULL, NULL) && certinfo_weak_digest(mdnid)) {
			log_warnx("%s: \"%s\" is signed with %s, which "
			    "clients reject", label, cc->subject,
			    OBJ_nid2sn(mdnid));
			warnings++;
		}
		pk = X509_get0_pubkey(cc->x509);
		if (certinfo_weak_key(pk)) {
			log_warnx("%s: \"%s\" has a weak %s-%d key", label,
			    cc->subject, EVP_PKEY_get0_type_name(pk),
			    EVP_PKEY_get_bits(pk));
			warnings++;
		}
	}
	ERR_clear_error();
	size = certinfo_msg_size(chain_served(c), chain_served_size(c));
	if (size > CERTINFO_INITIAL_WINDOW) {
		log_warnx("%s: the Certificate message is %zu bytes, over one "
		    "TCP initial window (%d bytes): handshakes take an extra "
		    "round trip", label, size, CERTINFO_INITIAL_WINDOW);
		warnings++;
	}
	return warnings;
}

void
chain_free(struct chain *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		X509_free(c->certs[i].x509);
		/* chain_cert.source is const for readers; we own it. */
		free((void *)(uintptr_t)c->certs[i].source);
	}
	free(c->certs);
	EVP_PKEY_free(c->key);
	chain_free(c->legacy);
	free(c);
}
