/*
 * check_reach.c: `chainfix check`, on which trust stores the chain as sent
 * verifies (check_int.h): the roots it was checked against and the Android
 * stores chainfix ships (reach.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "check_int.h"
#include "reach.h"

void
check_reach_run(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots)
{
	X509 *sent[CHECK_MAX_CERTS];
	struct reach *rs;
	char devices[128];
	size_t i;

	if (r->ncerts == 0 || (rs = reach_new(roots)) == NULL)
		return;
	for (i = 0; i < r->ncerts; i++)
		sent[i] = r->certs[i].x;
	(void)reach_check(rs, sent, r->ncerts, &r->reach);
	reach_free(rs);
	r->reach_done = 1;
	/* A private root is on no frozen store: nothing to warn about. */
	if (strcmp(o->roots, "system") == 0 &&
	    reach_no_android(&r->reach, devices, sizeof(devices)))
		check_analyze_problem(r, P_NO_ANDROID, "the chain as sent "
		    "verifies on none of %s: those devices reject it (their "
		    "root stores are frozen; chainfix's legacy_roots = android "
		    "serves them a chain they verify, where one exists)",
		    devices);
}
