/* SPDX-License-Identifier: BSD-2-Clause */
/* Pools: the root dataset under which a Qubes pool keeps its volumes. */
#include "engine.h"
#include "zname.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const cols[] = {"type", QZ_ROLE_PROP, QZ_POOL_PROP};

int qz_pool_make_parents(qz_backend_t *be, const char *root)
{
	char parent[QZ_NAME_MAX];
	if (qz_name_parent(root, parent, sizeof(parent)) != 0)
		return qz_be_fail(be, EINVAL, "a pool lives inside a zpool, not at %s", root);
	if (be->ops->exists(be, parent))
		return 0;
	if (strchr(parent, '/') == NULL)
		return qz_be_fail(be, ENOENT, "zpool %s does not exist", parent);
	int err = qz_pool_make_parents(be, parent);
	qz_prop_t p[] = {{"mountpoint", "none"}, {QZ_ROLE_PROP, "parent"}};
	if (err == 0 && (err = be->ops->create(be, parent, QZ_FILESYSTEM, p, 2, NULL, 0)) == EEXIST)
		err = 0; /* made meanwhile by another setup */
	return err;
}

int qz_pool_setup(qz_backend_t *be, const char *root, const char *poolname)
{
	if (qz_name_check(root, QZ_NAME_DATASET) != 0 || strchr(root, ':') != NULL)
		return qz_be_fail(be, EINVAL, "'%s' is not a valid dataset name", root);
	if (poolname == NULL || poolname[0] == '\0' || strlen(poolname) > 200)
		return qz_be_fail(be, EINVAL, "a pool needs a name");
	/* the last: Qubes' own udev rule keeps a zvol that inherits it away from dom0's device
	 * handling, as ours does */
	qz_prop_t p[] = {{"mountpoint", "none"},
			 {"volmode", "dev"},
			 {QZ_ROLE_PROP, "pool"},
			 {QZ_POOL_PROP, poolname},
			 {QZ_QUBES_POOL_PROP, "true"}};
	size_t np = sizeof(p) / sizeof(p[0]);
	if (!be->ops->exists(be, root)) {
		int err = qz_pool_make_parents(be, root);
		return err != 0 ? err : be->ops->create(be, root, QZ_FILESYSTEM, p, np, NULL, 0);
	}
	qz_list_t l;
	int err = be->ops->list(be, root, 1, QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT, cols, 3, &l);
	if (err != 0)
		return err;
	const char *type = qz_list_cell(&l, 0, 1), *role = qz_list_cell(&l, 0, 2),
		   *owner = qz_list_cell(&l, 0, 3);
	bool ours = strcmp(role, "pool") == 0;
	if (strcmp(type, "filesystem") != 0)
		err = qz_be_fail(be, EINVAL, "%s is not a filesystem", root);
	else if (ours && strcmp(owner, poolname) != 0)
		err = qz_be_fail(be, EEXIST, "%s belongs to the Qubes pool '%s'", root, owner);
	else if (!ours && l.nrows > 1)
		err = qz_be_fail(be, EEXIST, "%s is not empty and not ours: choose a new dataset",
				 root);
	qz_list_free(&l);
	for (size_t i = ours ? np - 1 : 0; err == 0 && i < np; i++) /* ours: from an older setup */
		err = be->ops->set_prop(be, root, p[i].name, p[i].value);
	return err;
}

int qz_pool_setup_devices(qz_backend_t *be, const char *root, const char *poolname,
			  const char *const *devices, size_t n)
{
	char zpool[QZ_NAME_MAX];
	if (qz_name_check(root, QZ_NAME_DATASET) != 0 || strchr(root, '/') == NULL)
		return qz_be_fail(be, EINVAL,
				  "the pool needs a dataset inside the zpool, like %s/qubes", root);
	snprintf(zpool, sizeof(zpool), "%.*s", (int)qz_name_pool_len(root), root);
	if (be->ops->exists(be, zpool)) /* said plainly: zpool create would only fail */
		return qz_be_fail(be, EEXIST, "zpool %s exists already", zpool);
	int err = be->ops->pool_create(be, zpool, devices, n);
	return err != 0 ? err : qz_pool_setup(be, root, poolname);
}

int qz_pool_destroy(qz_backend_t *be, const char *root)
{
	if (qz_name_check(root, QZ_NAME_DATASET) != 0)
		return qz_be_fail(be, EINVAL, "'%s' is not a valid dataset name", root);
	if (strchr(root, '/') == NULL)
		return qz_be_fail(be, EINVAL, "%s is a zpool's root dataset: never destroyed",
				  root);
	qz_list_t l;
	int err = be->ops->list(be, root, -1, QZ_FILESYSTEM | QZ_VOLUME | QZ_SNAPSHOT, cols, 3, &l);
	if (err != 0)
		return err;
	if (strcmp(qz_list_cell(&l, 0, 2), "pool") != 0)
		err = qz_be_fail(be, EPERM, "%s was not made by qubes-storage-zfs", root);
	/* only our empty VM datasets may be there */
	size_t depth0 = 0;
	for (const char *p = root; *p != '\0'; p++)
		depth0 += *p == '/';
	for (size_t r = 1; err == 0 && r < l.nrows; r++) {
		const char *name = qz_list_cell(&l, r, 0), *type = qz_list_cell(&l, r, 1),
			   *role = qz_list_cell(&l, r, 2);
		size_t depth = 0;
		for (const char *p = name; *p != '\0'; p++)
			depth += *p == '/';
		if (strcmp(type, "volume") == 0)
			err = qz_be_fail(be, EBUSY, "volume %s still exists", name);
		else if (strcmp(type, "filesystem") != 0 || depth != depth0 + 1 ||
			 (strcmp(role, "vm") != 0 && strcmp(role, "trash") != 0))
			err = qz_be_fail(be, EPERM, "%s was not made by qubes-storage-zfs", name);
	}
	for (size_t r = l.nrows; err == 0 && r-- > 1;)
		err = be->ops->destroy(be, qz_list_cell(&l, r, 0));
	if (err == 0)
		err = be->ops->destroy(be, root);
	qz_list_free(&l);
	return err;
}

/* Qubes' rule for VM names: a letter, then letters, digits, '_', '.' or '-'; 31 at most. */
static bool vm_name_ok(const char *vm)
{
	size_t n = strlen(vm);
	if (n == 0 || n > 31 || !isalpha((unsigned char)vm[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)vm[i]) && strchr("_.-", vm[i]) == NULL)
			return false;
	return true;
}

int qz_pool_find_vm(qz_backend_t *be, const char *vm, void (*fn)(void *arg, const char *dir),
		    void *arg, size_t *found)
{
	*found = 0;
	if (!vm_name_ok(vm))
		return qz_be_fail(be, EINVAL, "'%s' is not a Qubes VM name", vm);
	const char *const role[] = {QZ_ROLE_PROP};
	qz_list_t l;
	int err = be->ops->list(be, NULL, -1, QZ_FILESYSTEM, role, 1, &l);
	if (err != 0)
		return err;
	for (size_t r = 0; r < l.nrows; r++) {
		const char *name = qz_list_cell(&l, r, 0);
		const char *leaf = strrchr(name, '/');
		char parent[QZ_NAME_MAX];
		if (leaf == NULL || strcmp(leaf + 1, vm) != 0 ||
		    strcmp(qz_list_cell(&l, r, 1), "vm") != 0)
			continue;
		snprintf(parent, sizeof(parent), "%.*s", (int)(leaf - name), name);
		long p = qz_list_find(&l, parent);
		if (p < 0 || strcmp(qz_list_cell(&l, (size_t)p, 1), "pool") != 0)
			continue;
		fn(arg, name);
		(*found)++;
	}
	qz_list_free(&l);
	return 0;
}
