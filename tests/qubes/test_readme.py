# SPDX-License-Identifier: BSD-2-Clause
"""The README's own commands, run as a user types them into a fresh dom0 (issue 19): every
command of the README's `sh` blocks, read from README.md by this test, in order, by bash, with
the project as installed, the real qubesd and the real qvm-* clients, and the default paths
(no --state). On the model, all but the backup qube running ZFS; on real ZFS, that block and
the blocks that make what it needs (the others' commands are the same on both).

Only names are substituted: the zpool, paths of key files and disks, the backup qubes (no qube
runs here), and backup IDs and `...` from what the commands before showed. What the README says
in prose between its commands (a fresh dom0, the pools added again) the test does. A command
that fails fails the test; a command this dom0 cannot run is printed with why.

Before the first block, the dom0 has what a user's has: the template `fedora-41` and the qube
`personal` (which the README's commands name but do not make), in a pool of ours."""

import os
import re
import subprocess

from qubes_harness import BACKEND, QubesTestCase

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")

# commands that cannot run in this dom0, by a pattern of their text: why
CANNOT = (
    (r"^scripts/", "the developer's commands on a Debian machine (CI runs scripts/test)"),
    (r"block_devices=", "whole disks: this dom0 has none to give"),
    (r"ask_password_domain=vault", "asks in the qube vault: no qube runs here (the dom0 prompt "
                                   "is the line before)"),
    (r"systemctl enable", "no systemd in this dom0: the service's own command is run below"),
)

ON_THE_MODEL = "run on the model (real ZFS runs the blocks the model cannot, and those they need)"


def sh_blocks(text):
    """The README's sh blocks: [(line number, [(line number, command, comment before)])]: a
    command with its continuation lines and here-document; the comment lines before it."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        block, comment, i = [], "", i + 1
        start = i
        while i < len(lines) and not lines[i].startswith("```"):
            line, n = lines[i], i + 1
            i += 1
            if not line.strip() or line.lstrip().startswith("#"):
                comment += line.lstrip("# ") + "\n"
                continue
            while line.endswith("\\") and i < len(lines):
                line = line[:-1] + " " + lines[i].strip()
                i += 1
            heredoc = re.search(r"<<\s*'?(\w+)'?", line)
            if heredoc:
                while i < len(lines) and lines[i].strip() != heredoc.group(1):
                    line += "\n" + lines[i]
                    i += 1
                line += "\n" + heredoc.group(1)
                i += 1
            block.append((n, line, comment))
            comment = ""
        blocks.append((start, block))
        i += 1
    return blocks


class Readme(QubesTestCase):
    def test_every_readme_command_as_a_user_types_it(self):
        with open(README, encoding="utf-8") as f:
            blocks = sh_blocks(f.read())
        self.assertGreaterEqual(len(blocks), 6)
        work = self.dom0.work
        self.tank = "{}/readme{}".format(self.root, self.n)  # the README's zpool `tank`
        self.names = [  # (pattern, replacement) for each name the README uses
            (r"(?<![\w/.-])tank(?=[/\s]|$)", lambda _: self.tank),
            (r"/root/qzfs-backup\.key", os.path.join(work, "qzfs-backup.key")),
            (r"/root/pool-passphrase", os.path.join(work, "pool-passphrase")),
            (r"qube:backups", "dir:" + os.path.join(work, "backup-qube")),
            (r"/mnt/usb/qzfs", os.path.join(work, "usb")),
            # the ZFS qube (a dataset beside the user's `tank`, whichever dom0 is in use), and
            # where a key is given, its own sealed store (a folder) as the README says
            (r"qube:zbackups", lambda m: "zfs:{}-zbackups".format(self.users_tank()) + (
                " --sealed-target dir:" + os.path.join(work, "zbackups-sealed")
                if "--key-file" in m.string else "")),
            (r"(?<![\w/.-])backup/qubes-storage-zfs", lambda _: self.tank + "-zbackups"),
        ]
        with open(os.path.join(work, "pool-passphrase"), "w", encoding="utf-8") as f:
            f.write(self.dom0.env["QZFS_TEST_PASSPHRASE"] + "\n")
        os.makedirs(os.path.join(work, "backup-qube"), exist_ok=True)
        os.makedirs(os.path.join(work, "usb"), exist_ok=True)
        os.makedirs(os.path.join(work, "zbackups-sealed"), exist_ok=True)
        self.last = {}  # the arguments of the last `backup create` / `backup zfs create`
        self.pools = {}  # pool name -> its qvm-pool add as written, to add it again
        self.kept = None  # the user's dom0 while the README's "fresh dom0" is in use
        self.fresh_machines = 0
        self.users_dom0()
        ran, skipped = 0, []
        for _, block in blocks:
            for n, command, comment in block:
                if "a fresh dom0" in comment:
                    self.fresh_dom0()
                why = self.cannot_run(command, comment, block)
                if why is not None:
                    skipped.append((n, command, why))
                    if command.startswith("sudo zfs create") and BACKEND == "real":
                        self.run_line(n, self.substitute(command))  # the qube's dataset
                    continue
                self.run_line(n, self.substitute(command))
                ran += 1
                if command.startswith("qvm-pool add "):
                    self.pools.setdefault(command.split()[2], command)
            if self.kept is not None:
                self.back_to_users_dom0()
        elsewhere = [n for n, _, why in skipped if why == ON_THE_MODEL]
        if elsewhere:
            print("# README.md: lines {}: {}".format(
                ", ".join(map(str, elsewhere)), ON_THE_MODEL), flush=True)
        for n, command, why in skipped:
            if why == ON_THE_MODEL:
                continue
            print("# README.md:{}: not run here: {}: {}".format(
                n, re.sub(r"\s+#.*", "", command.splitlines()[0]), why), flush=True)
        print("# README.md: {} commands run as written (names substituted), {} not".format(
            ran, len(skipped)), flush=True)
        self.assertEqual(ran + len(skipped), sum(len(b) for _, b in blocks))
        self.assertGreaterEqual(ran, 20 if BACKEND == "model" else 10)

    @staticmethod
    def cannot_run(command, comment, block):
        """Why this dom0 does not run command (of block, after comment), or None."""
        zfs_qube = re.compile(r"backup zfs |zbackups")
        if BACKEND == "real" and not any(zfs_qube.search(c) or
                                         re.match(r"qvm-(pool add|create) ", c)
                                         for _, c, _ in block) \
                and not command.startswith("qzfs backup keygen "):  # the ZFS qube's key
            return ON_THE_MODEL
        why = next((w for p, w in CANNOT if re.search(p, command)), None)
        if why is None and re.search(r"in the backup qube", comment, re.I):
            why = "the backup qube's own step (on real ZFS, done here: its dataset)"
        if why is None and zfs_qube.search(command) and BACKEND == "model":
            why = "a backup qube running ZFS: on real ZFS only (the model has none of its own)"
        return why

    def users_dom0(self):
        """What a user's dom0 has before the README: the default template and a qube, in a
        pool of ours."""
        self.pools["installed"] = "qvm-pool add installed zfs_zvol -o dataset=tank/installed"
        self.run_line(0, self.substitute(self.pools["installed"]))
        self.template("installed", small=True, name="fedora-41")
        self.qvm("qvm-create", "--class", "AppVM", "--template", "fedora-41", "--label", "yellow",
                 "-P", "installed", "personal")

    RECORDS = "/var/lib/qubes-storage-zfs"

    def fresh_dom0(self):
        """What the README's "a fresh dom0" means: a new machine (a new zpool for `tank`, no
        dom0 records), a new install (its default template), the package, and the pools added
        again under their names, as they were added. The user's machine is kept aside, and
        comes back after the block (back_to_users_dom0)."""
        if self.kept is None:
            kept = os.path.join(self.dom0.work, "users-dom0")
            subprocess.run(["rm", "-rf", kept], check=True)
            os.makedirs(kept)
            self.dom0.stop()
            subprocess.run(["cp", "-a", "/var/lib/qubes/qubes.xml", self.RECORDS, kept],
                           check=True)
            self.dom0.start()
            self.kept = (kept, self.tank)
        self.fresh_machines += 1
        self.tank = "{}-fresh{}".format(self.kept[1], self.fresh_machines)
        self.dom0.fresh()
        subprocess.run(["find", self.RECORDS, "-mindepth", "1", "-delete"], check=True)
        for add in self.pools.values():
            self.run_line(0, self.substitute(add))
        self.template("installed", small=True, name="fedora-41")

    def back_to_users_dom0(self):
        """The user's machine again, as it was before the block's fresh dom0."""
        kept, self.tank = self.kept
        self.kept = None
        self.dom0.stop()
        subprocess.run(["cp", "-a", os.path.join(kept, "qubes.xml"), "/var/lib/qubes/"],
                       check=True)
        subprocess.run(["find", self.RECORDS, "-mindepth", "1", "-delete"], check=True)
        subprocess.run(["cp", "-a", os.path.join(kept, os.path.basename(self.RECORDS)) + "/.",
                        self.RECORDS], check=True)
        self.dom0.start()

    def users_tank(self):
        """The user's `tank`, while a fresh dom0 is in use too."""
        return self.kept[1] if self.kept is not None else self.tank

    def substitute(self, command):
        first, nl, rest = command.partition("\n")  # a here-document stays as it is
        command = re.sub(r"\s+#.*$", "", first) + nl + rest  # a comment: not the command's
        # a backup's volume is named as on the machine that made it (both zpools are `tank`)
        made_on = self.users_tank()
        command = command.replace("--volume tank/", "--volume \0/")
        for pattern, name in self.names:
            command = re.sub(pattern, name, command)
        command = command.replace("--volume \0/", "--volume {}/".format(made_on))
        command = re.sub(r" \[[^]]*\]", "", command)  # optional parts: left out
        create = re.match(r"qzfs backup( zfs)? create (.*)", command.splitlines()[0])
        if create and re.search(r"(^| )\.\.\.( |$)", create.group(2)):
            command = command.replace("...", self.last[create.group(1)])  # as the last one
        elif create:
            self.last[create.group(1)] = re.sub(r"--full(-every \d+)? ", "", create.group(2))
        if re.search(r"\bID\b|-ID\b", command):
            command = self.backup_ids(command)
        return command

    def backup_ids(self, command):
        """ID..., FULL-ID INCREMENTAL-ID..., --backup ID: the volume backups dom0 recorded on the
        command's target: all of them; the last chain of its --volume or --over volume (else of
        the first volume recorded there); that chain's newest."""
        zfs = " backup zfs " in command
        target = re.search(r"--target (\S+)", command).group(1)
        listing = ["backup", "zfs", "list", "--target", target] if zfs else ["backup", "list"]
        records = [r for r in self.dom0.qzfs(*listing).get("backups", [])
                   if r.get("kind", "volume") == "volume" and r.get("target", target) == target]
        self.assertTrue(records, "no backup recorded for: " + command)
        vol = re.search(r"--(?:over|volume) (\S+)", command)
        chain = [r for r in records if r["volume"] == (vol.group(1) if vol else
                                                        records[0]["volume"])]
        fulls = [i for i, r in enumerate(chain) if not r.get("base")]
        chain = chain[fulls[-1]:] if fulls else chain
        ids = [r["id"] for r in records]
        command = re.sub(r"FULL-ID INCREMENTAL-ID\.\.\.", " ".join(r["id"] for r in chain),
                         command)
        command = re.sub(r"--backup ID\b", "--backup " + chain[-1]["id"], command)
        return re.sub(r"\bID\.\.\.", " ".join(ids), command)

    def run_line(self, n, command):
        unit = re.match(r"(?:sudo )?systemctl start (\S+\.service)", command)
        if unit:  # no systemd here: what the installed unit runs, as root
            with open("/usr/lib/systemd/system/" + unit.group(1), encoding="utf-8") as f:
                command = re.search(r"(?m)^ExecStart=(.*)$", f.read()).group(1)
            print("# README.md:{}: run as its unit's ExecStart: {}".format(n, command),
                  flush=True)
        proc = subprocess.run(["bash", "-c", command], env=self.dom0.env, capture_output=True,
                              text=True, check=False, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, "README.md:{}: {}\nexit {}: {}{}".format(
            n, command, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc

