set -u
zpool create -f -o ashift=12 -O mountpoint=none -O compression=off qzt /dev/vda
t0=$SECONDS
QZFS_QUBES_TESTS=test_backups.py QZFS_TEST_BACKEND=real QZFS_TEST_ZPOOL=qzt bash tests/qubes/run.sh 4.2 4.3 2>&1 | grep -v "^# log"
echo "# took $((SECONDS - t0)) s"
