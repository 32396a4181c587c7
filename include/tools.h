/*
 * tools.h: the administrator's commands that share the chain engine:
 * `chainfix bundle` and `chainfix configtest`.
 */
#ifndef CHAINFIX_TOOLS_H
#define CHAINFIX_TOOLS_H

/*
 * tools_bundle(argc, argv):
 * argv[0] is "bundle".  Print (or write atomically, mode 0644, with --out)
 * the completed chain as PEM, leaf first; diagnostics on stderr.
 * Returns the process exit code: 0 ok, 1 chain not completed or bad input,
 * 2 usage error.
 */
int tools_bundle(int argc, char **argv);

/*
 * tools_configtest(argc, argv):
 * argv[0] is "configtest".  Load the configuration, build every site's
 * chain, print each chain and end with "configuration OK".
 * Returns 0 ok, 1 any error, 2 usage error.
 */
int tools_configtest(int argc, char **argv);

#endif /* CHAINFIX_TOOLS_H */
