/* SPDX-License-Identifier: BSD-2-Clause */
#include "json.h"

#include <inttypes.h>

void qz_json_init(qz_json_t *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Writes the separator and key that come before a value (none between top-level values: each
 * is a line of its own). */
static void prefix(qz_json_t *j, const char *key)
{
	if (!j->first[j->depth] && j->depth > 0)
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (key != NULL) {
		put_string(j->f, key);
		fputc(':', j->f);
	}
}

static void open_level(qz_json_t *j, const char *key, char c)
{
	prefix(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < QZ_JSON_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

void qz_json_object(qz_json_t *j, const char *key)
{
	open_level(j, key, '{');
}

void qz_json_array(qz_json_t *j, const char *key)
{
	open_level(j, key, '[');
}

void qz_json_end(qz_json_t *j, char close)
{
	fputc(close, j->f);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		fputc('\n', j->f);
}

void qz_json_string(qz_json_t *j, const char *key, const char *value)
{
	prefix(j, key);
	put_string(j->f, value);
}

void qz_json_uint(qz_json_t *j, const char *key, uint64_t value)
{
	prefix(j, key);
	fprintf(j->f, "%" PRIu64, value);
}

void qz_json_int(qz_json_t *j, const char *key, int64_t value)
{
	prefix(j, key);
	fprintf(j->f, "%" PRId64, value);
}

void qz_json_bool(qz_json_t *j, const char *key, bool value)
{
	prefix(j, key);
	fputs(value ? "true" : "false", j->f);
}

void qz_json_null(qz_json_t *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->f);
}

void qz_json_raw(qz_json_t *j, const char *key, const char *text)
{
	prefix(j, key);
	fputs(text, j->f);
}
