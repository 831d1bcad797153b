# SPDX-License-Identifier: BSD-2-Clause
"""Volumes through qvm-volume, qvm-clone and qvm-start, as a user drives them: sizes, resizes,
revisions and what clones and exports get."""

import os

from qubes_harness import GiB, MiB, QubesTestCase

A, B = b"A" * 4096, b"B" * 4096


class Sizes(QubesTestCase):
    def test_sizes_not_a_multiple_of_the_block_are_taken(self):
        pool = self.add_pool()
        tpl = self.template(pool)
        self.qvm("qvm-volume", "resize", tpl + ":private", "4G")  # 4 * 10^9 for the client
        self.assertEqual(self.volume_info(tpl + ":private")["size"], "4000000000")
        # an image of 1,000,000 bytes, as a copy from a file pool sends it (ImportWithSize)
        self.import_bytes(tpl + ":root", os.urandom(1000000))
        self.assertEqual(self.volume_info(tpl + ":root")["size"], "1000000")

    def test_resize_of_snapshot_and_volatile_volumes_is_kept(self):
        pool = self.add_pool()
        tpl = self.template(pool)
        work = self.appvm(pool, tpl)
        self.qvm("qvm-volume", "resize", work + ":root", str(12 * GiB))
        self.qvm("qvm-volume", "resize", work + ":volatile", str(13 * GiB))
        self.assertEqual(self.volume_info(work + ":root")["size"], str(12 * GiB))
        self.assertEqual(self.volume_info(work + ":volatile")["size"], str(13 * GiB))
        self.dom0.restart()  # what qubes.xml kept
        self.assertEqual(self.volume_info(work + ":root")["size"], str(12 * GiB))
        self.assertEqual(self.volume_info(work + ":volatile")["size"], str(13 * GiB))
        self.start_and_stop(work)  # the storage started with those sizes, and stopped
        ops = self.dom0.volume_ops()
        for vol, size in (("root", 12 * GiB), ("volatile", 13 * GiB)):
            dataset = self.volume_dataset(pool, work, vol)
            starts = [op for _, op in ops if op.startswith("start " + dataset + " ")]
            self.assertEqual(len(starts), 1)
            self.assertIn("--size {}".format(size), starts[0])

    def test_a_halted_resize_is_what_clones_and_copies_get(self):
        pool = self.add_pool()
        tpl = self.template(pool, small=True)  # root: 1 MiB
        self.qvm("qvm-volume", "resize", tpl + ":root", str(3 * MiB))
        clone = self.name("clone")
        self.qvm("qvm-clone", "-P", pool, tpl, clone)
        self.assertEqual(self.volume_info(clone + ":root")["size"], str(3 * MiB))
        copy = self.name("copy")  # into another pool: through export
        self.qvm("qvm-clone", "-P", "varlibqubes", tpl, copy)
        image = "/var/lib/qubes/vm-templates/{}/root.img".format(copy)
        self.assertEqual(os.path.getsize(image), 3 * MiB)


class Revisions(QubesTestCase):
    def committed_bytes(self, vm, size=4096):
        """What a copy into a file pool gets of vm's private volume (qubesd's export)."""
        copy = self.name("copy") + vm[-3:]
        self.qvm("qvm-clone", "-P", "varlibqubes", vm, copy)
        for folder in ("appvms", "vm-templates"):
            path = "/var/lib/qubes/{}/{}/private.img".format(folder, copy)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    data = f.read(size)
                self.qvm("qvm-remove", "-f", copy)
                return data
        raise AssertionError("no private.img for " + copy)

    def test_minus_one_drops_old_states_and_serves_the_live_one(self):
        if self.dom0.release == "4.2":
            # 4.2's admin.vm.volume.Set.revisions_to_keep refuses -1 (Qubes 4.2 itself)
            proc = self.qvm("qvm-volume", "config", self.template(self.add_pool()) + ":private",
                            "revisions_to_keep", "-1", check=False)
            self.assertNotEqual(proc.returncode, 0)
            return
        pool = self.add_pool()
        tpl = self.template(pool, small=True)  # its copies read every byte
        self.import_bytes(tpl + ":private", A, size=MiB)
        self.import_bytes(tpl + ":private", B, size=MiB)
        self.assertEqual(len(self.revisions(tpl + ":private")), 1)  # A, kept as a revision
        self.qvm("qvm-volume", "config", tpl + ":private", "revisions_to_keep", "-1")
        self.assertEqual(self.revisions(tpl + ":private"), [])
        self.assertEqual(self.committed_bytes(tpl), B)
        self.import_bytes(tpl + ":private", A, size=MiB)  # M1, written with -1
        self.assertEqual(self.committed_bytes(tpl), A)
        self.assertEqual(self.revisions(tpl + ":private"), [])
        self.assertEqual(self.generations(pool, tpl, "private"), [])

    def revisions(self, vm_volume):
        out = self.qvm("qvm-volume", "info", vm_volume, "revisions").stdout
        return [line for line in out.splitlines() if line.strip()]

    def generations(self, pool, vm, volume):
        """The volume's datasets besides the live one (<volume>:g1 ...)."""
        dataset = self.volume_dataset(pool, vm, volume)
        names = [row["name"] for row in self.dom0.qzfs("list", os.path.dirname(dataset))]
        return sorted(n for n in names if n.startswith(dataset + ":") and "@" not in n)

    def test_an_import_keeps_the_state_before_as_the_revision_listed_and_no_more(self):
        pool = self.add_pool()
        tpl = self.template(pool, small=True)  # its copies read every byte
        self.import_bytes(tpl + ":private", A, size=MiB)
        self.import_bytes(tpl + ":private", B, size=MiB)
        listed = self.revisions(tpl + ":private")
        self.assertEqual(len(listed), 1)  # revisions_to_keep 1: the state before, A
        gens = self.generations(pool, tpl, "private")
        self.assertLessEqual(len(gens), 1)  # at most the dataset that holds that revision
        self.qvm("qvm-volume", "revert", tpl + ":private", listed[0].split()[0])
        self.assertEqual(self.committed_bytes(tpl), A)
        self.qvm("qvm-volume", "config", tpl + ":private", "revisions_to_keep", "0")
        self.import_bytes(tpl + ":private", B, size=MiB)
        self.assertEqual(self.revisions(tpl + ":private"), [])
        self.assertEqual(self.generations(pool, tpl, "private"), [])


class Processes(QubesTestCase):
    def test_a_vms_creation_start_stop_and_removal_are_one_qzfs_run_each(self):
        """qubesd asks for all of a VM's volumes at once: the driver does them in one run."""
        pool = self.add_pool()
        tpl = self.template(pool)
        before = len(self.dom0.qzfs_runs())
        work = self.appvm(pool, tpl)
        datasets = {self.volume_dataset(pool, work, v) for v in ("root", "private", "volatile")}
        self.start_and_stop(work)  # verified, started; libvirt fails; stopped
        self.qvm("qvm-remove", "-f", work)  # stops the storage again (known stopped: no
        # qzfs run), then removes it
        runs = {}  # run number: (its kind, the datasets it did)
        for n, op in self.dom0.volume_ops(before):
            kind, dataset = op.split()[:2]
            runs.setdefault(n, (kind, set()))[1].add(dataset)
        kinds = [kind for kind, _ in runs.values()]
        self.assertEqual(kinds, ["create", "verify", "start", "stop", "remove"], runs)
        for kind, done in runs.values():
            self.assertEqual(done, datasets, kind)
        listed = [row["name"] for row in self.dom0.qzfs("list", self.pool_info(pool)["dataset"])]
        self.assertFalse([name for name in listed if "/{}/".format(work) in name + "/"])
