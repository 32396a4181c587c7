/*
 * main.c: command-line dispatch.  Each command lives in its own module.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/opensslv.h>
#include <event2/event.h>

#include "check.h"
#include "corpus.h"
#include "log.h"
#include "proxy.h"
#include "ticketkeys.h"
#include "tools.h"

#if defined(CHAINFIX_TSAN)
#include <sanitizer/common_interface_defs.h>

/*
 * ThreadSanitizer builds only.  The runtime's symbolizer reads the binary
 * and its libraries the first time a report needs them, which takes file
 * descriptors: a report made while the daemon is out of them (as
 * t_proxy_fd_exhaustion makes it) came out without function names, so
 * tests/tsan.supp, which matches names, could not suppress it.  Symbolizing
 * one address at start loads them all while descriptors are free.
 */
static void
main_tsan_symbolizer_load(void)
{
	char buf[128];

	__sanitizer_symbolize_pc(__builtin_return_address(0), "%f", buf,
	    sizeof(buf));
}
#endif

static const char usage_text[] =
"usage: chainfix -c FILE [--listen-report FILE]\n"
"                                        run the proxy in the foreground\n"
"       chainfix configtest -c FILE [--no-selftest]\n"
"       chainfix -t -c FILE [--no-selftest]\n"
"                                        check the configuration, print every chain,\n"
"                                        test each backend\n"
"       chainfix bundle --cert FILE [--key FILE] [--password-file FILE]\n"
"                       [--intermediates DIR] [--roots FILE|DIR|system|none]\n"
"                       [--public-intermediates yes|no|FILE] [--fetch]\n"
"                       [--aia-cache DIR] [--legacy-roots android|FILE|DIR]\n"
"                       [--legacy-out FILE] [--send-root] [--out FILE]\n"
"                       [--warn-days N]\n"
"                                        print (or write) the completed chain, leaf first\n"
"       chainfix check HOST[:PORT] [--servername NAME] [--roots FILE|DIR|system]\n"
"                      [--intermediates DIR] [--fix] [--public-intermediates\n"
"                      yes|no|FILE] [--fetch] [--warn-days N] [--timeout SECONDS]\n"
"                      [--activesync] [--json]\n"
"       chainfix check --chain FILE [HOST] [same options]\n"
"                                        report a server's chain (or a bundle file) as a\n"
"                                        strict client sees it, and where it verifies\n"
"       chainfix ticket-keys rotate FILE [--keep N]\n"
"                                        put a fresh session ticket key first in FILE\n"
"                                        (ticket_keys), keep the N newest\n"
"       chainfix intermediates update [--from URL|FILE] [--out FILE] [--ca FILE]\n"
"                                     [--timeout SECONDS]\n"
"       chainfix intermediates status\n"
"                                        refresh (or show) the public intermediates\n"
"       chainfix --version | --help\n"
"\n"
"  -c, --config FILE     the configuration file (chainfix.conf(5))\n"
"  -t                    test the configuration: the same as configtest, with\n"
"                        the same options\n"
"  --listen-report FILE  once listening, and after each reload, write one line\n"
"                        per listening address to FILE: \"SITE listen HOST:PORT\"\n"
"                        and \"global admin_listen HOST:PORT\", with the port\n"
"                        bound (port 0 in the configuration: the system picks)\n"
"\n"
"chainfix terminates TLS with a complete, correctly ordered certificate chain\n"
"assembled from a directory of intermediates, and forwards every connection\n"
"over a fresh TLS connection to the backend.  See chainfix(8), chainfix.conf(5)\n"
"and `chainfix COMMAND --help` for each command.\n";

static int
main_usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

static const struct {
	const char	*name;
	int		(*run)(int, char **);
} main_commands[] = {
	{ "bundle",		tools_bundle },
	{ "configtest",		tools_configtest },
	{ "check",		check_main },
	{ "ticket-keys",	ticketkeys_main },
	{ "intermediates",	corpus_main },
};

static int
main_is_command(const char *arg)
{
	size_t i;

	for (i = 0; i < sizeof(main_commands) / sizeof(main_commands[0]); i++)
		if (strcmp(arg, main_commands[i].name) == 0)
			return 1;
	return 0;
}

/*
 * `chainfix -t ...` is `chainfix configtest ...` (nginx and hitch spell it
 * so): every other argument is passed on, so both take the same options.
 * The rest is the daemon: `-c FILE [--listen-report FILE]`.
 */
static int
main_daemon(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	   required_argument, NULL, 'c' },
		{ "listen-report", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	static char configtest[] = "configtest";
	const char *config = NULL, *report = NULL;
	char **targv;
	int ch, i, n, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) {
			i++;		/* a value, even if it reads "-t" */
			continue;
		}
		if (strcmp(argv[i], "-t") != 0)
			continue;
		if ((targv = calloc((size_t)argc, sizeof(*targv))) == NULL) {
			log_warn("main");
			return 1;
		}
		targv[0] = configtest;
		for (n = 1, i = 1; i < argc; i++)
			if (strcmp(argv[i], "-t") != 0 || (i > 1 &&
			    (strcmp(argv[i - 1], "-c") == 0 ||
			    strcmp(argv[i - 1], "--config") == 0)))
				targv[n++] = argv[i];
		rc = tools_configtest(n, targv);
		free(targv);
		return rc;
	}

	optind = 0;		/* GNU getopt: reinitialise */
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'r': report = optarg; break;
		default: return main_usage(stderr, 2);
		}
	}
	if (optind != argc) {
		/* `chainfix -c FILE configtest`: the command goes first. */
		if (main_is_command(argv[optind]))
			fprintf(stderr, "chainfix: '%s' is a command: it goes "
			    "first (chainfix %s -c FILE ...)\n\n",
			    argv[optind], argv[optind]);
		else
			fprintf(stderr, "chainfix: unexpected argument "
			    "'%s'\n\n", argv[optind]);
		return main_usage(stderr, 2);
	}
	if (config == NULL) {
		fputs("chainfix: no configuration file: run the proxy with "
		    "-c FILE\n\n", stderr);
		return main_usage(stderr, 2);
	}
	return proxy_main(config, report);
}

int
main(int argc, char **argv)
{
	const char *cmd;
	size_t i;

#if defined(CHAINFIX_TSAN)
	main_tsan_symbolizer_load();
#endif
	log_init("chainfix", LOG_LEVEL_INFO, -1);
	if (argc < 2)
		return main_usage(stderr, 2);
	cmd = argv[1];

	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0)
		return main_usage(stdout, 0);
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("chainfix %s (%s, libevent %s)\n", CHAINFIX_VERSION,
		    OPENSSL_VERSION_TEXT, event_get_version());
		return 0;
	}
	for (i = 0; i < sizeof(main_commands) / sizeof(main_commands[0]); i++)
		if (strcmp(cmd, main_commands[i].name) == 0)
			return main_commands[i].run(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return main_daemon(argc, argv);
	fprintf(stderr, "chainfix: unknown command or option '%s'\n\n", cmd);
	return main_usage(stderr, 2);
}
