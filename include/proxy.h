/*
 * proxy.h: the daemon: `chainfix -c FILE` in the foreground.
 */
#ifndef CHAINFIX_PROXY_H
#define CHAINFIX_PROXY_H

/*
 * proxy_main(config_path):
 * Load the configuration and every chain, bind the listeners, start the
 * workers and serve until SIGTERM/SIGINT (drain) ; SIGHUP reloads.
 * Returns the process exit code: 0 after a clean drain, 1 on a startup error.
 */
int proxy_main(const char *config_path);

#endif /* CHAINFIX_PROXY_H */
