# SPDX-License-Identifier: BSD-2-Clause
# Builds and installs qubes-storage-zfs: qzfs, the Python drivers with their qubes.storage entry
# points, and the udev rule. `make install DESTDIR=... PREFIX=/usr` is what the RPM spec runs.
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
PREFIX     ?= /usr
BINDIR     ?= $(PREFIX)/bin
UDEVDIR    ?= $(PREFIX)/lib/udev
UNITDIR    ?= $(PREFIX)/lib/systemd/system
LIBEXECDIR ?= $(PREFIX)/libexec/qubes-storage-zfs
SYSCONFDIR ?= /etc
STATEDIR   ?= /var/lib/qubes-storage-zfs
PYTHON     ?= python3
SITELIB    ?= $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("purelib", vars={"base": "$(PREFIX)"}))')
BUILDDIR   ?= build-release
MESONFLAGS ?=
MANDIR     ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions

all:
	@[ -f $(BUILDDIR)/build.ninja ] || meson setup $(BUILDDIR) --buildtype=release $(MESONFLAGS) >/dev/null
	ninja -C $(BUILDDIR)

install: all
	install -D -m 0755 $(BUILDDIR)/qzfs $(DESTDIR)$(BINDIR)/qzfs
	install -D -m 0644 $(BUILDDIR)/qzfs.8 $(DESTDIR)$(MANDIR)/man8/qzfs.8
	install -D -m 0644 completion/qzfs.bash $(DESTDIR)$(COMPLETIONDIR)/qzfs
	install -d $(DESTDIR)$(SITELIB)/qubes_storage_zfs
	install -m 0644 python/qubes_storage_zfs/*.py $(DESTDIR)$(SITELIB)/qubes_storage_zfs/
	$(PYTHON) scripts/dist_info.py $(DESTDIR)$(SITELIB) >/dev/null
	install -d $(DESTDIR)$(UDEVDIR)/rules.d
	sed 's|@QZFS@|$(BINDIR)/qzfs|' udev/59-qubes-storage-zfs.rules \
		>$(DESTDIR)$(UDEVDIR)/rules.d/59-qubes-storage-zfs.rules
	install -D -m 0755 qrexec/askpass $(DESTDIR)$(LIBEXECDIR)/askpass
	install -D -m 0755 qrexec/prompt-agent $(DESTDIR)$(LIBEXECDIR)/prompt-agent
	install -D -m 0644 qrexec/qubes-storage-zfs-prompt.desktop \
		$(DESTDIR)$(SYSCONFDIR)/xdg/autostart/qubes-storage-zfs-prompt.desktop
	install -d $(DESTDIR)$(LIBEXECDIR)
	sed 's|@SITELIB@|$(SITELIB)|' python/qube-settings >$(DESTDIR)$(LIBEXECDIR)/qube-settings
	chmod 0755 $(DESTDIR)$(LIBEXECDIR)/qube-settings
	install -D -m 0755 $(BUILDDIR)/qzfs-backup-store $(DESTDIR)$(LIBEXECDIR)/qzfs-backup-store
	install -D -m 0755 $(BUILDDIR)/qzfs-backup-zfs-store $(DESTDIR)$(LIBEXECDIR)/qzfs-backup-zfs-store
	install -D -m 0644 qrexec/30-qubes-storage-zfs.policy \
		$(DESTDIR)$(SYSCONFDIR)/qubes/policy.d/30-qubes-storage-zfs.policy
	install -D -m 0755 systemd/qzfs-scheduled-backup $(DESTDIR)$(LIBEXECDIR)/qzfs-scheduled-backup
	install -D -m 0600 systemd/backup.conf $(DESTDIR)$(SYSCONFDIR)/qubes-storage-zfs/backup.conf
	install -D -m 0644 modprobe/qubes-storage-zfs.conf \
		$(DESTDIR)$(SYSCONFDIR)/modprobe.d/qubes-storage-zfs.conf
	install -d -m 0700 $(DESTDIR)$(STATEDIR) $(DESTDIR)$(STATEDIR)/backups \
		$(DESTDIR)$(STATEDIR)/zfs-backups
	install -d $(DESTDIR)$(UNITDIR)
	for u in qubes-storage-zfs-backup.service qubes-storage-zfs-backup.timer; do \
		sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u; \
	done

# In a qube's template: the passphrase prompt service (for an encrypted pool's
# ask_password_domain) and the backup store service with its program (for a backup qube).
install-vm: all
	install -D -m 0755 qrexec/askpass \
		$(DESTDIR)$(SYSCONFDIR)/qubes-rpc/qubes-storage-zfs.AskPassphrase
	install -D -m 0644 qrexec/rpc-config/qubes-storage-zfs.AskPassphrase \
		$(DESTDIR)$(SYSCONFDIR)/qubes/rpc-config/qubes-storage-zfs.AskPassphrase
	install -D -m 0644 qrexec/rpc-config/qubes-storage-zfs.BackupZfs \
		$(DESTDIR)$(SYSCONFDIR)/qubes/rpc-config/qubes-storage-zfs.BackupZfs
	install -D -m 0755 qrexec/qubes-storage-zfs.BackupStore \
		$(DESTDIR)$(SYSCONFDIR)/qubes-rpc/qubes-storage-zfs.BackupStore
	install -D -m 0755 $(BUILDDIR)/qzfs-backup-store $(DESTDIR)$(BINDIR)/qzfs-backup-store
	install -D -m 0755 qrexec/qubes-storage-zfs.BackupZfs \
		$(DESTDIR)$(SYSCONFDIR)/qubes-rpc/qubes-storage-zfs.BackupZfs
	install -D -m 0755 $(BUILDDIR)/qzfs-backup-zfs-store $(DESTDIR)$(BINDIR)/qzfs-backup-zfs-store

# A source tarball of the committed tree, as the RPM spec's Source0.
dist:
	git archive --format=tar.gz --prefix=qubes-storage-zfs-$(VERSION)/ \
		-o qubes-storage-zfs-$(VERSION).tar.gz HEAD
	@echo qubes-storage-zfs-$(VERSION).tar.gz

rpm: dist
	mkdir -p $(CURDIR)/rpmbuild/SOURCES
	cp qubes-storage-zfs-$(VERSION).tar.gz $(CURDIR)/rpmbuild/SOURCES/
	rpmbuild -bb --define "_topdir $(CURDIR)/rpmbuild" rpm/qubes-storage-zfs.spec

clean:
	rm -rf $(BUILDDIR) rpmbuild qubes-storage-zfs-*.tar.gz

.PHONY: all install install-vm dist rpm clean
