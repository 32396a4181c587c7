/*
 * check.c: `chainfix check HOST[:PORT]`, a strict client's view of a
 * server's certificate chain (check.h): the command line and the flow.
 *
 * Connect and collect what the server sends (check_tls.c), optionally ask
 * its ActiveSync endpoint on the same connection (check_activesync.c), try
 * TLS 1.2 and 1.3 on their own, judge the chain as a strict client would
 * (check_analyze.c), and print the report (check_print.c).  The exit status
 * is the worst problem found, for monitoring systems.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "certinfo.h"
#include "certload.h"
#include "check.h"
#include "check_int.h"
#include "file.h"
#include "log.h"
#include "probe.h"

#define CHECK_DEFAULT_PORT	"443"
#define CHECK_DEFAULT_TIMEOUT	10		/* seconds, each phase */
#define CHECK_DEFAULT_WARN_DAYS	30

static const char check_usage_text[] =
"usage: chainfix check HOST[:PORT] [--servername NAME] [--roots FILE|DIR|system]\n"
"                      [--intermediates DIR] [--fix] [--public-intermediates\n"
"                      yes|no|FILE] [--fetch] [--warn-days N]\n"
"                      [--timeout SECONDS] [--activesync] [--json]\n"
"       chainfix check --chain FILE [HOST] [same options]\n"
"\n"
"Connect to HOST (port 443 unless given; IPv6 as [::1]:443) as a strict TLS\n"
"client would: no AIA fetching, no cached intermediates, only --roots trusted\n"
"(default: the system's roots).  Report the chain as sent, its problems (incomplete,\n"
"extra certificates, incorrect order, contains anchor, expired intermediates,\n"
"hostname, expiry within --warn-days (default 30), SHA-1, weak keys, size), the\n"
"negotiated protocol and whether TLS 1.2 and TLS 1.3 work, and on which trust\n"
"stores the chain as sent verifies: --roots and the frozen stores of Android\n"
"2.2 to 4.4 (checked against the system store, a chain no old Android\n"
"verifies is a warning).\n"
"\n"
"  --chain FILE         analyse the PEM chain in FILE (leaf first) as if a\n"
"                       server had sent it, without connecting: check a\n"
"                       bundle before deploying it (HOST, if given, is the\n"
"                       name it must cover)\n"
"  --servername NAME    SNI to send and name the certificate must cover\n"
"                       (default: HOST, unless HOST is an IP address)\n"
"  --roots SPEC         trust anchors: system, a PEM file or a directory\n"
"  --intermediates DIR  also show whether DIR completes the chain, and print the\n"
"                       bundle that would fix it (same engine as chainfix bundle)\n"
"  --fix                the same without a directory: from what the server\n"
"                       sent and the public intermediates\n"
"  --public-intermediates yes|no|FILE\n"
"                       the fix's last resort (default yes: those chainfix\n"
"                       ships)\n"
"  --fetch              the fix may fetch a missing issuer from its caIssuers URL\n"
"  --warn-days N        warn about certificates expiring within N days\n"
"  --timeout SECONDS    connect, handshake and HTTP timeout, each (default 10)\n"
"  --activesync         send OPTIONS /Microsoft-Server-ActiveSync on the same\n"
"                       connection and report the status and protocol versions\n"
"  --json               machine-readable report on stdout\n"
"\n"
"Exit status: 0 OK, 1 warnings, 2 critical, 3 could not connect or usage error.\n";

/*
 * Command line.
 */

/*
 * HOST, HOST:PORT, [V6], [V6]:PORT, a bare IPv6 address, or an https:// URL
 * (its path is ignored).  Returns 0 or -1 with a message in err.
 */
static int
check_parse_target(struct check_opts *o, char *err, size_t errlen)
{
	const char *s = o->target, *end, *colon;
	size_t hlen;

	if (strncasecmp(s, "https://", 8) == 0)
		s += 8;
	end = s + strcspn(s, "/?#");
	if (*s == '[') {
		colon = memchr(s, ']', (size_t)(end - s));
		if (colon == NULL) {
			snprintf(err, errlen, "missing ']' in '%s'", o->target);
			return -1;
		}
		hlen = (size_t)(colon - s - 1);
		s++;
		colon++;
		if (colon < end && *colon != ':') {
			snprintf(err, errlen, "junk after ']' in '%s'",
			    o->target);
			return -1;
		}
		if (colon == end)
			colon = NULL;
	} else {
		colon = memchr(s, ':', (size_t)(end - s));
		if (colon != NULL &&
		    memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL)
			colon = NULL;	/* a bare IPv6 address */
		hlen = (size_t)((colon != NULL ? colon : end) - s);
	}
	if (hlen == 0 || hlen >= sizeof(o->host)) {
		snprintf(err, errlen, "bad host in '%s'", o->target);
		return -1;
	}
	memcpy(o->host, s, hlen);
	o->host[hlen] = '\0';
	if (colon != NULL) {
		const char *p = colon + 1;
		size_t plen = (size_t)(end - p);
		unsigned long port;
		char *ep;

		if (plen == 0 || plen >= sizeof(o->port)) {
			snprintf(err, errlen, "bad port in '%s'", o->target);
			return -1;
		}
		memcpy(o->port, p, plen);
		o->port[plen] = '\0';
		errno = 0;
		port = strtoul(o->port, &ep, 10);
		if (*ep != '\0' || errno != 0 || port == 0 || port > 65535 ||
		    o->port[0] < '0' || o->port[0] > '9') {
			snprintf(err, errlen, "bad port in '%s'", o->target);
			return -1;
		}
		/* "0443" is a port, not a JSON number: keep the canonical form. */
		snprintf(o->port, sizeof(o->port), "%lu", port);
	} else
		snprintf(o->port, sizeof(o->port), "%s", CHECK_DEFAULT_PORT);
	return 0;
}

/*
 * Names go into the SNI extension and the Host header: letters, digits and
 * ".-_:" (IPv6 addresses, "%" for a scope) only, so nothing can be smuggled.
 */
static int
check_valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(".-_:%", *s) != NULL))
			return 0;
	return 1;
}

static int
check_number(const char *s, unsigned long max, unsigned long *out)
{
	char *ep;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &ep, 10);
	if (*ep != '\0' || errno != 0 || *out > max)
		return -1;
	return 0;
}

/* Returns 0, or -1 after printing why on stderr. */
static int
check_parse_args(int argc, char **argv, struct check_opts *o, int *help)
{
	char err[512];
	unsigned long n;
	int i;

	memset(o, 0, sizeof(*o));
	o->roots = "system";
	o->public_intermediates = "yes";
	o->warn_days = CHECK_DEFAULT_WARN_DAYS;
	o->timeout_ms = CHECK_DEFAULT_TIMEOUT * 1000;
	*help = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			*help = 1;
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			o->json = 1;
		} else if (strcmp(a, "--activesync") == 0) {
			o->activesync = 1;
		} else if (strcmp(a, "--fix") == 0) {
			o->fix = 1;
		} else if (strcmp(a, "--fetch") == 0) {
			o->fetch = 1;
		} else if (strcmp(a, "--servername") == 0 ||
		    strcmp(a, "--roots") == 0 ||
		    strcmp(a, "--intermediates") == 0 ||
		    strcmp(a, "--warn-days") == 0 ||
		    strcmp(a, "--chain") == 0 ||
		    strcmp(a, "--public-intermediates") == 0 ||
		    strcmp(a, "--timeout") == 0) {
			if (v == NULL || *v == '\0') {
				fprintf(stderr, "chainfix check: %s needs a "
				    "value\n", a);
				return -1;
			}
			i++;
			if (strcmp(a, "--servername") == 0)
				o->servername = v;
			else if (strcmp(a, "--roots") == 0)
				o->roots = v;
			else if (strcmp(a, "--intermediates") == 0)
				o->intermediates = v;
			else if (strcmp(a, "--chain") == 0)
				o->chain_file = v;
			else if (strcmp(a, "--public-intermediates") == 0)
				o->public_intermediates = v;
			else if (strcmp(a, "--warn-days") == 0) {
				if (check_number(v, 36500, &n) == -1) {
					fprintf(stderr, "chainfix check: "
					    "--warn-days: not a number of days "
					    "(0-36500): '%s'\n",
					    log_escape(v, err, sizeof(err)));
					return -1;
				}
				o->warn_days = (unsigned)n;
			} else {
				if (check_number(v, 3600, &n) == -1 ||
				    n == 0) {
					fprintf(stderr, "chainfix check: "
					    "--timeout: not a number of seconds "
					    "(1-3600): '%s'\n",
					    log_escape(v, err, sizeof(err)));
					return -1;
				}
				o->timeout_ms = (int)n * 1000;
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "chainfix check: unknown option '%s'\n",
			    log_escape(a, err, sizeof(err)));
			return -1;
		} else if (o->target == NULL) {
			o->target = a;
		} else {
			fprintf(stderr, "chainfix check: more than one HOST "
			    "('%s')\n", log_escape(a, err, sizeof(err)));
			return -1;
		}
	}
	if (o->intermediates != NULL)
		o->fix = 1;
	if (strcmp(o->public_intermediates, "yes") != 0 &&
	    strcmp(o->public_intermediates, "no") != 0 &&
	    access(o->public_intermediates, R_OK) == -1) {
		fprintf(stderr, "chainfix check: --public-intermediates: not "
		    "yes, no or a readable file: '%s'\n",
		    log_escape(o->public_intermediates, err, sizeof(err)));
		return -1;
	}
	/* --chain: no connection; HOST only names what the leaf must cover. */
	if (o->chain_file != NULL && o->target == NULL) {
		o->target = o->chain_file;
		o->checkname = o->servername;
		o->name_is_ip = o->servername != NULL &&
		    certinfo_is_ip(o->servername);
		return 0;
	}
	if (o->target == NULL) {
		fprintf(stderr, "chainfix check: HOST[:PORT] is missing\n");
		return -1;
	}
	if (check_parse_target(o, err, sizeof(err)) == -1) {
		char esc[512];

		fprintf(stderr, "chainfix check: %s\n",
		    log_escape(err, esc, sizeof(esc)));
		return -1;
	}
	if (!check_valid_name(o->host) || (o->servername != NULL &&
	    !check_valid_name(o->servername))) {
		fprintf(stderr, "chainfix check: not a host name or address: "
		    "'%s'\n", log_escape(o->servername != NULL &&
		    check_valid_name(o->host) ? o->servername : o->host, err,
		    sizeof(err)));
		return -1;
	}
	/* SNI may not carry an IP address (RFC 6066 section 3). */
	if (o->servername != NULL) {
		o->checkname = o->servername;
		o->name_is_ip = certinfo_is_ip(o->servername);
		o->sni = o->name_is_ip ? NULL : o->servername;
	} else {
		o->checkname = o->host;
		o->name_is_ip = certinfo_is_ip(o->host);
		o->sni = o->name_is_ip ? NULL : o->host;
	}
	return 0;
}

/* The roots to trust and the --intermediates pool.  0, or -1 (said). */
static int
check_load(const struct check_opts *o, struct certload_set *roots,
    struct certload_set *pool)
{
	char esc[512];

	if (certload_roots(o->roots, roots) == -1) {
		fprintf(stderr, "chainfix check: cannot load the roots '%s'\n",
		    log_escape(o->roots, esc, sizeof(esc)));
		return -1;
	}
	if (o->intermediates != NULL &&
	    certload_dir(o->intermediates, pool) == -1) {
		fprintf(stderr, "chainfix check: cannot read the "
		    "intermediates directory '%s'\n",
		    log_escape(o->intermediates, esc, sizeof(esc)));
		return -1;
	}
	return 0;
}

/*
 * The connections and the analysis: one connection for the chain (and the
 * ActiveSync request), then one per protocol version it did not use.
 */
/*
 * --chain FILE: the certificates in the file, in their order, duplicates
 * kept (a server sending one twice is worth reporting): PEM blocks, else
 * one DER certificate.  0, or -1 with the reason in r->error.
 */
static int
check_read_chain(struct check_report *r, const char *path)
{
	STACK_OF(X509) *sk = NULL;
	struct stat st;
	char why[256], esc[300];
	FILE *f;
	X509 *x;
	int rc = -1;

	log_escape(path, esc, sizeof(esc));
	if ((f = file_fopen(path, &st, why, sizeof(why))) == NULL) {
		snprintf(r->error, sizeof(r->error), "%.250s: %.250s", esc,
		    why);
		return -1;
	}
	if ((sk = sk_X509_new_null()) == NULL)
		goto out;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto out;
		}
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		rewind(f);
		if ((x = d2i_X509_fp(f, NULL)) != NULL && !sk_X509_push(sk, x))
			X509_free(x);
		ERR_clear_error();
	}
	if (sk_X509_num(sk) == 0) {
		snprintf(r->error, sizeof(r->error), "%s: no certificate in "
		    "it (PEM, or one DER certificate)", esc);
		goto out;
	}
	check_analyze_sent(r, sk);
	rc = 0;
out:
	if (rc == -1 && r->error[0] == '\0')
		snprintf(r->error, sizeof(r->error), "%s: out of memory", esc);
	sk_X509_pop_free(sk, X509_free);
	fclose(f);
	return rc;
}

static void
check_run(struct check_report *r, const struct check_opts *o, SSL_CTX *ctx,
    const struct certload_set *roots, struct certload_set *pool)
{
	struct probe *p;
	size_t i;
	int v;

	if (o->chain_file != NULL) {
		/* As sent, minus the connection: no TLS facts to report. */
		if (check_read_chain(r, o->chain_file) == -1)
			return;
		r->reachable = 1;
	} else {
		p = check_tls_handshake(ctx, o, 0, r->address,
		    sizeof(r->address), r->error, sizeof(r->error));
		if (p == NULL)
			return;
		r->reachable = 1;
		check_tls_collect(r, probe_ssl(p));
		v = SSL_version(probe_ssl(p));
		if (v == TLS1_3_VERSION)
			r->tls13 = 1;
		if (v == TLS1_2_VERSION)
			r->tls12 = 1;
		if (o->activesync)
			check_activesync_run(r, o, p);
		probe_close(p);
		if (r->tls12 == -1)
			r->tls12 = check_tls_probe(ctx, o, TLS1_2_VERSION);
		if (r->tls13 == -1)
			r->tls13 = check_tls_probe(ctx, o, TLS1_3_VERSION);
	}
	/* The sent certificates are candidates for the fix too. */
	if (o->fix)
		for (i = 1; i < r->ncerts; i++)
			if (certload_set_add(pool, r->certs[i].x,
			    "sent by the server") == -1)
				break;
	check_analyze_run(r, o, roots, pool);
	check_reach_run(r, o, roots);
	check_activesync_judge(r);
	if (o->fix)
		check_analyze_fix(r, o, roots, pool);
}

int
check_main(int argc, char **argv)
{
	struct check_opts o;
	struct check_report *r = NULL;
	struct certload_set *roots = NULL, *pool = NULL;
	SSL_CTX *ctx = NULL;
	enum check_sev worst;
	int help, code = 3;

	if (check_parse_args(argc, argv, &o, &help) == -1) {
		fputs(check_usage_text, stderr);
		return 3;
	}
	if (help) {
		fputs(check_usage_text, stdout);
		return 0;
	}
	/* A peer that closes early must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (roots = certload_set_new()) == NULL ||
	    (pool = certload_set_new()) == NULL) {
		fprintf(stderr, "chainfix check: out of memory\n");
		goto out;
	}
	r->tls12 = r->tls13 = -1;
	if (check_load(&o, roots, pool) == -1)
		goto out;
	r->nroots = certload_set_count(roots);
	if (o.chain_file == NULL && (ctx = check_tls_ctx()) == NULL) {
		log_ssl(LOG_LEVEL_ERR, "chainfix check: cannot create a TLS "
		    "context");
		goto out;
	}
	check_run(r, &o, ctx, roots, pool);

	worst = check_analyze_worst(r);
	if (!r->reachable)
		code = 3;
	else
		code = worst == CHECK_SEV_CRIT ? 2 : worst == CHECK_SEV_WARN ?
		    1 : 0;
	if (o.json)
		check_print_json(stdout, r, &o, worst, code);
	else
		check_print_human(stdout, r, &o, worst);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "chainfix check: writing the report: %s\n",
		    strerror(errno));
		code = 3;
	}
 out:
	SSL_CTX_free(ctx);
	certload_set_free(pool);
	certload_set_free(roots);
	if (r != NULL)
		check_analyze_free(r);
	free(r);
	return code;
}
