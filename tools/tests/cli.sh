#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nectl CLI tests on fake sysfs trees: bad input gives a clear message, a
# non-zero exit and no change; good input changes exactly what it should.
# Usage: cli.sh BUILD_DIR   (needs BUILD_DIR/nectl and BUILD_DIR/test_nectl)
set -u
B=$(cd "${1:?usage: cli.sh BUILD_DIR}" && pwd)
[ -x "$B/nectl" ] && [ -x "$B/test_nectl" ] || { echo "cli.sh: build first (make -C tools check)"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
NECTL=$B/nectl
TMP=$(mktemp -d /tmp/nectl-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0 n=0

ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }

tree() { rm -rf "$TMP/root"; "$B/test_nectl" mktree "$TMP/root" "$1"; R=$TMP/root; }
# A snapshot of every file in the tree, to prove that nothing changed.
snap() { (cd "$R" && find . -type f | sort | xargs cat | md5sum); }
param() { cat "$R/sys/module/nitro_enclaves/parameters/ne_cpus"; }
hp2m() { cat "$R/sys/devices/system/node/node${1:-0}/hugepages/hugepages-2048kB/nr_hugepages"; }

# expect DESC EXIT-CODE MESSAGE-REGEX -- nectl ARGS...: exit code, message, and
# for failures, an unchanged tree.
expect() {
	local desc=$1 code=$2 re=$3 before after rc out
	shift 4
	before=$(snap)
	out=$("$NECTL" --root "$R" "$@" 2>&1)
	rc=$?
	after=$(snap)
	if [ "$rc" != "$code" ]; then
		nok "$desc (exit $rc, wanted $code): $out"
	elif [ -n "$re" ] && ! grep -Eq -- "$re" <<<"$out"; then
		nok "$desc (message lacks /$re/): $out"
	elif [ "$code" != 0 ] && [ "$before" != "$after" ]; then
		nok "$desc (failed but changed the tree)"
	else
		ok "$desc"
	fi
}

check() { if eval "$2"; then ok "$1"; else nok "$1 ($2)"; fi; }

tree smt2
expect "unknown option" 2 "option '--bogus' is not valid" -- status --bogus
expect "unknown global option" 2 "option '--frobnicate' is not valid" -- --frobnicate status
expect "unknown command" 2 "unknown command 'frob'" -- frob
expect "no command" 2 "usage: nectl" --
expect "option without its value" 2 "needs a value" -- pool set --count
expect "run with an empty pool" 1 "CPU pool is empty" -- run /etc/hostname --memory 128 --cpus 2
expect "pool with half a core" 1 "only part of its core" -- pool set 3
expect "pool with CPU 0's sibling" 1 "CPU 0's core" -- pool set 1
expect "pool with CPUs that do not exist" 1 "does not exist" -- pool set 10-11
expect "pool that is not a list" 2 "not a CPU list" -- pool set two
expect "pool list and --count together" 2 "not both" -- pool set 2-3 --count 2
expect "pool --count not whole cores" 1 "multiple of 2" -- pool set --count 3
expect "pool --count too large" 1 "no NUMA node has" -- pool set --count 8
expect "pool --count with more memory than exists" 1 "has only" -- pool set --count 2 --memory 64G
expect "pool unknown action" 2 "unknown action" -- pool frob
expect "pool set --count 2" 0 "CPU pool set to 2-3" -- pool set --count 2
check "ne_cpus holds 2-3" '[ "$(param)" = 2-3 ]'
expect "pool set 4-7" 0 "CPU pool set to 4-7" -- pool set 4-7
check "ne_cpus holds 4-7" '[ "$(param)" = 4-7 ]'
expect "pool set to the same list changes nothing" 0 "CPU pool set to 4-7" -- pool set 4-7
expect "pool over an existing pool: CPU 0's core refused" 1 "CPU 0's core" -- pool set 1
expect "pool over an existing pool: --count not whole cores" 1 "multiple of 2" -- pool set --count 5
expect "hugepages: more memory than exists" 1 "has only .* asked for" -- hugepages reserve 100G
expect "hugepages: size without unit" 2 "not a size" -- hugepages reserve 12
expect "hugepages: odd size" 1 "multiple of 2 MiB" -- hugepages reserve 3M
expect "hugepages: missing node" 1 "node 7 does not exist" -- hugepages reserve 128M --node 7
expect "hugepages: bad node" 2 "node number" -- hugepages reserve 128M --node x
expect "hugepages reserve 128M" 0 "reserved 128 MiB" -- hugepages reserve 128M
check "64 pages of 2 MiB reserved" '[ "$(hp2m)" = 64 ]'
expect "run: memory below 64 MiB" 1 "at least 64 MiB" -- run /etc/hostname --memory 32 --cpus 2
expect "run: missing --cpus" 2 "--cpus N is required" -- run /etc/hostname --memory 128
expect "run: reserved CID" 2 "reserved" -- run /etc/hostname --memory 128 --cpus 2 --cid 3
expect "run: CID wider than 32 bits" 2 "32-bit" -- run /etc/hostname --memory 128 --cpus 2 --cid 4294967296
expect "run: half a core of vCPUs" 1 "multiple of 2" -- run /etc/hostname --memory 128 --cpus 1
expect "run: a file that is not an EIF is warned about" 1 "does not look like an EIF" -- run /etc/hostname --memory 128 --cpus 1
expect "run: more vCPUs than the pool" 1 "more than the 4 CPUs" -- run /etc/hostname --memory 128 --cpus 6
expect "run: missing image" 1 "cannot read image" -- run /nonexistent.eif --memory 128 --cpus 2
expect "run: bad memory" 2 "needs MiB" -- run /etc/hostname --memory lots --cpus 2
expect "unload: extra argument" 2 "unexpected argument" -- unload now

# status --json reflects the pool and the hugepages.
json=$("$NECTL" --root "$R" status --json)
check "status --json is valid JSON" 'python3 -c "import json,sys; json.loads(sys.argv[1])" "$json"'
check "status --json shows the pool" \
	'python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d[\"cpu_pool\"][\"list\"]==\"4-7\" and d[\"cpu_pool\"][\"cpus\"]==[4,5,6,7]" "$json"'
check "status --json shows the hugepages" \
	'python3 -c "import json,sys; d=json.loads(sys.argv[1]); s=[x for x in d[\"hugepages\"][0][\"sizes\"] if x[\"size_kb\"]==2048][0]; assert s[\"total\"]==64" "$json"'
check "status text names the pool" '"$NECTL" --root "$R" status | grep -q "cpu pool:   4-7"'
# The CPUs and their cores, as the tree's thread_siblings_list files say.
check "status --json shows the CPUs and their cores" \
	'python3 -c "import json,sys; c=json.loads(sys.argv[1])[\"cpus\"]; assert c==dict(present=8, online=list(range(8)), cores=[[0,1],[2,3],[4,5],[6,7]]), c" "$json"'
check "status text shows the cores" '"$NECTL" --root "$R" status | grep -q "^cpus:       8 present, online 0-7, cores 0-1 2-3 4-5 6-7$"'
# An offline CPU has no topology directory, and the kernel drops it from
# its sibling's list: that core shows its online thread alone.
T=$R/sys/devices/system/cpu
echo 0-2,4-7 >"$T/online"
mv "$T/cpu3/topology" "$TMP/cpu3-topology"
echo 2 >"$T/cpu2/topology/thread_siblings_list"
check "status --json: an offline CPU is left out of online and cores" \
	'python3 -c "import json,sys; c=json.loads(sys.argv[1])[\"cpus\"]; assert c==dict(present=8, online=[0,1,2,4,5,6,7], cores=[[0,1],[2],[4,5],[6,7]]), c" "$("$NECTL" --root "$R" status --json)"'
echo 0-7 >"$T/online"
mv "$TMP/cpu3-topology" "$T/cpu3/topology"
echo 2-3 >"$T/cpu2/topology/thread_siblings_list"
# The module's quarantine listing: absent (other drivers), empty, two enclaves.
check "status --json: no quarantine listing is null" \
	'"$NECTL" --root "$R" status --json | grep -q "\"quarantine\":null"'
QP=$R/sys/module/nitro_enclaves/parameters/quarantine
: >"$QP"
check "status: an empty quarantine" '"$NECTL" --root "$R" status | grep -q "^quarantine: 0 enclaves$"'
printf 'slot=7 mem_mib=64 cpus=2-3 retries=4 device=present\nslot=9 mem_mib=2048 cpus=4,5 retries=0 device=gone\n' >"$QP"
qtext=$("$NECTL" --root "$R" status)
check "status: quarantine count" 'grep -q "^quarantine: 2 enclaves$" <<<"$qtext"'
check "status: quarantined slot line" 'grep -q "slot 9: 2048 MiB pinned, CPUs 4,5 offline, 0 retries, device gone" <<<"$qtext"'
check "status: quarantine hint" 'grep -q "^hint: .*quarantine" <<<"$qtext"'
qjson=$("$NECTL" --root "$R" status --json)
check "status --json with a quarantine is valid JSON" 'python3 -c "import json,sys; json.loads(sys.argv[1])" "$qjson"'
check "status --json lists the quarantined slots" \
	'python3 -c "import json,sys; q=json.loads(sys.argv[1])[\"quarantine\"]; assert [e[\"slot\"] for e in q]==[7,9] and q[1][\"mem_mib\"]==2048 and q[0][\"cpus\"]==\"2-3\" and q[1][\"device\"]==\"gone\", q" "$qjson"'
rm -f "$QP"

# allocate: config errors change nothing; a good config sets pool + hugepages.
cat >"$TMP/bad.yaml" <<'EOF'
memory_mib: 256
cpu_cont: 2
EOF
cat >"$TMP/both.yaml" <<'EOF'
memory_mib: 256
cpu_count: 2
cpu_pool: 2-3
EOF
printf 'memory_mib: 256\ncpu_count: "2\n' >"$TMP/malformed.yaml"
cat >"$TMP/huge.yaml" <<'EOF'
memory_mib: 65536
cpu_count: 2
EOF
cat >"$TMP/good.yaml" <<'EOF'
# Example
memory_mib: 256
cpu_count: 2
EOF
cat >"$TMP/list.yaml" <<'EOF'
memory_mib: 512
cpu_pool: 6-7
EOF
expect "allocate: unknown key" 1 "unknown key 'cpu_cont'" -- allocate --config "$TMP/bad.yaml"
expect "allocate: cpu_count and cpu_pool" 1 "not both" -- allocate --config "$TMP/both.yaml"
expect "allocate: malformed YAML" 1 "not valid YAML" -- allocate --config "$TMP/malformed.yaml"
expect "allocate: missing config" 1 "cannot open" -- allocate --config "$TMP/none.yaml"
expect "allocate: more memory than exists" 1 "has only" -- allocate --config "$TMP/huge.yaml"
check "failed allocate left the pool at 4-7" '[ "$(param)" = 4-7 ]'
expect "allocate: good config" 0 "CPU pool set to 2-3" -- allocate --config "$TMP/good.yaml"
check "allocate set pool 2-3" '[ "$(param)" = 2-3 ]'
check "allocate reserved 128 pages of 2 MiB" '[ "$(hp2m)" = 128 ]'
expect "allocate: cpu_pool config" 0 "CPU pool set to 6-7" -- allocate --config "$TMP/list.yaml"
check "allocate set pool 6-7 and 256 pages" '[ "$(param)" = 6-7 ] && [ "$(hp2m)" = 256 ]'

# build-eif / describe-eif: a valid image, checked by other means (python3
# struct/zlib for the layout and CRC, openssl dgst for the PCRs), then
# corrupt copies and bad input.
E=$TMP/eif
mkdir -p "$E"
head -c 70000 /dev/urandom >"$E/vmlinuz"
head -c 3000 /dev/urandom >"$E/boot.cpio"
head -c 1234 /dev/urandom >"$E/app.cpio"
CMDLINE="console=ttyS0 reboot=k panic=30 init=/init"
expect "build-eif: good input" 0 "wrote .*test.eif: .* 5 sections" -- build-eif --kernel "$E/vmlinuz" \
	--initrd "$E/boot.cpio" --initrd "$E/app.cpio" --cmdline "$CMDLINE" -o "$E/test.eif" --cpus 4 --mem-mib 512
check "build-eif: no temporary file left" '[ "$(ls "$E" | grep -c tmp)" = 0 ]'
check "build-eif: layout, sections and CRC checked by python3" 'python3 - "$E" "$CMDLINE" <<"PY"
import struct, sys, zlib
d, cmdline = sys.argv[1], sys.argv[2].encode()
img = open(d + "/test.eif", "rb").read()
k, b, a = (open(d + "/" + f, "rb").read() for f in ("vmlinuz", "boot.cpio", "app.cpio"))
magic, ver, flags, mem, cpus, res, n = struct.unpack(">4sHHQQHH", img[:28])
offs = struct.unpack(">32Q", img[28:284]); sizes = struct.unpack(">32Q", img[284:540])
unused, crc = struct.unpack(">II", img[540:548])
assert (magic, ver, flags, mem, cpus, res, n, unused) == (b".eif", 4, 0, 512 << 20, 4, 0, 5, 0)
want = [(1, k), (2, cmdline), (5, None), (3, b), (3, a)]
pos = 548
for i, (t, data) in enumerate(want):
    assert offs[i] == pos, (i, offs[i], pos)
    st, sf, sz = struct.unpack(">HHQ", img[pos:pos + 12])
    assert (st, sf, sz) == (t, 0, sizes[i]), i
    body = img[pos + 12:pos + 12 + sz]
    assert body == data if data is not None else len(body) == sz
    pos += 12 + sz
assert pos == len(img) and not any(offs[5:]) and not any(sizes[5:])
c = zlib.crc32(img[:544])
for i in range(n):
    c = zlib.crc32(img[offs[i]:offs[i] + 12 + sizes[i]], c)
assert c == crc, (hex(c), hex(crc))
PY'
json=$("$NECTL" describe-eif --json "$E/test.eif")
check "describe-eif --json is valid JSON (python3 -m json.tool)" 'python3 -m json.tool <<<"$json" >/dev/null'
check "describe-eif --json: header and sections" 'python3 -c "
import json, sys
d = json.loads(sys.argv[1])
assert d[\"version\"] == 4 and d[\"arch\"] == \"x86_64\" and d[\"default_mem_mib\"] == 512
assert d[\"default_cpus\"] == 4 and d[\"section_count\"] == 5 and d[\"crc_ok\"] is True
assert [s[\"type\"] for s in d[\"sections\"]] == [\"kernel\", \"cmdline\", \"metadata\", \"ramdisk\", \"ramdisk\"]
assert d[\"sections\"][0] == {\"index\": 0, \"type\": \"kernel\", \"offset\": 548, \"size\": 70000}
assert d[\"cmdline\"] == sys.argv[2]
assert json.loads(d[\"metadata\"])[\"BuildMetadata\"][\"BuildTool\"] == \"nectl\"
" "$json" "$CMDLINE"'
# PCR = SHA-384(48 zero bytes || SHA-384(data)), with openssl dgst and cat.
pcr() { { head -c 48 /dev/zero; cat "$@" | openssl dgst -sha384 -binary; } | openssl dgst -sha384 -r | cut -d' ' -f1; }
printf %s "$CMDLINE" >"$E/cmdline"
jpcr() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["measurements"][sys.argv[2]])' "$json" "$1"; }
if command -v openssl >/dev/null; then
	check "PCR0 = extend(kernel, cmdline, all ramdisks) (openssl dgst)" \
		'[ "$(jpcr PCR0)" = "$(pcr "$E/vmlinuz" "$E/cmdline" "$E/boot.cpio" "$E/app.cpio")" ]'
	check "PCR1 = extend(kernel, cmdline, first ramdisk) (openssl dgst)" \
		'[ "$(jpcr PCR1)" = "$(pcr "$E/vmlinuz" "$E/cmdline" "$E/boot.cpio")" ]'
	check "PCR2 = extend(other ramdisks) (openssl dgst)" '[ "$(jpcr PCR2)" = "$(pcr "$E/app.cpio")" ]'
	check "text output shows the same PCR0" \
		'"$NECTL" describe-eif "$E/test.eif" | grep -q "^PCR0: *$(jpcr PCR0)\$"'
else
	nok "openssl is missing: PCRs not checked"
fi
check "text output: CRC verified, cmdline shown" \
	'out=$("$NECTL" describe-eif "$E/test.eif") && grep -q "(verified)" <<<"$out" && grep -qF "cmdline:      $CMDLINE" <<<"$out"'
cp "$E/test.eif" "$E/flip.eif"
printf '\x55' | dd of="$E/flip.eif" bs=1 seek=20000 conv=notrunc status=none
expect "describe-eif: a flipped byte fails the CRC" 1 "corrupt: CRC mismatch" -- describe-eif "$E/flip.eif"
head -c 50000 "$E/test.eif" >"$E/cut.eif"
expect "describe-eif: a truncated image" 1 "truncated" -- describe-eif "$E/cut.eif"
expect "describe-eif: not an EIF" 1 "no .eif magic" -- describe-eif "$E/vmlinuz"
expect "describe-eif: missing file" 1 "cannot open" -- describe-eif "$E/none.eif"
expect "describe-eif: missing FILE" 2 "missing FILE" -- describe-eif
expect "build-eif: missing --kernel" 1 "no kernel" -- build-eif --initrd "$E/boot.cpio" --cmdline x -o "$E/x.eif"
expect "build-eif: unreadable kernel" 1 "cannot read kernel" -- build-eif --kernel "$E/nokernel" \
	--initrd "$E/boot.cpio" --cmdline x -o "$E/x.eif"
expect "build-eif: missing --initrd" 1 "no initrd" -- build-eif --kernel "$E/vmlinuz" --cmdline x -o "$E/x.eif"
expect "build-eif: cmdline of 2048 bytes" 1 "limit is 2047" -- build-eif --kernel "$E/vmlinuz" \
	--initrd "$E/boot.cpio" --cmdline "$(printf 'a%.0s' $(seq 2048))" -o "$E/x.eif"
expect "build-eif: output directory missing" 1 "cannot write" -- build-eif --kernel "$E/vmlinuz" \
	--initrd "$E/boot.cpio" --cmdline x -o "$E/no/x.eif"
expect "build-eif: bad --arch" 2 "x86_64 or aarch64" -- build-eif --arch riscv
expect "build-eif: bad --mem-mib" 2 "--mem-mib needs" -- build-eif --mem-mib 1
check "failed builds wrote nothing" '[ ! -e "$E/x.eif" ] && [ "$(ls "$E" | grep -c tmp)" = 0 ]'
expect "build-eif: aarch64, one initrd" 0 "4 sections" -- build-eif --arch aarch64 --kernel "$E/vmlinuz" \
	--initrd "$E/boot.cpio" --cmdline "" -o "$E/arm.eif"
check "describe-eif: aarch64 flag shown" '"$NECTL" describe-eif "$E/arm.eif" | grep -q "^flags: *0x0001 (aarch64)"'

tree nomodule
expect "load: pool with half a core is refused before loading" 1 "only part of its core" -- load --pool 2
expect "pool set without the module" 1 "not loaded.*nectl load" -- pool set --count 2
expect "run without the module" 1 "not loaded" -- run /etc/hostname --memory 128 --cpus 2
check "status hints at the missing module and device" \
	'"$NECTL" --root "$R" status | grep -q "module not loaded" && "$NECTL" --root "$R" status | grep -q "not an enclave-enabled instance"'

tree numa2
expect "numa2: pool across nodes" 1 "different NUMA nodes" -- pool set 2-5
expect "numa2: --count 4 goes to node 1" 0 "4-7 \(NUMA node 1\)" -- pool set --count 4
expect "numa2: hugepages default to the pool's node" 0 "node 1: reserved" -- hugepages reserve 64M
check "numa2: node 0 untouched" '[ "$(hp2m 0)" = 0 ] && [ "$(hp2m 1)" = 32 ]'

tree flat
expect "no SMT: --count 1" 0 "CPU pool set to 1 " -- pool set --count 1
expect "no SMT: CPU 0 refused" 1 "CPU 0" -- pool set 0-1

echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
