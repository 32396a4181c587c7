/*
 * check_int.h: the parts of `chainfix check` (check.h), private to them.
 *
 *   check.c            the command: arguments, then the flow below
 *   check_tls.c        the TLS connections and what they collect
 *   check_analyze.c    what a strict client makes of the chain as sent,
 *                      and the fix chain_assemble() builds
 *   check_activesync.c the ActiveSync probe on the same connection
 *   check_reach.c      on which trust stores the chain as sent verifies
 *   check_print.c      the report, for humans and as JSON (check.h)
 *
 * The analysis reads only the report it is given: the certificates the
 * server sent (untrusted input) and the roots; tests/fuzz/fuzz_check.c
 * drives it without a network.
 */
#ifndef CHAINFIX_CHECK_INT_H
#define CHAINFIX_CHECK_INT_H

#include <netinet/in.h>

#include <stdio.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "certload.h"
#include "probe.h"
#include "reach.h"

#define CHECK_MAX_CERTS		32
#define CHECK_MAX_PROBLEMS	48
#define CHECK_MAX_VERRS		16

enum check_sev {
	CHECK_SEV_OK,		/* nothing to report */
	CHECK_SEV_WARN,		/* works for strict clients, but fix it */
	CHECK_SEV_CRIT,		/* strict clients fail (or will) */
};

/*
 * Problem codes: the enum, the stable identifier used in --json, the
 * severity and a short title for the verdict line, from one table.
 */
#define CHECK_PROBLEMS(X)						\
	X(P_INCOMPLETE, "incomplete", CHECK_SEV_CRIT,			\
	    "incomplete chain")						\
	X(P_UNTRUSTED, "untrusted_root", CHECK_SEV_CRIT,		\
	    "not trusted")						\
	X(P_VERIFY, "verify_error", CHECK_SEV_CRIT,			\
	    "chain does not verify")					\
	X(P_EXPIRED_CROSS, "expired_cross_sign", CHECK_SEV_CRIT,	\
	    "verifies only through an expired cross-sign")		\
	X(P_INT_EXPIRED, "intermediate_expired", CHECK_SEV_CRIT,	\
	    "expired intermediate")					\
	X(P_ROOT_EXPIRED, "root_expired", CHECK_SEV_CRIT,		\
	    "expired root")						\
	X(P_LEAF_EXPIRED, "leaf_expired", CHECK_SEV_CRIT,		\
	    "certificate expired")					\
	X(P_LEAF_NOT_YET, "leaf_not_yet_valid", CHECK_SEV_CRIT,	\
	    "certificate not yet valid")				\
	X(P_HOSTNAME, "hostname_mismatch", CHECK_SEV_CRIT,		\
	    "hostname not covered")					\
	X(P_LEAF_EXPIRING, "leaf_expiring", CHECK_SEV_WARN,		\
	    "certificate expires soon")					\
	X(P_INT_EXPIRING, "intermediate_expiring", CHECK_SEV_WARN,	\
	    "intermediate expires soon")				\
	X(P_INT_BEFORE_LEAF, "intermediate_expires_before_leaf",	\
	    CHECK_SEV_WARN, "intermediate expires before the leaf")	\
	X(P_EXTRA, "extra_certificates", CHECK_SEV_WARN,		\
	    "extra certificates")					\
	X(P_ORDER, "incorrect_order", CHECK_SEV_WARN,			\
	    "incorrect order")						\
	X(P_ANCHOR, "contains_anchor", CHECK_SEV_WARN,			\
	    "contains anchor")						\
	X(P_SHA1, "weak_signature", CHECK_SEV_WARN,			\
	    "SHA-1 signature")						\
	X(P_WEAK_KEY, "weak_key", CHECK_SEV_WARN, "weak key")		\
	X(P_TOO_LARGE, "chain_too_large", CHECK_SEV_WARN,		\
	    "chain larger than one TCP initial window")			\
	X(P_OLD_TLS, "no_tls12", CHECK_SEV_WARN,			\
	    "neither TLS 1.2 nor TLS 1.3")				\
	X(P_NO_ANDROID, "android_unreachable", CHECK_SEV_WARN,		\
	    "verifies on no old Android")				\
	X(P_ACTIVESYNC, "activesync", CHECK_SEV_WARN,			\
	    "ActiveSync endpoint not answering as expected")

enum check_code {
#define CHECK_ENUM(sym, id, sev, title) sym,
	CHECK_PROBLEMS(CHECK_ENUM)
#undef CHECK_ENUM
};

/* The command line, parsed (check.c). */
struct check_opts {
	const char	*target;	/* as given */
	char		 host[256];	/* brackets removed */
	char		 port[16];
	const char	*servername;	/* --servername */
	const char	*sni;		/* sent in the handshake; NULL: none */
	const char	*checkname;	/* name (or IP) the leaf must cover */
	int		 name_is_ip;
	const char	*roots;
	const char	*intermediates;
	const char	*chain_file;	/* --chain: read, do not connect */
	const char	*public_intermediates;	/* the fix's; default yes */
	int		 fix;		/* --fix (or --intermediates) */
	int		 fetch;		/* --fetch: the fix may use AIA */
	unsigned	 warn_days;
	int		 timeout_ms;
	int		 json;
	int		 activesync;
};

/* A certificate as the server sent it. */
struct check_cert {
	X509		*x;		/* our own reference */
	char		 subject[256];
	char		 issuer[256];
	char		 key_type[32];
	char		 key_curve[32];
	int		 key_bits;
	int		 weak_key;	/* certinfo_weak_key() */
	char		 sig_alg[64];
	int		 sig_md;	/* NID of the signature's digest */
	time_t		 not_before;
	time_t		 not_after;
	char		 sha256[65];	/* lowercase hex */
	size_t		 der_len;
	int		 self_signed;
	int		 duplicate_of;	/* index of the first copy, or -1 */
	int		 walk_pos;	/* position on the path as sent, -1 */
	const char	*role;
};

/* One problem found, with its message. */
struct check_problem {
	enum check_code	 code;
	char		 msg[640];
};

/* One error the verifier reported (the callback lets it go on). */
struct check_verr {
	int		 code;
	int		 depth;
	X509		*cert;		/* our own reference, may be NULL */
};

/*
 * Everything the report says, filled in by check_tls_collect(),
 * check_analyze_*() and check_activesync_*(), printed by check_print_*().
 */
struct check_report {
	/* connection */
	int		 reachable;
	char		 error[512];
	char		 address[INET6_ADDRSTRLEN + 24];
	char		 protocol[16];
	char		 cipher[64];
	int		 tls12;		/* -1 not tried, 0 failed, 1 ok */
	int		 tls13;

	/* the chain as sent */
	struct check_cert certs[CHECK_MAX_CERTS];
	size_t		 ncerts;
	size_t		 ncerts_received;
	size_t		 msg_size;

	/* what a strict client makes of it */
	int		 verified;
	STACK_OF(X509)	*path;		/* built by the verifier, leaf first */
	int		 path_trusted;	/* top of path is one of the roots */
	struct check_verr verrs[CHECK_MAX_VERRS];
	int		 nverrs;
	char		 missing_subject[256];	/* "" when complete */
	char		 missing_of[256];
	char		 missing_aia[512];
	size_t		 nroots;

	struct check_problem problems[CHECK_MAX_PROBLEMS];
	size_t		 nproblems;

	/* where it verifies (check_reach.c) */
	int		 reach_done;
	struct reach_result reach;

	/* --fix, --intermediates */
	int		 fix_tried;
	int		 fix_ok;	/* a chain was assembled */
	int		 fix_trusted;
	int		 fix_same;	/* the server already sends exactly it */
	size_t		 fix_count;
	char		 fix_error[512];
	char		*fix_pem;
	char		*fix_lines;	/* one chain_describe() line each */

	/* --activesync */
	int		 as_tried;
	int		 as_status;	/* -1: no answer */
	char		 as_status_line[256];
	char		 as_versions[512];
	char		 as_server[128];
	char		 as_error[384];
};

/*
 * check_tls.c
 */

/* check_tls_ctx(): the client context of every connection check makes:
 * verifies nothing, offers everything (the analysis judges, not the
 * handshake).  NULL on failure (OpenSSL's queue says why). */
SSL_CTX *check_tls_ctx(void);

/*
 * check_tls_handshake(ctx, o, version, addr, addrlen, err, errlen):
 * Connect to o's target and complete a handshake, pinned to one protocol
 * version (0: any).  Returns the probe (free with probe_close()), or NULL
 * with the reason in err.  addr gets the address once connected, even if
 * the handshake then fails.
 */
struct probe *check_tls_handshake(SSL_CTX *ctx, const struct check_opts *o,
    int version, char *addr, size_t addrlen, char *err, size_t errlen);

/* check_tls_probe(ctx, o, version): 1 if a handshake pinned to version
 * succeeds, else 0. */
int check_tls_probe(SSL_CTX *ctx, const struct check_opts *o, int version);

/* check_tls_collect(r, ssl): the protocol, the cipher and the chain as the
 * server sent it on ssl, into r (check_analyze_sent()). */
void check_tls_collect(struct check_report *r, SSL *ssl);

/*
 * check_reach.c
 */

/*
 * check_reach_run(r, o, roots):
 * On which trust stores the certificates in r verify as sent: roots and
 * the Android stores (reach.h), into r->reach.  Checked against the system
 * store (--roots system), a chain no Android store verifies is a warning
 * naming the devices; with roots of one's own, old devices need that root
 * installed anyway, so it is only shown.
 */
void check_reach_run(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots);

/*
 * check_analyze.c
 */

/*
 * check_analyze_sent(r, sk):
 * Take the certificates of sk (leaf first, as the server sent them) into
 * r: a reference to each of the first CHECK_MAX_CERTS and what the report
 * shows of them, and the size of the Certificate message carrying them
 * all.  sk may be NULL (nothing was sent).
 */
void check_analyze_sent(struct check_report *r, STACK_OF(X509) *sk);

/*
 * check_analyze_run(r, o, roots, pool):
 * What a strict client trusting only roots makes of the certificates in
 * r: the path it builds, every problem (r->problems), each certificate's
 * role.  pool (may be empty) offers the valid twins of expired
 * intermediates.  Uses r->tls12 and r->tls13 as check_tls_probe() left
 * them.
 */
void check_analyze_run(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots, const struct certload_set *pool);

/*
 * check_analyze_fix(r, o, roots, pool): the chain chain_complete() builds
 * for r's leaf from pool (--intermediates and the certificates sent), with
 * o's public intermediates and AIA fetching as last resorts, into r->fix_*.
 */
void check_analyze_fix(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots, struct certload_set *pool);

/* check_analyze_problem(r, code, fmt, ...): add a problem (the first
 * CHECK_MAX_PROBLEMS are kept). */
void check_analyze_problem(struct check_report *r, enum check_code code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* check_analyze_has(r, code): 1 if r has a problem of that code. */
int check_analyze_has(const struct check_report *r, enum check_code code);

/* check_analyze_worst(r): the most severe of r's problems. */
enum check_sev check_analyze_worst(const struct check_report *r);

/* check_analyze_sent_index(r, x): the index of x among the certificates
 * sent (first copy), or -1. */
int check_analyze_sent_index(const struct check_report *r, X509 *x);

/* The code's stable identifier ("incomplete"), severity and title. */
const char *check_analyze_code_id(enum check_code code);
enum check_sev check_analyze_code_sev(enum check_code code);
const char *check_analyze_code_title(enum check_code code);

/* check_analyze_verdict(sev): "OK", "WARNING" or "CRITICAL". */
const char *check_analyze_verdict(enum check_sev sev);

/* check_analyze_free(r): free what r holds (not r itself). */
void check_analyze_free(struct check_report *r);

/*
 * check_activesync.c
 */

/* check_activesync_run(r, o, p): send OPTIONS /Microsoft-Server-ActiveSync
 * on p and keep the status and headers in r->as_*. */
void check_activesync_run(struct check_report *r, const struct check_opts *o,
    struct probe *p);

/* check_activesync_judge(r): add the activesync problem if the answer is
 * not what a phone needs. */
void check_activesync_judge(struct check_report *r);

/*
 * check_print.c
 */

/* check_print_json(f, r, o, worst, code): the --json report (check.h). */
void check_print_json(FILE *f, const struct check_report *r,
    const struct check_opts *o, enum check_sev worst, int code);

/* check_print_human(f, r, o, worst): the report for a terminal. */
void check_print_human(FILE *f, const struct check_report *r,
    const struct check_opts *o, enum check_sev worst);

#endif /* CHAINFIX_CHECK_INT_H */
