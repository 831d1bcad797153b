/* SPDX-License-Identifier: BSD-2-Clause */
#include "zprop.h"

#include "backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct qz_pindex onoff[] = {{"off", 0}, {"on", 1}, {NULL, 0}};
static const struct qz_pindex canmount[] = {{"off", 0}, {"on", 1}, {"noauto", 2}, {NULL, 0}};
static const struct qz_pindex volmode[] = {
    {"default", 0}, {"geom", 1}, {"dev", 2}, {"none", 3}, {NULL, 0}};
static const struct qz_pindex snapdev[] = {{"hidden", 0}, {"visible", 1}, {NULL, 0}};
static const struct qz_pindex sync_idx[] = {
    {"standard", 0}, {"always", 1}, {"disabled", 2}, {NULL, 0}};
static const struct qz_pindex compression[] = {{"on", 1},   {"off", 2},	  {"lzjb", 3}, {"zle", 14},
					       {"lz4", 15}, {"zstd", 16}, {NULL, 0}};
static const struct qz_pindex encryption[] = {
    {"on", 1},		{"off", 2},	    {"aes-128-ccm", 3},
    {"aes-192-ccm", 4}, {"aes-256-ccm", 5}, {"aes-128-gcm", 6},
    {"aes-192-gcm", 7}, {"aes-256-gcm", 8}, {NULL, 0}};
static const struct qz_pindex keyformat[] = {
    {"none", 0}, {"raw", 1}, {"hex", 2}, {"passphrase", 3}, {NULL, 0}};

#define FS  QZ_FILESYSTEM
#define VOL QZ_VOLUME

static const struct qz_pdef defs[] = {
    {"volsize", QZ_PT_NUMBER, NULL, VOL, false, false, NULL},
    {"volblocksize", QZ_PT_NUMBER, NULL, VOL, true, false, "16384"},
    {"mountpoint", QZ_PT_STRING, NULL, FS, false, true, NULL},
    {"canmount", QZ_PT_INDEX, canmount, FS, false, false, "on"},
    {"volmode", QZ_PT_INDEX, volmode, FS | VOL, false, true, "default"},
    {"snapdev", QZ_PT_INDEX, snapdev, FS | VOL, false, true, "hidden"},
    {"sync", QZ_PT_INDEX, sync_idx, FS | VOL, false, true, "standard"},
    {"readonly", QZ_PT_INDEX, onoff, FS | VOL, false, true, "off"},
    {"compression", QZ_PT_INDEX, compression, FS | VOL, false, true, "off"},
    {"refreservation", QZ_PT_NUMBER, NULL, FS | VOL, false, false, "0"},
    {"encryption", QZ_PT_INDEX, encryption, FS | VOL, true, true, "off"},
    {"keyformat", QZ_PT_INDEX, keyformat, FS | VOL, true, true, "none"},
    {"keylocation", QZ_PT_STRING, NULL, FS | VOL, false, false, "none"},
    {"pbkdf2iters", QZ_PT_NUMBER, NULL, FS | VOL, true, true, "0"},
    {"pbkdf2salt", QZ_PT_NUMBER, NULL, FS | VOL, true, true, "0"},
};

const struct qz_pdef *qz_prop_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		if (strcmp(defs[i].name, name) == 0)
			return &defs[i];
	return NULL;
}

bool qz_prop_is_user(const char *name)
{
	return strchr(name, ':') != NULL;
}

int qz_parse_size(const char *s, uint64_t *out)
{
	if (s == NULL || *s < '0' || *s > '9')
		return EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return EINVAL;
	unsigned shift = 0;
	if (*end != '\0') {
		const char *units = "KMGTP";
		const char *u = strchr(units, end[0] & ~0x20);
		if (u == NULL || end[1] != '\0')
			return EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
	}
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int qz_prop_parse(const struct qz_pdef *def, const char *value, uint64_t *num)
{
	*num = 0;
	switch (def->type) {
	case QZ_PT_STRING:
		return value[0] != '\0' ? 0 : EINVAL;
	case QZ_PT_NUMBER:
		if (strcmp(value, "none") == 0 && strcmp(def->name, "refreservation") == 0)
			return 0;
		return qz_parse_size(value, num);
	case QZ_PT_INDEX:
		for (const struct qz_pindex *ix = def->index; ix->name != NULL; ix++) {
			if (strcmp(ix->name, value) == 0) {
				*num = ix->value;
				return 0;
			}
		}
		return EINVAL;
	}
	return EINVAL;
}

const char *qz_prop_index_name(const struct qz_pdef *def, uint64_t num)
{
	if (def->type != QZ_PT_INDEX)
		return NULL;
	for (const struct qz_pindex *ix = def->index; ix->name != NULL; ix++)
		if (ix->value == num)
			return ix->name;
	return NULL;
}
