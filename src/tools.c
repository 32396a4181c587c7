/*
 * tools.c: `chainfix bundle` and `chainfix configtest`, the two commands
 * that run the chain engine without serving anything.
 */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>

#include "chain.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "reach.h"
#include "selftest.h"
#include "ticketkeys.h"
#include "tools.h"
#include "writefile.h"

static const char tools_bundle_usage[] =
"usage: chainfix bundle --cert FILE [--key FILE] [--password-file FILE]\n"
"                       [--intermediates DIR] [--roots FILE|DIR|system|none]\n"
"                       [--public-intermediates yes|no|FILE] [--fetch]\n"
"                       [--aia-cache DIR] [--legacy-roots android|FILE|DIR]\n"
"                       [--legacy-out FILE] [--send-root] [--out FILE]\n"
"                       [--warn-days N]\n"
"\n"
"Assemble the complete chain for a certificate and print it as PEM, leaf\n"
"first (or write it atomically to --out, mode 0644).  The leaf is the\n"
"certificate matching the key (--key, or a key inside --cert); --cert may be\n"
"PEM (any order, extra certificates are dropped), DER or PKCS#12.\n"
"Issuers come from --cert and --intermediates (PEM, DER, PKCS#7); the chain\n"
"ends at a root in --roots (default: system), which is left out unless\n"
"--send-root.  When those give no valid path, the public intermediates\n"
"chainfix ships are searched (--public-intermediates, default yes), and with\n"
"--fetch a missing issuer is fetched from its certificate's caIssuers URL\n"
"(kept in --aia-cache DIR if given).  Each certificate's line says where it\n"
"was found.  Then one line per trust store says where the chain verifies:\n"
"--roots and the Android 2.2 to 4.4 stores.  With --legacy-roots, also the\n"
"chain the proxy would serve clients without TLS 1.3 (legacy_roots), if it\n"
"differs, with its own reach lines; --legacy-out writes it.  Diagnostics go\n"
"to stderr.\n"
"Exit 0 ok, 1 the chain cannot be completed or an input is bad, 2 usage.\n";

static const char tools_configtest_usage[] =
"usage: chainfix configtest -c FILE [--no-selftest]\n"
"       chainfix -t -c FILE [--no-selftest]\n"
"\n"
"Load the configuration and every certificate, build every site's chain and\n"
"print it.  Ends with \"configuration OK\" (exit 0) or the errors (exit 1).\n"
"\n"
"After each site's chain, a self-test connects to each of its backends as the\n"
"proxy would and reports whether it is reachable, whether it verifies, and\n"
"whether it presents the same certificate as the site (Exchange Extended\n"
"Protection needs that).  A backend that will fail (unreachable, not TLS,\n"
"not verifying, no common protocol) is an error, printed with its fix: the\n"
"configuration line to add when there is one (exit 1).  A different\n"
"certificate is a warning only.\n"
"\n"
"  --no-selftest   do not connect to the backends (offline use, reloads)\n";

/* Print the chain to f, one line per certificate, root marked if not sent. */
static void
tools_print_chain(FILE *f, const struct chain *c, const char *indent)
{
	char line[1024];
	size_t i;

	for (i = 0; i < chain_length(c); i++)
		fprintf(f, "%s%s\n", indent,
		    chain_describe(c, i, line, sizeof(line)));
}

/*
 * Write the served chain to path atomically (writefile.h): a reader, or a
 * server reloading, never sees half a bundle.
 */
static int
tools_write_atomic(const struct chain *c, const char *path)
{
	BIO *bio;
	char *data;
	long len;
	int rc = -1;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    chain_write_pem(c, bio) == -1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0)
		log_ssl(LOG_LEVEL_ERR, "%s: cannot write the bundle", path);
	else
		rc = writefile_atomic(path, data, (size_t)len, 0644);
	BIO_free(bio);
	return rc;
}

static int
tools_write_stdout(const struct chain *c)
{
	BIO *bio;
	int rc = 0;

	if ((bio = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL ||
	    chain_write_pem(c, bio) == -1 || BIO_flush(bio) != 1) {
		log_ssl(LOG_LEVEL_ERR, "cannot write the bundle to stdout");
		rc = -1;
	}
	BIO_free(bio);
	if (fflush(stdout) == EOF) {
		log_err("stdout");
		rc = -1;
	}
	return rc;
}

/*
 * Where the chain as served verifies, one line per store on stderr: the
 * roots it was built for (default: the system's) and the Android stores.
 */
static void
tools_reach(const struct chain *c, const char *roots, const char *label)
{
	struct certload_set *anchors;
	struct reach_result res;
	struct reach *r = NULL;
	X509 *sent[16];
	char line[512], title[256];
	size_t i, n = 0, s;

	if ((anchors = certload_set_new()) == NULL)
		return;
	if (certload_roots(roots != NULL ? roots : "system", anchors) == -1 ||
	    (r = reach_new(anchors)) == NULL)
		goto out;
	for (i = 0; i < chain_length(c) && n < 16; i++)
		if (chain_get(c, i)->served)
			sent[n++] = chain_get(c, i)->x509;
	(void)reach_check(r, sent, n, &res);
	snprintf(title, sizeof(title), "roots %s", roots != NULL ? roots :
	    "system");
	for (s = 0; s < REACH_NSTORES; s++)
		fprintf(stderr, "reach: %s\n", reach_describe(&res, s,
		    s == REACH_SYSTEM && roots != NULL &&
		    strcmp(roots, "system") != 0 ? title : NULL, line,
		    sizeof(line)));
	/* As check does: a private root is on no frozen store anyway. */
	if ((roots == NULL || strcmp(roots, "system") == 0) &&
	    reach_no_android(&res, line, sizeof(line)))
		log_warnx("%s: the chain verifies on none of %s: those "
		    "devices reject it", label, line);
out:
	reach_free(r);
	certload_set_free(anchors);
}

/* Parse a day count for --warn-days. */
static int
tools_parse_days(const char *s, unsigned *days)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    v > 36500)
		return -1;
	*days = (unsigned)v;
	return 0;
}

int
tools_bundle(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cert",		required_argument, NULL, 'c' },
		{ "key",		required_argument, NULL, 'k' },
		{ "password-file",	required_argument, NULL, 'p' },
		{ "intermediates",	required_argument, NULL, 'i' },
		{ "roots",		required_argument, NULL, 'r' },
		{ "send-root",		no_argument,	   NULL, 's' },
		{ "out",		required_argument, NULL, 'o' },
		{ "warn-days",		required_argument, NULL, 'w' },
		{ "public-intermediates", required_argument, NULL, 'P' },
		{ "fetch",		no_argument,	   NULL, 'F' },
		{ "aia-cache",		required_argument, NULL, 'A' },
		{ "legacy-roots",	required_argument, NULL, 'L' },
		{ "legacy-out",		required_argument, NULL, 'O' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct chain_spec spec;
	struct chain *c;
	const struct chain *legacy;
	const char *out = NULL, *legacy_out = NULL;
	unsigned warn_days = 30;
	int ch, rc;

	memset(&spec, 0, sizeof(spec));
	spec.public_intermediates = "yes";
	optind = 0;		/* GNU getopt: reinitialise */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': spec.cert = optarg; break;
		case 'k': spec.key = optarg; break;
		case 'p': spec.password_file = optarg; break;
		case 'i': spec.intermediates = optarg; break;
		case 'r': spec.roots = optarg; break;
		case 's': spec.send_root = 1; break;
		case 'o': out = optarg; break;
		case 'P':
			if (strcmp(optarg, "yes") != 0 &&
			    strcmp(optarg, "no") != 0 &&
			    access(optarg, R_OK) == -1) {
				log_err("--public-intermediates: '%s' is not "
				    "yes, no or a readable file", optarg);
				return 2;
			}
			spec.public_intermediates = optarg;
			break;
		case 'F': spec.aia_fetch = 1; break;
		case 'A': spec.aia_cache = optarg; break;
		case 'L': spec.legacy_roots = optarg; break;
		case 'O': legacy_out = optarg; break;
		case 'w':
			if (tools_parse_days(optarg, &warn_days) == -1) {
				log_errx("--warn-days: '%s' is not a number "
				    "of days", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(tools_bundle_usage, stdout);
			return 0;
		default:
			fputs(tools_bundle_usage, stderr);
			return 2;
		}
	}
	if (optind != argc || spec.cert == NULL) {
		if (spec.cert == NULL)
			log_errx("bundle: --cert is required");
		else
			log_errx("bundle: unexpected argument '%s'",
			    argv[optind]);
		fputs(tools_bundle_usage, stderr);
		return 2;
	}
	if (legacy_out != NULL && spec.legacy_roots == NULL) {
		log_errx("bundle: --legacy-out needs --legacy-roots");
		return 2;
	}
	spec.label = spec.cert;
	/* An AIA server that resets the connection must not kill us. */
	signal(SIGPIPE, SIG_IGN);

	if ((c = chain_build(&spec)) == NULL)
		return 1;
	tools_print_chain(stderr, c, "chain: ");
	chain_diagnose(c, spec.label, warn_days, 0);
	tools_reach(c, spec.roots, spec.label);
	if ((legacy = chain_legacy(c)) != NULL) {
		fprintf(stderr, "legacy chain (clients without TLS 1.3), to "
		    "legacy_roots %s:\n", spec.legacy_roots);
		tools_print_chain(stderr, legacy, "legacy: ");
		tools_reach(legacy, spec.roots, spec.label);
	}
	if (out != NULL)
		rc = tools_write_atomic(c, out);
	else
		rc = tools_write_stdout(c);
	if (rc == 0 && legacy_out != NULL) {
		if (legacy != NULL)
			rc = tools_write_atomic(legacy, legacy_out);
		else
			log_warnx("%s: no other chain for legacy_roots %s: "
			    "%s not written", spec.label, spec.legacy_roots,
			    legacy_out);
	}
	chain_free(c);
	return rc == 0 ? 0 : 1;
}

/* configtest's sink for the self-test: lines on stdout, under the chain. */
static void
tools_selftest_line(void *arg, enum selftest_kind kind, const char *line)
{
	static const char *const prefix[] = {
		[SELFTEST_OK] =		"self-test: ",
		[SELFTEST_PROBLEM] =	"ERROR: ",
		[SELFTEST_MISMATCH] =	"WARNING: ",
		[SELFTEST_FIX] =	"fix: ",
		/* Indented under its fix, ready to paste. */
		[SELFTEST_FIX_LINE] =	"    ",
	};

	(void)arg;
	printf("  %s%s\n", prefix[kind], line);
	/* Before a log line the test held with it goes to stderr. */
	fflush(stdout);
}

/*
 * A site's own lines in configtest, held back while the self-tests of the
 * sites before it run (selftest.h): what it prints, and what it logs on
 * the way with where in that output each log line came, so both streams
 * come out as they would have one site after the other.
 */
struct tools_held {
	FILE		*f;		/* NULL once closed */
	char		*buf;
	size_t		 len;
	struct tools_held_log {
		size_t	 at;		/* in buf */
		char	*line;
		size_t	 len;
	}		*logs;
	size_t		 nlogs;
};

/* log_capture()'s sink while a site's lines are held. */
static void
tools_held_log(void *arg, const char *line, size_t len)
{
	struct tools_held *h = arg;
	struct tools_held_log *v;

	if (h->f != NULL)
		fflush(h->f);
	if ((v = reallocarray(h->logs, h->nlogs + 1, sizeof(*v))) == NULL ||
	    (v[h->nlogs].line = malloc(len)) == NULL) {
		if (v != NULL)
			h->logs = v;
		/* No memory to hold it: it goes out now, out of order. */
		if (write(STDERR_FILENO, line, len) < 0) {
			/* Nothing useful can be done if stderr is gone. */
		}
		return;
	}
	h->logs = v;
	memcpy(v[h->nlogs].line, line, len);
	v[h->nlogs].len = len;
	v[h->nlogs++].at = h->len;
}

static void
tools_held_free(struct tools_held *h)
{
	size_t i;

	if (h == NULL)
		return;
	if (h->f != NULL)
		fclose(h->f);
	for (i = 0; i < h->nlogs; i++)
		free(h->logs[i].line);
	free(h->logs);
	free(h->buf);
	free(h);
}

/* A site's turn has come: its lines, then gone (selftest_call_fn). */
static void
tools_held_out(void *arg)
{
	struct tools_held *h = arg;
	size_t i, at = 0;

	if (h->f != NULL) {
		fclose(h->f);
		h->f = NULL;
	}
	for (i = 0; i < h->nlogs; i++) {
		fwrite(h->buf + at, 1, h->logs[i].at - at, stdout);
		fflush(stdout);
		if (write(STDERR_FILENO, h->logs[i].line, h->logs[i].len) < 0) {
			/* Nothing useful can be done if stderr is gone. */
		}
		at = h->logs[i].at;
	}
	fwrite(h->buf + at, 1, h->len - at, stdout);
	fflush(stdout);
	tools_held_free(h);
}

int
tools_configtest(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument, NULL, 'c' },
		{ "no-selftest", no_argument,	   NULL, 'n' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct config_site *site;
	struct ticketkeys *tk;
	char line[1024];
	const struct chain *legacy;
	struct chain_pools *pools = NULL;
	struct chain_spec spec;
	struct selftest *st;
	struct tools_held *h;
	struct config *cfg;
	struct chain *c, **chains;
	const char *path = NULL;
	size_t i, b;
	int ch, errors = 0, problems = 0, selftest = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'n': selftest = 0; break;
		case 'h':
			fputs(tools_configtest_usage, stdout);
			return 0;
		default:
			fputs(tools_configtest_usage, stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		fputs(tools_configtest_usage, stderr);
		return 2;
	}

	if ((cfg = config_load(path)) == NULL) {
		fprintf(stderr, "%s: configuration has errors\n", path);
		return 1;
	}
	log_setlevel(cfg->log_level);
	if (cfg->ticket_keys != NULL) {
		if ((tk = ticketkeys_load(cfg->ticket_keys,
		    cfg->ticket_keys_staged)) == NULL)
			errors++;
		else
			printf("session tickets: %s\n", ticketkeys_describe(tk,
			    cfg->ticket_keys, line, sizeof(line)));
		ticketkeys_unref(tk);
	}
	/* A backend, or an AIA server, that resets the connection must not
	 * kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* As the daemon does: the public intermediates loaded once. */
	if ((pools = chain_pools_new()) == NULL) {
		log_errx("out of memory");
		config_free(cfg);
		return 1;
	}
	/*
	 * The self-tests of every site run side by side (selftest.h); each
	 * site's own lines are held until the self-tests of the sites before
	 * it are out, so the output reads as it did one site after the other.
	 */
	if ((st = selftest_new(-1, 1, tools_selftest_line, NULL)) == NULL ||
	    (chains = calloc(cfg->nsites ? cfg->nsites : 1,
	    sizeof(*chains))) == NULL) {
		log_errx("out of memory");
		selftest_free(st);
		chain_pools_free(pools);
		config_free(cfg);
		return 1;
	}
	for (i = 0; i < cfg->nsites; i++) {
		site = cfg->sites[i];
		generation_site_spec(site, &spec);
		spec.pools = pools;
		if ((h = calloc(1, sizeof(*h))) == NULL ||
		    (h->f = open_memstream(&h->buf, &h->len)) == NULL) {
			log_errx("out of memory");
			tools_held_free(h);
			errors++;
			break;
		}
		log_capture(tools_held_log, h);
		fprintf(h->f, "site %s: listen %s, backend", site->name,
		    site->listen.text);
		for (b = 0; b < site->nbackends; b++)
			fprintf(h->f, "%s%s", b ? ", " : " ",
			    site->backends[b].text);
		fprintf(h->f, "\n");
		if (site->mode == CONFIG_MODE_PASSTHROUGH) {
			/* No certificate here: the backend's goes through. */
			fprintf(h->f, "  passthrough for");
			for (b = 0; b < site->nnames; b++)
				fprintf(h->f, "%s%s", b ? ", " : " ",
				    site->names[b]);
			fprintf(h->f, "\n");
		} else if ((c = chains[i] = chain_build(&spec)) == NULL) {
			fprintf(h->f, "  chain: cannot be built (see errors)\n");
			errors++;
		} else {
			tools_print_chain(h->f, c, "  ");
			if ((legacy = chain_legacy(c)) != NULL) {
				fprintf(h->f, "  legacy chain (clients without "
				    "TLS 1.3), to legacy_roots %s:\n",
				    site->legacy_roots);
				tools_print_chain(h->f, legacy, "  ");
			}
			fflush(h->f);
			chain_diagnose(c, site->name,
			    cfg->expiry_warning_days, 0);
		}
		if (selftest_add_call(st, tools_held_out, h) == -1) {
			log_capture(NULL, NULL);
			tools_held_free(h);
			errors++;
			break;
		}
		/* A backend that will fail is an error too. */
		if (selftest && (site->mode == CONFIG_MODE_PASSTHROUGH ||
		    chains[i] != NULL) && selftest_add(st, site, NULL,
		    chains[i]) == -1)
			errors++;
		log_capture(NULL, NULL);
		selftest_flush(st);
	}
	problems = selftest_wait(st);
	selftest_free(st);
	fflush(stdout);
	for (i = 0; i < cfg->nsites; i++)
		chain_free(chains[i]);
	free(chains);
	chain_pools_free(pools);
	config_free(cfg);
	if (problems > 0)
		fprintf(stderr, "%s: %d backend%s will fail (each with its "
		    "\"fix:\" above)\n", path, problems,
		    problems == 1 ? "" : "s");
	if (errors > 0 || problems > 0) {
		fprintf(stderr, "%s: configuration has errors\n", path);
		return 1;
	}
	printf("configuration OK\n");
	return 0;
}
