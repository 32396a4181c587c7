/*
 * expiry.h: the expiry watch of the served certificates.
 *
 * The daemon checks every certificate it sends at startup, after each
 * reload and every expiry_check_interval: one inside expiry_warning_days
 * gives a warning, one expired (or not yet valid) an error.  When a periodic
 * check finds such a certificate, the site's chain is built again from the
 * same files on the side; if that chain would serve fewer invalid
 * certificates (a renewed intermediate has appeared in the directory), the
 * daemon reloads, which swaps in a new generation only if everything builds.
 * All of it runs on the main thread; nothing here keeps state.
 */
#ifndef CHAINFIX_EXPIRY_H
#define CHAINFIX_EXPIRY_H

#include <stddef.h>
#include <time.h>

struct generation;

/*
 * expiry_check(g, now):
 * Log each served certificate of every site of g that is expiring
 * (log_warnx, "site S: certificate depth D \"SUBJECT\" expires in N days
 * (DATE)"), expired or not yet valid (log_errx).  Returns how many served
 * certificates are not valid at now.
 */
size_t expiry_check(const struct generation *g, time_t now);

/*
 * expiry_rebuild_helps(g, now):
 * For each site of g serving a certificate that is not valid at now, build
 * its chain again from the same files (chain_build(), which logs its own
 * problems) and throw it away.  Returns 1 if some site would then serve
 * fewer invalid certificates, so that a reload is worth it; 0 otherwise,
 * after a warning per site that nothing better was found.
 */
int expiry_rebuild_helps(const struct generation *g, time_t now);

/*
 * expiry_log_replaced(old, cur, now):
 * After a reload from old to cur, log each certificate that was not valid
 * at now in old and is replaced by a valid one in the same site of cur
 * ("site S: expired intermediate \"A\" replaced by \"B\" (notAfter DATE)
 * without a restart").  Returns how many were.
 */
size_t expiry_log_replaced(const struct generation *old,
    const struct generation *cur, time_t now);

#endif /* CHAINFIX_EXPIRY_H */
