/*
 * expiry.c: the expiry watch of the served certificates (expiry.h).
 *
 * Nothing is cached between checks: every check looks at the live
 * generation's chains with the time it is given, so what the logs say and
 * what /metrics says (admin.c calls chain_cert_validity() at scrape time)
 * cannot disagree for long, and a reload needs no bookkeeping here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "certinfo.h"
#include "chain.h"
#include "config.h"
#include "expiry.h"
#include "generation.h"
#include "log.h"

static int
expiry_invalid(enum chain_validity v)
{
	return v == CHAIN_EXPIRED || v == CHAIN_NOT_YET_VALID;
}

/* Served certificates of c, and of its legacy chain, that are not valid
 * at now. */
static size_t
expiry_count_invalid(const struct chain *c, time_t now)
{
	const struct chain_cert *cc;
	size_t i, n = 0;

	for (i = 0; i < chain_length(c); i++) {
		cc = chain_get(c, i);
		if (cc != NULL && cc->served &&
		    expiry_invalid(chain_cert_validity(cc, now, 0)))
			n++;
	}
	if (chain_legacy(c) != NULL)
		n += expiry_count_invalid(chain_legacy(c), now);
	return n;
}

/* Log each served certificate of c (site's; which: "" or "legacy chain:
 * ") that is expiring or invalid at now.  Returns how many are invalid. */
static size_t
expiry_check_chain(const char *site, const struct chain *c,
    const char *which, time_t now, unsigned warn)
{
	const struct chain_cert *cc;
	long days;
	char date[40];
	size_t d, invalid = 0;

	for (d = 0; d < chain_length(c); d++) {
		if ((cc = chain_get(c, d)) == NULL || !cc->served)
			continue;
		switch (chain_cert_validity(cc, now, warn)) {
		case CHAIN_VALID:
			break;
		case CHAIN_EXPIRING:
			days = certinfo_days_left(cc->not_after, now);
			if (days > 0)
				log_warnx("site %s: %scertificate depth %zu "
				    "\"%s\" expires in %ld day%s (%s)", site,
				    which, d, cc->subject, days,
				    days == 1 ? "" : "s",
				    certinfo_timestr(cc->not_after,
				    CERTINFO_TIME_DAY, date, sizeof(date)));
			else
				log_warnx("site %s: %scertificate depth %zu "
				    "\"%s\" expires in less than a day (%s)",
				    site, which, d, cc->subject,
				    certinfo_timestr(cc->not_after,
				    CERTINFO_TIME_UTC, date, sizeof(date)));
			break;
		case CHAIN_EXPIRED:
			invalid++;
			log_errx("site %s: %scertificate depth %zu \"%s\" has "
			    "expired (%s): strict clients reject the chain",
			    site, which, d, cc->subject,
			    certinfo_timestr(cc->not_after, CERTINFO_TIME_UTC,
			    date, sizeof(date)));
			break;
		case CHAIN_NOT_YET_VALID:
			invalid++;
			log_errx("site %s: %scertificate depth %zu \"%s\" is "
			    "not valid before %s: strict clients reject the "
			    "chain", site, which, d, cc->subject,
			    certinfo_timestr(cc->not_before, CERTINFO_TIME_UTC,
			    date, sizeof(date)));
			break;
		}
	}
	return invalid;
}

size_t
expiry_check(const struct generation *g, time_t now)
{
	const struct gen_site *gs;
	unsigned warn = g->cfg->expiry_warning_days;
	size_t i, invalid = 0;

	for (i = 0; i < g->nsites; i++) {
		gs = &g->sites[i];
		invalid += expiry_check_chain(gs->cfg->name, gs->chain, "",
		    now, warn);
		/* Old clients' chain is served too (chain_legacy()). */
		if (chain_legacy(gs->chain) != NULL)
			invalid += expiry_check_chain(gs->cfg->name,
			    chain_legacy(gs->chain), "legacy chain: ", now,
			    warn);
	}
	return invalid;
}

int
expiry_rebuild_helps(const struct generation *g, time_t now)
{
	const struct gen_site *gs;
	struct chain_spec spec;
	struct chain *c;
	size_t i, have, would;
	int helps = 0;

	for (i = 0; i < g->nsites; i++) {
		gs = &g->sites[i];
		if ((have = expiry_count_invalid(gs->chain, now)) == 0)
			continue;
		/*
		 * The same files the running chain came from, read again: a
		 * renewed intermediate copied into the directory since the
		 * last load is a candidate now, and the engine prefers a
		 * certificate that is valid now.
		 */
		generation_site_spec(gs->cfg, &spec);
		c = chain_build(&spec);
		would = c != NULL ? expiry_count_invalid(c, now) : have;
		chain_free(c);
		if (would < have) {
			log_info("site %s: a valid replacement for an expired "
			    "certificate is available: rebuilding the chains",
			    gs->cfg->name);
			helps = 1;
		} else
			log_warnx("site %s: no valid replacement for the "
			    "expired certificate%s in %s%s%s: still serving "
			    "the chain as it is", gs->cfg->name,
			    have == 1 ? "" : "s", gs->cfg->cert,
			    gs->cfg->intermediates != NULL ? " or " : "",
			    gs->cfg->intermediates != NULL ?
			    gs->cfg->intermediates : "");
	}
	return helps;
}

static const struct gen_site *
expiry_find_site(const struct generation *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->nsites; i++)
		if (strcmp(g->sites[i].cfg->name, name) == 0)
			return &g->sites[i];
	return NULL;
}

/*
 * What took the place of old certificate oc (depth d) in chain c: the
 * certificate with the same subject (a renewed twin), else the one at the
 * same depth (the path changed shape).
 */
static const struct chain_cert *
expiry_successor(const struct chain *c, const struct chain_cert *oc, size_t d)
{
	const struct chain_cert *cc;
	size_t i;

	for (i = 0; i < chain_length(c); i++) {
		cc = chain_get(c, i);
		if (cc != NULL && strcmp(cc->subject, oc->subject) == 0)
			return cc;
	}
	return d < chain_length(c) ? chain_get(c, d) : NULL;
}

size_t
expiry_log_replaced(const struct generation *old,
    const struct generation *cur, time_t now)
{
	const struct gen_site *os, *ns;
	const struct chain_cert *oc, *nc;
	char date[40];
	size_t i, d, n = 0;

	for (i = 0; i < cur->nsites; i++) {
		ns = &cur->sites[i];
		if ((os = expiry_find_site(old, ns->cfg->name)) == NULL)
			continue;
		for (d = 0; d < chain_length(os->chain); d++) {
			oc = chain_get(os->chain, d);
			if (oc == NULL || !oc->served ||
			    !expiry_invalid(chain_cert_validity(oc, now, 0)))
				continue;
			nc = expiry_successor(ns->chain, oc, d);
			if (nc == NULL || !nc->served ||
			    memcmp(nc->sha256, oc->sha256,
			    sizeof(oc->sha256)) == 0 ||
			    expiry_invalid(chain_cert_validity(nc, now, 0)))
				continue;
			log_info("site %s: %s %s \"%s\" replaced by \"%s\" "
			    "(notAfter %s, from %s) without a restart",
			    ns->cfg->name,
			    chain_validity_name(chain_cert_validity(oc, now,
			    0)),
			    d == 0 ? "certificate" : "intermediate",
			    oc->subject, nc->subject,
			    certinfo_timestr(nc->not_after, CERTINFO_TIME_UTC,
			    date, sizeof(date)),
			    nc->source != NULL ? nc->source : "-");
			n++;
		}
	}
	return n;
}
