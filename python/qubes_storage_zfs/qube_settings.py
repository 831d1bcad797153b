# SPDX-License-Identifier: BSD-2-Clause
"""A qube's settings, read and written through the Qubes Admin API (`qubesadmin`, as the qvm-*
tools do), for whole-qube backups. `qzfs backup create` runs `dump` to save each named qube's
settings beside its volumes (sealed like them); `qzfs backup qubes list|restore` hand what the
target held (opened and authenticated by qzfs) to `list` and `apply`, then run `finish`.
No ZFS here: qzfs moves the data.

    qube-settings dump DIR NAME...       each qube's settings as DIR/NAME.json
    qube-settings list FILE              what FILE (written by qzfs) holds, one qube a line
    qube-settings apply FILE [--dry-run] [--rename-conflicting] [--pool POOL]
                                         create the qubes FILE holds (templates and other
                                         qubes they use first), set their settings; print
                                         for qzfs, on stdout, a line per qube made,
                                         "qube<TAB>NAME", and one per volume to restore,
                                         "restore<TAB>BACKED-UP<TAB>DATASET<TAB>KEEP<TAB>QUBE"
    qube-settings finish FILE NAME...    the data of these qubes is in place: their volumes'
                                         sizes recorded as backed up, the restore `apply`
                                         began is done

Exit codes: 0 ok, 1 failed, 2 refused (bad input, a name conflict), 3 the Admin API cannot be
reached (not a Qubes dom0, or qubesd is not running)."""

import argparse
import json
import os
import sys

from qubes_storage_zfs import pool_dataset

FORMAT = "qubes-storage-zfs qube settings 1"
# set when the qube is made, or who it is: never set as a property afterwards
NOT_SET = {"name", "qid", "uuid", "klass", "label", "template", "xid", "stubdom_xid",
           "start_time", "backup_timestamp", "icon", "updateable", "stubdom_uuid"}
# a qube `apply` made whose data is not in place yet carries this feature (the id of the
# settings it was made from): a restore run again continues into it
RESTORING = "qubes-storage-zfs.restoring"


class Refused(Exception):
    """Bad input or a conflict: exit code 2."""


def connect():
    """The Admin API, or exit code 3 with why."""
    try:
        import qubesadmin  # pylint: disable=import-outside-toplevel
        app = qubesadmin.Qubes()
        app.domains.refresh_cache(force=True)
        list(app.domains)
        return app
    except Exception as exc:  # pylint: disable=broad-except
        print("qube-settings: the Qubes Admin API cannot be reached (not a Qubes dom0, or "
              "qubesd is not running): {}".format(exc), file=sys.stderr)
        sys.exit(3)


def warn(text):
    print("qube-settings: warning: " + text, file=sys.stderr)


# ---- reading a qube's settings ----

def _properties(vm):
    """{name: [type, value]} of the properties set on vm (not at their default), each as
    admin.vm.property.Get gives it (the text Set takes back)."""
    props = {}
    for prop in vm.property_list():
        if prop in NOT_SET:
            continue
        raw = vm.qubesd_call(vm.name, "admin.vm.property.Get", prop).decode()
        default, kind, value = (raw.split(" ", 2) + [""])[:3]
        if default == "default=False":
            props[prop] = [kind.partition("=")[2], value]
    return props


def _volumes(app, vm):
    pools = {}
    vols = {}
    for name, vol in vm.volumes.items():
        entry = {"pool": vol.pool, "size": vol.size, "revisions_to_keep": vol.revisions_to_keep,
                 "rw": vol.rw, "snap_on_start": vol.snap_on_start,
                 "save_on_stop": vol.save_on_stop}
        if vol.pool not in pools:
            pool = app.pools[vol.pool]
            pools[vol.pool] = (pool.driver, pool_dataset(pool.driver, pool.config))
        driver, dataset = pools[vol.pool]
        entry["driver"] = driver
        if dataset and vol.save_on_stop:
            entry["dataset"] = "{}/{}".format(dataset, vol.vid)  # what qzfs backs up
        vols[name] = entry
    return vols


def _device_classes(vm):
    try:
        return vm.app.qubesd_call("dom0", "admin.deviceclass.List").decode().split()
    except Exception:  # pylint: disable=broad-except
        return []


def _in_modes(coll):
    """True on Qubes 4.3, whose device collections assign in modes; 4.2 attaches persistently."""
    return hasattr(coll, "get_assigned_devices")


def _devices(vm):
    """The devices assigned to vm (attached at each start), the same way whatever the Qubes
    release: class, backend qube, port (4.2's ident), device id ("*": any), mode, options.
    Qubes 4.2 assigns persistently attached devices, 4.3 in modes; 4.2's are "required"."""
    out = []
    for devclass in _device_classes(vm):
        coll = vm.devices[devclass]
        try:
            if _in_modes(coll):
                for a in coll.get_assigned_devices():
                    out.append({"class": devclass, "backend": a.backend_name,
                                "port": a.port_id, "device_id": a.device_id,
                                "mode": a.mode.value, "options": dict(a.options)})
            else:  # Qubes 4.2
                for a in coll.assignments(persistent=True):
                    out.append({"class": devclass, "backend": str(a.backend_domain),
                                "port": a.ident, "device_id": "*", "mode": "required",
                                "options": dict(a.options)})
        except Exception as exc:  # pylint: disable=broad-except
            warn("{}: its {} devices are not saved: {}".format(vm.name, devclass, exc))
    return sorted(out, key=lambda d: (d["class"], d["backend"], d["port"]))


def settings_of(app, name):
    """The settings of qube name, as a JSON-able dict."""
    if name not in app.domains:
        raise Refused("{}: no qube of this name".format(name))
    vm = app.domains[name]
    doc = {"format": FORMAT, "name": vm.name, "class": vm.klass, "label": str(vm.label),
           "properties": _properties(vm),
           "features": {k: vm.features[k] for k in vm.features},
           "tags": sorted(vm.tags),
           "volumes": _volumes(app, vm),
           "devices": _devices(vm)}
    if hasattr(vm, "template"):
        doc["template"] = str(vm.template)
    try:
        doc["firewall"] = vm.qubesd_call(vm.name, "admin.vm.firewall.Get").decode()
    except Exception:  # pylint: disable=broad-except
        doc["firewall"] = None  # a qube without one (dom0)
    return doc


def dump(args):
    app = connect()
    for name in args.names:
        if name == "dom0":
            raise Refused("dom0's own settings and home are not backed up by qzfs")
        doc = settings_of(app, name)
        path = os.path.join(args.dir, name + ".json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(doc, f, sort_keys=True)
        os.rename(path + ".tmp", path)
    return 0


# ---- what a target holds ----

def _load(path):
    with open(path, encoding="utf-8") as f:
        held = json.load(f)
    for q in held["qubes"]:
        if q["settings"].get("format") != FORMAT:
            raise Refused("settings {} are of an unknown format".format(q["id"]))
    return held


def _data_bytes(held, settings):
    total = 0
    for vol in settings["volumes"].values():
        total += held["volumes"].get(vol.get("dataset", ""), {}).get("bytes", 0)
    return total


def list_held(args):
    held = _load(args.file)
    for q in held["qubes"]:
        s = q["settings"]
        print("{}\t{}\t{}\t{}\t{} bytes".format(
            s["name"], s["class"], s.get("template", "-"), q["created"],
            _data_bytes(held, s)))
    return 0


# ---- restoring ----

def _order(docs):
    """docs in an order where a qube's template comes before it (the only reference a qube
    needs when it is made; the others are set once all exist)."""
    by_name = {d["name"]: d for d in docs}
    done, out = set(), []

    def visit(d, depth=0):
        if d["name"] in done or depth > len(docs):
            return
        tpl = by_name.get(d.get("template"))
        if tpl is not None:
            visit(tpl, depth + 1)
        done.add(d["name"])
        out.append(d)
    for d in docs:
        visit(d)
    return out


class Plan:
    """What `apply` does: the name each qube gets, which ones exist already (a restore run
    again), the pool of each volume."""

    def __init__(self, app, held, args):
        self.app, self.held, self.args = app, held, args
        self.docs = _order([q["settings"] for q in held["qubes"]])
        self.ids = {q["settings"]["name"]: q["id"] for q in held["qubes"]}
        self.templates, self.skipped = self._templates()
        self.docs = [d for d in self.docs if d["name"] not in self.skipped]
        if not self.docs:
            raise Refused("nothing restored: " + "; ".join(
                "{}: {}".format(n, why) for n, why in sorted(self.skipped.items())))
        for name, why in sorted(self.skipped.items()):
            warn("{}: not restored: {}".format(name, why))
        self.names, self.resumed = {}, set()
        for d in self.docs:
            self.names[d["name"]] = self._name_for(d)
        if args.pool is not None and args.pool not in app.pools:
            raise Refused("--pool {}: no such pool".format(args.pool))
        # a volume backed up with the settings but not whole on the target (withheld or
        # pruned): refused before anything is made, never restored as an empty volume
        missing = sorted(v["dataset"] for d in self.docs for v in d["volumes"].values()
                         if "dataset" in v and v["dataset"] not in held["volumes"])
        if missing:
            raise Refused("the target holds no whole backup of {}: nothing restored".format(
                ", ".join(missing)))

    def _templates(self):
        """Each qube's template as the restore names it before renames: one restored with
        it, one here, or the default template (with a warning); and the qubes that cannot be
        restored, with why: no template at all, or a template that is not restored."""
        restored = {d["name"] for d in self.docs}
        templates, skipped = {}, {}
        for d in self.docs:  # templates come first
            tpl = d.get("template")
            if not tpl:
                continue
            if tpl in skipped:
                skipped[d["name"]] = "its template {} is not restored".format(tpl)
            elif tpl in restored or tpl in self.app.domains:
                templates[d["name"]] = tpl
            elif self.app.default_template and d["class"] == "AppVM":
                templates[d["name"]] = str(self.app.default_template)
                warn("{}: its template {} is neither in the backup nor here: based on the "
                     "default template {}".format(d["name"], tpl, templates[d["name"]]))
            else:
                skipped[d["name"]] = ("its template {} is neither in the backup nor here{}"
                                      .format(tpl, "" if d["class"] != "AppVM" else
                                              ", and there is no default template"))
        return templates, skipped

    def _name_for(self, d):
        name = d["name"]
        if name not in self.app.domains:
            return name
        vm = self.app.domains[name]
        if vm.features.get(RESTORING) == self.ids[name]:
            self.resumed.add(name)  # made by a restore of these settings that stopped
            return name
        if not self.args.rename_conflicting:
            raise Refused("{}: a qube of this name exists (remove it, or give "
                          "--rename-conflicting)".format(name))
        for n in range(1, 100):
            other = "{}-{}".format(name, n)
            taken = set(self.names.values())
            if other not in self.app.domains and other not in taken and len(other) <= 31:
                return other
        raise Refused("{}: no free name to rename it to".format(name))

    def ref(self, name):
        """A reference to qube name: the name it is restored as, or as it is here; None if
        it is neither restored nor here."""
        if name in self.names:
            return self.names[name]
        return name if name in self.app.domains else None

    def pool_of(self, vol):
        if self.args.pool is not None and vol.get("driver") != "linux-kernel":
            return self.args.pool  # the VM kernel's volume stays with the kernels
        if vol["pool"] in self.app.pools:
            return vol["pool"]
        default = str(self.app.default_pool)
        warn("pool {} is not here: {} goes into the default pool {}".format(
            vol["pool"], vol.get("dataset", "a volume"), default))
        return default

    def show(self):
        for d in self.docs:
            name = self.names[d["name"]]
            what = "continue" if d["name"] in self.resumed else "create"
            pools = sorted({self.pool_of(v) for v in d["volumes"].values()
                            if not v["snap_on_start"]})
            tpl = self.templates.get(d["name"])
            print("{} {} {}{}{} in pool(s) {}".format(
                what, d["class"], name, " (was {})".format(d["name"]) if name != d["name"]
                else "", " on {}".format(self.names.get(tpl, tpl)) if tpl else "",
                ", ".join(pools) or "-"), file=sys.stderr)


def _create(plan, d):
    name = plan.names[d["name"]]
    if d["name"] in plan.resumed:
        return plan.app.domains[name]
    template = plan.templates.get(d["name"])
    if template is not None:
        template = plan.names.get(template, template)
    pools = {vname: plan.pool_of(v) for vname, v in d["volumes"].items()
             if not v["snap_on_start"]}
    vm = plan.app.add_new_vm(d["class"], name, d["label"], template=template, pools=pools)
    vm.features[RESTORING] = plan.ids[d["name"]]
    return vm


def _set_properties(plan, vm, d, refs):
    """The properties of d that are (refs) or are not references to qubes."""
    for prop, (kind, value) in sorted(d["properties"].items()):
        if (kind == "vm") != refs:
            continue
        if kind == "vm" and value:
            target = plan.ref(value)
            if target is None:
                warn("{}: {} {} is neither in the backup nor here: left at its "
                     "default".format(vm.name, prop, value))
                continue
            value = target
        try:
            setattr(vm, prop, value)
        except Exception as exc:  # pylint: disable=broad-except
            warn("{}: {} = {!r} not set: {}".format(vm.name, prop, value, exc))


def _set_rest(vm, d):
    for key, value in sorted(d["features"].items()):
        if key != RESTORING:
            vm.features[key] = value
    for tag in d["tags"]:
        if tag not in vm.tags:
            try:
                vm.tags.add(tag)
            except Exception as exc:  # pylint: disable=broad-except
                warn("{}: tag {} not set: {}".format(vm.name, tag, exc))
    if d.get("firewall") is not None:
        vm.qubesd_call(vm.name, "admin.vm.firewall.Set", payload=d["firewall"].encode())


def _present(backend, dev):
    """True if backend exposes dev now (with the same device id, where one was saved)."""
    coll = backend.devices[dev["class"]]
    if _in_modes(coll):
        return any(info.port_id == dev["port"] and dev["device_id"] in ("*", info.device_id)
                   for info in coll.get_exposed_devices())
    return any(info.ident == dev["port"] for info in coll.available())


def _mode_here(vm, dev):
    """The mode dev is assigned in on this release: 4.2 has only persistent attachments
    (required); 4.3 takes required for PCI and block devices alone, so a 4.2 backup's
    persistent USB device comes back attached automatically."""
    if not _in_modes(vm.devices[dev["class"]]):
        return "required"
    if dev["mode"] == "required" and dev["class"] not in ("pci", "block"):
        return "auto-attach"
    return dev["mode"]


def _assign(vm, backend, dev, mode):
    coll = vm.devices[dev["class"]]
    if _in_modes(coll):
        # pylint: disable=import-outside-toplevel
        from qubesadmin.device_protocol import DeviceAssignment
        coll.assign(DeviceAssignment.new(backend, dev["port"], dev["class"], dev["device_id"],
                                         options=dev["options"], mode=mode))
    else:
        from qubesadmin.devices import DeviceAssignment  # pylint: disable=import-outside-toplevel
        coll.attach(DeviceAssignment(backend, dev["port"], options=dev["options"],
                                     persistent=True))


def _assign_devices(plan, vm, d):
    """vm's devices assigned again, each only if its backend qube is here and, for a device
    the qube cannot start without, the device is here too (another machine's PCI card would
    keep the qube from starting): otherwise a warning, and the rest of the restore goes on."""
    have = {(a["class"], a["backend"], a["port"]) for a in _devices(vm)}  # a restore run again
    for dev in d.get("devices", []):
        if not isinstance(dev, dict):  # the text an earlier version saved
            warn("{}: device assignment '{}' not restored (qvm-device assigns it "
                 "again)".format(vm.name, dev))
            continue
        what = "{}: {} device {}:{}".format(vm.name, dev["class"], dev["backend"], dev["port"])
        backend = plan.ref(dev["backend"])
        if backend is None:
            warn("{} not assigned: {} is neither in the backup nor here".format(
                what, dev["backend"]))
            continue
        backend = plan.app.domains[backend]
        try:
            present, why = _present(backend, dev), "it is not on this machine"
        except Exception as exc:  # pylint: disable=broad-except
            present, why = False, "whether it is on this machine cannot be told ({})".format(
                exc)
        mode = _mode_here(vm, dev)
        if not present and mode == "required":
            warn("{} not assigned: {}, and the qube would not start without it; qvm-device "
                 "assigns it".format(what, why))
            continue
        if (dev["class"], backend.name, dev["port"]) in have:
            continue
        try:
            _assign(vm, backend, dev, mode)
        except Exception as exc:  # pylint: disable=broad-except
            warn("{} not assigned: {}".format(what, exc))
            continue
        if not present:
            warn("{} assigned ({}), though {}".format(what, mode, why))


def _volumes_to_restore(plan, vm, d):
    """Sizes and revisions kept as backed up; the restore line of each volume with data."""
    lines = []
    for vname, v in sorted(d["volumes"].items()):
        if "dataset" not in v:
            continue
        vol = vm.volumes[vname]
        if vol.revisions_to_keep != v["revisions_to_keep"]:
            vol.revisions_to_keep = v["revisions_to_keep"]
        pool = plan.app.pools[vol.pool]
        dataset = pool_dataset(pool.driver, pool.config)
        if dataset is None:
            warn("{}: volume {} is in pool {} ({}), not one of qubes-storage-zfs: its data "
                 "is not restored".format(vm.name, vname, vol.pool, pool.driver))
            continue
        lines.append("restore\t{}\t{}/{}\t{}\t{}".format(
            v["dataset"], dataset, vol.vid, vol.revisions_to_keep, vm.name))
    return lines


def apply(args):
    app = connect()
    plan = Plan(app, _load(args.file), args)
    plan.show()
    if args.dry_run:
        return 0
    made = [(d, _create(plan, d)) for d in plan.docs]
    for d, vm in made:
        _set_properties(plan, vm, d, refs=False)
    for d, vm in made:
        _set_properties(plan, vm, d, refs=True)
        _set_rest(vm, d)
        _assign_devices(plan, vm, d)
    for d, vm in made:
        print("qube\t" + vm.name)
        for line in _volumes_to_restore(plan, vm, d):
            print(line)
    return 0


def finish(args):
    """The data is in place: each volume's size in Qubes is the one backed up (ZFS has it
    already: the resize only records it), and the qube is no longer being restored."""
    app = connect()
    held = _load(args.file)
    by_id = {q["id"]: q["settings"] for q in held["qubes"]}
    for name in args.names:
        vm = app.domains[name]
        d = by_id.get(vm.features.get(RESTORING))
        for vname, v in sorted(d["volumes"].items() if d else ()):
            if "dataset" in v and v["dataset"] in held["volumes"] and vname in vm.volumes:
                vol = vm.volumes[vname]
                if vol.size != v["size"]:
                    vol.resize(v["size"])
        if RESTORING in vm.features:
            del vm.features[RESTORING]
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="qube-settings")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("dump")
    p.add_argument("dir")
    p.add_argument("names", nargs="+")
    p.set_defaults(run=dump)
    p = sub.add_parser("list")
    p.add_argument("file")
    p.set_defaults(run=list_held)
    p = sub.add_parser("apply")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--rename-conflicting", action="store_true")
    p.add_argument("--pool")
    p.set_defaults(run=apply)
    p = sub.add_parser("finish")
    p.add_argument("file")
    p.add_argument("names", nargs="+")
    p.set_defaults(run=finish)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except Refused as exc:
        print("qube-settings: {}".format(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # pylint: disable=broad-except
        print("qube-settings: {}: {}".format(type(exc).__name__, exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
