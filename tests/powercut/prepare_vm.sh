#!/usr/bin/env bash
# What a power-cut round boots, built once into CACHE: a Debian kernel (its package fetched with
# apt-get download and unpacked, never installed), the kernel cut out of its vmlinuz as an ELF
# (QEMU boots that directly, skipping seconds of decompression under emulation), and an
# initramfs of busybox, the modules for a virtio disk and ext4, the writer and `ringlog` with
# their libraries. The initramfs is rebuilt whenever one of them, or init, is newer.
#
# usage: prepare_vm.sh BUILD_DIR CACHE   (exit 1, with the reason in CACHE/why, when it cannot)
set -euo pipefail
build=$1 cache=$2
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$cache"
cannot() { echo "$*" >"$cache/why"; exit 1; }

kernel_package() {
  apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-amd64$' 2>/dev/null |
    cut -d' ' -f1 | sort -V | tail -1
}

fetch_kernel() {
  [ -f "$cache/vmlinux" ] && [ -d "$cache/kernel/lib/modules" ] && return 0
  local package
  package=$(kernel_package)
  [ -n "$package" ] || cannot "apt knows no linux-image-*-amd64 package (apt-get update?)"
  rm -rf "$cache/kernel" "$cache"/*.deb
  (cd "$cache" && apt-get download "$package" >/dev/null 2>&1) ||
    cannot "apt-get download $package failed"
  dpkg-deb -x "$cache"/linux-image-*.deb "$cache/kernel"
  rm -f "$cache"/*.deb
  # vmlinuz is a boot stub and the xz-compressed ELF kernel: cut the ELF out.
  python3 - "$cache" <<'PY'
import glob, lzma, sys
cache = sys.argv[1]
image = open(glob.glob(cache + "/kernel/boot/vmlinuz-*")[0], "rb").read()
start = image.find(b"\xfd7zXZ\x00")
if start < 0:
    sys.exit("vmlinuz holds no xz stream")
open(cache + "/vmlinux", "wb").write(lzma.LZMADecompressor().decompress(image[start:]))
PY
}

# The modules a virtio disk with ext4 needs, each after those it depends on.
modules_in_order() {
  local root
  root=$(echo "$cache"/kernel/lib/modules/*)
  local -A placed=()
  place() {
    local name=$1 file
    [ -n "${placed[$name]:-}" ] && return 0
    file=$(find "$root" -name "$name.ko" | head -1)
    [ -n "$file" ] || return 0  # built in
    local depends
    depends=$(objcopy -O binary --only-section=.modinfo "$file" /dev/stdout | tr '\0' '\n' |
                sed -n 's/^depends=//p')
    for dependency in ${depends//,/ }; do place "$dependency"; done
    placed[$name]=1
    echo "$file"
  }
  for wanted in virtio_pci virtio_blk crc32c_generic ext4; do place "$wanted"; done
}

build_initramfs() {
  local programs=("$build/bin/powercut_writer" "$build/bin/ringlog")
  local image="$cache/initramfs.cpio.gz"
  if [ -f "$image" ] && [ "$image" -nt "$here/init" ] && [ "$image" -nt "${programs[0]}" ] &&
     [ "$image" -nt "${programs[1]}" ]; then
    return 0
  fi
  local root="$cache/initramfs"
  rm -rf "$root"
  mkdir -p "$root"/{bin,dev,proc,sys,mnt,modules}
  cp /bin/busybox "$root/bin/busybox"
  cp "$here/init" "$root/init"
  for program in "${programs[@]}"; do
    cp "$program" "$root/"
    # Its shared libraries and the loader, where it looks for them.
    for library in $(ldd "$program" | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$library")"
      cp -L "$library" "$root$library"
    done
  done
  local n=0
  for module in $(modules_in_order); do
    n=$((n + 1))
    cp "$module" "$root/modules/$(printf '%02d' "$n")-$(basename "$module")"
  done
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$image"
}

fetch_kernel
build_initramfs
