/*
 * main.c: command-line dispatch.  Each command lives in its own module.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/opensslv.h>
#include <event2/event.h>

#include "check.h"
#include "log.h"
#include "proxy.h"
#include "ticketkeys.h"
#include "tools.h"

static const char usage_text[] =
"usage: chainfix -c FILE                 run the proxy in the foreground\n"
"       chainfix configtest -c FILE [--no-selftest]\n"
"                                        check the configuration, print every chain,\n"
"                                        test each backend\n"
"       chainfix bundle --cert FILE [--key FILE] [--password-file FILE]\n"
"                       [--intermediates DIR] [--roots FILE|DIR|system|none]\n"
"                       [--send-root] [--out FILE] [--warn-days N]\n"
"                                        print (or write) the completed chain, leaf first\n"
"       chainfix check HOST[:PORT] [--servername NAME] [--roots FILE|DIR|system]\n"
"                      [--intermediates DIR] [--warn-days N] [--timeout SECONDS]\n"
"                      [--activesync] [--json]\n"
"                                        report a server's chain as a strict client sees it\n"
"       chainfix ticket-keys rotate FILE [--keep N]\n"
"                                        put a fresh session ticket key first in FILE\n"
"                                        (ticket_keys), keep the N newest\n"
"       chainfix --version | --help\n"
"\n"
"chainfix terminates TLS with a complete, correctly ordered certificate chain\n"
"assembled from a directory of intermediates, and forwards every connection\n"
"over a fresh TLS connection to the backend.  See chainfix.conf for the\n"
"configuration file and `chainfix COMMAND --help` for each command.\n";

static int
main_usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

int
main(int argc, char **argv)
{
	const char *cmd;

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
	if (strcmp(cmd, "bundle") == 0)
		return tools_bundle(argc - 1, argv + 1);
	if (strcmp(cmd, "configtest") == 0)
		return tools_configtest(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return check_main(argc - 1, argv + 1);
	if (strcmp(cmd, "ticket-keys") == 0)
		return ticketkeys_main(argc - 1, argv + 1);
	if (strcmp(cmd, "-c") == 0 || strcmp(cmd, "--config") == 0) {
		if (argc != 3)
			return main_usage(stderr, 2);
		return proxy_main(argv[2]);
	}
	fprintf(stderr, "chainfix: unknown command or option '%s'\n\n", cmd);
	return main_usage(stderr, 2);
}
