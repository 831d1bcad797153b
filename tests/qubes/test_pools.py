# SPDX-License-Identifier: BSD-2-Clause
"""Pools through qvm-pool and qubesd's pool API: options as qubes.xml keeps them, on Qubes 4.2
(which hands them over as strings) and 4.3."""

import os
import subprocess
import time

from qubes_harness import QubesTestCase


class Options(QubesTestCase):
    def test_a_bad_option_is_refused_and_no_pool_is_left(self):
        for option in ("ephemeral_volatile=maybe", "revisions_to_keep=-2",
                       "revisions_to_keep=many"):
            name = self.name("bad") + option.split("=")[0][:3]
            proc = self.qvm("qvm-pool", "add", name, "zfs_zvol", "-o",
                            "dataset={}/{}".format(self.root, name), "-o", option, check=False)
            self.assertNotEqual(proc.returncode, 0, option)
            self.assertIn(option.split("=")[0], proc.stderr)
            self.assertNotIn(name, self.qvm("qvm-pool").stdout)

    def test_options_mean_the_same_after_a_qubesd_restart(self):
        plain = self.add_pool("plain")
        eph = self.add_pool("eph", ephemeral_volatile="True", revisions_to_keep="2")
        tpl = self.template(plain)
        self.dom0.restart()  # qubes.xml read again: Qubes 4.2 gives the options as strings
        self.assertEqual(self.pool_info(plain)["ephemeral_volatile"], "False")
        self.assertEqual(self.pool_info(eph)["ephemeral_volatile"], "True")
        self.assertEqual(self.pool_info(eph)["revisions_to_keep"], "2")
        self.assertEqual(self.volume_info(tpl + ":volatile")["ephemeral"], "False")
        self.start_and_stop(tpl)  # its volatile volume is made as configured: not ephemeral
        volatile = self.volume_dataset(plain, tpl, "volatile")
        starts = [op for _, op in self.dom0.volume_ops() if op.startswith("start " + volatile +
                                                                         " ")]
        self.assertEqual(len(starts), 1)
        self.assertNotIn("--ephemeral", starts[0])


class Datasets(QubesTestCase):
    def test_missing_parents_are_made(self):
        name = self.name("deep")
        dataset = "{}/{}/a/b/qubes".format(self.root, name)
        self.qvm("qvm-pool", "add", name, "zfs_zvol", "-o", "dataset=" + dataset)
        self.assertEqual(self.pool_info(name)["dataset"], dataset)
        tpl = self.template(name)
        self.assertEqual(self.volume_info(tpl + ":private")["pool"], name)
        listed = [row["name"] for row in self.dom0.qzfs("list", "{}/{}".format(self.root, name))]
        self.assertIn(dataset + "/" + tpl + "/private", listed)

    def test_a_used_pool_is_named_when_it_cannot_go(self):
        pool = self.add_pool()
        self.template(pool)
        proc = self.qvm("qvm-pool", "remove", pool, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertNotRegex(proc.stderr, r"object at 0x")
        self.assertIn(pool, proc.stderr)


class Daemon(QubesTestCase):
    def test_qubesd_stops_cleanly_while_a_listing_runs(self):
        pool = self.add_pool()
        tpl = self.template(pool)
        listings = self.listings()
        self.dom0.hold_listings()
        try:
            self.qvm("qvm-volume", "resize", tpl + ":private", str(3 * 1024 ** 3))  # a change
            self.volume_info(tpl + ":private")  # answered now; the pool is listed again
            for _ in range(1200):  # until that listing runs (held); a bound, not a pace
                if self.listings() > listings:
                    break
                time.sleep(0.1)
            self.assertGreater(self.listings(), listings)
            log = self.dom0.stop()  # SIGTERM, as systemd stops qubesd
        finally:
            self.dom0.hold_listings(False)
            if self.dom0.proc is None:
                self.dom0.start()
        for bad in ("Task was destroyed but it is pending", "Event loop is closed",
                    "Traceback"):
            self.assertNotIn(bad, log)

    def listings(self):
        return sum("pool volumes" in run for run in self.dom0.qzfs_runs())

    def test_reads_after_a_restart_list_nothing_on_the_event_loop(self):
        pool = self.add_pool()
        tpl = self.template(pool)
        work = self.appvm(pool, tpl)
        self.start_and_stop(work)
        self.dom0.restart()
        # what qvm-pool, qvm-volume and the Qube Manager read right after a start
        self.pool_info(pool)
        for vol in ("root", "private", "volatile"):
            self.volume_info("{}:{}".format(work, vol))
        self.qvm("qvm-volume", "list", "-p", pool)
        self.assertNotIn("read before its listing was made", self.dom0.log_since_start())


class Encrypted(QubesTestCase):
    def test_bad_options_are_refused(self):
        for option in ("unload_timeout=soon", "unload_timeout=nan", "ask_password_domain=-x",
                       "ephemeral_volatile=maybe"):
            name = self.name("enc") + option[:3]
            proc = self.qvm("qvm-pool", "add", name, "zfs_encrypted", "-o",
                            "zpool_name=" + self.root, "-o", option, check=False)
            self.assertNotEqual(proc.returncode, 0, option)
            self.assertIn(option.split("=")[0], proc.stderr)
            self.assertNotIn(name, self.qvm("qvm-pool").stdout)

    def test_the_default_prompt_appears_in_the_desktop_session(self):
        """ask_password_domain=dom0 (the default): qubesd, run as systemd runs it, has no display
        and no terminal; the installed askpass must find the prompt agent that XDG autostart
        starts in the user's desktop session, whose prompt program asks the user."""
        session = os.path.join(self.dom0.work, "session{}".format(self.n))
        os.makedirs(session)
        log = os.path.join(session, "prompts")
        with open(os.path.join(session, "zenity"), "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\necho \"$*\" >>{}\necho 'a desktop passphrase'\n".format(log))
        os.chmod(os.path.join(session, "zenity"), 0o755)
        with open("/etc/xdg/autostart/qubes-storage-zfs-prompt.desktop", encoding="utf-8") as f:
            agent = [line[5:].strip() for line in f if line.startswith("Exec=")][0]
        os.makedirs("/run/qubes", exist_ok=True)
        desktop = dict(os.environ, DISPLAY=":0", PATH=session + ":" + os.environ["PATH"])
        desktop.pop("QZFS_ASKPASS", None)
        proc = subprocess.Popen([agent], env=desktop, stderr=subprocess.PIPE, text=True)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.terminate)
        self.assertIn("listening", proc.stderr.readline())  # its socket is there
        # qubesd with the installed prompt, as the package leaves it (no test askpass)
        self.addCleanup(self.dom0.restart)
        self.addCleanup(self.dom0.qubesd_env.__setitem__, "QZFS_ASKPASS",
                        self.dom0.qubesd_env["QZFS_ASKPASS"])
        del self.dom0.qubesd_env["QZFS_ASKPASS"]
        self.dom0.restart()
        pool = self.add_pool("desk", driver="zfs_encrypted", zpool_name=self.root)
        with open(log, encoding="utf-8") as f:
            prompts = f.read().splitlines()
        self.assertEqual(len(prompts), 2, prompts)  # a new passphrase: asked twice
        self.assertIn("--title=Qubes storage: " + pool, prompts[0])
        # what the user typed is the pool's passphrase
        dataset = "{}/encryption/{}".format(self.root, pool)
        self.dom0.run_qzfs("key", "unload", dataset)
        proc2 = self.dom0.run_qzfs("key", "load", dataset, "--passphrase-fd", "0",
                                   stdin="a desktop passphrase\n")
        self.assertEqual(proc2.returncode, 0)
        # no agent (the desktop is not logged in): refused, saying so, nothing made
        proc.terminate()
        proc.wait()
        os.unlink("/run/qubes/qubes-storage-zfs-prompt.sock")
        name = self.name("nodesk")
        failed = self.qvm("qvm-pool", "add", name, "zfs_encrypted", "-o",
                          "zpool_name=" + self.root, check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertNotIn(name, self.qvm("qvm-pool").stdout)
        self.assertIn("no prompt agent in a desktop session", failed.stderr)

    def test_a_template_lives_and_starts_in_an_encrypted_pool(self):
        pool = self.add_pool("sec", driver="zfs_encrypted", zpool_name=self.root,
                             unload_timeout="600")
        tpl = self.template(pool)
        self.start_and_stop(tpl)
        self.dom0.restart()
        info = self.pool_info(pool)
        self.assertEqual(info["unload_timeout"], "600")
        self.assertEqual(info["ephemeral_volatile"], "False")
        self.assertEqual(info["zpool_name"], self.root)
        self.assertEqual(self.volume_info(tpl + ":private")["pool"], pool)
        with open(self.dom0.env["QZFS_TEST_ASKLOG"], encoding="utf-8") as f:
            asked = f.read()
        self.assertIn("asked: " + pool, asked)  # at qvm-pool add (and at the start if unloaded)
