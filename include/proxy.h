/*
 * proxy.h: the daemon: `chainfix -c FILE` in the foreground.
 */
#ifndef CHAINFIX_PROXY_H
#define CHAINFIX_PROXY_H

/*
 * proxy_main(config_path, report_path):
 * Load the configuration and every chain, bind the listeners, start the
 * workers and serve until SIGTERM/SIGINT (drain) ; SIGHUP reloads.
 * With report_path (NULL: none), write there, once bound and again after
 * each reload, one line per listening address: "SITE listen HOST:PORT"
 * per site, then "global admin_listen HOST:PORT", with the ports actually
 * bound (HOST "*" for any address, IPv6 in brackets).
 * Returns the process exit code: 0 after a clean drain, 1 on a startup error.
 */
int proxy_main(const char *config_path, const char *report_path);

#endif /* CHAINFIX_PROXY_H */
