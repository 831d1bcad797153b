/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: what dom0 makes of a hostile ZFS-receiving backup qube's answers while it
 * backs up and prunes (replica.h): the partial receive it reports (qz_replica_partial, judged
 * against a transfer of dom0's made from a token real ZFS wrote), whether it holds a backup
 * (qz_replica_holds), and what dom0 asks it to delete (qz_replica_remove). The input is all the
 * qube answers; dom0's requests are kept and read afterwards.
 *
 * Oracles beyond "no crash": a partial receive is resumed only from a token that parses and
 * plans against dom0's transfer, with the byte count the token gives; one that does not is
 * aborted, and only that dataset; "holds" is never said of a snapshot the answers do not list
 * with that guid; a deletion only ever names one of the backup's own snapshots, as listed; no
 * request names anything dom0 did not mean to ask for. */
#include "drr.h"
#include "replica.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A token real ZFS (2.1.11) wrote for a raw full receive cut short (tests/corpus/real). */
static const char real_token[] =
    "1-106ea8ba2b-f0-789c636064000310a500c4ec50360710e72765a5269740f80cd8e4d3d28a534b18e00024cf86"
    "249f5459925a0ca49f7860d75f929f5e9a99c2c070cb7ca3e1825ba6451a48f29c60f9bcc4dc540686c2aa64fdd4"
    "bc64fdb2fc1c87fcbc54b039dc0c087727e7e71614a51617e76743c424a0ee80c9172596c3a418002fd11edb";

#define KEY    "0123456789abcdef"
#define NAME   "0123456789abcdef.fedcba9876543210"
#define GUID   0x1122334455667788ull
#define BACKUP "fedcba9876543210fedcba9876543210"

static qz_token_t real;
static qz_transfer_t tr;

static void setup(void)
{
	char why[256];
	qz_resume_t plan;
	if (qz_token_parse(real_token, &real, why, sizeof(why)) != 0)
		__builtin_trap();
	tr = (qz_transfer_t){.snap = "tank/vm/a/private@s",
			     .toguid = real.toguid,
			     .raw = true,
			     .send_flags = QZ_SEND_RAW,
			     .toname = real.toname,
			     .learned = true,
			     .features = (real.largeblockok ? QZ_FEATURE_LARGE_BLOCKS : 0) |
					 (real.embedok ? QZ_FEATURE_EMBED_DATA : 0) |
					 (real.compressok ? QZ_FEATURE_COMPRESSED : 0) |
					 (real.rawok ? QZ_FEATURE_RAW : 0),
			     .volsize = 64ull << 20,
			     .blocksize = 16384};
	if (qz_token_plan(&real, &tr, &plan, why, sizeof(why)) != 0)
		__builtin_trap(); /* the seed's token must be one dom0 resumes from */
}

/* dom0's requests, read back: op and name of each. */
typedef struct request {
	char op;
	char name[QZ_STORE_NAME_MAX + 1];
} request_t;

static size_t requests(int fd, request_t *out, size_t max)
{
	static uint8_t buf[1 << 16];
	lseek(fd, 0, SEEK_SET);
	ssize_t len = read(fd, buf, sizeof(buf));
	size_t n = 0;
	for (ssize_t at = 0; len > 0 && at + 2 <= len && n < max;) {
		size_t nl = buf[at + 1];
		if (at + 2 + (ssize_t)nl > len)
			__builtin_trap(); /* dom0 wrote half a request */
		out[n].op = (char)buf[at];
		memcpy(out[n].name, buf + at + 2, nl);
		out[n].name[nl] = 0;
		at += 2 + (ssize_t)nl;
		n++;
	}
	return n;
}

/* Whether the answers list name with guid: its entry's bytes are somewhere in them. */
static bool answers_list(const uint8_t *data, size_t size, const char *name, uint64_t guid)
{
	uint8_t entry[1 + QZ_STORE_NAME_MAX + 8];
	size_t nl = strlen(name);
	entry[0] = (uint8_t)nl;
	memcpy(entry + 1, name, nl);
	for (int i = 0; i < 8; i++)
		entry[1 + nl + i] = (uint8_t)(guid >> (8 * i));
	return memmem(data, size, entry, 1 + nl + 8) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		setup();
		ready = true;
	}
	int from = memfd_create("answers", MFD_CLOEXEC), to = memfd_create("requests", MFD_CLOEXEC);
	if (from < 0 || to < 0 || write(from, data, size) != (ssize_t)size)
		__builtin_trap();
	lseek(from, 0, SEEK_SET);
	int keep = dup(to); /* qz_target_close closes to */
	qz_target_t *t = NULL;
	if (qz_target_over(to, from, &t) != 0)
		__builtin_trap();
	char why[256];

	static char token[QZ_TOKEN_MAX_TEXT];
	uint64_t received = 99;
	int perr =
	    qz_replica_partial(t, KEY, &tr, token, sizeof(token), &received, why, sizeof(why));
	bool resumed = perr == 0 && token[0] != 0;
	if (resumed) {
		qz_token_t tk;
		qz_resume_t plan;
		if (qz_token_parse(token, &tk, why, sizeof(why)) != 0 ||
		    qz_token_plan(&tk, &tr, &plan, why, sizeof(why)) != 0 || received != tk.bytes)
			__builtin_trap();
	} else if (received != 0) {
		__builtin_trap();
	}
	bool held = qz_replica_holds(t, NAME, GUID);
	if (held && !answers_list(data, size, NAME, GUID))
		__builtin_trap();

	qz_backup_rec_t r = {.id = BACKUP};
	qz_target_entry_t *e = NULL;
	size_t ne = 0;
	if (qz_target_list(t, &e, &ne, why, sizeof(why)) == 0)
		(void)qz_replica_remove(t, &r, e, ne, why, sizeof(why));
	qz_target_close(t);

	request_t req[64];
	size_t nreq = requests(keep, req, 64);
	close(keep);
	if (nreq < 1 || req[0].op != QZ_STORE_TOKEN || strcmp(req[0].name, KEY) != 0)
		__builtin_trap();
	for (size_t i = 1; i < nreq; i++) {
		switch (req[i].op) {
		case QZ_STORE_ABORT: /* only of this transfer's dataset, and only if not resumed */
			if (i != 1 || resumed || strcmp(req[i].name, KEY) != 0)
				__builtin_trap();
			break;
		case QZ_STORE_LIST:
			if (req[i].name[0] != 0)
				__builtin_trap();
			break;
		case QZ_STORE_DEL: { /* one of the backup's own snapshots, as listed */
			bool listed = false;
			for (size_t k = 0; k < ne && !listed; k++)
				listed = strcmp(e[k].name, req[i].name) == 0;
			if (!listed || !qz_replica_names(req[i].name, BACKUP))
				__builtin_trap();
			break;
		}
		default:
			__builtin_trap();
		}
	}
	free(e);
	return 0;
}
