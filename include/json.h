/*
 * json.h: JSON strings for the documents chainfix writes (the admin
 * endpoint's /chains and /status, `check --json`).
 */
#ifndef CHAINFIX_JSON_H
#define CHAINFIX_JSON_H

/*
 * json_quote(s):
 * s as a JSON string, quotes included, in a new string (free() it); "null"
 * for s NULL; NULL when out of memory.  Site names come from the
 * configuration and certificate names and host names from peers: '"' and
 * '\' are escaped, control characters and DEL become \u00XX, and a byte
 * that does not start a valid UTF-8 sequence becomes \ufffd, so that the
 * document always parses and valid UTF-8 passes unchanged.
 */
char *json_quote(const char *s);

#endif /* CHAINFIX_JSON_H */
