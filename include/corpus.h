/*
 * corpus.h: the public intermediates, chainfix's last resort for a missing
 * issuer (`public_intermediates = yes|no|FILE`), and the command that keeps
 * them current (`chainfix intermediates update|status`).
 *
 * The corpus is a PEM bundle of intermediate CA certificates: the one
 * shipped in the data directory (cfssl_trust's int-bundle.crt, datadir.h),
 * or the one `chainfix intermediates update` wrote to the state directory,
 * which takes precedence, or any file the configuration names.  It holds
 * only candidates: every certificate taken from it passes the chain
 * engine's checks (signature, CA, the path verified by X509_verify_cert)
 * like any other.
 */
#ifndef CHAINFIX_CORPUS_H
#define CHAINFIX_CORPUS_H

#include <stddef.h>

#include "certload.h"

/* The corpus file's name in the data and state directories. */
#define CORPUS_FILE		"int-bundle.crt"

/* Where `chainfix intermediates update` fetches from by default. */
#define CORPUS_DEFAULT_URL	\
	"https://raw.githubusercontent.com/cloudflare/cfssl_trust/master/" \
	CORPUS_FILE
/* Mozilla's CCADB report of every public intermediate, with PEM. */
#define CORPUS_CCADB_URL	"https://ccadb.my.salesforce-sites.com/" \
	"mozilla/PublicAllIntermediateCertsWithPEMCSV"

/*
 * corpus_file(spec, buf, len):
 * The file `public_intermediates = spec` means: NULL for NULL or "no";
 * for "yes", the state directory's CORPUS_FILE when it exists, else the
 * data directory's (whether it exists or not); any other spec is the file.
 * Returns buf or spec (or NULL).
 */
const char *corpus_file(const char *spec, char *buf, size_t len);

/*
 * corpus_load(spec, set, file, filelen):
 * Add the intermediates of the corpus spec names to set (CA certificates
 * that are not self-signed, as the update keeps them), each remembered as
 * coming from the corpus file, whose name goes to file (may be NULL).
 * Returns the number added (0 for "no"), or -1 if the file cannot be read
 * (logged, naming it).  With "yes" a missing corpus is a warning, not an
 * error: 0.
 */
int corpus_load(const char *spec, struct certload_set *set, char *file,
    size_t filelen);

/* What corpus_parse() found. */
struct corpus_stats {
	size_t		 found;		/* certificates read */
	size_t		 kept;		/* intermediates added */
	size_t		 expired;	/* of those kept, expired now */
	size_t		 duplicates;	/* seen before, not added again */
	size_t		 not_ca;	/* skipped: not a CA certificate */
	size_t		 self_signed;	/* skipped: a root, not an intermediate */
	size_t		 bad;		/* skipped: PEM that did not decode */
};

/*
 * corpus_parse(buf, len, source, set, st, why, whylen):
 * Read the intermediates of a downloaded corpus: a PEM bundle (cfssl_trust's
 * int-bundle.crt) or a CSV report whose fields hold PEM certificates
 * (Mozilla's CCADB PublicAllIntermediateCertsWithPEMCSV); the format is told
 * from the content.  CA certificates that are not self-signed are added to
 * set (as coming from source); the rest is counted in *st.  Returns the
 * number kept, or -1 with a reason in why (malformed CSV, no certificate at
 * all); nothing is logged.
 */
int corpus_parse(const unsigned char *buf, size_t len, const char *source,
    struct certload_set *set, struct corpus_stats *st, char *why,
    size_t whylen);

/*
 * corpus_main(argc, argv):
 * argv[0] is "intermediates".  `update [--from URL|FILE] [--out FILE]
 * [--ca FILE] [--timeout SECONDS]` fetches and checks a new corpus and
 * writes it atomically (default: the state directory's CORPUS_FILE);
 * `status` prints which corpus `public_intermediates = yes` uses.
 * Returns the exit code: 0 ok, 1 failure, 2 usage.
 */
int corpus_main(int argc, char **argv);

#endif /* CHAINFIX_CORPUS_H */
