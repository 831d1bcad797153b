/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Volume operations. Each reads the volume's family once, acts, and names its crash points;
 * qz_vol_recover() brings any state a crash can leave back to a consistent one.
 */
#include "engine.h"
#include "family.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define VOLBLOCK 16384 /* volblocksize of every volume we create */
#define CRASH(name)                                                                                \
	do {                                                                                       \
		int crash_ = qz_crash_point(name);                                                 \
		if (crash_ != 0)                                                                   \
			return crash_;                                                             \
	} while (0)

/* ---- small helpers ---- */

static int check_vol_name(qz_backend_t *be, const char *vol)
{
	if (qz_name_check(vol, QZ_NAME_DATASET) != 0 || strchr(vol, ':') != NULL)
		return qz_be_fail(be, EINVAL, "'%s' is not a valid volume name", vol);
	/* R/<vm>/<vol>: at least three components */
	const char *a = strchr(vol, '/');
	if (a == NULL || strchr(a + 1, '/') == NULL)
		return qz_be_fail(be, EINVAL, "a volume is named <root>/<vm>/<volume>, not '%s'",
				  vol);
	return 0;
}

/* Rounds *size up to the volume block size (what ZFS takes), as lvm_thin rounds to its extents. */
static int check_size(qz_backend_t *be, uint64_t *size)
{
	if (*size == 0 || *size > UINT64_MAX / 2)
		return qz_be_fail(be, EINVAL, "size %" PRIu64 " is not a usable volume size",
				  *size);
	*size = (*size + VOLBLOCK - 1) / VOLBLOCK * VOLBLOCK;
	return 0;
}

/* What a volume made fresh at each start (volatile, snap_on_start) carries: its snapshots would
 * only hold what the next start throws away, so zfs-auto-snapshot and sanoid are told to skip it.
 */
#define THROWAWAY                                                                                  \
	{                                                                                          \
		"com.sun:auto-snapshot", "false"                                                   \
	}

/* Makes zvol name of size bytes (throwaway: made fresh at each start), encrypted with the raw
 * key if key is not NULL. */
static int create_zvol(qz_backend_t *be, const char *name, uint64_t size, bool throwaway,
		       const uint8_t *key)
{
	char sz[32], bs[16];
	snprintf(sz, sizeof(sz), "%" PRIu64, size);
	snprintf(bs, sizeof(bs), "%d", VOLBLOCK);
	qz_prop_t p[7] = {{"volsize", sz}, {"volblocksize", bs}, {QZ_ROLE_PROP, "volume"}};
	size_t n = 3;
	if (throwaway)
		p[n++] = (qz_prop_t)THROWAWAY;
	if (key != NULL) {
		p[n++] = (qz_prop_t){"encryption", "aes-256-gcm"};
		p[n++] = (qz_prop_t){"keyformat", "raw"};
		p[n++] = (qz_prop_t){"keylocation", "prompt"};
	}
	return be->ops->create(be, name, QZ_VOLUME, p, n, key, key != NULL ? QZ_WKEY_LEN : 0);
}

/* Destroys a dataset and its snapshots (deferred where clones need them); absent is fine. */
static int destroy_tree(qz_backend_t *be, const family_t *f, size_t di)
{
	const char *snaps[256];
	size_t n = 0;
	for (size_t i = 0; i < f->nsnaps && n < 256; i++)
		if (f->snaps[i].ds == di)
			snaps[n++] = f->snaps[i].name;
	int err = be->ops->destroy_snaps(be, snaps, n, true);
	if (err != 0)
		return err;
	err = be->ops->destroy(be, f->ds[di].name);
	return err == ENOENT ? 0 : err;
}

static int destroy_suffix(qz_backend_t *be, const family_t *f, const char *suffix)
{
	long di = fam_ds(f, suffix);
	return di < 0 ? 0 : destroy_tree(be, f, (size_t)di);
}

static int snap_rev(qz_backend_t *be, const char *ds, unsigned rev)
{
	char name[QZ_NAME_MAX], short_name[16];
	snprintf(short_name, sizeof(short_name), "r%u", rev);
	int err = fam_name(name, ds, '@', short_name);
	if (err != 0)
		return err;
	const char *s = name;
	return be->ops->snapshot(be, &s, 1, NULL, 0);
}

/* The ":new" dataset holds prepared data; renaming it is the commit point of a swap. This
 * finishes the swap: the live dataset becomes generation g<N>, ":new" becomes live. */
static int finish_swap(qz_backend_t *be, const family_t *f)
{
	char newname[QZ_NAME_MAX], gen[QZ_NAME_MAX], g[16];
	int err = fam_name(newname, f->vol, ':', "new");
	if (err != 0)
		return err;
	if (fam_ds(f, "") >= 0) {
		snprintf(g, sizeof(g), "g%u", fam_next_gen(f));
		if ((err = fam_name(gen, f->vol, ':', g)) != 0 ||
		    (err = be->ops->rename(be, f->vol, gen)) != 0)
			return err;
		CRASH("swap.old-renamed");
	}
	return be->ops->rename(be, newname, f->vol);
}

/* Whether f has generations (":g<N>" datasets: states swapped out, kept for their revisions). */
static bool has_generations(const family_t *f)
{
	for (size_t i = 0; i < f->nds; i++)
		if (f->ds[i].suffix[0] == 'g')
			return true;
	return false;
}

/* Destroys the generations of vol that hold no snapshot, again while one goes: a generation's
 * last snapshot may be the deferred origin of another generation, gone with it. What clones
 * still keep stays (their removal collects it). */
static void collect_generations(qz_backend_t *be, const char *vol)
{
	for (bool progress = true; progress;) {
		family_t f;
		if (fam_load(be, vol, &f) != 0)
			return;
		progress = false;
		for (size_t i = 0; i < f.nds; i++) {
			if (f.ds[i].suffix[0] != 'g')
				continue;
			bool holds = false;
			for (size_t k = 0; k < f.nsnaps && !holds; k++)
				holds = f.snaps[k].ds == i;
			progress |= !holds && be->ops->destroy(be, f.ds[i].name) == 0;
		}
		fam_free(&f);
	}
}

static int cmp_newest_first(const void *a, const void *b)
{
	const fam_snap_t *x = *(const fam_snap_t *const *)a, *y = *(const fam_snap_t *const *)b;
	return x->createtxg < y->createtxg ? 1 : x->createtxg > y->createtxg ? -1 : 0;
}

/* Appends to doomed (*nd so far; room for f's snapshots) the revisions of family f beyond the
 * newest keep, f's current state being cur (NULL: a state committed since f was read is the
 * current one, and all of f's are revisions). With keep < 0 (no snapshots at all) the current
 * state's goes too. ENOMEM (nothing appended) without memory. */
static int revisions_beyond(const family_t *f, const fam_snap_t *cur, int keep, const char **doomed,
			    size_t *nd)
{
	const fam_snap_t **revs = calloc(f->nsnaps + 1, sizeof(*revs));
	if (revs == NULL)
		return ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < f->nsnaps; i++)
		if (f->snaps[i].rev != 0 && !f->snaps[i].deferred &&
		    (&f->snaps[i] != cur || keep < 0))
			revs[n++] = &f->snaps[i];
	qsort(revs, n, sizeof(*revs), cmp_newest_first);
	for (size_t i = keep < 0 ? 0 : (size_t)keep; i < n; i++)
		doomed[(*nd)++] = revs[i]->name;
	free(revs);
	return 0;
}

/* Keeps the newest keep revisions of family f, whose current state is cur (as
 * revisions_beyond); defers the others' destruction. */
static int prune_family(qz_backend_t *be, const family_t *f, const fam_snap_t *cur, int keep)
{
	const char **doomed = calloc(f->nsnaps + 1, sizeof(*doomed));
	size_t nd = 0;
	int err = doomed == NULL ? ENOMEM : revisions_beyond(f, cur, keep, doomed, &nd);
	if (err == 0)
		err = be->ops->destroy_snaps(be, doomed, nd, true);
	if (err == 0 && has_generations(f))
		collect_generations(be, f->vol);
	free(doomed);
	return err;
}

/* prune_family on vol's family as it is now. */
static int prune(qz_backend_t *be, const char *vol, int keep)
{
	family_t f;
	int err = fam_load(be, vol, &f);
	if (err != 0)
		return err;
	err = prune_family(be, &f, fam_current(&f), keep);
	fam_free(&f);
	return err;
}

/* Removes a running marker left behind by a stop that crashed after committing. */
static int drop_stale_marker(qz_backend_t *be, const family_t *f)
{
	char marker[QZ_NAME_MAX];
	if (fam_name(marker, f->vol, '@', QZ_RUNNING_SNAP) != 0 || fam_snap(f, marker) == NULL ||
	    fam_running(f))
		return 0;
	const char *m = marker;
	return be->ops->destroy_snaps(be, &m, 1, true);
}

/* Whether f holds any revision snapshot (what revisions_to_keep -1 must not keep). */
static bool has_revisions(const family_t *f)
{
	for (size_t i = 0; i < f->nsnaps; i++)
		if (f->snaps[i].rev != 0 && !f->snaps[i].deferred)
			return true;
	return false;
}

/* Loads vol's family, first completing or rolling back what a crashed operation left. */
static int load_recovered(qz_backend_t *be, const char *vol, family_t *f)
{
	int err = check_vol_name(be, vol);
	if (err != 0 || (err = fam_load(be, vol, f)) != 0)
		return err;
	char marker[QZ_NAME_MAX];
	bool stale_marker = fam_name(marker, vol, '@', QZ_RUNNING_SNAP) == 0 &&
			    fam_snap(f, marker) != NULL && !fam_running(f);
	if (fam_ds(f, "prep") < 0 && fam_ds(f, "new") < 0 && !stale_marker)
		return 0;	    /* the usual case: nothing to do */
	if (fam_ds(f, "prep") >= 0) /* an operation died before its commit point */
		err = destroy_suffix(be, f, "prep");
	if (err == 0 && fam_ds(f, "new") >= 0) /* ... or after it */
		err = finish_swap(be, f);
	if (err == 0)
		err = drop_stale_marker(be, f);
	fam_free(f);
	return err != 0 ? err : fam_load(be, vol, f);
}

int qz_vol_recover(qz_backend_t *be, const char *vol)
{
	family_t f;
	int err = load_recovered(be, vol, &f);
	if (err == 0)
		fam_free(&f);
	return err;
}

/* Creates R/<vm> when missing. */
static int ensure_vm_dir(qz_backend_t *be, const char *vol)
{
	char dir[QZ_NAME_MAX], root[QZ_NAME_MAX];
	qz_name_parent(vol, dir, sizeof(dir));
	qz_name_parent(dir, root, sizeof(root));
	if (be->ops->exists(be, dir))
		return 0;
	char role[32];
	int err = be->ops->get_prop(be, root, QZ_ROLE_PROP, role, sizeof(role));
	if (err == ENOENT)
		return qz_be_fail(be, ENOENT, "the pool's dataset %s does not exist", root);
	if (err == 0 && strcmp(role, "pool") != 0)
		return qz_be_fail(be, EINVAL, "%s is not a qubes-storage-zfs pool", root);
	if (err != 0)
		return err;
	qz_prop_t p[] = {{QZ_ROLE_PROP, "vm"}};
	err = be->ops->create(be, dir, QZ_FILESYSTEM, p, 1, NULL, 0);
	return err == EEXIST ? 0 : err;
}

int qz_vol_ensure_dir(qz_backend_t *be, const char *vol)
{
	return ensure_vm_dir(be, vol);
}

/* ---- the operations ---- */

static int create_locked(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg);

/* Creations in one VM are serialised by a lock on its VM dataset: ZFS shows a dataset being
 * created before its properties, so a concurrent creation could take the new VM dataset for a
 * foreign one. */
int qz_vol_create(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	char dir[QZ_NAME_MAX];
	int lock = -1, err = check_vol_name(be, vol);
	if (err == 0 && qz_name_parent(vol, dir, sizeof(dir)) == 0 &&
	    (err = qz_lock_volume(dir, &lock)) == 0) {
		err = create_locked(be, vol, cfg);
		qz_unlock_volume(lock);
	}
	return err;
}

static int create_locked(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	int err;
	uint64_t size = cfg->size;
	if ((cfg->save_on_stop || !cfg->snap_on_start) && (err = check_size(be, &size)) != 0)
		return err;
	family_t f;
	if ((err = load_recovered(be, vol, &f)) != 0)
		return err;
	bool exists = fam_ds(&f, "") >= 0;
	bool foreign_dir = f.dir_role != NULL && strcmp(f.dir_role, "vm") != 0;
	fam_free(&f);
	if (exists)
		return qz_be_fail(be, EEXIST, "volume %s exists already", vol);
	if (foreign_dir)
		return qz_be_fail(be, EINVAL,
				  "%s is not in a VM dataset of a qubes-storage-zfs pool", vol);
	if ((err = ensure_vm_dir(be, vol)) != 0 || !cfg->save_on_stop)
		return err; /* the others are made at start */
	if ((err = create_zvol(be, vol, size, false, NULL)) != 0)
		return err;
	CRASH("create.made");
	return cfg->revisions_to_keep < 0 ? 0 : snap_rev(be, vol, 1);
}

/* Destroys what R/.trash holds once the clones that kept it are gone. */
static void empty_trash(qz_backend_t *be, const char *root)
{
	char trash[QZ_NAME_MAX];
	const char *cols[] = {"type"};
	qz_list_t l;
	/* a pool that never parked anything (most) costs one lookup, not a listing */
	if (fam_name(trash, root, '/', ".trash") != 0 || !be->ops->exists(be, trash) ||
	    be->ops->list(be, trash, 1, QZ_VOLUME, cols, 1, &l) != 0)
		return;
	for (size_t r = 0; r < l.nrows; r++)
		(void)be->ops->destroy(be, qz_list_cell(&l, r, 0)); /* EBUSY while snapshots stay */
	qz_list_free(&l);
}

/* Parks what clones still depend on in R/.trash; it goes with the last of them. */
static int park_in_trash(qz_backend_t *be, const char *vol, const char *name)
{
	char dir[QZ_NAME_MAX], root[QZ_NAME_MAX], trash[QZ_NAME_MAX], target[QZ_NAME_MAX];
	char guid[32] = "0";
	qz_name_parent(vol, dir, sizeof(dir));
	qz_name_parent(dir, root, sizeof(root));
	int err = fam_name(trash, root, '/', ".trash");
	qz_prop_t p[] = {{"mountpoint", "none"}, {QZ_ROLE_PROP, "trash"}};
	if (err == 0 && (err = be->ops->create(be, trash, QZ_FILESYSTEM, p, 2, NULL, 0)) == EEXIST)
		err = 0;
	if (err == 0)
		err = be->ops->get_prop(be, name, "guid", guid, sizeof(guid));
	if (err == 0 && (err = fam_name(target, trash, '/', guid)) == 0)
		err = be->ops->rename(be, name, target);
	return err;
}

/* Parks in the trash what is left of vol's datasets once its destroys are done: what clones
 * still need. */
static int park_what_stays(qz_backend_t *be, const char *vol)
{
	family_t f;
	int err = fam_load(be, vol, &f);
	if (err != 0)
		return err;
	for (size_t i = 0; err == 0 && i < f.nds; i++)
		if ((err = qz_crash_point("remove.parking")) == 0)
			err = park_in_trash(be, vol, f.ds[i].name);
	fam_free(&f);
	return err;
}

/* Records volume i's failure err with the backend's detail; returns err. */
static int failed(qz_backend_t *be, size_t i, int *errs, char (*details)[QZ_DETAIL_MAX], int err)
{
	errs[i] = err;
	snprintf(details[i], QZ_DETAIL_MAX, "%s", qz_be_detail(be));
	return err;
}

/* The pool's dataset of a volume R/<vm>/<vol>: R (in root, QZ_NAME_MAX); 0 or an errno. */
static int pool_of(const char *vol, char *root)
{
	char dir[QZ_NAME_MAX];
	int err = qz_name_parent(vol, dir, sizeof(dir));
	return err != 0 ? err : qz_name_parent(dir, root, QZ_NAME_MAX);
}

/* The families of n volumes, each read and recovered (one listing: the memo answers the
 * others); a volume that fails has its outcome set. NULL (every outcome ENOMEM) without
 * memory. */
static family_t *load_many(qz_backend_t *be, size_t n, const char *const *vols, int *errs,
			   char (*details)[QZ_DETAIL_MAX])
{
	family_t *f = calloc(n + 1, sizeof(*f));
	for (size_t i = 0; i < n; i++) {
		errs[i] = f == NULL ? ENOMEM : 0;
		details[i][0] = be->detail[0] = '\0';
		int err = f == NULL ? 0 : load_recovered(be, vols[i], &f[i]);
		if (err != 0)
			failed(be, i, errs, details, err);
	}
	return f;
}

/* The first failure of errs[0..n), 0 if none. */
static int first_failure(size_t n, const int *errs)
{
	for (size_t i = 0; i < n; i++)
		if (errs[i] != 0)
			return errs[i];
	return 0;
}

/* Gives up an operation on n volumes without memory: the families f (may be NULL) freed, every
 * outcome ENOMEM. */
static int out_of_memory(size_t n, family_t *f, int *errs, char (*details)[QZ_DETAIL_MAX])
{
	for (size_t i = 0; i < n; i++) {
		if (f != NULL)
			fam_free(&f[i]);
		errs[i] = ENOMEM;
		details[i][0] = '\0';
	}
	free(f);
	return ENOMEM;
}

/* The names a removal of volume i (family f, outcome errs[i], VM dataset dirs[i]) destroys,
 * stored from names[k] on with owner[] set to i: its revisions, then its datasets; its VM's
 * dataset once for all the volumes of that VM (owner n). The new k. */
static size_t names_to_destroy(size_t i, size_t n, const family_t *f, const int *errs,
			       char (*dirs)[QZ_NAME_MAX], const char **names, size_t *owner,
			       size_t k)
{
	for (size_t j = 0; j < f[i].nsnaps; j++, k++) {
		names[k] = f[i].snaps[j].name;
		owner[k] = i;
	}
	for (size_t j = 0; j < f[i].nds; j++, k++) {
		names[k] = f[i].ds[j].name;
		owner[k] = i;
	}
	size_t j = 0; /* the first volume of the same VM names its dataset */
	while (j < i && (errs[j] != 0 || strcmp(dirs[j], dirs[i]) != 0))
		j++;
	if (j == i && dirs[i][0] != '\0') {
		names[k] = dirs[i];
		owner[k++] = n;
	}
	return k;
}

/*
 * Every volume's revisions, datasets and VM dataset go in one destroy_all call: one transaction
 * group for the whole VM, so a crash leaves all of it or none. A revision a clone still needs is
 * marked to go with its last clone; what then stays (the datasets those revisions belong to) is
 * parked in the trash.
 */
int qz_vol_remove_many(qz_backend_t *be, size_t n, const char *const *vols, const qz_volcfg_t *cfgs,
		       int *errs, char (*details)[QZ_DETAIL_MAX], qz_after_t *after)
{
	(void)cfgs;
	(void)after;
	family_t *f = load_many(be, n, vols, errs, details);
	char(*dirs)[QZ_NAME_MAX] = calloc(n + 1, sizeof(*dirs));
	if (f == NULL || dirs == NULL) {
		free(dirs);
		return out_of_memory(n, f, errs, details);
	}
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (errs[i] == 0 && fam_running(&f[i])) {
			be->detail[0] = '\0';
			failed(be, i, errs, details,
			       qz_be_fail(be, EBUSY, "%s is started: stop its VM first", vols[i]));
			fam_free(&f[i]);
		}
		if (errs[i] == 0)
			total += f[i].nsnaps + f[i].nds + 1;
		if (qz_name_parent(vols[i], dirs[i], QZ_NAME_MAX) != 0)
			dirs[i][0] = '\0';
	}
	const char **names = calloc(total + 1, sizeof(*names));
	size_t *owner = calloc(total + 1, sizeof(*owner)), k = 0;
	int *outs = calloc(total + 1, sizeof(*outs));
	bool *stays = calloc(n + 1, sizeof(*stays));
	int err = names == NULL || owner == NULL || outs == NULL || stays == NULL ? ENOMEM : 0;
	for (size_t i = 0; err == 0 && i < n; i++)
		if (errs[i] == 0)
			k = names_to_destroy(i, n, f, errs, dirs, names, owner, k);
	be->detail[0] = '\0';
	if (err == 0)
		err = be->ops->destroy_all(be, names, k, true, outs);
	for (size_t r = 0; err == 0 && r < k; r++) { /* each volume's outcome */
		size_t i = owner[r];
		int e = outs[r];
		if (i == n || e == 0 || e == ENOENT || errs[i] != 0)
			continue;
		if (e == EBUSY || e == EEXIST)
			stays[i] = true;
		else
			failed(be, i, errs, details, qz_be_fail(be, e, "%s", names[r]));
	}
	for (size_t i = 0; i < n; i++) {
		if (errs[i] == 0 && err != 0) { /* none of them went */
			errs[i] = err;
			snprintf(details[i], QZ_DETAIL_MAX, "%s", qz_be_detail(be));
		} else if (errs[i] == 0 && stays[i]) {
			be->detail[0] = '\0';
			int e = park_what_stays(be, vols[i]);
			if (e != 0)
				failed(be, i, errs, details, e);
			(void)be->ops->destroy(be, dirs[i]); /* it was not empty before */
		}
	}
	for (size_t i = 0; i < n; i++) { /* each pool's trash, once */
		char root[QZ_NAME_MAX], other[QZ_NAME_MAX];
		size_t j = 0;
		if (pool_of(vols[i], root) != 0)
			continue;
		while (j < i && (pool_of(vols[j], other) != 0 || strcmp(other, root) != 0))
			j++;
		if (j == i)
			empty_trash(be, root);
	}
	for (size_t i = 0; i < n; i++)
		fam_free(&f[i]);
	free(f);
	free(dirs);
	free(names);
	free(owner);
	free(outs);
	free(stays);
	return first_failure(n, errs);
}

/* A *_many operation on one volume: its outcome, with its detail. */
static int one_of(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg,
		  int (*many)(qz_backend_t *, size_t, const char *const *, const qz_volcfg_t *,
			      int *, char (*)[QZ_DETAIL_MAX], qz_after_t *))
{
	int err;
	char detail[1][QZ_DETAIL_MAX];
	if (many(be, 1, &vol, cfg, &err, detail, NULL) != 0)
		return qz_be_fail(be, err, "%s", detail[0]);
	return 0;
}

int qz_vol_remove(qz_backend_t *be, const char *vol)
{
	return one_of(be, vol, NULL, qz_vol_remove_many);
}

/*
 * The snapshot to clone a source's committed state from. The source is only read: it belongs to
 * another volume whose lock we do not hold, so what a crash left there is its own to recover. A
 * source that keeps no snapshots (revisions_to_keep -1) lends a temporary one while it is halted
 * (*temp is then set: the caller defers its destruction once cloned, so it lives exactly as long as
 * the clone).
 */
static int source_state(qz_backend_t *be, const char *src, char *snap, bool *temp,
			uint64_t *volsize)
{
	if (src == NULL || check_vol_name(be, src) != 0)
		return qz_be_fail(be, EINVAL, "a snap_on_start volume needs a source volume");
	family_t sf;
	int err = fam_load(be, src, &sf);
	if (err != 0)
		return err;
	const fam_snap_t *cur = fam_current(&sf);
	long live = fam_ds(&sf, "");
	*temp = false;
	if (volsize != NULL)
		*volsize = live >= 0 ? sf.ds[live].volsize : 0;
	if (cur != NULL)
		snprintf(snap, QZ_NAME_MAX, "%s", cur->name);
	else if (live < 0)
		err = qz_be_fail(be, ENOENT, "source volume %s does not exist", src);
	else if (fam_running(&sf))
		err = qz_be_fail(be, EBUSY, "%s keeps no snapshots and is in use by its VM", src);
	else {
		char t[16];
		snprintf(t, sizeof(t), "t%u", fam_next_rev(&sf));
		const char *s = snap;
		if ((err = fam_name(snap, src, '@', t)) == 0 &&
		    (err = be->ops->snapshot(be, &s, 1, NULL, 0)) == 0)
			*temp = true;
	}
	fam_free(&sf);
	return err;
}

/* Ends what source_state lent: a temporary snapshot goes once its clones are gone. */
static void source_done(qz_backend_t *be, const char *snap, bool temp)
{
	if (temp)
		(void)be->ops->destroy_snaps(be, &snap, 1, true);
}

/* Clones snap as volume target (throwaway: made fresh at each start). */
static int clone_as(qz_backend_t *be, const char *snap, const char *target, bool throwaway)
{
	qz_prop_t p[] = {{QZ_ROLE_PROP, "volume"}, THROWAWAY};
	return be->ops->clone(be, snap, target, p, throwaway ? 2 : 1);
}

/* Grows ds to want bytes (0: as it is), rounded up to the volume block size. */
static int grow_to(qz_backend_t *be, const char *ds, uint64_t have, uint64_t want)
{
	if (want == 0)
		return 0;
	int err = check_size(be, &want);
	if (err != 0 || want <= have)
		return err;
	char sz[32];
	snprintf(sz, sizeof(sz), "%" PRIu64, want);
	return be->ops->set_prop(be, ds, "volsize", sz);
}

/* Commits ":prep" as ":new" (the commit point) and swaps it in. */
static int commit_prep(qz_backend_t *be, const char *vol)
{
	char prep[QZ_NAME_MAX], newname[QZ_NAME_MAX];
	int err = fam_name(prep, vol, ':', "prep");
	if (err == 0)
		err = fam_name(newname, vol, ':', "new");
	if (err == 0)
		err = be->ops->rename(be, prep, newname);
	if (err != 0)
		return err;
	CRASH("swap.committed");
	family_t f;
	if ((err = fam_load(be, vol, &f)) != 0)
		return err;
	err = finish_swap(be, &f);
	fam_free(&f);
	return err;
}

/* Prepares ":prep" from snap (a clone), commits it as ":new" and swaps it in. */
static int swap_in_clone(qz_backend_t *be, const char *vol, const char *snap, bool take_rev,
			 unsigned rev)
{
	char prep[QZ_NAME_MAX];
	int err = fam_name(prep, vol, ':', "prep");
	if (err == 0)
		err = clone_as(be, snap, prep, false);
	if (err != 0)
		return err;
	CRASH("swap.cloned");
	if (take_rev && (err = snap_rev(be, prep, rev)) != 0)
		return err;
	return commit_prep(be, vol);
}

/* Copies snap, in another zpool, into ":prep" by send and receive, then swaps it in. */
static int swap_in_copy(qz_backend_t *be, const char *vol, const char *snap, unsigned rev)
{
	char prep[QZ_NAME_MAX], target[QZ_NAME_MAX], r[16];
	snprintf(r, sizeof(r), "r%u", rev);
	int fds[2], err = fam_name(prep, vol, ':', "prep");
	if (err != 0 || (err = fam_name(target, prep, '@', r)) != 0)
		return err;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return errno;
	pid_t pid = fork();
	if (pid < 0) {
		err = errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) { /* the sender */
		close(fds[0]);
		_exit(be->ops->send(be, snap, NULL, fds[1],
				    QZ_SEND_EMBED | QZ_SEND_LARGE_BLOCK | QZ_SEND_COMPRESS, 0,
				    0) == 0
			  ? 0
			  : 1);
	}
	close(fds[1]);
	err = be->ops->receive(be, target, fds[0], false, false, false);
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (err == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		err = qz_be_fail(be, EIO, "sending %s failed", snap);
	if (err != 0) {
		family_t f;
		if (fam_load(be, vol, &f) == 0) {
			(void)destroy_suffix(be, &f, "prep"); /* nothing half-made stays */
			fam_free(&f);
		}
		return err;
	}
	CRASH("copy.received");
	return commit_prep(be, vol);
}

static int mark_running(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	if (cfg->revisions_to_keep < 0)
		return be->ops->set_prop(be, vol, QZ_DIRTY_PROP, "1");
	char marker[QZ_NAME_MAX];
	int err = fam_name(marker, vol, '@', QZ_RUNNING_SNAP);
	if (err != 0)
		return err;
	const char *m = marker;
	err = be->ops->snapshot(be, &m, 1, NULL, 0);
	if (err == EEXIST) { /* a stale marker: replace it */
		if ((err = be->ops->destroy_snaps(be, &m, 1, true)) == 0)
			err = be->ops->snapshot(be, &m, 1, NULL, 0);
	}
	return err;
}

static void describe_for(qz_backend_t *be, const family_t *f, const qz_volcfg_t *cfg,
			 qz_volinfo_t *info);

/* What a volume's start leaves to be done with the other volumes of its VM: its running
 * marker (every volume's taken in one snapshot call: one transaction group), then a grow. */
typedef struct start_rest {
	char marker[QZ_NAME_MAX]; /* "" for none */
	bool grow;		  /* to cfg->size, from have bytes, once marked */
	uint64_t have;
	/* what the state after the start is: to be listed; the family read before, unchanged or
	 * with the marker taken; or a volume just made, from origin ("-": made empty) */
	enum { AFTER_LISTED, AFTER_SAME, AFTER_MARKED, AFTER_MADE } after;
	char origin[QZ_NAME_MAX];
} start_rest_t;

/* Marks vol started: at once without snapshots (revisions_to_keep -1), else its marker's name
 * goes in rest, to be taken with the others'. */
static int plan_mark(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, start_rest_t *rest)
{
	if (cfg->revisions_to_keep < 0)
		return be->ops->set_prop(be, vol, QZ_DIRTY_PROP, "1");
	return fam_name(rest->marker, vol, '@', QZ_RUNNING_SNAP);
}

/* Starts vol, whose family f was read and recovered first (the caller frees it; it no longer
 * matches ZFS), up to what rest says is left: its marker and a grow. */
static int start_loaded(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, family_t *f,
			start_rest_t *rest)
{
	long live = fam_ds(f, "");
	bool running = fam_running(f);
	const fam_snap_t *cur = fam_current(f);
	bool has_revs = has_revisions(f), has_cur = cur != NULL;
	bool alone = f->nds == (live >= 0 ? 1u : 0u); /* no import, generation or leftover */
	uint64_t have = live >= 0 ? f->ds[live].volsize : 0;
	unsigned next_rev = fam_next_rev(f);
	int err = destroy_suffix(be, f, "import"); /* an import that never ended */
	if (err != 0)
		return err;
	char snap[QZ_NAME_MAX];

	if (cfg->save_on_stop && !cfg->snap_on_start) {
		if (live < 0)
			return qz_be_fail(be, ENOENT, "volume %s does not exist", vol);
		if (running) { /* started before without a stop: its data is kept */
			rest->after = alone ? AFTER_SAME : AFTER_LISTED;
			return 0;
		}
		if (cfg->revisions_to_keep < 0 && has_revs && (err = prune(be, vol, -1)) != 0)
			return err; /* switched to -1: the live volume is the state */
		if (!has_cur && cfg->revisions_to_keep >= 0) {
			if ((err = snap_rev(be, vol, next_rev)) != 0) /* created before a crash */
				return err;
		}
		rest->grow = true;
		rest->have = have;
		/* the marker alone changes it (no snapshot made or dropped, no grow, no property)
		 */
		if (alone && has_cur && cfg->revisions_to_keep >= 0 && cfg->size <= have &&
		    !f->ds[live].dirty_prop)
			rest->after = AFTER_MARKED;
		return plan_mark(be, vol, cfg, rest);
	}
	if (cfg->save_on_stop) { /* and snap_on_start: the source's state, committed at stop */
		if (running)
			return 0;
		bool temp;
		if ((err = source_state(be, cfg->source, snap, &temp, NULL)) != 0)
			return err;
		err = swap_in_clone(be, vol, snap, cfg->revisions_to_keep >= 0, next_rev);
		source_done(be, snap, temp);
		if (err != 0)
			return err;
		CRASH("start.swapped");
		return plan_mark(be, vol, cfg, rest);
	}
	/* snap_on_start only, or volatile: made fresh at every start */
	if ((err = ensure_vm_dir(be, vol)) != 0)
		return err;
	bool made_alone = alone && f->nsnaps == 0; /* after it: the new dataset alone */
	if (live >= 0) {
		char name[QZ_NAME_MAX];
		snprintf(name, sizeof(name), "%s", vol);
		if ((err = be->ops->destroy(be, name)) != 0 && err != ENOENT)
			return err == EBUSY ? qz_be_fail(be, err, "%s is in use", vol) : err;
		CRASH("start.old-gone");
	}
	if (cfg->snap_on_start) {
		bool temp;
		for (int attempt = 0; attempt < 2; attempt++) {
			if ((err = source_state(be, cfg->source, snap, &temp, NULL)) != 0)
				return err;
			err = clone_as(be, snap, vol, true);
			source_done(be, snap, temp);
			if (err != ENOENT) /* ENOENT: the source committed meanwhile */
				break;
		}
		if (err == 0 && made_alone) {
			rest->after = AFTER_MADE;
			snprintf(rest->origin, sizeof(rest->origin), "%s", snap);
		}
		if (err != 0 || cfg->size == 0)
			return err;
		char vs[32]; /* a clone has its snapshot's size; the config may ask for more */
		if ((err = be->ops->get_prop(be, vol, "volsize", vs, sizeof(vs))) != 0)
			return err;
		return grow_to(be, vol, strtoull(vs, NULL, 10), cfg->size);
	}
	uint64_t size = cfg->size;
	if ((err = check_size(be, &size)) != 0)
		return err;
	if (made_alone) {
		rest->after = AFTER_MADE;
		snprintf(rest->origin, sizeof(rest->origin), "-");
	}
	if (!cfg->ephemeral)
		return create_zvol(be, vol, size, true, NULL);
	uint8_t key[QZ_WKEY_LEN];
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return EIO;
	err = create_zvol(be, vol, size, true, key);
	explicit_bzero(key, sizeof(key));
	return err;
}

/* The state after its start of volume vol (configured as cfg, family f read before, rest what
 * its start did), where it follows without a listing: into *info, true; else false. A volume
 * just made is read with two property gets (its size and usage). */
static bool start_knows(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, family_t *f,
			const start_rest_t *rest, qz_volinfo_t *info)
{
	char vs[32], ref[32];
	family_t made;
	switch (rest->after) {
	case AFTER_MARKED:
		fam_note_taken(f, rest->marker);
		/* fall through */
	case AFTER_SAME:
		describe_for(be, f, cfg, info);
		return true;
	case AFTER_MADE:
		if (be->ops->get_prop(be, vol, "volsize", vs, sizeof(vs)) != 0 ||
		    be->ops->get_prop(be, vol, "referenced", ref, sizeof(ref)) != 0)
			return false;
		fam_just_made(&made, vol, rest->origin, strtoull(vs, NULL, 10),
			      strtoull(ref, NULL, 10));
		describe_for(be, &made, cfg, info);
		fam_free(&made);
		return true;
	default:
		return false;
	}
}

int qz_vol_start_many(qz_backend_t *be, size_t n, const char *const *vols, const qz_volcfg_t *cfgs,
		      int *errs, char (*details)[QZ_DETAIL_MAX], qz_after_t *after)
{
	family_t *f = load_many(be, n, vols, errs, details);
	start_rest_t *rest = calloc(n + 1, sizeof(*rest));
	const char **marks = calloc(n + 1, sizeof(*marks));
	if (f == NULL || rest == NULL || marks == NULL) {
		free(rest);
		free(marks);
		return out_of_memory(n, f, errs, details);
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (errs[i] != 0)
			continue;
		be->detail[0] = '\0';
		int err = start_loaded(be, vols[i], &cfgs[i], &f[i], &rest[i]);
		if (err != 0)
			failed(be, i, errs, details, err);
		else if (rest[i].marker[0] != '\0')
			marks[k++] = rest[i].marker;
	}
	/* every volume's marker in one snapshot call; if that fails, each on its own (a stale
	 * marker replaced), so that each says what stopped it */
	be->detail[0] = '\0';
	bool together = k == 0 || be->ops->snapshot(be, marks, k, NULL, 0) == 0;
	for (size_t i = 0; i < n; i++) {
		if (errs[i] != 0)
			continue;
		be->detail[0] = '\0';
		int err = 0;
		if (!together && rest[i].marker[0] != '\0')
			err = mark_running(be, vols[i], &cfgs[i]);
		if (err == 0 && rest[i].grow)
			err = grow_to(be, vols[i], rest[i].have, cfgs[i].size);
		if (err != 0)
			failed(be, i, errs, details, err);
	}
	for (size_t i = 0; i < n; i++) {
		if (after != NULL && errs[i] == 0 && (together || rest[i].after != AFTER_MARKED))
			after[i].known =
			    start_knows(be, vols[i], &cfgs[i], &f[i], &rest[i], &after[i].info);
		fam_free(&f[i]);
	}
	free(f);
	free(rest);
	free(marks);
	return first_failure(n, errs);
}

int qz_vol_start(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	return one_of(be, vol, cfg, qz_vol_start_many);
}

/* What a volume's stop leaves to be done with the other volumes of its VM: its commit (every
 * volume's in one snapshot call), then its marker and the revisions beyond those kept, or the
 * volume itself where its data is thrown away (every volume's in one destroy_all call). */
typedef struct stop_rest {
	char commit[QZ_NAME_MAX], marker[QZ_NAME_MAX]; /* commit "": nothing to commit */
	bool discard;				       /* the volume goes (not saved on stop) */
	bool had_import; /* its leftovers just went from under its family: prune reads again */
} stop_rest_t;

/* Stops vol, whose family f was read (and recovered) first, up to what rest says is left. */
static int stop_loaded(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, family_t *f,
		       stop_rest_t *rest)
{
	long live = fam_ds(f, "");
	bool running = fam_running(f), has_revs = has_revisions(f);
	rest->had_import = fam_ds(f, "import") >= 0;
	char marker[QZ_NAME_MAX], r[16];
	const char *m = marker;
	bool marked = fam_name(marker, vol, '@', QZ_RUNNING_SNAP) == 0 && fam_snap(f, marker);
	int err = destroy_suffix(be, f, "import");
	if (err != 0)
		return err;
	if (!cfg->save_on_stop) { /* discarded with the others' destroys */
		rest->discard = live >= 0;
		return 0;
	}
	if (cfg->revisions_to_keep < 0) { /* no snapshots: the live volume is the state */
		if (running && (err = be->ops->set_prop(be, vol, QZ_DIRTY_PROP, "0")) != 0)
			return err;
		if (marked && (err = be->ops->destroy_snaps(be, &m, 1, true)) != 0)
			return err;
		return has_revs ? prune(be, vol, -1) : 0;
	}
	if (!running)
		return 0; /* nothing to commit: cheap, as at every qubesd start */
	snprintf(r, sizeof(r), "r%u", fam_next_rev(f));
	snprintf(rest->marker, sizeof(rest->marker), "%s", marker);
	return fam_name(rest->commit, vol, '@', r);
}

/* Names what stop_loaded left of volume i to destroy (rest r, family f, commit_err the
 * commits' outcome) from names[k] on, owner[] set to i: once committed, its marker and the
 * revisions beyond those kept; the volume itself where its data is thrown away. The new k. */
static size_t stop_leftovers(size_t i, const char *vol, const stop_rest_t *r, const family_t *f,
			     int keep, int commit_err, const char **names, size_t *owner, size_t k)
{
	size_t from = k;
	if (r->commit[0] != '\0' && commit_err == 0) {
		names[k++] = r->marker;
		if (!r->had_import)
			revisions_beyond(f, NULL, keep, names, &k);
	}
	if (r->discard)
		names[k++] = vol;
	for (size_t j = from; j < k; j++)
		owner[j] = i;
	return k;
}

/* Whether a stopped volume's state (rest r, family f read before) follows from f and the stop's
 * own changes: a saved volume that keeps revisions, and whose stop changed nothing else. */
static bool stop_knows(const qz_volcfg_t *cfg, const stop_rest_t *r, const family_t *f)
{
	long live = fam_ds(f, "");
	return cfg->save_on_stop && cfg->revisions_to_keep >= 0 && !r->had_import &&
	       !has_generations(f) && live >= 0 && !f->ds[live].dirty_prop;
}

/*
 * Two transaction groups for all the volumes: one snapshot call takes every commit, then one
 * destroy_all call drops the markers and the revisions beyond those kept, and the volumes whose
 * data is thrown away.
 */
int qz_vol_stop_many(qz_backend_t *be, size_t n, const char *const *vols, const qz_volcfg_t *cfgs,
		     int *errs, char (*details)[QZ_DETAIL_MAX], qz_after_t *after)
{
	family_t *f = load_many(be, n, vols, errs, details);
	stop_rest_t *rest = calloc(n + 1, sizeof(*rest));
	const char **commits = calloc(n + 1, sizeof(*commits));
	size_t ndoomed = 2 * n;
	for (size_t i = 0; f != NULL && i < n; i++)
		ndoomed += errs[i] == 0 ? f[i].nsnaps : 0;
	const char **doomed = calloc(ndoomed + 1, sizeof(*doomed));
	size_t *owner = calloc(ndoomed + 1, sizeof(*owner));
	int *outs = calloc(ndoomed + 1, sizeof(*outs));
	if (f == NULL || rest == NULL || commits == NULL || doomed == NULL || owner == NULL ||
	    outs == NULL) {
		free(rest);
		free(commits);
		free(doomed);
		free(owner);
		free(outs);
		return out_of_memory(n, f, errs, details);
	}
	size_t k = 0, nd = 0;
	for (size_t i = 0; i < n; i++) {
		if (errs[i] != 0)
			continue;
		be->detail[0] = '\0';
		int err = stop_loaded(be, vols[i], &cfgs[i], &f[i], &rest[i]);
		if (err != 0)
			failed(be, i, errs, details, err);
		else if (rest[i].commit[0] != '\0')
			commits[k++] = rest[i].commit;
	}
	be->detail[0] = '\0';
	int err = k == 0 ? 0 : be->ops->snapshot(be, commits, k, NULL, 0);
	if (err == 0 && k > 0)
		err = qz_crash_point("stop.committed");
	for (size_t i = 0; i < n; i++) {
		if (errs[i] == 0 && rest[i].commit[0] != '\0' && err != 0)
			failed(be, i, errs, details, err); /* none committed */
		else if (errs[i] == 0)
			nd = stop_leftovers(i, vols[i], &rest[i], &f[i], cfgs[i].revisions_to_keep,
					    err, doomed, owner, nd);
	}
	be->detail[0] = '\0';
	int derr = nd == 0 ? 0 : be->ops->destroy_all(be, doomed, nd, true, outs);
	if (derr == 0 && nd > 0 && k > 0 && err == 0)
		derr = qz_crash_point("stop.unmarked");
	for (size_t r = 0; r < nd; r++) { /* each volume's outcome */
		size_t i = owner[r];
		int e = derr != 0 ? derr : outs[r] == ENOENT ? 0 : outs[r];
		if (errs[i] != 0 || e == 0)
			continue;
		if (derr == 0)
			e = qz_be_fail(be, e, "%s%s", doomed[r], e == EBUSY ? " is in use" : "");
		failed(be, i, errs, details, e);
	}
	for (size_t i = 0; i < n; i++) {
		if (errs[i] == 0 && rest[i].commit[0] != '\0') {
			if (rest[i].had_import) { /* read again: the leftovers went */
				be->detail[0] = '\0';
				int e = prune(be, vols[i], cfgs[i].revisions_to_keep);
				if (e != 0)
					failed(be, i, errs, details, e);
			} else if (has_generations(&f[i])) {
				collect_generations(be, vols[i]);
			}
		}
		if (after != NULL && errs[i] == 0 && stop_knows(&cfgs[i], &rest[i], &f[i])) {
			if (rest[i].commit[0] != '\0')
				fam_note_taken(&f[i], rest[i].commit);
			for (size_t r = 0; r < nd; r++)
				if (owner[r] == i)
					fam_note_gone(&f[i], doomed[r]);
			describe_for(be, &f[i], &cfgs[i], &after[i].info);
			after[i].known = true;
		}
		fam_free(&f[i]); /* (again, where it failed: harmless) */
	}
	free(f);
	free(rest);
	free(commits);
	free(doomed);
	free(owner);
	free(outs);
	return first_failure(n, errs);
}

int qz_vol_stop(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	return one_of(be, vol, cfg, qz_vol_stop_many);
}

/* The volume family the dataset or snapshot name belongs to (its live dataset's name). */
static void family_of(const char *name, char *vol)
{
	size_t n = strcspn(name, "@:");
	snprintf(vol, QZ_NAME_MAX, "%.*s", (int)n, name);
}

/* Describes f; the origin's family, when it is another volume's, comes from l (or from ZFS). */
static void describe(qz_backend_t *be, const qz_list_t *l, const family_t *f, qz_volinfo_t *info)
{
	long live = fam_ds(f, "");
	const fam_snap_t *cur = fam_current(f);
	info->exists = live >= 0;
	info->dirty = fam_running(f);
	if (live >= 0) {
		info->size = f->ds[live].volsize;
		info->usage = f->ds[live].referenced;
	}
	if (cur != NULL)
		snprintf(info->current, sizeof(info->current), "%s", cur->shortname);
	const fam_snap_t *revs[QZ_MAX_REVISIONS];
	size_t n = 0;
	for (size_t i = 0; i < f->nsnaps && n < QZ_MAX_REVISIONS; i++)
		if (f->snaps[i].rev != 0 && !f->snaps[i].deferred && &f->snaps[i] != cur)
			revs[n++] = &f->snaps[i];
	qsort(revs, n, sizeof(*revs), cmp_newest_first);
	for (size_t i = 0; i < n; i++) { /* oldest first */
		qz_revision_t *r = &info->revisions[i];
		snprintf(r->id, sizeof(r->id), "%s", revs[n - 1 - i]->shortname);
		r->created = revs[n - 1 - i]->creation;
	}
	info->nrevisions = n;
	/* outdated: started from another volume's state, which has moved on since */
	char src[QZ_NAME_MAX];
	if (live < 0 || strcmp(f->ds[live].origin, "-") == 0)
		return;
	family_of(f->ds[live].origin, src);
	if (strcmp(src, f->vol) == 0)
		return;
	const char *at = strchr(f->ds[live].origin, '@');
	snprintf(info->source, sizeof(info->source), "%s", src);
	snprintf(info->source_state, sizeof(info->source_state), "%s", at != NULL ? at + 1 : "");
	family_t sf;
	int err = l != NULL ? fam_from_list(l, src, &sf) : fam_load(be, src, &sf);
	if (err == 0) {
		const fam_snap_t *scur = fam_current(&sf);
		info->outdated = scur != NULL && strcmp(scur->name, f->ds[live].origin) != 0;
	}
	fam_free(&sf);
}

/* What qubesd is told of the volume of family f, configured as cfg. */
static void describe_for(qz_backend_t *be, const family_t *f, const qz_volcfg_t *cfg,
			 qz_volinfo_t *info)
{
	memset(info, 0, sizeof(*info));
	describe(be, NULL, f, info);
	if (!info->exists)
		info->size = cfg->size;
	info->dirty &= cfg->save_on_stop;
}

int qz_vol_info(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, qz_volinfo_t *info)
{
	memset(info, 0, sizeof(*info));
	int err = check_vol_name(be, vol);
	family_t f;
	if (err != 0 || (err = fam_load(be, vol, &f)) != 0)
		return err;
	describe_for(be, &f, cfg, info);
	fam_free(&f);
	return 0;
}

int qz_pool_volumes(qz_backend_t *be, const char *root,
		    void (*fn)(void *arg, const char *vol, const qz_volinfo_t *info), void *arg)
{
	qz_list_t l;
	int err = fam_list(be, root, -1, &l);
	if (err != 0)
		return err;
	qz_volinfo_t *info = malloc(sizeof(*info));
	if (info == NULL) {
		qz_list_free(&l);
		return ENOMEM;
	}
	size_t depth = 0;
	for (const char *p = root; *p != '\0'; p++)
		depth += *p == '/';
	for (size_t r = 0; err == 0 && r < l.nrows; r++) {
		const char *name = qz_list_cell(&l, r, 0);
		size_t d = 0;
		for (const char *p = name; *p != '\0'; p++)
			d += *p == '/';
		/* live volumes: R/<vm>/<vol>, no ':' or '@' */
		if (d != depth + 2 || strpbrk(name, ":@") != NULL ||
		    strcmp(qz_list_cell(&l, r, 1), "volume") != 0)
			continue;
		family_t f;
		memset(info, 0, sizeof(*info));
		if ((err = fam_from_list(&l, name, &f)) == 0) {
			describe(be, &l, &f, info);
			fn(arg, name, info);
		}
		fam_free(&f);
	}
	free(info);
	qz_list_free(&l);
	return err;
}

int qz_vol_revert(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, const char *rev)
{
	(void)cfg;
	family_t f;
	int err = load_recovered(be, vol, &f);
	if (err != 0)
		return err;
	const fam_snap_t *cur = fam_current(&f), *target = NULL;
	if (fam_ds(&f, "") < 0)
		err = qz_be_fail(be, ENOENT, "volume %s does not exist", vol);
	else if (fam_running(&f))
		err = qz_be_fail(be, EBUSY, "%s is started: stop its VM first", vol);
	for (size_t i = 0; err == 0 && i < f.nsnaps; i++) {
		const fam_snap_t *s = &f.snaps[i];
		if (s->rev == 0 || s->deferred || s == cur)
			continue;
		if (rev != NULL ? strcmp(s->shortname, rev) == 0
				: target == NULL || s->createtxg > target->createtxg)
			target = s;
	}
	if (err == 0 && target == NULL)
		err = qz_be_fail(be, ENOENT, "%s has no revision %s", vol, rev != NULL ? rev : "");
	char snap[QZ_NAME_MAX];
	if (err == 0)
		snprintf(snap, sizeof(snap), "%s", target->name);
	fam_free(&f);
	return err != 0 ? err : swap_in_clone(be, vol, snap, false, 0);
}

int qz_vol_resize(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, uint64_t size,
		  bool allow_shrink)
{
	int err = check_size(be, &size);
	family_t f;
	if (err != 0 || (err = load_recovered(be, vol, &f)) != 0)
		return err;
	long live = fam_ds(&f, "");
	uint64_t have = live >= 0 ? f.ds[live].volsize : 0;
	/* a halted volume's new size is its committed state's: clones and exports take that */
	bool commit = live >= 0 && cfg->save_on_stop && cfg->revisions_to_keep >= 0 &&
		      !fam_running(&f) && fam_current(&f) != NULL;
	unsigned next_rev = fam_next_rev(&f);
	fam_free(&f);
	if (live < 0)
		return cfg->save_on_stop ? qz_be_fail(be, ENOENT, "volume %s does not exist", vol)
					 : 0; /* made at start, with the new size */
	if (size < have && !allow_shrink)
		return qz_be_fail(be, EINVAL, "shrinking %s would lose data; not without asking",
				  vol);
	if (size == have)
		return 0;
	char vs[32];
	snprintf(vs, sizeof(vs), "%" PRIu64, size);
	if ((err = be->ops->set_prop(be, vol, "volsize", vs)) != 0 || !commit)
		return err;
	CRASH("resize.grown");
	if ((err = snap_rev(be, vol, next_rev)) != 0)
		return err;
	return prune(be, vol, cfg->revisions_to_keep);
}

int qz_vol_prune(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	family_t f;
	int err = load_recovered(be, vol, &f);
	if (err != 0)
		return err;
	bool running = fam_running(&f), has_revs = has_revisions(&f);
	fam_free(&f);
	if (cfg->revisions_to_keep < 0 && running && has_revs)
		return qz_be_fail(be, EBUSY, "%s is started: stop its VM first", vol);
	return has_revs ? prune(be, vol, cfg->revisions_to_keep) : 0;
}

int qz_vol_device(qz_backend_t *be, const char *vol, char *path, size_t len)
{
	int err = check_vol_name(be, vol);
	return err != 0 ? err : be->ops->zvol_path(be, vol, path, len);
}

int qz_vol_import_begin(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, uint64_t size,
			char *path, size_t len)
{
	(void)cfg;
	int err = check_size(be, &size);
	family_t f;
	if (err != 0 || (err = load_recovered(be, vol, &f)) != 0)
		return err;
	if (fam_running(&f))
		err = qz_be_fail(be, EBUSY, "%s is started: stop its VM first", vol);
	if (err == 0)
		err = destroy_suffix(be, &f, "import");
	fam_free(&f);
	char target[QZ_NAME_MAX];
	if (err == 0 && (err = ensure_vm_dir(be, vol)) == 0 &&
	    (err = fam_name(target, vol, ':', "import")) == 0 &&
	    (err = create_zvol(be, target, size, false, NULL)) == 0)
		err = be->ops->zvol_path(be, target, path, len);
	return err;
}

int qz_vol_import_end(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, bool ok)
{
	family_t f;
	int err = load_recovered(be, vol, &f);
	if (err != 0)
		return err;
	unsigned next_rev = fam_next_rev(&f);
	bool have = fam_ds(&f, "import") >= 0;
	if (!ok || !have) {
		err = destroy_suffix(be, &f, "import");
		fam_free(&f);
		return err != 0 ? err
		       : ok	? qz_be_fail(be, ENOENT, "no import into %s is under way", vol)
				: 0;
	}
	fam_free(&f);
	char imp[QZ_NAME_MAX], newname[QZ_NAME_MAX];
	if ((err = fam_name(imp, vol, ':', "import")) != 0 ||
	    (err = fam_name(newname, vol, ':', "new")) != 0)
		return err;
	if (cfg->revisions_to_keep >= 0 && (err = snap_rev(be, imp, next_rev)) != 0)
		return err;
	CRASH("import.snapshotted");
	if ((err = be->ops->rename(be, imp, newname)) != 0)
		return err;
	CRASH("import.committed");
	if ((err = fam_load(be, vol, &f)) != 0)
		return err;
	err = finish_swap(be, &f);
	fam_free(&f);
	return err != 0 ? err : prune(be, vol, cfg->revisions_to_keep);
}

int qz_vol_import_volume(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, const char *src)
{
	int err = check_vol_name(be, src);
	if (err != 0)
		return err;
	bool same_zpool = qz_name_pool_len(src) == qz_name_pool_len(vol) &&
			  strncmp(src, vol, qz_name_pool_len(vol)) == 0;
	char snap[QZ_NAME_MAX];
	bool temp;
	family_t f;
	if ((err = load_recovered(be, vol, &f)) != 0)
		return err;
	unsigned next_rev = fam_next_rev(&f);
	if (fam_running(&f))
		err = qz_be_fail(be, EBUSY, "%s is started: stop its VM first", vol);
	fam_free(&f);
	if (err != 0 || (err = ensure_vm_dir(be, vol)) != 0 ||
	    (err = source_state(be, src, snap, &temp, NULL)) != 0)
		return err;
	/* the same zpool: an instant clone; another: a copy by send and receive */
	err = same_zpool ? swap_in_clone(be, vol, snap, cfg->revisions_to_keep >= 0, next_rev)
			 : swap_in_copy(be, vol, snap, next_rev);
	source_done(be, snap, temp);
	return err != 0 ? err : prune(be, vol, cfg->revisions_to_keep);
}

int qz_vol_export(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg, char *path, size_t len)
{
	char snap[QZ_NAME_MAX], target[QZ_NAME_MAX], sfx[32];
	bool temp;
	family_t f;
	int err = cfg->revisions_to_keep < 0 ? qz_vol_prune(be, vol, cfg) : qz_vol_recover(be, vol);
	if (err == 0)
		err = source_state(be, vol, snap, &temp, NULL);
	if (err != 0 || (err = fam_load(be, vol, &f)) != 0)
		return err;
	unsigned n = 1;
	do
		snprintf(sfx, sizeof(sfx), "export-%u", n++);
	while (fam_ds(&f, sfx) >= 0);
	fam_free(&f);
	if ((err = fam_name(target, vol, ':', sfx)) == 0)
		err = clone_as(be, snap, target, false);
	source_done(be, snap, temp);
	return err != 0 ? err : be->ops->zvol_path(be, target, path, len);
}

/* Whether paths a and b name the same device: the same node (through any link), or the same file
 * (the model's volumes are files). */
static bool same_device(const char *a, const char *b)
{
	struct stat x, y;
	if (strcmp(a, b) == 0)
		return true;
	if (stat(a, &x) != 0 || stat(b, &y) != 0)
		return false;
	if (S_ISBLK(x.st_mode) && S_ISBLK(y.st_mode))
		return x.st_rdev == y.st_rdev;
	return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int qz_vol_export_end(qz_backend_t *be, const char *vol, const char *path)
{
	family_t f;
	int err = check_vol_name(be, vol);
	if (err != 0 || (err = fam_load(be, vol, &f)) != 0)
		return err;
	err = qz_be_fail(be, EINVAL, "%s is not an export of %s", path, vol);
	for (size_t i = 0; i < f.nds; i++) {
		char p[512];
		if (strncmp(f.ds[i].suffix, "export-", 7) != 0)
			continue;
		/* udev's name needs no device (nor a loaded key); any other is asked of ZFS:
		 * export gives the kernel's node /dev/zdN when udev's link was slow to come, and
		 * the link may be there by now */
		snprintf(p, sizeof(p), "/dev/zvol/%s", f.ds[i].name);
		if (strcmp(p, path) == 0 ||
		    (be->ops->zvol_path(be, f.ds[i].name, p, sizeof(p)) == 0 &&
		     same_device(p, path))) {
			err = be->ops->destroy(be, f.ds[i].name);
			break;
		}
	}
	fam_free(&f);
	return err;
}

int qz_vol_verify(qz_backend_t *be, const char *vol, const qz_volcfg_t *cfg)
{
	int err = check_vol_name(be, vol);
	if (err != 0)
		return err;
	if (cfg->snap_on_start) {
		if (cfg->source == NULL || !be->ops->exists(be, cfg->source))
			return qz_be_fail(be, ENOENT, "the source volume %s does not exist",
					  cfg->source != NULL ? cfg->source : "(none)");
		return 0;
	}
	if (cfg->save_on_stop && !be->ops->exists(be, vol))
		return qz_be_fail(be, ENOENT, "volume %s does not exist", vol);
	return 0;
}
