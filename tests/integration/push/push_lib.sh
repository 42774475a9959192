#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Helpers of the push tests; sourced, not a test.
#
#   make_tree DIR   a tree with every kind of member strata push must keep:
#                   dirs, files, a 5 MB file (several spans), setuid/setgid/
#                   sticky modes, owners, ns mtimes, symlinks (dangling, a
#                   loop, a long target), a hardlink, user.* and trusted.*
#                   xattrs, a path over 256 bytes, a newline and non-UTF-8
#                   bytes in names, a fifo, a char device.

make_tree() {
	local d=$1 long
	mkdir -p "$d/dir/sub" "$d/empty"
	printf 'hello\n' >"$d/dir/file"
	head -c 5000000 /dev/urandom >"$d/big.bin"
	printf 'suid\n' >"$d/dir/suid" && chmod 4755 "$d/dir/suid"
	printf 'sgid\n' >"$d/dir/sgid" && chmod 2711 "$d/dir/sgid"
	chmod 1777 "$d/empty"
	printf 'owned\n' >"$d/dir/owned" && chown 1234:5678 "$d/dir/owned"
	chmod 0640 "$d/dir/owned"
	ln "$d/dir/file" "$d/hard"
	ln -s dir/file "$d/link"
	ln -s /nonexistent/target "$d/dangling"
	ln -s loop2 "$d/loop1"
	ln -s loop1 "$d/loop2"
	ln -s "$(printf 'x%.0s' $(seq 1 150))" "$d/longlink"
	setfattr -n user.comment -v "a value" "$d/dir/file"
	setfattr -n user.bin -v 0x00ff10 "$d/dir/suid"
	setfattr -n trusted.t -v yes "$d/dir/sgid"
	long="$d/$(printf 'a%.0s' $(seq 1 90))/$(printf 'b%.0s' $(seq 1 90))"
	mkdir -p "$long"
	printf 'deep\n' >"$long/$(printf 'c%.0s' $(seq 1 120))"
	printf 'nl\n' >"$d/new"$'\n'"line"
	printf 'bytes\n' >"$d/"$'\xff\xfe'"name"
	mkfifo "$d/fifo"
	mknod "$d/null" c 1 3
	# mtimes last, deepest first, so creating children does not move them
	find "$d" -depth -exec touch -h -d @1600000000.123456789 {} +
	touch -h -d @1500000000 "$d/dir/file"
}
