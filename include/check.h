/*
 * check.h: `chainfix check HOST[:PORT]`, a strict client's view of a
 * server's certificate chain.
 */
#ifndef CHAINFIX_CHECK_H
#define CHAINFIX_CHECK_H

/*
 * check_main(argc, argv):
 * argv[0] is "check".  Returns the exit code for monitoring systems:
 * 0 OK, 1 warnings, 2 critical, 3 could not connect (or usage error).
 */
int check_main(int argc, char **argv);

#endif /* CHAINFIX_CHECK_H */
