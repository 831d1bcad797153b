/* SPDX-License-Identifier: BSD-2-Clause */
#include "zname.h"

#include <errno.h>
#include <string.h>

static bool component_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == ':' || c == '.' || c == ' ';
}

/* Checks one component [s, e): non-empty, allowed characters, not "." or "..". */
static int component_check(const char *s, const char *e)
{
	if (s == e)
		return EINVAL;
	if ((e - s == 1 && s[0] == '.') || (e - s == 2 && s[0] == '.' && s[1] == '.'))
		return EINVAL;
	for (const char *p = s; p < e; p++)
		if (!component_char(*p))
			return EINVAL;
	return 0;
}

int qz_name_check(const char *name, enum qz_name_kind kind)
{
	if (name == NULL || name[0] == '\0')
		return EINVAL;
	if (strlen(name) >= QZ_NAME_MAX)
		return ENAMETOOLONG;
	const char sep = kind == QZ_NAME_SNAPSHOT ? '@' : kind == QZ_NAME_BOOKMARK ? '#' : '\0';
	const char *tail = strpbrk(name, "@#");
	if ((tail == NULL) != (sep == '\0') || (tail != NULL && *tail != sep))
		return EINVAL;
	const char *end = tail != NULL ? tail : name + strlen(name);
	/* the pool name starts with a letter */
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
		return EINVAL;
	const char *s = name;
	for (;;) {
		const char *slash = memchr(s, '/', (size_t)(end - s));
		const char *ce = slash != NULL ? slash : end;
		int err = component_check(s, ce);
		if (err != 0)
			return err;
		if (slash == NULL)
			break;
		s = slash + 1;
	}
	if (tail != NULL) {
		const char *t = tail + 1;
		const char *te = t + strlen(t);
		if (memchr(t, '/', (size_t)(te - t)) != NULL)
			return EINVAL;
		return component_check(t, te);
	}
	return 0;
}

enum qz_name_kind qz_name_kind_of(const char *name)
{
	const char *tail = strpbrk(name, "@#");
	if (tail == NULL)
		return QZ_NAME_DATASET;
	return *tail == '@' ? QZ_NAME_SNAPSHOT : QZ_NAME_BOOKMARK;
}

int qz_name_dataset(const char *name, char *buf, size_t len)
{
	size_t n = strcspn(name, "@#");
	if (n >= len)
		return ENAMETOOLONG;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return 0;
}

int qz_name_parent(const char *name, char *buf, size_t len)
{
	int err = qz_name_dataset(name, buf, len);
	if (err != 0)
		return err;
	if (qz_name_kind_of(name) != QZ_NAME_DATASET)
		return 0; /* the parent of a snapshot or bookmark is its dataset */
	char *slash = strrchr(buf, '/');
	if (slash == NULL)
		return ENOENT;
	*slash = '\0';
	return 0;
}

bool qz_name_within(const char *name, const char *ancestor)
{
	size_t n = strlen(ancestor);
	return strncmp(name, ancestor, n) == 0 &&
	       (name[n] == '\0' || name[n] == '/' || name[n] == '@' || name[n] == '#');
}

size_t qz_name_pool_len(const char *name)
{
	return strcspn(name, "/@#");
}
