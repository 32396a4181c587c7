/*
 * corpus.c: the public intermediates and `chainfix intermediates`
 * (corpus.h).
 *
 * A downloaded corpus is read by looking for PEM certificate blocks, in the
 * whole text (a PEM bundle) or field by field (a CSV report), each block on
 * its own: one damaged block is counted and skipped, not fatal.  Only CA
 * certificates that are not self-signed are kept; a corpus with none is an
 * error, and the file in place is then left alone.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certload.h"
#include "corpus.h"
#include "datadir.h"
#include "fetch.h"
#include "file.h"
#include "log.h"
#include "writefile.h"

#define CORPUS_MAX_DOWNLOAD	(64 * 1024 * 1024)
#define CORPUS_TIMEOUT		60
#define CORPUS_PEM_BEGIN	"-----BEGIN CERTIFICATE-----"
#define CORPUS_PEM_END		"-----END CERTIFICATE-----"

static const char corpus_usage[] =
"usage: chainfix intermediates update [--from URL|FILE] [--out FILE]\n"
"                                     [--ca FILE] [--timeout SECONDS]\n"
"       chainfix intermediates status\n"
"\n"
"The public intermediates are the last place chainfix looks for a missing\n"
"issuer (public_intermediates = yes), after the certificate file and the\n"
"intermediates directory.  chainfix ships a copy (cfssl_trust's\n"
"int-bundle.crt); `update` fetches a newer one and writes it to the state\n"
"directory, where it takes precedence from the next start or reload.\n"
"\n"
"  --from URL|FILE  a PEM bundle (cfssl_trust style) or Mozilla's CSV report\n"
"                   of intermediates with PEM, over HTTPS, or a local file;\n"
"                   default " CORPUS_DEFAULT_URL "\n"
"                   Mozilla: " CORPUS_CCADB_URL "\n"
"  --out FILE       where to write it (default: the state directory's\n"
"                   " CORPUS_FILE ")\n"
"  --ca FILE        trust these CA certificates for the HTTPS server instead\n"
"                   of the system store (a TLS-inspecting proxy's CA)\n"
"  --timeout SECS   for the whole download (default 60)\n"
"\n"
"Only CA certificates that are not roots are kept; nothing is written if\n"
"none is found.  `status` says which file public_intermediates = yes uses\n"
"and what it holds.  Exit 0 ok, 1 failure, 2 usage.\n";

const char *
corpus_file(const char *spec, char *buf, size_t len)
{
	struct stat st;

	if (spec == NULL || strcmp(spec, "no") == 0)
		return NULL;
	if (strcmp(spec, "yes") != 0)
		return spec;
	if (datadir_path(datadir_state(), CORPUS_FILE, buf, len) != NULL &&
	    stat(buf, &st) == 0)
		return buf;
	if (datadir_path(datadir_data(), CORPUS_FILE, buf, len) == NULL)
		return NULL;
	return buf;
}

/* Sort one decoded certificate into set or a count. */
static int
corpus_keep(X509 *x, const char *source, struct certload_set *set,
    struct corpus_stats *st)
{
	int r;

	st->found++;
	if (X509_check_ca(x) == 0) {
		st->not_ca++;
		return 0;
	}
	if (X509_self_signed(x, 0) == 1) {
		st->self_signed++;
		return 0;
	}
	ERR_clear_error();
	if ((r = certload_set_add(set, x, source)) < 0)
		return -1;
	if (r == 0) {
		st->duplicates++;
		return 0;
	}
	st->kept++;
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		st->expired++;
	return 0;
}

int
corpus_load(const char *spec, struct certload_set *set, char *file,
    size_t filelen)
{
	struct certload_set *all;
	struct corpus_stats st;
	char buf[4096];
	const char *path;
	struct stat sb;
	size_t before = certload_set_count(set), i;

	if (file != NULL && filelen > 0)
		file[0] = '\0';
	if ((path = corpus_file(spec, buf, sizeof(buf))) == NULL) {
		if (spec != NULL && strcmp(spec, "yes") == 0)
			log_warnx("public intermediates: the data directory "
			    "path is too long");
		return 0;
	}
	if (file != NULL)
		snprintf(file, filelen, "%s", path);
	if (strcmp(spec, "yes") == 0 && stat(path, &sb) == -1) {
		log_warnx("public intermediates: %s: %s (set "
		    "CHAINFIX_DATADIR, or public_intermediates = no)", path,
		    strerror(errno));
		return 0;
	}
	if ((all = certload_set_new()) == NULL) {
		log_warnx("public intermediates: out of memory");
		return -1;
	}
	if (certload_file(path, NULL, all, NULL) == -1) {
		certload_set_free(all);
		return -1;
	}
	/* Intermediates only, by the update's rule: a root here would end
	 * paths at a certificate no one chose to trust. */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < certload_set_count(all); i++)
		if (corpus_keep(certload_set_cert(all, i),
		    certload_set_source(all, i), set, &st) == -1) {
			certload_set_free(all);
			log_warnx("public intermediates: out of memory");
			return -1;
		}
	certload_set_free(all);
	return (int)(certload_set_count(set) - before);
}

/* Every PEM certificate block in text[0..len): 0, or -1 out of memory. */
static int
corpus_scan(const char *text, size_t len, const char *source,
    struct certload_set *set, struct corpus_stats *st)
{
	const char *p = text, *end = text + len, *b, *e;
	struct certload_set *one;
	char why[128];
	size_t i;
	int r;

	while ((b = memmem(p, (size_t)(end - p), CORPUS_PEM_BEGIN,
	    sizeof(CORPUS_PEM_BEGIN) - 1)) != NULL) {
		e = memmem(b, (size_t)(end - b), CORPUS_PEM_END,
		    sizeof(CORPUS_PEM_END) - 1);
		if (e == NULL) {
			st->bad++;
			break;
		}
		e += sizeof(CORPUS_PEM_END) - 1;
		if ((one = certload_set_new()) == NULL)
			return -1;
		/* One block at a time: a damaged one costs only itself. */
		if (certload_mem((const unsigned char *)b, (size_t)(e - b),
		    source, one, why, sizeof(why)) <= 0)
			st->bad++;
		for (i = 0, r = 0; i < certload_set_count(one) && r == 0; i++)
			r = corpus_keep(certload_set_cert(one, i), source, set,
			    st);
		certload_set_free(one);
		if (r == -1)
			return -1;
		p = e;
	}
	ERR_clear_error();
	return 0;
}

/*
 * A CSV report (RFC 4180: quoted fields may hold commas, newlines and
 * doubled quotes): each field is scanned for PEM blocks.  A PEM block holds
 * no quote, so the raw text between the quotes will do.
 */
static int
corpus_csv(const char *text, size_t len, const char *source,
    struct certload_set *set, struct corpus_stats *st, char *why,
    size_t whylen)
{
	size_t i = 0, start, line = 1, qline;

	while (i < len) {
		if (text[i] == '"') {
			qline = line;
			start = ++i;
			for (;;) {
				if (i >= len) {
					snprintf(why, whylen, "line %zu: a "
					    "quoted field does not end", qline);
					return -1;
				}
				if (text[i] == '\n')
					line++;
				if (text[i] == '"') {
					if (i + 1 < len && text[i + 1] == '"') {
						i += 2;
						continue;
					}
					break;
				}
				i++;
			}
			if (corpus_scan(text + start, i - start, source, set,
			    st) == -1)
				goto oom;
			i++;		/* the closing quote */
			if (i < len && text[i] != ',' && text[i] != '\n' &&
			    text[i] != '\r') {
				snprintf(why, whylen, "line %zu: text after a "
				    "closing quote", line);
				return -1;
			}
		} else {
			start = i;
			while (i < len && text[i] != ',' && text[i] != '\n')
				i++;
			if (corpus_scan(text + start, i - start, source, set,
			    st) == -1)
				goto oom;
		}
		if (i < len && text[i] == '\r')
			i++;
		if (i < len && text[i] == '\n')
			line++;
		i++;			/* ',' or '\n' */
	}
	return 0;
oom:
	snprintf(why, whylen, "out of memory");
	return -1;
}

/* The first line that is not blank: does it look like a CSV header? */
static int
corpus_is_csv(const char *text, size_t len)
{
	const char *nl;
	size_t i = 0, n;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		i = 3;			/* a UTF-8 byte order mark */
	while (i < len && (text[i] == ' ' || text[i] == '\t' ||
	    text[i] == '\r' || text[i] == '\n'))
		i++;
	if (i >= len || text[i] == '#' || text[i] == '-')
		return 0;
	/* buf is not NUL-terminated: memchr, never strcspn. */
	nl = memchr(text + i, '\n', len - i);
	n = nl != NULL ? (size_t)(nl - (text + i)) : len - i;
	return memchr(text + i, ',', n) != NULL;
}

int
corpus_parse(const unsigned char *buf, size_t len, const char *source,
    struct certload_set *set, struct corpus_stats *st, char *why,
    size_t whylen)
{
	const char *text = (const char *)buf;
	int csv;

	memset(st, 0, sizeof(*st));
	why[0] = '\0';
	csv = corpus_is_csv(text, len);
	if (csv) {
		if (corpus_csv(text, len, source, set, st, why, whylen) == -1)
			return -1;
	} else if (corpus_scan(text, len, source, set, st) == -1) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (st->found == 0) {
		snprintf(why, whylen, "no certificate in it%s%s", csv ?
		    " (a CSV report must hold PEM; Mozilla's is " : "",
		    csv ? CORPUS_CCADB_URL ")" : "");
		return -1;
	}
	return (int)st->kept;
}

/* How many of a's certificates are not in b. */
static size_t
corpus_missing_from(const struct certload_set *a,
    const struct certload_set *b)
{
	size_t i, j, n = 0;

	for (i = 0; i < certload_set_count(a); i++) {
		for (j = 0; j < certload_set_count(b); j++)
			if (X509_cmp(certload_set_cert(a, i),
			    certload_set_cert(b, j)) == 0)
				break;
		if (j == certload_set_count(b))
			n++;
	}
	return n;
}

/* The new corpus as PEM, with where and when it came from on top. */
static BIO *
corpus_render(const struct certload_set *set, const char *from)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	BIO *b;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	if (BIO_printf(b, "# chainfix public intermediates\n"
	    "# source: %s\n# fetched: %s\n# certificates: %zu\n", from, when,
	    certload_set_count(set)) <= 0)
		goto err;
	for (i = 0; i < certload_set_count(set); i++)
		if (!PEM_write_bio_X509(b, certload_set_cert(set, i)))
			goto err;
	return b;
err:
	BIO_free(b);
	return NULL;
}

static int
corpus_is_url(const char *s)
{
	return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

/* Read a local corpus file (an offline update); NULL and logged. */
static unsigned char *
corpus_read_local(const char *path, size_t *len)
{
	unsigned char *buf = NULL;
	char why[256];
	struct stat st;
	FILE *f;

	if ((f = file_fopen(path, &st, why, sizeof(why))) == NULL) {
		log_errx("%s: %s", path, why);
		return NULL;
	}
	if (st.st_size > CORPUS_MAX_DOWNLOAD) {
		log_errx("%s: larger than %d bytes", path,
		    CORPUS_MAX_DOWNLOAD);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		log_errx("%s: out of memory", path);
		goto out;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		log_err("%s: read", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[*len] = '\0';
out:
	fclose(f);
	return buf;
}

static int
corpus_update(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from",	required_argument, NULL, 'f' },
		{ "out",	required_argument, NULL, 'o' },
		{ "ca",		required_argument, NULL, 'c' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct fetch_opts fo;
	struct corpus_stats st;
	struct certload_set *fresh = NULL, *old = NULL;
	const char *from = CORPUS_DEFAULT_URL, *out = NULL, *oldpath;
	char outbuf[4096], oldbuf[4096], why[512], *data, *end;
	unsigned char *body = NULL;
	unsigned long v;
	size_t len = 0;
	BIO *pem = NULL;
	long plen;
	int ch, rc = 1;

	memset(&fo, 0, sizeof(fo));
	fo.timeout = CORPUS_TIMEOUT;
	fo.max_size = CORPUS_MAX_DOWNLOAD;
	fo.max_redirects = 5;
	fo.https_only = 1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': from = optarg; break;
		case 'o': out = optarg; break;
		case 'c': fo.ca_file = optarg; break;
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || v == 0 || v > 3600) {
				log_errx("--timeout: '%s' is not a number of "
				    "seconds (1 to 3600)", optarg);
				return 2;
			}
			fo.timeout = (unsigned)v;
			break;
		case 'h':
			fputs(corpus_usage, stdout);
			return 0;
		default:
			fputs(corpus_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		log_errx("intermediates update: unexpected argument '%s'",
		    argv[optind]);
		fputs(corpus_usage, stderr);
		return 2;
	}
	if (out == NULL) {
		if (datadir_path(datadir_state(), CORPUS_FILE, outbuf,
		    sizeof(outbuf)) == NULL) {
			log_errx("the state directory path is too long");
			return 1;
		}
		out = outbuf;
		/* The state directory is ours to create (its parent, e.g.
		 * /var/lib, must exist). */
		if (mkdir(datadir_state(), 0755) == -1 && errno != EEXIST) {
			log_err("cannot create %s", datadir_state());
			return 1;
		}
	}

	if (corpus_is_url(from)) {
		/* A peer that resets the download must not kill us. */
		signal(SIGPIPE, SIG_IGN);
		if (fetch_get(from, &fo, &body, &len, why, sizeof(why)) ==
		    -1) {
			log_errx("cannot fetch the public intermediates: %s",
			    why);
			goto out;
		}
		printf("fetched %s (%zu bytes)\n", from, len);
	} else if ((body = corpus_read_local(from, &len)) == NULL)
		goto out;

	if ((fresh = certload_set_new()) == NULL ||
	    (old = certload_set_new()) == NULL) {
		log_errx("out of memory");
		goto out;
	}
	if (corpus_parse(body, len, out, fresh, &st, why, sizeof(why)) ==
	    -1) {
		log_errx("%s: %s; nothing written", from, why);
		goto out;
	}
	printf("public intermediates: %zu certificates (%zu expired)\n",
	    st.kept, st.expired);
	if (st.not_ca + st.self_signed + st.bad + st.duplicates > 0)
		printf("skipped: %zu not a CA, %zu self-signed (roots), %zu "
		    "unreadable, %zu duplicates\n", st.not_ca, st.self_signed,
		    st.bad, st.duplicates);
	if (st.kept == 0) {
		log_errx("%s: no intermediate CA certificate in it; nothing "
		    "written", from);
		goto out;
	}

	/* What changes: the file replaced, or what `public_intermediates =
	 * yes` used until now. */
	oldpath = access(out, R_OK) == 0 ? out : out == outbuf ?
	    corpus_file("yes", oldbuf, sizeof(oldbuf)) : NULL;
	if (oldpath != NULL && access(oldpath, R_OK) == 0 &&
	    certload_file(oldpath, NULL, old, NULL) >= 0) {
		printf("before: %zu in %s; %zu added, %zu gone\n",
		    certload_set_count(old), oldpath,
		    corpus_missing_from(fresh, old),
		    corpus_missing_from(old, fresh));
		/* Written all the same (it was asked for), but a source
		 * that lost most of its content deserves a look. */
		if (st.kept < certload_set_count(old) / 2)
			log_warnx("the new corpus holds %zu certificates, "
			    "the one it replaces %zu: is %s the source you "
			    "meant?", st.kept, certload_set_count(old), from);
	}

	if ((pem = corpus_render(fresh, from)) == NULL ||
	    (plen = BIO_get_mem_data(pem, &data)) <= 0) {
		log_ssl(LOG_LEVEL_ERR, "%s: cannot write the corpus", out);
		goto out;
	}
	if (writefile_atomic(out, data, (size_t)plen, 0644) == -1)
		goto out;
	printf("wrote %s%s\n", out, out == outbuf ? "; public_intermediates "
	    "= yes uses it from the next start or reload" : "");
	rc = 0;
out:
	BIO_free(pem);
	certload_set_free(fresh);
	certload_set_free(old);
	free(body);
	return rc;
}

static int
corpus_status(int argc, char **argv)
{
	struct certload_set *all = NULL, *kept = NULL;
	struct corpus_stats st;
	char buf[4096], state[4096];
	const char *path;
	size_t i;
	int rc = 1;

	(void)argv;
	if (argc != 1) {
		fputs(corpus_usage, stderr);
		return 2;
	}
	path = corpus_file("yes", buf, sizeof(buf));
	if (datadir_path(datadir_state(), CORPUS_FILE, state,
	    sizeof(state)) == NULL || path == NULL) {
		log_errx("the data or state directory path is too long");
		return 1;
	}
	printf("public_intermediates = yes uses %s (%s)\n", path,
	    strcmp(path, state) == 0 ? "updated by `chainfix intermediates "
	    "update`" : "shipped with chainfix");
	if ((all = certload_set_new()) == NULL ||
	    (kept = certload_set_new()) == NULL)
		goto out;
	if (certload_file(path, NULL, all, NULL) == -1)
		goto out;
	/* What corpus_load() keeps, and why the rest is left out. */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < certload_set_count(all); i++)
		if (corpus_keep(certload_set_cert(all, i), path, kept,
		    &st) == -1)
			goto out;
	printf("  %zu certificates: %zu intermediates used (%zu of them "
	    "expired)", certload_set_count(all), st.kept, st.expired);
	if (st.self_signed + st.not_ca > 0)
		printf(", %zu left out (%zu self-signed roots, %zu not a CA)",
		    st.self_signed + st.not_ca, st.self_signed, st.not_ca);
	printf("\n");
	if (strcmp(path, state) != 0)
		printf("  an update would go to %s\n", state);
	rc = 0;
out:
	certload_set_free(all);
	certload_set_free(kept);
	return rc;
}

int
corpus_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(corpus_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "update") == 0)
		return corpus_update(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return corpus_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(corpus_usage, stdout);
		return 0;
	}
	log_errx("intermediates: unknown command '%s'", argv[1]);
	fputs(corpus_usage, stderr);
	return 2;
}
