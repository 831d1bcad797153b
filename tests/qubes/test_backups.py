# SPDX-License-Identifier: BSD-2-Clause
"""Whole-qube backups as a user makes them in dom0: `qzfs backup create` with qube names saves
their settings beside their data; on a fresh dom0, `qzfs backup qubes restore` brings the
qubes back by name, settings and data. The settings go through the real Admin API both ways."""

import os
import re
import subprocess
import time

from qubes_harness import BACKEND, PYTHON, MiB, QubesTestCase

# what a qube gets anew when it is made, whatever it was made from
NEW_EACH_TIME = {"qid", "uuid", "name"}


class WholeQubes(QubesTestCase):
    def backup_setup(self):
        store = os.path.join(self.dom0.work, "store{}".format(self.n))
        os.makedirs(store)  # a backup disk, mounted in dom0
        self.store = "dir:" + store
        self.key = os.path.join(self.dom0.work, "key{}".format(self.n))
        self.state = os.path.join(self.dom0.work, "state{}".format(self.n))
        self.dom0.run_qzfs("backup", "keygen", self.key)

    def backup(self, *args, check=True):
        return self.dom0.run_qzfs("backup", "create", "--target", self.store, "--key-file",
                                  self.key, "--state", self.state, *args, check=check)

    def restore(self, *args, check=True, stdin=None):
        return self.dom0.run_qzfs("backup", "qubes", "restore", "--target", self.store,
                                  "--key-file", self.key, *args, check=check, stdin=stdin)

    def settings(self, *vms):
        """Each vm's settings as the Admin API tells them, less what every qube gets anew."""
        got = self.dom0.settings(*vms)
        for vm in got.values():
            for prop in NEW_EACH_TIME:
                vm["prefs"].pop(prop, None)
        return got

    def test_qubes_come_back_by_name_on_a_fresh_dom0(self):
        self.backup_setup()
        pool = self.add_pool("bk")
        tpl = self.template(pool, small=True)
        self.import_bytes(tpl + ":private", b"T" * 4096, size=MiB)
        work = self.appvm(pool, tpl)
        self.import_bytes(work + ":private", b"W" * 4096, size=2 * MiB)
        # a disposable template that is its own default_dispvm: a reference to a qube of the
        # restore, set once all are made
        self.dom0.set_prefs(work, [("memory", 555), ("maxmem", 1111), ("vcpus", 3), ("netvm", ""),
                                   ("label", "green"), ("default_user", "tester"),
                                   ("include_in_backups", False),
                                   ("template_for_dispvms", True), ("default_dispvm", work)])
        self.qvm("qvm-features", work, "backup-test", "yes")
        self.qvm("qvm-tags", work, "add", "backed-up")
        self.qvm("qvm-firewall", work, "add", "action=drop", "dsthost=192.0.2.1")
        before = self.settings(tpl, work)
        old_root = self.pool_info(pool)["dataset"]
        data = {(vm, v): self.volume_bytes(old_root, vm, v) for vm, v in
                ((tpl, "root"), (tpl, "private"), (work, "private"))}
        made = self.backup(tpl, work).stdout
        self.assertIn("qube:" + tpl + " settings", made)
        docs = {line.split()[1]: line.split()[0] for line in made.splitlines()
                if " settings (" in line}
        self.assertEqual(sorted(docs), ["qube:" + tpl, "qube:" + work])
        # the backup of work's private volume (a name stands for the qube's volumes in every
        # pool of ours: on a zpool shared with another release's tests, theirs too)
        work_private = [line.split()[0] for line in made.splitlines()
                        if line.split()[1:2] == ["{}/{}/private".format(old_root, work)]]
        self.assertEqual(len(work_private), 1, made)

        self.dom0.fresh()  # a freshly installed dom0: no qubes, an empty pool of that name
        new_root = "{}/fresh{}".format(self.root, self.n)
        self.qvm("qvm-pool", "add", pool, "zfs_zvol", "-o", "dataset=" + new_root)
        listed = self.dom0.run_qzfs("backup", "qubes", "list", "--target", self.store,
                                    "--key-file", self.key).stdout
        self.assertRegex(listed, r"(?m)^{}\tTemplateVM\t".format(tpl))
        self.assertRegex(listed, r"(?m)^{}\tAppVM\t{}\t".format(work, tpl))
        plan = self.restore("--dry-run", work, tpl)
        self.assertIn("create TemplateVM " + tpl, plan.stderr)
        self.assertLess(plan.stderr.index(tpl), plan.stderr.index(work))  # template first
        self.assertNotIn(work, self.qvm("qvm-ls", "--raw-list").stdout)  # nothing made
        # settings altered on the target: refused before anything is made
        chunk = os.path.join(self.store[4:], docs["qube:" + work] + ".c00000000")
        self.flip(chunk)
        proc = self.restore(work, tpl, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("refused", proc.stderr)
        self.assertNotIn(tpl, self.qvm("qvm-ls", "--raw-list").stdout)
        self.flip(chunk)
        # the data of a volume withheld by the target (its trailer hidden: the backup looks
        # unfinished): refused before anything is made, never restored as an empty volume
        trailer = os.path.join(self.store[4:], work_private[0] + ".e")
        os.rename(trailer, trailer + ".hidden")
        proc = self.restore(work, tpl, check=False)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("no whole backup of", proc.stderr)
        self.assertNotIn(tpl, self.qvm("qvm-ls", "--raw-list").stdout)
        os.rename(trailer + ".hidden", trailer)
        # a restore cut short after the qubes were made (their data refused: altered), then
        # run again once the target is right: it continues into the qubes it made
        chunk = os.path.join(self.store[4:], work_private[0] + ".c00000000")
        self.flip(chunk)
        proc = self.restore(work, tpl, check=False)
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.flip(chunk)
        self.restore(work, tpl)
        self.assertEqual(self.settings(tpl, work), before)
        for (vm, v), want in data.items():
            self.assertEqual(self.volume_bytes(new_root, vm, v), want, (vm, v))
        self.assertEqual(self.volume_info(work + ":private")["size"], str(2 * MiB))

        # again: the names are taken now; refused, nothing changed; or renamed
        proc = self.restore(work, check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("exists", proc.stderr)
        other = self.add_pool("other")
        self.restore("--rename-conflicting", "--pool", other, work)  # its template: the one here
        renamed = work + "-1"
        want = dict(before[work])
        want["prefs"] = dict(want["prefs"], default_dispvm=renamed)  # itself, as it was
        self.assertEqual(self.settings(renamed)[renamed], want)
        self.assertEqual(self.volume_info(renamed + ":private")["pool"], other)
        self.assertEqual(self.volume_bytes(self.pool_info(other)["dataset"], renamed, "private"),
                         data[(work, "private")])

    def test_a_missing_template_is_replaced_by_the_default_or_its_qube_skipped(self):
        # the plan is qube-settings' alone; the data path is the test below
        self.on_the_model_only("planning only (146 s in the emulated VM)")
        self.backup_setup()
        pool = self.add_pool("bk")
        tpl = self.template(pool, small=True)
        spare = self.template(pool, base="spare", small=True)
        work = self.appvm(pool, tpl)
        self.import_bytes(work + ":private", b"M" * 4096, size=MiB)
        want = self.volume_bytes(self.pool_info(pool)["dataset"], work, "private")
        self.backup(work, spare)  # the AppVM without its template

        self.dom0.fresh()
        new_root = "{}/fresh{}".format(self.root, self.n)
        self.qvm("qvm-pool", "add", pool, "zfs_zvol", "-o", "dataset=" + new_root)
        # its template neither backed up nor here, and no default one: that qube is skipped,
        # said so, before anything is made; the rest is restored
        proc = self.restore(work, spare)
        self.assertIn("{}: not restored: its template {} is neither in the backup nor here, "
                      "and there is no default template".format(work, tpl), proc.stderr)
        listed = self.qvm("qvm-ls", "--raw-list").stdout.split()
        self.assertIn(spare, listed)
        self.assertNotIn(work, listed)
        proc = self.restore(work, check=False)  # alone: nothing to restore, refused
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("nothing restored", proc.stderr)
        # with a default template: based on it, with a warning, the data in place
        self.qvm("qubes-prefs", "default_template", spare)
        plan = self.restore("--dry-run", work)
        self.assertIn("create AppVM {} on {}".format(work, spare), plan.stderr)
        # on a terminal (script(1) gives qzfs one): how far each volume is, of its size
        proc = subprocess.run(
            ["script", "-qec", " ".join(["/usr/bin/qzfs", "backup", "qubes", "restore",
                                         "--target", self.store, "--key-file", self.key, work]),
             "/dev/null"], env=self.dom0.env, capture_output=True, text=True, check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        self.assertRegex(proc.stdout,
                         r"/{}/private: [0-9.]* MiB of about [0-9.]* MiB \([0-9]+%\) restored"
                         .format(work))
        self.assertIn("its template {} is neither in the backup nor here: based on the default "
                      "template {}".format(tpl, spare), proc.stdout)
        self.assertEqual(self.qvm("qvm-prefs", work, "template").stdout.strip(), spare)
        self.assertEqual(self.volume_bytes(new_root, work, "private"), want)

    def test_a_qube_in_an_encrypted_pool_comes_back_under_the_new_pools_key(self):
        self.backup_setup()
        plain = self.add_pool("bk")
        tpl = self.template(plain, small=True)
        sec = self.add_pool("sec", driver="zfs_encrypted", zpool_name=self.root)
        work = self.appvm(sec, tpl)
        self.import_bytes(work + ":private", b"E" * 4096, size=MiB)
        old_sec = "{}/encryption/{}".format(self.root, sec)  # where the driver keeps it
        want = self.volume_bytes(old_sec, work, "private")
        made = self.backup(tpl, work).stdout
        self.assertIn(" {}/{}/private full".format(old_sec, work), made)  # found by the VM's name
        old_pass = self.dom0.env["QZFS_TEST_PASSPHRASE"]

        # a fresh dom0 whose user chose another passphrase for the pool of that name
        self.addCleanup(self.dom0.restart)  # after the passphrase is put back (LIFO)
        for env in (self.dom0.env, self.dom0.qubesd_env):  # the prompt's answer, and ours
            self.addCleanup(env.__setitem__, "QZFS_TEST_PASSPHRASE", old_pass)
            env["QZFS_TEST_PASSPHRASE"] = "another passphrase, chosen anew"
        self.dom0.fresh()
        new_root = "{}/fresh{}".format(self.root, self.n)
        self.qvm("qvm-pool", "add", plain, "zfs_zvol", "-o", "dataset=" + new_root)
        self.qvm("qvm-pool", "add", sec, "zfs_encrypted", "-o", "zpool_name=" + new_root)
        new_sec = "{}/encryption/{}".format(new_root, sec)
        # the backed-up pool's passphrase is needed to take the data in: asked for, not guessed
        proc = self.restore(work, tpl, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("--pool-passphrase-fd", proc.stderr)
        self.restore("--pool-passphrase-fd", "0", work, tpl, stdin=old_pass + "\n")
        self.assertEqual(self.volume_info(work + ":private")["pool"], sec)
        self.assertEqual(self.volume_bytes(new_sec, work, "private"), want)
        # under the new pool's key: its passphrase alone opens the data once the key is unloaded
        self.dom0.run_qzfs("key", "unload", new_sec)
        self.dom0.run_qzfs("key", "load", new_sec, "--passphrase-fd", "0",
                           stdin=self.dom0.env["QZFS_TEST_PASSPHRASE"] + "\n")
        self.assertEqual(self.volume_bytes(new_sec, work, "private"), want)

    def zfs_qube(self):
        """A backup qube that runs ZFS, reached as dom0 reaches one (its service started by
        exec:, as qvm-run starts it): on the model, a model of its own; on real ZFS, a dataset
        of this zpool. Its --target."""
        qube = os.path.join(self.dom0.work, "zqube{}".format(self.n))
        os.makedirs(qube)
        env = {}
        dataset = "{}/zqube{}".format(self.root, self.n)
        if BACKEND == "model":
            env = {"QZFS_BACKEND": "model:" + os.path.join(qube, "model"),
                   "QZFS_MODEL_POOL": "zq"}
            dataset = "zq/kept"
        subprocess.run(["/usr/bin/qzfs", "pool", "setup", dataset, "kept"],
                       env=dict(self.dom0.env, **env), check=True, capture_output=True)
        script = os.path.join(qube, "service.sh")
        with open(script, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n{}exec /usr/libexec/qubes-storage-zfs/qzfs-backup-zfs-store {}\n"
                    .format("".join("export {}={}\n".format(k, v) for k, v in env.items()),
                            dataset))
        os.chmod(script, 0o755)
        return "exec:" + script

    def test_qubes_backed_up_to_a_qube_running_zfs_come_back_by_name(self):
        """`backup zfs create` with a key seals the qubes' settings and dom0's records beside
        the raw backups; a fresh dom0 restores the qubes by name from both."""
        # on real ZFS the data path is zfs-backups.sh's (records, restores over a volume) and
        # the README's (a keyed backup of a qube, a fresh dom0's restore)
        self.on_the_model_only("whole qubes from a ZFS qube")
        self.backup_setup()
        sec = self.add_pool("sec", driver="zfs_encrypted", zpool_name=self.root)
        tpl = self.template(sec, small=True)
        self.import_bytes(tpl + ":private", b"T" * 4096, size=MiB)
        work = self.appvm(sec, tpl)
        self.import_bytes(work + ":private", b"Z" * 4096, size=MiB)
        self.dom0.set_prefs(work, [("memory", 555), ("maxmem", 1111), ("label", "green")])
        self.qvm("qvm-features", work, "backup-test", "zfs")
        self.qvm("qvm-tags", work, "add", "backed-up")
        before = self.settings(tpl, work)
        old_sec = "{}/encryption/{}".format(self.root, sec)
        data = {(vm, v): self.volume_bytes(old_sec, vm, v) for vm, v in
                ((tpl, "root"), (tpl, "private"), (work, "private"))}
        zq = self.zfs_qube()
        made = self.dom0.run_qzfs("backup", "zfs", "create", "--target", zq, "--state",
                                  self.state, "--key-file", self.key, "--sealed-target",
                                  self.store, tpl, work).stdout
        self.assertIn("qube:" + work + " settings", made)
        self.assertRegex(made, r"dom0's records of 3 backups sealed beside them")
        # without a key: the data alone, and said so
        plain = self.dom0.run_qzfs("backup", "zfs", "create", "--target", zq, "--state",
                                   self.state, "--full", work)
        self.assertIn("settings are not saved", plain.stderr)

        self.dom0.fresh()  # no qubes, no records of dom0's: the key alone brings them back
        subprocess.run(["find", "/var/lib/qubes-storage-zfs", "-mindepth", "1", "-delete"],
                       check=True)
        new_root = "{}/fresh{}".format(self.root, self.n)
        self.qvm("qvm-pool", "add", sec, "zfs_encrypted", "-o", "zpool_name=" + new_root)
        new_sec = "{}/encryption/{}".format(new_root, sec)
        listed = self.restore("--zfs-target", zq, work, tpl, check=False)
        self.assertNotEqual(listed.returncode, 0)  # the backed-up pool's passphrase: asked for
        listed = self.dom0.run_qzfs("backup", "qubes", "list", "--target", self.store,
                                    "--key-file", self.key, "--zfs-target", zq).stdout
        self.assertRegex(listed, r"(?m)^{}\tAppVM\t{}\t".format(work, tpl))
        self.restore("--zfs-target", zq, "--pool-passphrase-fd", "0", work, tpl,
                     stdin=self.dom0.env["QZFS_TEST_PASSPHRASE"] + "\n")
        self.assertEqual(self.settings(tpl, work), before)
        for (vm, v), want in data.items():
            self.assertEqual(self.volume_bytes(new_sec, vm, v), want, (vm, v))

    def test_one_restore_by_name_against_the_hand_steps_it_replaces(self):
        """On a fresh dom0, the qubes come back with one `backup qubes restore`, or by hand: each
        qube made again, its settings typed in from what the user remembers, each volume's data
        restored over it. Both must end with the same settings and bytes (so the hand steps are
        a complete replacement); the commands each takes and their time are printed, never
        asserted."""
        # the data path is the test above's; the figures: the model's
        self.on_the_model_only("settings and commands")
        self.backup_setup()
        pool = self.add_pool("bk")
        tpl = self.template(pool, small=True)
        self.import_bytes(tpl + ":private", b"T" * 4096, size=MiB)
        work = self.appvm(pool, tpl)
        self.import_bytes(work + ":private", b"W" * 4096, size=MiB)
        self.dom0.set_prefs(work, [("memory", 555), ("maxmem", 1111), ("vcpus", 3),
                                   ("netvm", ""), ("label", "green"), ("default_user", "tester")])
        self.qvm("qvm-features", work, "backup-test", "yes")
        self.qvm("qvm-tags", work, "add", "backed-up")
        self.qvm("qvm-firewall", work, "add", "action=drop", "dsthost=192.0.2.1")
        before = self.settings(tpl, work)
        old_root = self.pool_info(pool)["dataset"]
        volumes = ((tpl, "root"), (tpl, "private"), (work, "private"))
        data = {(vm, v): self.volume_bytes(old_root, vm, v) for vm, v in volumes}
        self.backup(tpl, work)

        def fresh_dom0(suffix):
            self.dom0.fresh()
            root = "{}/{}{}".format(self.root, suffix, self.n)
            self.qvm("qvm-pool", "add", pool, "zfs_zvol", "-o", "dataset=" + root)
            return root

        def ended_alike(root):
            self.assertEqual(self.settings(tpl, work), before)
            for vm, v in volumes:
                self.assertEqual(self.volume_bytes(root, vm, v), data[(vm, v)], (vm, v))

        new_root = fresh_dom0("byname")
        t0 = time.monotonic()
        self.restore(work, tpl)
        by_name = time.monotonic() - t0
        ended_alike(new_root)

        new_root = fresh_dom0("byhand")
        typed, spent = [], [0.0]

        def user(tool, *args):  # a command the user types; only these are timed
            typed.append(tool)
            t0 = time.monotonic()
            if tool == "qzfs":
                self.dom0.run_qzfs(*args)
            else:
                self.qvm(tool, *args)
            spent[0] += time.monotonic() - t0

        for vm, cls in ((tpl, "TemplateVM"), (work, "AppVM")):
            prefs = before[vm]["prefs"]
            made = ["--template", prefs["template"]] if "template" in prefs else []
            user("qvm-create", "--class", cls, *made, "--label", prefs["label"], "-P", pool, vm)
            now = self.settings(vm)[vm]
            for prop, value in prefs.items():
                if now["prefs"].get(prop) != value:
                    user("qvm-prefs", vm, prop, "" if value == "None" else value)
            for feature, value in before[vm]["features"].items():
                if now["features"].get(feature) != value:
                    user("qvm-features", vm, feature, value)
            for tag in before[vm]["tags"]:
                if tag not in now["tags"]:
                    user("qvm-tags", vm, "add", tag)
            for rule in before[vm]["firewall"].splitlines():
                if rule not in now["firewall"].splitlines():
                    user("qvm-firewall", vm, "add", *rule.split())
        for vm, v in volumes:
            user("qzfs", "backup", "restore", "--target", self.store, "--key-file", self.key,
                 "--over", "{}/{}/{}".format(new_root, vm, v), "--revisions-to-keep", 1,
                 "--volume", "{}/{}/{}".format(old_root, vm, v))
        by_hand = spent[0]
        ended_alike(new_root)
        # the harness forks each client from a zygote; a user's qvm-* command starts its own
        # interpreter and imports the clients: that cost, measured here, is added per client
        t0 = time.monotonic()
        subprocess.run([PYTHON, "-c", "import qubesadmin.tools.qvm_prefs"], env=self.dom0.env,
                       check=True)
        start = time.monotonic() - t0
        clients = len(typed) - typed.count("qzfs")
        print("# {}: a template and an AppVM back on a fresh dom0: by name 1 command, {:.1f} s; "
              "by hand {} commands ({}), {:.1f} s ({:.1f}x), and {:.1f} s ({:.1f}x) with each "
              "client's interpreter start ({:.2f} s) as a user's own; the settings known "
              "beforehand".format(
                  self.dom0.release, by_name, len(typed),
                  ", ".join("{} {}".format(typed.count(t), t) for t in sorted(set(typed))),
                  by_hand, by_hand / by_name, by_hand + clients * start,
                  (by_hand + clients * start) / by_name, start), flush=True)

    @staticmethod
    def flip(path):
        """Inverts the bits of a byte in the middle of a stored object (a hostile target)."""
        with open(path, "r+b") as f:
            f.seek(60)
            b = f.read(1)
            f.seek(60)
            f.write(bytes([b[0] ^ 0xFF]))

    def assigned(self, vm):
        """vm's device assignments, one line each, as the Admin API of this release lists
        them (4.2: persistent attachments; 4.3: assignments in a mode)."""
        call = "List" if self.dom0.release == "4.2" else "Assigned"
        return sorted(re.sub(r" frontend_domain='[^']*'", "", line)  # vm itself, or not said
                      for devclass in ("block", "pci") for line in self.api(
                          vm, "admin.vm.device.{}.{}".format(devclass, call)).splitlines())

    def api(self, vm, call, arg=None, payload=None):
        """An Admin API call on vm through the client library, its answer as text."""
        code = ("import sys, qubesadmin\n"
                "vm = qubesadmin.Qubes().domains[sys.argv[1]]\n"
                "a = sys.argv[3] if len(sys.argv) > 3 else None\n"
                "p = sys.argv[4].encode() if len(sys.argv) > 4 else None\n"
                "sys.stdout.write(vm.qubesd_call(vm.name, sys.argv[2], a, p).decode())\n")
        return self.qvm("python3", "-c", code, vm, call,
                        *([arg] if arg else []), *([payload] if payload else [])).stdout

    def test_devices_come_back_assigned_where_they_can_be(self):
        # the plan is qube-settings' alone; the data path is tested above
        self.on_the_model_only("settings only")
        self.backup_setup()
        pool = self.add_pool("bk")
        tpl = self.template(pool, small=True)
        work = self.appvm(pool, tpl)
        # offline, qubesd can tell no device present: so each device is not on this machine
        # as far as the restore can tell (a required one is skipped, an optional one kept)
        pci = sorted(os.listdir("/sys/bus/pci/devices"))[-1]  # 4.2 checks the host has it
        port = pci[len("0000:"):].replace(":", "_")
        if self.dom0.release == "4.2":  # persistent attachments, all required at start
            self.qvm("qvm-prefs", work, "virt_mode", "hvm")
            self.api(work, "admin.vm.device.pci.Attach", "dom0+" + port, "persistent=True")
        else:
            for devclass, dev, mode in (("pci", port, "required"), ("block", "sdy", "auto-attach"),
                                        ("block", "sdz", "required")):
                self.api(work, "admin.vm.device.{}.Assign".format(devclass),
                         "dom0+{}:*".format(dev), "device_id='*' port_id='{}' devclass='{}' "
                         "backend_domain='dom0' mode='{}'".format(dev, devclass, mode))
        before = self.assigned(work)
        self.assertEqual(len(before), 1 if self.dom0.release == "4.2" else 3, before)
        self.backup(tpl, work)

        self.dom0.fresh()
        self.qvm("qvm-pool", "add", pool, "zfs_zvol", "-o",
                 "dataset={}/fresh{}".format(self.root, self.n))
        proc = self.restore(work, tpl)
        self.assertIn("{}: pci device dom0:{} not assigned: whether it is on this machine "
                      "cannot be told".format(work, port), proc.stderr)
        if self.dom0.release == "4.2":
            self.assertEqual(self.assigned(work), [])
        else:
            self.assertIn("{}: block device dom0:sdz not assigned".format(work), proc.stderr)
            self.assertIn("{}: block device dom0:sdy assigned (auto-attach), though whether"
                          .format(work), proc.stderr)
            self.assertEqual(self.assigned(work), [b for b in before if "sdy" in b])
