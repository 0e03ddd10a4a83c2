#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Mutation test: break module/ne_merge.c and module/ne_pool_rules.c in
# small, plausible ways and check that the unit tests notice every time. A
# mutant that survives means the tests cannot catch that bug; a mutation
# that no longer applies means the code moved and this list must follow it.
# Both fail the run.
# Usage: mutation.sh "CC CFLAGS" OUTDIR   (OUTDIR holds the built harness.o)
set -u
cc=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
mod=$here/../../module
work=$out/mutants
mkdir -p "$work"

passed=0
failed=0
n=0

# "file|description|sed expression"
mutants='ne_merge.c|merge descending neighbours too|s/return last->size \&\& last->start + last->size == start;/return last->size \&\& (last->start + last->size == start || start + 0x200000 == last->start);/
ne_merge.c|merge overlapping chunks|s/last->start + last->size == start;/last->start + last->size >= start;/
ne_merge.c|size alignment not checked|s/if (!size || (start | size) \& (NE_MEM_ALIGN - 1))/if (!size || (start) \& (NE_MEM_ALIGN - 1))/
ne_merge.c|merged size not added|s/last->size += size;/last->size = size;/
ne_merge.c|wrap-around accepted|s/return start + size > start;/return 1;/
ne_merge.c|capacity off by one|s/if (rs->nr == rs->cap)/if (rs->nr > rs->cap)/
ne_merge.c|merge ignores validity|s/ne_phys_range_follows(last, start) \&\&/ne_phys_range_follows(last, start) || /
ne_pool_rules.c|CPU 0 core allowed|s/== t->core_first(t->ctx, 0))/== t->core_first(t->ctx, 0) \&\& 0)/
ne_pool_rules.c|half cores allowed|s/if (t->in_set(t->ctx, cpu) \&\& !t->core_in_set(t->ctx, cpu))/if (0)/
ne_pool_rules.c|offline CPUs allowed|s/if (!ne_pool_all_online(t))/if (!ne_pool_all_online(t) \&\& 0)/
ne_pool_rules.c|mixed SMT widths allowed|s/if (!threads || t->core_weight(t->ctx, cpu) != threads)/if (!threads)/
ne_pool_rules.c|cores numbered per thread|s/if (t->core_first(t->ctx, cpu) != cpu)/if (0)/'

echo "# mutation test of module/ne_merge.c and module/ne_pool_rules.c"
IFS='
'
for m in $mutants; do
	IFS=' '
	n=$((n + 1))
	file=${m%%|*}
	m=${m#*|}
	desc=${m%%|*}
	expr=${m#*|}
	cp "$mod/ne_merge.c" "$mod/ne_pool_rules.c" "$work/"
	sed "$expr" "$mod/$file" >"$work/$file"
	if cmp -s "$mod/$file" "$work/$file"; then
		echo "not ok $n - mutant '$desc' no longer applies (update mutation.sh)"
		failed=$((failed + 1))
		continue
	fi
	killed=0
	for t in test_ne_merge test_ne_cpu_pool; do
		if ! $cc -I"$here" -o "$work/$t" "$here/$t.c" "$work/ne_merge.c" \
			"$work/ne_pool_rules.c" "$out/harness.o" 2>"$work/cc.log"; then
			killed=2	# a mutant must build to prove anything
			break
		fi
		if ! "$work/$t" >/dev/null 2>&1; then
			killed=1
			break
		fi
	done
	if [ $killed -eq 2 ]; then
		echo "not ok $n - mutant '$desc' does not build (fix mutation.sh)"
		failed=$((failed + 1))
	elif [ $killed -eq 1 ]; then
		echo "ok $n - mutant '$desc' caught"
		passed=$((passed + 1))
	else
		echo "not ok $n - mutant '$desc' survived: the tests miss this bug"
		failed=$((failed + 1))
	fi
	IFS='
'
done
echo "1..$n"
echo "$passed passed, $failed failed, 0 skipped"
[ $failed -eq 0 ]
