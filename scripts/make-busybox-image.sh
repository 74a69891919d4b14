#!/usr/bin/env bash
# Builds a busybox image tarball offline from Debian's busybox-static:
# a rootfs with /bin/busybox, its applet links, /etc/passwd and /etc/group,
# CMD ["sh"]. Writes a rootfs tarball that `berth import` turns into an image.
#
# usage: scripts/make-busybox-image.sh OUT.tar
set -euo pipefail

out=${1:?usage: $0 OUT.tar}
busybox=/bin/busybox
if ! "$busybox" --list >/dev/null 2>&1 || LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
  echo "error: $busybox is missing or not statically linked; install the busybox-static package" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var/tmp,home,dev,proc,sys}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
# One link per applet, at the path busybox reports for it.
while read -r applet; do
  [ "$applet" = "/bin/busybox" ] && continue
  mkdir -p "$root$(dirname "$applet")"
  ln -sf /bin/busybox "$root$applet"
done < <("$busybox" --list-full | sed 's#^#/#')
cat > "$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
cat > "$root/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
wheel:x:10:root
www-data:x:33:
nogroup:x:65534:
G
# A page for `httpd -h /var/www`, as the peers' busybox image has.
mkdir -p "$root/var/www"
printf 'busybox httpd ok\n' > "$root/var/www/index.html"
# Deterministic content: fixed owner and mtime.
tar --numeric-owner --owner=0 --group=0 --mtime='2024-01-01 00:00:00Z' --sort=name \
    -C "$root" -cf "$out" .
echo "$out"
