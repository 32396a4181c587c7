/*
 * check_print.c: the report of `chainfix check` (check_int.h), for a
 * terminal and as the --json document check.h describes.  One function per
 * section of each; both only read the report.
 *
 * Every string the server chose is already escaped in the report (names by
 * certinfo_name(), HTTP text by check_activesync.c); the JSON writer still
 * escapes every byte outside printable ASCII, so the document is valid
 * JSON and plain ASCII whatever it holds.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "certinfo.h"
#include "check_int.h"
#include "json.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* JSON */

/* A JSON string (json_quote()); "null" also when out of memory. */
static void
check_print_json_str(FILE *f, const char *s)
{
	char *q = json_quote(s);

	fputs(q != NULL ? q : "null", f);
	free(q);
}

/* key (JSON text, the separator included), then the string v. */
static void
check_print_json_kv(FILE *f, const char *key, const char *v)
{
	fputs(key, f);
	check_print_json_str(f, v);
}

static const char *
check_print_bool(int v)
{
	return v > 0 ? "true" : v == 0 ? "false" : "null";
}

/* An empty string is JSON null. */
static const char *
check_print_opt(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

/* "target": {...} */
static void
check_print_json_target(FILE *f, const struct check_report *r,
    const struct check_opts *o)
{
	/* --chain without a HOST: no host, no port. */
	check_print_json_kv(f, "\"target\": {\"host\": ",
	    check_print_opt(o->host));
	fprintf(f, ", \"port\": %s, \"servername\": ",
	    o->port[0] != '\0' ? o->port : "null");
	check_print_json_str(f, o->sni);
	check_print_json_kv(f, ", \"checked_name\": ", o->checkname);
	check_print_json_kv(f, ", \"address\": ", check_print_opt(r->address));
	check_print_json_kv(f, ", \"roots\": ", o->roots);
	fprintf(f, ", \"roots_count\": %zu, \"chain_file\": ", r->nroots);
	check_print_json_str(f, o->chain_file);
	fputs("}", f);
}

/* "tls": {...} */
static void
check_print_json_tls(FILE *f, const struct check_report *r)
{
	check_print_json_kv(f, "\"tls\": {\"protocol\": ", r->protocol);
	check_print_json_kv(f, ", \"cipher\": ", r->cipher);
	fprintf(f, ", \"tls1_2\": %s, \"tls1_3\": %s}",
	    check_print_bool(r->tls12), check_print_bool(r->tls13));
}

/* One certificate of "sent". */
static void
check_print_json_cert(FILE *f, const struct check_cert *c, size_t i,
    time_t now)
{
	char d[32];

	fprintf(f, "{\"index\": %zu, \"role\": ", i);
	check_print_json_str(f, c->role);
	check_print_json_kv(f, ", \"subject\": ", c->subject);
	check_print_json_kv(f, ", \"issuer\": ", c->issuer);
	check_print_json_kv(f, ", \"key_type\": ", c->key_type);
	fprintf(f, ", \"key_bits\": %d, \"key_curve\": ", c->key_bits);
	check_print_json_str(f, check_print_opt(c->key_curve));
	check_print_json_kv(f, ", \"signature_algorithm\": ", c->sig_alg);
	check_print_json_kv(f, ", \"not_before\": ", certinfo_timestr(
	    c->not_before, CERTINFO_TIME_ISO8601, d, sizeof(d)));
	check_print_json_kv(f, ", \"not_after\": ", certinfo_timestr(
	    c->not_after, CERTINFO_TIME_ISO8601, d, sizeof(d)));
	fprintf(f, ", \"days_left\": %ld, \"sha256\": ",
	    certinfo_days_left(c->not_after, now));
	check_print_json_str(f, c->sha256);
	fprintf(f, ", \"der_size\": %zu, \"self_signed\": %s, "
	    "\"duplicate_of\": ", c->der_len, check_print_bool(c->self_signed));
	if (c->duplicate_of >= 0)
		fprintf(f, "%d}", c->duplicate_of);
	else
		fputs("null}", f);
}

/* "path": [...], the verifier's path. */
static void
check_print_json_path(FILE *f, const struct check_report *r)
{
	char name[CERTINFO_NAMELEN];
	X509 *x;
	int j, n, idx;

	fputs("\"path\": [", f);
	n = r->path != NULL ? sk_X509_num(r->path) : 0;
	for (j = 0; j < n; j++) {
		x = sk_X509_value(r->path, j);
		certinfo_name(X509_get_subject_name(x), name, sizeof(name));
		idx = check_analyze_sent_index(r, x);
		fprintf(f, "%s\n      {\"subject\": ", j ? "," : "");
		check_print_json_str(f, name);
		if (idx >= 0)
			fprintf(f, ", \"sent_index\": %d, ", idx);
		else
			fputs(", \"sent_index\": null, ", f);
		fprintf(f, "\"from_roots\": %s}", check_print_bool(idx < 0 ||
		    (j == n - 1 && r->path_trusted)));
	}
	fputs("\n    ]", f);
}

/* "missing_issuer": {...} or null */
static void
check_print_json_missing(FILE *f, const struct check_report *r)
{
	fputs("\"missing_issuer\": ", f);
	if (r->missing_subject[0] == '\0') {
		fputs("null", f);
		return;
	}
	check_print_json_kv(f, "{\"subject\": ", r->missing_subject);
	check_print_json_kv(f, ", \"issuer_of\": ", r->missing_of);
	check_print_json_kv(f, ", \"aia_url\": ",
	    check_print_opt(r->missing_aia));
	fputs("}", f);
}

/* "chain": {...} */
static void
check_print_json_chain(FILE *f, const struct check_report *r)
{
	time_t now = time(NULL);
	size_t i;

	fprintf(f, "\"chain\": {\n    \"count\": %zu,\n"
	    "    \"certificate_message_size\": %zu,\n"
	    "    \"initial_window\": %d,\n"
	    "    \"verified\": %s,\n    \"trusted\": %s,\n"
	    "    \"sent\": [", r->ncerts, r->msg_size, CERTINFO_INITIAL_WINDOW,
	    check_print_bool(r->verified), check_print_bool(r->verified &&
	    r->path_trusted));
	for (i = 0; i < r->ncerts; i++) {
		fputs(i ? ",\n      " : "\n      ", f);
		check_print_json_cert(f, &r->certs[i], i, now);
	}
	fputs("\n    ],\n    ", f);
	check_print_json_path(f, r);
	fputs(",\n    ", f);
	check_print_json_missing(f, r);
	fputs("\n  }", f);
}

/* "problems": [...], then "summary": {...} */
static void
check_print_json_problems(FILE *f, const struct check_report *r)
{
	const struct check_problem *p;
	size_t i, ncrit = 0, nwarn = 0;
	enum check_sev sev;

	fputs("\"problems\": [", f);
	for (i = 0; i < r->nproblems; i++) {
		p = &r->problems[i];
		sev = check_analyze_code_sev(p->code);
		if (sev == CHECK_SEV_CRIT)
			ncrit++;
		else
			nwarn++;
		fprintf(f, "%s\n    {\"code\": ", i ? "," : "");
		check_print_json_str(f, check_analyze_code_id(p->code));
		check_print_json_kv(f, ", \"severity\": ",
		    sev == CHECK_SEV_CRIT ? "critical" : "warning");
		check_print_json_kv(f, ", \"message\": ", p->msg);
		fputs("}", f);
	}
	fprintf(f, "%s],\n  \"summary\": {\"critical\": %zu, \"warnings\": "
	    "%zu}", r->nproblems ? "\n  " : "", ncrit, nwarn);
}

/* "fix": {...} or null */
static void
check_print_json_fix(FILE *f, const struct check_report *r,
    const struct check_opts *o)
{
	fputs("\"fix\": ", f);
	if (!r->fix_tried) {
		fputs("null", f);
		return;
	}
	check_print_json_kv(f, "{\"intermediates\": ", o->intermediates);
	check_print_json_kv(f, ", \"public_intermediates\": ",
	    o->public_intermediates);
	fprintf(f, ", \"complete\": %s, \"trusted\": %s, "
	    "\"already_sent\": %s, \"count\": %zu, \"error\": ",
	    check_print_bool(r->fix_ok), check_print_bool(r->fix_ok &&
	    r->fix_trusted), check_print_bool(r->fix_ok && r->fix_same),
	    r->fix_count);
	check_print_json_str(f, check_print_opt(r->fix_error));
	check_print_json_kv(f, ", \"bundle\": ", r->fix_ok ? r->fix_pem : NULL);
	fputs("}", f);
}

/* "reach": {"system": true, "android-2.2": false, ...} or null; a store
 * that could not be checked is null. */
static void
check_print_json_reach(FILE *f, const struct check_report *r)
{
	size_t s;

	fputs("\"reach\": ", f);
	if (!r->reach_done) {
		fputs("null", f);
		return;
	}
	for (s = 0; s < REACH_NSTORES; s++)
		fprintf(f, "%s\"%s\": %s", s == 0 ? "{" : ", ",
		    reach_store_name((enum reach_store)s),
		    check_print_bool(r->reach.verified[s]));
	fputs("}", f);
}

/* "activesync": {...} or null */
static void
check_print_json_activesync(FILE *f, const struct check_report *r)
{
	fputs("\"activesync\": ", f);
	if (!r->as_tried) {
		fputs("null", f);
		return;
	}
	fputs("{\"status\": ", f);
	if (r->as_status >= 0)
		fprintf(f, "%d", r->as_status);
	else
		fputs("null", f);
	check_print_json_kv(f, ", \"status_line\": ",
	    check_print_opt(r->as_status_line));
	check_print_json_kv(f, ", \"protocol_versions\": ",
	    check_print_opt(r->as_versions));
	check_print_json_kv(f, ", \"server_version\": ",
	    check_print_opt(r->as_server));
	check_print_json_kv(f, ", \"error\": ", check_print_opt(r->as_error));
	fputs("}", f);
}

void
check_print_json(FILE *f, const struct check_report *r,
    const struct check_opts *o, enum check_sev worst, int code)
{
	check_print_json_kv(f, "{\n  \"schema\": 1,\n  \"version\": ",
	    CHAINFIX_VERSION);
	fputs(",\n  ", f);
	check_print_json_target(f, r, o);
	check_print_json_kv(f, ",\n  \"verdict\": ", r->reachable ?
	    check_analyze_verdict(worst) : "UNREACHABLE");
	fprintf(f, ",\n  \"exit_code\": %d,\n  \"error\": ", code);
	check_print_json_str(f, check_print_opt(r->error));
	if (!r->reachable) {
		fputs(",\n  \"tls\": null,\n  \"chain\": null,\n"
		    "  \"reach\": null,\n  \"problems\": [],\n"
		    "  \"summary\": {\"critical\": 0, \"warnings\": 0},\n"
		    "  \"fix\": null,\n  \"activesync\": null\n}\n", f);
		return;
	}
	fputs(",\n  ", f);
	if (o->chain_file != NULL)
		fputs("\"tls\": null", f);	/* read from a file */
	else
		check_print_json_tls(f, r);
	fputs(",\n  ", f);
	check_print_json_chain(f, r);
	fputs(",\n  ", f);
	check_print_json_reach(f, r);
	fputs(",\n  ", f);
	check_print_json_problems(f, r);
	fputs(",\n  ", f);
	check_print_json_fix(f, r, o);
	fputs(",\n  ", f);
	check_print_json_activesync(f, r);
	fputs("\n}\n", f);
}

/* ------------------------------------------------------------------ */
/* For a terminal */

/* The verdict line: distinct problem titles, worst first. */
static void
check_print_verdict(FILE *f, const struct check_report *r,
    enum check_sev worst, const char *target)
{
	enum check_sev want;
	enum check_code c;
	size_t i, k, m;
	int first = 1, seen;

	fprintf(f, "%s %s: ", check_analyze_verdict(worst), target);
	for (k = 0; k < 2; k++) {
		want = k == 0 ? CHECK_SEV_CRIT : CHECK_SEV_WARN;
		for (i = 0; i < r->nproblems; i++) {
			c = r->problems[i].code;
			if (check_analyze_code_sev(c) != want)
				continue;
			for (m = 0, seen = 0; m < i; m++)
				if (r->problems[m].code == c)
					seen = 1;
			if (seen)
				continue;
			fprintf(f, "%s%s", first ? "" : "; ",
			    check_analyze_code_title(c));
			first = 0;
		}
	}
	if (first)
		fputs("the chain is complete and valid", f);
	fputs("\n\n", f);
}

static void
check_print_connection(FILE *f, const struct check_report *r,
    const struct check_opts *o)
{
	char esc[300];

	if (o->chain_file != NULL) {
		fprintf(f, "Read from %s, as if a server sent it (no "
		    "connection: protocols not checked)\n\n",
		    log_escape(o->chain_file, esc, sizeof(esc)));
		return;
	}
	fprintf(f, "Connected to %s", r->address);
	if (o->sni != NULL)
		fprintf(f, " (SNI %s)", o->sni);
	fprintf(f, ": %s, %s\n", r->protocol, r->cipher);
	fprintf(f, "TLS 1.2: %s   TLS 1.3: %s\n\n",
	    r->tls12 > 0 ? "yes" : r->tls12 == 0 ? "no" : "not tried",
	    r->tls13 > 0 ? "yes" : r->tls13 == 0 ? "no" : "not tried");
}

/* The SHA-256 as upper-case hex pairs separated by ':'. */
static void
check_print_fingerprint(FILE *f, const char *hex)
{
	size_t k;

	for (k = 0; hex[k] != '\0' && hex[k + 1] != '\0'; k += 2)
		fprintf(f, "%s%c%c", k ? ":" : "",
		    hex[k] >= 'a' ? hex[k] - 32 : hex[k],
		    hex[k + 1] >= 'a' ? hex[k + 1] - 32 : hex[k + 1]);
}

static void
check_print_cert(FILE *f, const struct check_cert *c, size_t i, time_t now)
{
	char d1[32], d2[32];

	fprintf(f, "  #%zu %s\n", i, c->role);
	fprintf(f, "     subject:   %s\n", c->subject);
	fprintf(f, "     issuer:    %s\n", c->issuer);
	fprintf(f, "     key:       %s %d bits%s%s, signed with %s\n",
	    c->key_type, c->key_bits, c->key_curve[0] ? " " : "",
	    c->key_curve, c->sig_alg);
	fprintf(f, "     valid:     %s to %s (%ld days left)\n",
	    certinfo_timestr(c->not_before, CERTINFO_TIME_ISO8601, d1,
	    sizeof(d1)),
	    certinfo_timestr(c->not_after, CERTINFO_TIME_ISO8601, d2,
	    sizeof(d2)),
	    certinfo_days_left(c->not_after, now));
	fputs("     sha256:    ", f);
	check_print_fingerprint(f, c->sha256);
	fprintf(f, "\n     size:      %zu bytes\n", c->der_len);
}

static void
check_print_sent(FILE *f, const struct check_report *r)
{
	time_t now = time(NULL);
	size_t i;

	fprintf(f, "Chain as sent: %zu certificate%s, %zu bytes in the "
	    "Certificate message (one TCP initial window is ~%d)\n",
	    r->ncerts, r->ncerts == 1 ? "" : "s", r->msg_size,
	    CERTINFO_INITIAL_WINDOW);
	for (i = 0; i < r->ncerts; i++)
		check_print_cert(f, &r->certs[i], i, now);
}

static void
check_print_path(FILE *f, const struct check_report *r,
    const struct check_opts *o)
{
	char name[CERTINFO_NAMELEN], roots[256];
	X509 *x;
	int j, n, idx;

	fprintf(f, "\nPath a strict client builds (roots: %s, %zu "
	    "certificate%s):\n", log_escape(o->roots, roots, sizeof(roots)),
	    r->nroots, r->nroots == 1 ? "" : "s");
	n = r->path != NULL ? sk_X509_num(r->path) : 0;
	for (j = 0; j < n; j++) {
		x = sk_X509_value(r->path, j);
		certinfo_name(X509_get_subject_name(x), name, sizeof(name));
		idx = check_analyze_sent_index(r, x);
		if (j == n - 1 && r->path_trusted)
			fprintf(f, "  %s (trusted root%s)\n", name, idx >= 0 ?
			    ", also sent" : "");
		else if (idx >= 0)
			fprintf(f, "  %s (sent as #%d)\n", name, idx);
		else
			fprintf(f, "  %s\n", name);
	}
	if (r->missing_subject[0] != '\0')
		fprintf(f, "  ?? missing: %s%s%s%s\n", r->missing_subject,
		    r->missing_aia[0] ? " (AIA: " : "",
		    r->missing_aia[0] ? r->missing_aia : "",
		    r->missing_aia[0] ? ")" : "");
	fprintf(f, "  => %s\n", r->verified ? "verifies" :
	    "does NOT verify");
}

/* One line per trust store: where the chain as sent verifies. */
static void
check_print_reach(FILE *f, const struct check_report *r,
    const struct check_opts *o)
{
	char line[512], title[300], esc[256];
	size_t s;

	if (!r->reach_done)
		return;
	snprintf(title, sizeof(title), "roots %s", log_escape(o->roots, esc,
	    sizeof(esc)));
	fputs("\nReach (where the chain as sent verifies):\n", f);
	for (s = 0; s < REACH_NSTORES; s++)
		fprintf(f, "  %s\n", reach_describe(&r->reach,
		    (enum reach_store)s, s == REACH_SYSTEM &&
		    strcmp(o->roots, "system") != 0 ? title : NULL, line,
		    sizeof(line)));
}

static void
check_print_problems(FILE *f, const struct check_report *r)
{
	enum check_code c;
	size_t i;

	fputs("\nProblems:\n", f);
	if (r->nproblems == 0)
		fputs("  none\n", f);
	for (i = 0; i < r->nproblems; i++) {
		c = r->problems[i].code;
		fprintf(f, "  %-8s %s: %s\n",
		    check_analyze_code_sev(c) == CHECK_SEV_CRIT ?
		    "CRITICAL" : "WARNING", check_analyze_code_id(c),
		    r->problems[i].msg);
	}
}

/* With --intermediates: what the directory makes of the chain. */
static void
check_print_fix(FILE *f, const struct check_report *r,
    const struct check_opts *o)
{
	char dir[256], roots[300], from[300];

	if (o->intermediates != NULL)
		snprintf(from, sizeof(from), "%s", log_escape(o->intermediates,
		    dir, sizeof(dir)));
	else
		snprintf(from, sizeof(from), "what the server sent");
	if (strcmp(o->public_intermediates, "no") != 0)
		snprintf(from + strlen(from), sizeof(from) - strlen(from),
		    " and the public intermediates");
	fprintf(f, "\nFix from %s:\n", from);
	if (!r->fix_ok)
		fprintf(f, "  they do not complete the chain: %s\n",
		    r->fix_error);
	else if (r->fix_same)
		fprintf(f, "  the server already sends the chain "
		    "chainfix would build (%zu certificate%s)\n",
		    r->fix_count, r->fix_count == 1 ? "" : "s");
	else {
		if (r->fix_lines != NULL)
			fputs(r->fix_lines, f);
		fprintf(f, "  serve these %zu certificates, leaf "
		    "first%s:\n", r->fix_count, r->fix_trusted ? "" :
		    " (NOTE: the chain does not end at a trusted "
		    "root)");
		fputs(r->fix_pem, f);
		fprintf(f, "  (`chainfix bundle --cert LEAF%s%s --roots %s` "
		    "writes the same bundle from the leaf's file, or let "
		    "chainfix serve it)\n", o->intermediates != NULL ?
		    " --intermediates " : "", o->intermediates != NULL ? dir :
		    "", log_escape(o->roots, roots, sizeof(roots)));
	}
}

/* Without --intermediates, for a chain a directory would fix: how. */
static void
check_print_fix_hint(FILE *f, const struct check_report *r,
    const struct check_opts *o, const char *target)
{
	char roots[300];
	int other = strcmp(o->roots, "system") != 0;

	if (!check_analyze_has(r, P_INCOMPLETE) &&
	    !check_analyze_has(r, P_ORDER) && !check_analyze_has(r, P_EXTRA) &&
	    !check_analyze_has(r, P_INT_EXPIRED) &&
	    !check_analyze_has(r, P_EXPIRED_CROSS))
		return;
	if (other)
		log_escape(o->roots, roots, sizeof(roots));
	fprintf(f, "\nFix: collect the intermediates in a directory%s%s%s, "
	    "then\n  chainfix check %s%s%s --intermediates DIR   "
	    "shows the bundle to serve,\n  chainfix bundle --cert "
	    "LEAF --intermediates DIR%s%s   writes it\n",
	    r->missing_aia[0] ? " (the missing one: " : "",
	    r->missing_aia, r->missing_aia[0] ? ")" : "", target,
	    other ? " --roots " : "", other ? roots : "",
	    other ? " --roots " : "", other ? roots : "");
}

static void
check_print_activesync(FILE *f, const struct check_report *r)
{
	fputs("\nActiveSync (OPTIONS /Microsoft-Server-ActiveSync):\n", f);
	if (r->as_status < 0) {
		fprintf(f, "  no answer: %s\n", r->as_error);
		return;
	}
	fprintf(f, "  %s\n", r->as_status_line);
	fprintf(f, "  MS-ASProtocolVersions: %s\n",
	    r->as_versions[0] ? r->as_versions : "(none)");
	if (r->as_server[0])
		fprintf(f, "  MS-Server-ActiveSync: %s\n", r->as_server);
	if (r->as_status == 401)
		fputs("  (401: authentication required, which is Exchange's "
		    "answer without credentials)\n", f);
}

void
check_print_human(FILE *f, const struct check_report *r,
    const struct check_opts *o, enum check_sev worst)
{
	char target[300];

	log_escape(o->target, target, sizeof(target));
	if (!r->reachable) {
		fprintf(f, "UNREACHABLE %s: %s\n", target, r->error);
		return;
	}
	check_print_verdict(f, r, worst, target);
	check_print_connection(f, r, o);
	check_print_sent(f, r);
	check_print_path(f, r, o);
	check_print_reach(f, r, o);
	check_print_problems(f, r);
	if (r->fix_tried)
		check_print_fix(f, r, o);
	else
		check_print_fix_hint(f, r, o, target);
	if (r->as_tried)
		check_print_activesync(f, r);
}
