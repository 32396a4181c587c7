/*
 * test_watch.c: the file watch.  A change to a watched file or to an entry
 * of a watched directory calls back once, naming the path; a file changed
 * while a reload ran is not lost; a change the reload already read does
 * not call back again; watch = no watches nothing; polling (the fallback)
 * sees the same changes as inotify.
 */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "config.h"
#include "corpus.h"
#include "log.h"
#include "watch.h"

struct fixture {
	char			 dir[64];
	char			 conf[128], cert[128], ints[128];
	struct config		 cfg;
	struct config_site	 site, *sites[1];
	struct event_base	*base;
	int			 calls;
	char			 why[512];
};

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	struct fixture *fx;

	assert_non_null(fx = calloc(1, sizeof(*fx)));
	strcpy(fx->dir, "/tmp/test_watch.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->conf, sizeof(fx->conf), "%s/chainfix.conf", fx->dir);
	snprintf(fx->cert, sizeof(fx->cert), "%s/cert.pem", fx->dir);
	snprintf(fx->ints, sizeof(fx->ints), "%s/intermediates", fx->dir);
	write_file(fx->conf, "conf\n");
	write_file(fx->cert, "cert\n");
	assert_int_equal(mkdir(fx->ints, 0700), 0);
	fx->site.name = (char *)(uintptr_t)"s";
	fx->site.cert = fx->cert;
	fx->site.intermediates = fx->ints;
	fx->site.roots = (char *)(uintptr_t)"system";
	fx->sites[0] = &fx->site;
	fx->cfg.path = fx->conf;
	fx->cfg.watch = 1;
	fx->cfg.sites = fx->sites;
	fx->cfg.nsites = 1;
	assert_non_null(fx->base = event_base_new());
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	event_base_free(fx->base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	if (system(cmd) != 0)
		print_message("cannot remove %s\n", fx->dir);
	free(fx);
	return 0;
}

static void
changed(void *arg, const char *why)
{
	struct fixture *fx = arg;

	fx->calls++;
	snprintf(fx->why, sizeof(fx->why), "%s", why);
}

/*
 * Run the loop until the watch has made n checks in all.  The deadline
 * only keeps a broken watch from hanging the suite.
 */
static void
run_until_checks(struct fixture *fx, struct watch *w, unsigned n)
{
	struct timeval tick = { 0, 50 * 1000 };
	int i;

	for (i = 0; i < 1200 && watch_checks(w) < n; i++) {
		event_base_loopexit(fx->base, &tick);
		event_base_dispatch(fx->base);
	}
	if (watch_checks(w) < n)
		fail_msg("only %u of %u checks after 60 s", watch_checks(w), n);
}

static void
watch_changes(struct fixture *fx, unsigned poll)
{
	struct watch *w;
	char path[256];
	unsigned c;

	assert_non_null(w = watch_new(fx->base, changed, fx, poll));
	assert_int_equal(watch_set(w, &fx->cfg), 0);
	run_until_checks(fx, w, 1);	/* the check after every set */
	assert_int_equal(fx->calls, 0);

	/* A new file in the intermediates directory. */
	snprintf(path, sizeof(path), "%s/int.pem", fx->ints);
	write_file(path, "int\n");
	c = watch_checks(w);
	while (fx->calls == 0)
		run_until_checks(fx, w, ++c);
	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->why, fx->ints);

	/* The certificate replaced by a rename. */
	snprintf(path, sizeof(path), "%s/cert.new", fx->dir);
	write_file(path, "cert 2\n");
	assert_int_equal(rename(path, fx->cert), 0);
	c = watch_checks(w);
	while (fx->calls == 1)
		run_until_checks(fx, w, ++c);
	assert_string_equal(fx->why, fx->cert);

	/* Another file in a watched directory: checked, nothing to do. */
	snprintf(path, sizeof(path), "%s/unrelated.txt", fx->dir);
	write_file(path, "x\n");
	run_until_checks(fx, w, watch_checks(w) + 1);
	assert_int_equal(fx->calls, 2);
	watch_free(w);
}

static void
test_inotify(void **state)
{
	watch_changes(*state, 0);
}

static void
test_polling(void **state)
{
	watch_changes(*state, 1);
}

/* What a reload read is the new baseline; what changed during it is not. */
static void
test_reload_baseline(void **state)
{
	struct fixture *fx = *state;
	struct watch *w;

	assert_non_null(w = watch_new(fx->base, changed, fx, 0));
	assert_int_equal(watch_set(w, &fx->cfg), 0);
	run_until_checks(fx, w, 1);

	/* Changed before the reload started: the reload read it. */
	write_file(fx->conf, "conf 2\n");
	watch_begin(w);
	assert_int_equal(watch_set(w, &fx->cfg), 0);
	run_until_checks(fx, w, watch_checks(w) + 1);
	assert_int_equal(fx->calls, 0);

	/* Changed while the reload ran: noticed after it. */
	watch_begin(w);
	write_file(fx->conf, "conf 3, longer\n");
	assert_int_equal(watch_set(w, &fx->cfg), 0);
	run_until_checks(fx, w, watch_checks(w) + 1);
	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->why, fx->conf);
	watch_free(w);
}

/* watch = no: nothing is watched, nothing is checked. */
/*
 * The public intermediates (a file of one's own, or the update in the
 * state directory) and legacy_roots are watched; aia_cache, which chainfix
 * writes itself, is not.
 */
static void
test_chain_sources(void **state)
{
	struct fixture *fx = *state;
	struct watch *w;
	char corpus[160], legacy[160], cache[160], path[200], state_dir[160];
	unsigned c;

	snprintf(corpus, sizeof(corpus), "%s/corpus.pem", fx->dir);
	snprintf(legacy, sizeof(legacy), "%s/legacy.pem", fx->dir);
	snprintf(cache, sizeof(cache), "%s/aia", fx->dir);
	write_file(corpus, "corpus\n");
	write_file(legacy, "legacy\n");
	assert_int_equal(mkdir(cache, 0700), 0);
	fx->site.public_intermediates = corpus;
	fx->site.legacy_roots = legacy;
	fx->site.aia_cache = cache;
	assert_non_null(w = watch_new(fx->base, changed, fx, 0));
	assert_int_equal(watch_set(w, &fx->cfg), 0);
	run_until_checks(fx, w, 1);

	/* A fetched issuer kept, then a check (an unrelated file next to
	 * the watched ones): no reload for the cache. */
	snprintf(path, sizeof(path), "%s/new.pem", cache);
	write_file(path, "fetched\n");
	snprintf(path, sizeof(path), "%s/unrelated.txt", fx->dir);
	write_file(path, "x\n");
	run_until_checks(fx, w, watch_checks(w) + 1);
	assert_int_equal(fx->calls, 0);

	write_file(corpus, "corpus 2\n");
	c = watch_checks(w);
	while (fx->calls == 0)
		run_until_checks(fx, w, ++c);
	assert_string_equal(fx->why, corpus);
	write_file(legacy, "legacy 2\n");
	c = watch_checks(w);
	while (fx->calls == 1)
		run_until_checks(fx, w, ++c);
	assert_string_equal(fx->why, legacy);

	/* yes: the state directory's update, once there is one. */
	snprintf(state_dir, sizeof(state_dir), "%s/state", fx->dir);
	assert_int_equal(mkdir(state_dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s", state_dir, CORPUS_FILE);
	write_file(path, "update\n");
	setenv("CHAINFIX_STATEDIR", state_dir, 1);
	fx->site.public_intermediates = (char *)(uintptr_t)"yes";
	assert_int_equal(watch_set(w, &fx->cfg), 0);
	run_until_checks(fx, w, watch_checks(w) + 1);
	write_file(path, "update 2\n");
	c = watch_checks(w);
	while (fx->calls == 2)
		run_until_checks(fx, w, ++c);
	assert_string_equal(fx->why, path);
	unsetenv("CHAINFIX_STATEDIR");
	watch_free(w);
}

static void
test_off(void **state)
{
	struct fixture *fx = *state;
	struct watch *w;

	assert_non_null(w = watch_new(fx->base, changed, fx, 0));
	fx->cfg.watch = 0;
	assert_int_equal(watch_set(w, &fx->cfg), 0);
	write_file(fx->cert, "cert 3\n");
	assert_int_equal(event_base_loop(fx->base, EVLOOP_NONBLOCK), 1);
	assert_int_equal(watch_checks(w), 0);
	assert_int_equal(fx->calls, 0);
	watch_free(w);
	watch_free(NULL);
	watch_begin(NULL);
	assert_int_equal(watch_set(NULL, &fx->cfg), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_inotify),
		T(test_polling),
		T(test_reload_baseline),
		T(test_off),
		T(test_chain_sources),
#undef T
	};

	log_init("test_watch", LOG_LEVEL_INFO, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
