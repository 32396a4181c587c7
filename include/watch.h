/*
 * watch.h: reload by itself when a file the configuration uses changes.
 *
 * The files: the configuration file, the ticket key file, and each site's
 * cert, key, password_file, backend_ca, roots (a file or a directory) and
 * intermediates directory (every entry in it).  A change is a new
 * (device, inode, size, mtime, ctime) of what the path leads to, following
 * symbolic links: an edit in place, a rename over the file, and the
 * atomic `..data` symlink swap Kubernetes uses to update a mounted Secret
 * or ConfigMap all count.  Changes are debounced (one check a second after
 * the last event, at most five seconds after the first), and the callback
 * runs only if something really differs from the state last loaded.
 */
#ifndef CHAINFIX_WATCH_H
#define CHAINFIX_WATCH_H

struct config;
struct event_base;
struct watch;

/* The callback: why names the first path that changed. */
typedef void (*watch_cb)(void *arg, const char *why);

#define WATCH_POLL_SECS		5	/* without inotify */

/*
 * watch_new(base, cb, arg, poll):
 * A watch on base's thread, with no files yet.  poll = 0 uses inotify (or,
 * where it is not available, a stat of every file each WATCH_POLL_SECS);
 * poll > 0 always checks every poll seconds.  Returns it, or NULL (logged).
 */
struct watch *watch_new(struct event_base *base, watch_cb cb, void *arg,
    unsigned poll);

/*
 * watch_begin(w):
 * A reload starts: remember the state of the files now, so that the next
 * watch_set() compares later changes with what this reload reads.  NULL
 * is a no-op.
 */
void watch_begin(struct watch *w);

/*
 * watch_set(w, cfg):
 * Watch the files of cfg (none if cfg->watch is off).  The state each file
 * was in at watch_begin() (or at the last check) is the baseline; a file
 * new to the list is taken as it is now.  One check follows, so a change
 * made while a reload ran is not lost.  Call after every reload, whether
 * it succeeded (cfg: the new configuration) or failed (the running one).
 * Returns 0, or -1 (logged; the files are then checked by polling).  NULL
 * is a no-op.
 */
int watch_set(struct watch *w, const struct config *cfg);

/* watch_checks(w): how many checks ran (for tests). */
unsigned watch_checks(const struct watch *w);

/* watch_free(w): stop watching; NULL is a no-op. */
void watch_free(struct watch *w);

#endif /* CHAINFIX_WATCH_H */
