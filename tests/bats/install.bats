#!/usr/bin/env bats
# make install honours PREFIX and DESTDIR, and what it installs works.

load helpers

@test "make install DESTDIR=... PREFIX=/usr installs tools, scripts, man pages and maps" {
    make -s -C "$DACS_TOP" install DESTDIR="$T/root" PREFIX=/usr >/dev/null
    for f in bin/tns bin/seg-step bin/dacs-train bin/dacs-report \
        share/man/man1/seg-step.1 share/man/man5/tns.5 share/man/man7/dacs.7 \
        share/dacs/pipelines/dacs.mk share/dacs/pipelines/maps/synthia.map; do
        [ -e "$T/root/usr/$f" ] || { echo "missing $f"; false; }
    done
    "$T/root/usr/bin/tns" --help | grep -q '^usage: tns'
    grep -q "^.SH BAD INPUT" "$T/root/usr/share/man/man7/dacs.7"
    make -s -C "$DACS_TOP" uninstall DESTDIR="$T/root" PREFIX=/usr >/dev/null
    [ ! -e "$T/root/usr/bin/tns" ]
    [ ! -e "$T/root/usr/bin/dacs-train" ]
}
