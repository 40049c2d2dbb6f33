#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs a command as root inside Debian's stock kernel (one that has kprobes),
# booted under QEMU, against this machine's own files:
#
#   scripts/vm-test.sh [--kernel 6.1|6.12] [--timeout SECONDS] -- COMMAND [ARG...]
#   scripts/vm-test.sh [--kernel 6.1|6.12] --package   (print the kernel's package name)
#
# - the kernel package (linux-image-amd64's 6.1, or the newest
#   linux-image-6.12.*+deb12-amd64) is fetched with apt-get download and
#   unpacked into a cache outside git (TCPCONNECT_VM_CACHE, default
#   /var/cache/tcpconnect-vm); nothing is installed into /boot;
# - a busybox initramfs loads virtio, 9p, overlay and veth from that package,
#   mounts this machine's / read-only over 9p with a tmpfs overlay on top,
#   mounts proc, sys, tracefs, bpffs and cgroup2, brings up lo, and runs
#   COMMAND in the current directory (CI and TCPCONNECT_* are passed in);
# - software emulation (KVM cannot run a stock kernel here), 2 vCPUs;
# - the command's exit status is this script's; the VM is always powered
#   off: at the end, at the timeout (default 1800 s), on SIGINT or SIGTERM.
set -euo pipefail

kernel=6.1
timeout_s=1800
print_package=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--package) print_package=1; shift ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "usage: $0 [--kernel 6.1|6.12] [--timeout SECONDS] -- COMMAND [ARG...]" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || [ -n "$print_package" ] || { echo "vm-test: no command given" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "vm-test: run as root" >&2; exit 1; }

cache=${TCPCONNECT_VM_CACHE:-/var/cache/tcpconnect-vm}
mkdir -p "$cache"

"$(dirname "$0")/ensure-packages.sh" vm-test qemu-system-x86 busybox-static cpio xz-utils kmod

resolve() {
	case $kernel in
	6.1) apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}' ;;
	6.12) apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' 2>/dev/null |
		awk '{print $1}' | sort -V | tail -n 1 ;;
	*) echo "vm-test: unknown kernel $kernel (6.1 or 6.12)" >&2; exit 2 ;;
	esac
}
pkg=$(resolve)
if [ -z "$pkg" ]; then
	apt-get update -qq
	pkg=$(resolve)
fi
[ -n "$pkg" ] || { echo "vm-test: no Debian package found for kernel $kernel" >&2; exit 1; }
if [ -n "$print_package" ]; then
	echo "$pkg"
	exit 0
fi

# 1. The kernel and an initramfs for it, built once per package.
kdir="$cache/$pkg"
if [ ! -f "$kdir/initramfs.cpio.gz" ]; then
	echo "vm-test: preparing $pkg" >&2
	work=$(mktemp -d "$cache/.prep.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	(cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1) || { echo "vm-test: apt-get download $pkg failed" >&2; exit 1; }
	dpkg-deb -x "$work"/*.deb "$work/pkg"
	ver=$(ls "$work/pkg/lib/modules")
	depmod -b "$work/pkg" "$ver"

	init="$work/initramfs"
	mkdir -p "$init/bin" "$init/modules"
	cp /bin/busybox "$init/bin/busybox"
	# Wanted modules and their dependencies, dependencies first.
	dep="$work/pkg/lib/modules/$ver/modules.dep"
	: > "$init/modules/order"
	visit() {
		local path=$1 line d
		grep -qxF "$path" "$init/modules/seen" 2>/dev/null && return 0
		echo "$path" >> "$init/modules/seen"
		line=$(grep -E "^$path:" "$dep" | cut -d: -f2)
		for d in $line; do visit "$d"; done
		local name=$(basename "$path")
		case $name in
		*.xz) xz -dc "$work/pkg/lib/modules/$ver/$path" > "$init/modules/${name%.xz}"; name=${name%.xz} ;;
		*.zst) zstd -qdc "$work/pkg/lib/modules/$ver/$path" > "$init/modules/${name%.zst}"; name=${name%.zst} ;;
		*) cp "$work/pkg/lib/modules/$ver/$path" "$init/modules/$name" ;;
		esac
		echo "$name" >> "$init/modules/order"
	}
	for m in virtio_pci 9pnet_virtio 9p overlay veth; do
		path=$(grep -oE "^[^:]*/$m\.ko(\.xz|\.zst)?:" "$dep" | tr -d :) || true
		[ -n "$path" ] && visit "$path"
	done
	rm -f "$init/modules/seen"
	cat > "$init/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /host /rw /root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do insmod /modules/$m || echo "vm: insmod $m failed"; done
script=$(sed -n 's/.*tcpc\.script=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host
mount -t tmpfs -o size=70% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /root
mount -t proc proc /root/proc
mount -t sysfs sys /root/sys
mount -t devtmpfs dev /root/dev
mkdir -p /root/dev/pts /root/dev/shm && mount -t devpts devpts /root/dev/pts && mount -t tmpfs tmpfs /root/dev/shm
mount -t tmpfs tmpfs /root/run
mount -t tracefs tracefs /root/sys/kernel/tracing
mount -t debugfs debugfs /root/sys/kernel/debug 2>/dev/null
mount -t bpf bpf /root/sys/fs/bpf
mount -t tmpfs tmpfs /root/sys/fs/cgroup && mkdir -p /root/sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /root/sys/fs/cgroup/unified
ip link set lo up
chroot /root /bin/sh "$script"
echo "tcpconnect-vm: exit status $?"
poweroff -f
INIT
	chmod +x "$init/init"
	(cd "$init" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"
	mkdir -p "$kdir"
	cp "$work/pkg/boot/vmlinuz-$ver" "$kdir/vmlinuz"
	mv "$work/initramfs.cpio.gz" "$kdir/initramfs.cpio.gz"
	rm -rf "$work"
	trap - EXIT
fi

# 2. The command, as a script the guest reads through the shared root.
run=$(mktemp /tmp/tcpconnect-vm.XXXXXX)
log=$(mktemp /tmp/tcpconnect-vm-log.XXXXXX)
{
	echo "cd $(printf '%q' "$PWD") || exit 1"
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root"
	for v in $(env | grep -oE '^(CI|TCPCONNECT_[A-Z0-9_]+)=' | tr -d =); do
		echo "export $v=$(printf '%q' "${!v}")"
	done
	printf '%q ' "$@"
	echo
} > "$run"

# 3. Boot, run, power off; the guest's console is our output.
qemu=
cleanup() {
	[ -n "$qemu" ] && kill -TERM "$qemu" 2>/dev/null # timeout passes it on to qemu
	rm -f "$run" "$log"
}
trap cleanup EXIT
trap 'echo "vm-test: interrupted" >&2; exit 130' INT TERM
echo "vm-test: booting $pkg" >&2
# One host thread for both vCPUs (thread=single): with a thread per vCPU,
# a vCPU could run code the other had just patched from a stale
# translation. 6.12 hit it as "Oops: int3" in inet_sk_state_store while a
# tracepoint's static key was being flipped (2026-12-01), a panic no real
# CPU would see. Slower, but every patch is seen at once.
timeout -s KILL "$timeout_s" qemu-system-x86_64 \
	-accel tcg,thread=single -cpu max -smp 2 -m 4096 \
	-nodefaults -no-reboot -display none -serial stdio \
	-kernel "$kdir/vmlinuz" -initrd "$kdir/initramfs.cpio.gz" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init tcpc.script=$run" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	</dev/null > >(tee "$log") 2>&1 &
qemu=$!
wait "$qemu" || true
qemu=
sleep 0.2 # let tee finish
status=$(sed -n 's/.*tcpconnect-vm: exit status \([0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ -z "$status" ]; then
	echo "vm-test: the VM ended without the command's exit status (timeout after ${timeout_s}s or a crash)" >&2
	exit 1
fi
exit "$status"
