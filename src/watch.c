/*
 * watch.c: reload when the configuration's files change (watch.h).
 *
 * Why inotify on directories, and a stat signature on top:
 *  - inotify costs nothing while nothing changes and reacts at once; a
 *    stat of every file on a timer (the fallback) costs a few thousand
 *    system calls a minute with a large intermediates directory, and
 *    reacts only at the next tick.
 *  - The watches are on the directories that hold the files, not on the
 *    files: a rename over a file, and Kubernetes' `..data` symlink swap,
 *    replace a directory entry, and a watch on the old inode would never
 *    hear of the new one.  The directory a path really leads to (after
 *    symbolic links) is watched too, for a link that points elsewhere.
 *  - An event only says "look": the directories also hold other files
 *    (/etc/chainfix may hold anything), so after the quiet period each
 *    path's signature (device, inode, size, mtime, ctime of what it leads
 *    to; for a directory, of every entry) is compared with the one of the
 *    state last loaded.  Only a real difference reloads.
 * Where inotify cannot be had (no kernel support, the per-user limit of
 * instances or watches reached, a directory we may not watch), the same
 * comparison runs every WATCH_POLL_SECS.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "corpus.h"
#include "log.h"
#include "watch.h"

#define WATCH_QUIET_MS		1000	/* check this long after the last event */
#define WATCH_MAX_DELAY_SECS	5	/* but no later than this after the first */

/*
 * A file written in place counts once it is closed, not at every write
 * (IN_MODIFY): a file kept open and written on, such as a log next to the
 * configuration, would keep the watch busy (and a debug line about a check
 * written to that log would cause the next check).
 */
#define WATCH_EVENTS	(IN_CREATE | IN_DELETE | IN_MOVED_FROM |	\
	IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_ONLYDIR)

#define WATCH_FNV_OFFSET	0xcbf29ce484222325ULL
#define WATCH_FNV_PRIME		0x100000001b3ULL

struct watch_file {
	char		*path;
	int		 dir;		/* its entries count, not the path */
	uint64_t	 sig;		/* the state last loaded (or checked) */
	uint64_t	 snap;		/* at watch_begin() */
	int		 has_snap;
};

struct watch {
	struct event_base	*base;
	watch_cb		 cb;
	void			*arg;
	unsigned		 poll;		/* forced polling interval, or 0 */
	int			 fd;		/* inotify; -1 when polling */
	struct event		*ev;		/* on fd */
	struct event		*quiet;		/* debounce timer */
	struct event		*poller;	/* polling timer */
	time_t			 first;		/* first event of a burst, or 0 */
	struct watch_file	*files;
	size_t			 nfiles;
	unsigned		 checks;
};

static uint64_t
watch_fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= WATCH_FNV_PRIME;
	}
	return h;
}

#define WATCH_MIX(h, v) do {						\
	uint64_t watch_v_ = (uint64_t)(v);				\
	(h) = watch_fnv((h), &watch_v_, sizeof(watch_v_));		\
} while (0)

/* What path leads to now; a missing file is a state too. */
static uint64_t
watch_sig_file(const char *path)
{
	uint64_t h = WATCH_FNV_OFFSET;
	struct stat st;

	if (stat(path, &st) == -1) {
		WATCH_MIX(h, errno);
		return h;
	}
	WATCH_MIX(h, st.st_dev);
	WATCH_MIX(h, st.st_ino);
	WATCH_MIX(h, st.st_mode);
	WATCH_MIX(h, st.st_size);
	WATCH_MIX(h, st.st_mtim.tv_sec);
	WATCH_MIX(h, st.st_mtim.tv_nsec);
	WATCH_MIX(h, st.st_ctim.tv_sec);
	WATCH_MIX(h, st.st_ctim.tv_nsec);
	return h;
}

/* Every entry of a directory, in any order (a sum of per-entry hashes). */
static uint64_t
watch_sig_dir(const char *path)
{
	uint64_t h = WATCH_FNV_OFFSET, sum = 0, e;
	char sub[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(path)) == NULL) {
		WATCH_MIX(h, errno);
		return h;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
		    de->d_name) >= sizeof(sub))
			continue;
		e = watch_fnv(WATCH_FNV_OFFSET, de->d_name,
		    strlen(de->d_name));
		WATCH_MIX(e, watch_sig_file(sub));
		sum += e;
		n++;
	}
	closedir(d);
	WATCH_MIX(h, sum);
	WATCH_MIX(h, n);
	return h;
}

static uint64_t
watch_sig(const struct watch_file *f)
{
	return f->dir ? watch_sig_dir(f->path) : watch_sig_file(f->path);
}

static void
watch_files_free(struct watch_file *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* Compare every path with its baseline; reload if one differs. */
static void
watch_check(struct watch *w)
{
	char why[PATH_MAX + 64];
	const char *first = NULL;
	size_t i, n = 0;
	uint64_t now;

	w->checks++;
	for (i = 0; i < w->nfiles; i++) {
		now = watch_sig(&w->files[i]);
		if (now == w->files[i].sig)
			continue;
		if (first == NULL)
			first = w->files[i].path;
		w->files[i].sig = now;
		n++;
	}
	if (first == NULL) {
		log_debug("watch: %zu path%s checked, none changed", w->nfiles,
		    w->nfiles == 1 ? "" : "s");
		return;
	}
	if (n > 1)
		snprintf(why, sizeof(why), "%s (and %zu more)", first, n - 1);
	else
		snprintf(why, sizeof(why), "%s", first);
	/* The callback reloads, which replaces w->files: why is a copy. */
	w->cb(w->arg, why);
}

static void
watch_quiet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	(void)fd;
	(void)what;
	w->first = 0;
	watch_check(w);
}

static void
watch_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	watch_check(arg);
}

/* inotify says something happened in a watched directory: debounce. */
static void
watch_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	struct timeval tv = { 0, WATCH_QUIET_MS * 1000 };
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	struct timespec ts;

	(void)what;
	/* Which file it was does not matter: the check compares them all. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (w->first == 0)
		w->first = ts.tv_sec;
	/* A directory that never stops changing still gets its reload. */
	if (ts.tv_sec - w->first < WATCH_MAX_DELAY_SECS ||
	    !evtimer_pending(w->quiet, NULL))
		evtimer_add(w->quiet, &tv);
}

struct watch *
watch_new(struct event_base *base, watch_cb cb, void *arg, unsigned poll)
{
	struct watch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("watch_new");
		return NULL;
	}
	w->base = base;
	w->cb = cb;
	w->arg = arg;
	w->poll = poll;
	w->fd = -1;
	if ((w->quiet = evtimer_new(base, watch_quiet_cb, w)) == NULL ||
	    (w->poller = event_new(base, -1, EV_PERSIST, watch_poll_cb, w)) ==
	    NULL) {
		log_warnx("watch_new: cannot create its timers");
		watch_free(w);
		return NULL;
	}
	return w;
}

void
watch_begin(struct watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nfiles; i++) {
		w->files[i].snap = watch_sig(&w->files[i]);
		w->files[i].has_snap = 1;
	}
}

/* Add path to the list unless it is there; the baseline as documented. */
static int
watch_add(struct watch *w, struct watch_file **v, size_t *n, size_t *cap,
    const char *path, int dir)
{
	struct watch_file *f, *nv;
	size_t i;

	if (path == NULL)
		return 0;
	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].path, path) == 0 && (*v)[i].dir == dir)
			return 0;
	if (*n == *cap) {
		if ((nv = reallocarray(*v, *cap ? *cap * 2 : 16,
		    sizeof(*nv))) == NULL)
			return -1;
		*v = nv;
		*cap = *cap ? *cap * 2 : 16;
	}
	f = &(*v)[*n];
	memset(f, 0, sizeof(*f));
	if ((f->path = strdup(path)) == NULL)
		return -1;
	f->dir = dir;
	f->sig = watch_sig(f);
	for (i = 0; i < w->nfiles; i++) {
		if (strcmp(w->files[i].path, path) == 0 &&
		    w->files[i].dir == dir) {
			f->sig = w->files[i].has_snap ? w->files[i].snap :
			    w->files[i].sig;
			break;
		}
	}
	(*n)++;
	return 0;
}

/* roots is a word, a file or a directory. */
static int
watch_add_roots(struct watch *w, struct watch_file **v, size_t *n,
    size_t *cap, const char *roots)
{
	struct stat st;

	if (roots == NULL || strcmp(roots, "system") == 0 ||
	    strcmp(roots, "none") == 0)
		return 0;
	return watch_add(w, v, n, cap, roots, stat(roots, &st) == 0 &&
	    S_ISDIR(st.st_mode));
}

/*
 * The public intermediates a site uses (an update by `chainfix
 * intermediates update` then reloads like an edited file) and its
 * legacy_roots.  Not aia_cache: chainfix writes there itself.
 */
static int
watch_add_sources(struct watch *w, struct watch_file **v, size_t *n,
    size_t *cap, const struct config_site *s)
{
	char buf[4096];
	const char *corpus;

	if ((corpus = corpus_file(s->public_intermediates, buf,
	    sizeof(buf))) != NULL && watch_add(w, v, n, cap, corpus, 0) == -1)
		return -1;
	if (s->legacy_roots == NULL || strcmp(s->legacy_roots, "android") == 0)
		return 0;
	return watch_add_roots(w, v, n, cap, s->legacy_roots);
}

/* Watch the directory holding path.  Returns 0, or -1 with errno. */
static int
watch_inotify_dir(int fd, const char *path)
{
	char *copy;
	int rc = 0;

	if ((copy = strdup(path)) == NULL)
		return -1;
	if (inotify_add_watch(fd, dirname(copy), WATCH_EVENTS |
	    IN_DELETE_SELF | IN_MOVE_SELF) == -1 &&
	    errno != ENOENT)
		rc = -1;
	free(copy);
	return rc;
}

/* Watch what path needs: its directory, where it really is, and itself. */
static int
watch_inotify_file(int fd, const struct watch_file *f)
{
	char real[PATH_MAX];

	if (watch_inotify_dir(fd, f->path) == -1)
		return -1;
	if (realpath(f->path, real) != NULL && strcmp(real, f->path) != 0 &&
	    watch_inotify_dir(fd, real) == -1)
		return -1;
	if (f->dir && inotify_add_watch(fd, f->path, WATCH_EVENTS) == -1 &&
	    errno != ENOENT)
		return -1;
	return 0;
}

/* Stop every watch and timer (the file list stays). */
static void
watch_stop(struct watch *w)
{
	if (w->ev != NULL) {
		event_free(w->ev);
		w->ev = NULL;
	}
	if (w->fd != -1) {
		close(w->fd);
		w->fd = -1;
	}
	evtimer_del(w->quiet);
	event_del(w->poller);
	w->first = 0;
}

static int
watch_start_polling(struct watch *w, unsigned secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	if (event_add(w->poller, &tv) == -1) {
		log_warnx("watch: cannot schedule the file checks");
		return -1;
	}
	return 0;
}

static int
watch_start_inotify(struct watch *w)
{
	size_t i;

	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		goto fallback;
	for (i = 0; i < w->nfiles; i++)
		if (watch_inotify_file(w->fd, &w->files[i]) == -1)
			goto fallback;
	if ((w->ev = event_new(w->base, w->fd, EV_READ | EV_PERSIST,
	    watch_inotify_cb, w)) == NULL || event_add(w->ev, NULL) == -1) {
		log_warnx("watch: cannot watch the inotify descriptor");
		goto fallback1;
	}
	return 0;
 fallback:
	log_warn("watch: inotify unavailable, checking the files every %ds "
	    "instead", WATCH_POLL_SECS);
 fallback1:
	watch_stop(w);
	(void)watch_start_polling(w, WATCH_POLL_SECS);
	return -1;
}

int
watch_set(struct watch *w, const struct config *cfg)
{
	const struct config_site *s;
	struct watch_file *v = NULL;
	struct timeval now = { 0, 0 };
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if (w == NULL)
		return 0;
	watch_stop(w);
	if (cfg->watch) {
		if (watch_add(w, &v, &n, &cap, cfg->path, 0) == -1 ||
		    watch_add(w, &v, &n, &cap, cfg->ticket_keys, 0) == -1)
			goto nomem;
		for (i = 0; i < cfg->nsites; i++) {
			s = cfg->sites[i];
			if (watch_add(w, &v, &n, &cap, s->cert, 0) == -1 ||
			    watch_add(w, &v, &n, &cap, s->key, 0) == -1 ||
			    watch_add(w, &v, &n, &cap, s->password_file, 0) ==
			    -1 || watch_add(w, &v, &n, &cap, s->backend_ca,
			    0) == -1 || watch_add(w, &v, &n, &cap,
			    s->intermediates, 1) == -1 ||
			    watch_add_roots(w, &v, &n, &cap, s->roots) == -1 ||
			    watch_add_sources(w, &v, &n, &cap, s) == -1)
				goto nomem;
		}
	}
	watch_files_free(w->files, w->nfiles);
	w->files = v;
	w->nfiles = n;
	if (n == 0)
		return 0;
	if (w->poll > 0)
		rc = watch_start_polling(w, w->poll);
	else
		rc = watch_start_inotify(w);
	/* Anything that changed while the reload ran is seen now. */
	evtimer_add(w->quiet, &now);
	return rc;
 nomem:
	log_warn("watch: keeping the previous list of files");
	watch_files_free(v, n);
	for (i = 0; i < w->nfiles; i++)
		w->files[i].has_snap = 0;
	(void)watch_start_polling(w, WATCH_POLL_SECS);
	return -1;
}

unsigned
watch_checks(const struct watch *w)
{
	return w->checks;
}

void
watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	if (w->quiet != NULL && w->poller != NULL)
		watch_stop(w);
	if (w->quiet != NULL)
		event_free(w->quiet);
	if (w->poller != NULL)
		event_free(w->poller);
	watch_files_free(w->files, w->nfiles);
	free(w);
}
