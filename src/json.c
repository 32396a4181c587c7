/*
 * json.c: JSON strings (json.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/*
 * How many bytes of a valid UTF-8 sequence start at s (at most n), or 0 if
 * none does: overlongs, surrogates and values past U+10FFFF are invalid.
 */
static size_t
json_utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *
json_quote(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t n, len;
	char *out, *o;

	if (s == NULL)
		return strdup("null");
	n = strlen(s);
	/* At worst every byte becomes six ("\u00XX", "\ufffd"). */
	if (n > (SIZE_MAX - 3) / 6 || (out = malloc(6 * n + 3)) == NULL)
		return NULL;
	o = out;
	*o++ = '"';
	for (p = (const unsigned char *)s; n > 0; p += len, n -= len) {
		len = 1;
		if (*p == '"' || *p == '\\') {
			*o++ = '\\';
			*o++ = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[*p >> 4];
			o[5] = hex[*p & 0xf];
			o += 6;
		} else if ((len = json_utf8_len(p, n)) == 0) {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			len = 1;
		} else {
			memcpy(o, p, len);
			o += len;
		}
	}
	*o++ = '"';
	*o = '\0';
	return out;
}
