#!/usr/bin/env bash
# The README's second command: install, build, run every test suite, and
# print one summary line "N passed, N failed, N skipped" (the last line).
#
# Tests in meson suite 'kvm' run VMs. Where this machine has a real KVM they
# run here with the rest; where it has none (or only PVM), they all run in
# one emulated machine with kvm-amd (scripts/kvm-machine.sh), after the
# tests that need no KVM (unit tests, fuzzing) have run here, where they are
# faster. Every skipped test is listed on the console with its reason.
# Extra arguments select tests as `meson test` does (e.g. --suite linux,
# or test names).
set -uo pipefail
{ # the whole script is read before it runs: editing it meanwhile is safe
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
./scripts/build.sh || exit 1
BUILD=${VMM_BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Selected tests, split into those that need KVM and the rest.
names() { meson test -C "$BUILD" --no-rebuild --list "$@" 2>/dev/null | sed -n 's|^[^ ]* / ||p' | sort; }
names "$@" >"$tmp/all"
names --suite kvm >"$tmp/kvm-suite"
comm -12 "$tmp/all" "$tmp/kvm-suite" >"$tmp/kvm"
comm -23 "$tmp/all" "$tmp/kvm-suite" >"$tmp/host"

# The stock-Linux guest is made here (the emulated machine has no network).
if grep -q '^linux-' "$tmp/kvm"; then
    tests/linux/image.sh >/dev/null || exit 1
fi
where=$(./scripts/kvm-machine.sh --where)
mtest=(meson test -C "$BUILD" --no-rebuild --print-errorlogs --num-processes 2)
rc=0
# retry_list: the failed stock-Linux tests of the KVM run whose guest kernel
# crashed or froze (its log: an oops or panic, an RCU stall, or a VM that
# did not end); failed_count: how many of its tests did not pass.
kvm_json() { [ -f "$BUILD/meson-logs/testlog-kvm.json" ] && [ "$BUILD/meson-logs/testlog-kvm.json" -nt "$tmp/all" ] && cat "$BUILD/meson-logs/testlog-kvm.json"; }
retry_list() {
    kvm_json | python3 -c '
import json, re, sys
sign = re.compile(r"Kernel panic|Oops|BUG: |general protection fault|rcu: INFO: .*stall|monitor still running after")
for line in sys.stdin:
    t = json.loads(line)
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    name = t["name"].split(" / ")[-1]	# "vmm:linux+kvm / linux-restart"
    if t.get("result") == "FAIL" and name.startswith("linux-") and sign.search(out):
        print(name)'
}
failed_count() {
    kvm_json | python3 -c '
import json, sys
print(sum(json.loads(l).get("result") in ("FAIL", "TIMEOUT", "ERROR") for l in sys.stdin))'
}
if [ "$where" = native ]; then
    cat "$tmp/kvm" >>"$tmp/host"
    : >"$tmp/kvm"
fi
if [ -s "$tmp/host" ]; then
    "${mtest[@]}" --logbase testlog-host $(cat "$tmp/host") 2>&1 | tee "$tmp/log-host"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
fi
if [ -s "$tmp/kvm" ]; then
    echo "test: the $(wc -l <"$tmp/kvm") tests that need KVM, through scripts/kvm-machine.sh"
    # kvm_tests LIST: the tests named in $tmp/LIST, in the emulated machine,
    # logged as testlog-LIST (meson) and $tmp/log-LIST (counted below).
    kvm_tests() {
        ./scripts/kvm-machine.sh "${mtest[@]}" --logbase "testlog-$1" $(cat "$tmp/$1") 2>&1 | tee "$tmp/log-$1"
        return "${PIPESTATUS[0]}"
    }
    kvm_tests kvm; st=$?
    # 125: the emulated machine itself failed (its kernel's last lines are
    # above), which says nothing of the tests: they run once more.
    if [ "$st" = 125 ]; then
        echo "test: the emulated machine failed, not a test; running the $(wc -l <"$tmp/kvm") KVM tests once more"
        mv "$tmp/log-kvm" "$tmp/machine-failed"
        kvm_tests kvm; st=$?
    fi
    # A stock-Linux test whose guest kernel crashed or froze runs once more:
    # the emulated CPU itself has been seen to corrupt a guest's state (a
    # kernel entered with the user's GS base; a guest whose timer stopped),
    # which our monitor, never writing a vCPU's registers after boot, cannot.
    # Its first failure is still printed below; a second one fails the run.
    [ "$st" = 0 ] || [ "$st" = 125 ] || retry_list >"$tmp/retry"
    if [ -s "$tmp/retry" ]; then
        echo "test: the guest's kernel crashed or froze in $(tr '\n' ' ' <"$tmp/retry")- running once more"
        # all the first run's failures retried, and passed now
        kvm_tests retry && [ "$(wc -l <"$tmp/retry")" = "$(failed_count)" ] && st=0
    fi
    [ "$st" = 0 ] || rc=1
fi

# Skipped tests with their reason (the "SKIP: ..." line each printed), and
# each failed test's telling lines again here, near the summary (where a
# CI log that keeps only its start and end still shows them).
for j in "$BUILD"/meson-logs/testlog-host.json "$BUILD"/meson-logs/testlog-kvm.json \
         "$BUILD"/meson-logs/testlog-retry.json; do
    [ -f "$j" ] && [ "$j" -nt "$tmp/all" ] && sed "s/^/${j##*-} /" "$j"
done | RETRIED="$(cat "$tmp/retry" 2>/dev/null)" python3 -c '
import json, os, re, sys
retried = os.environ["RETRIED"].split()
for line in sys.stdin:
    log, line = line.split(" ", 1)
    t = json.loads(line)
    if t.get("result") == "SKIP":
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        why = [l[5:].strip() for l in out.splitlines() if l.startswith("SKIP")]
        print("SKIP %s: %s" % (t["name"], why[0] if why else "(no reason printed)"))
    elif t.get("result") in ("FAIL", "TIMEOUT", "ERROR"):
        lines = ((t.get("stdout") or "") + (t.get("stderr") or "")).splitlines()
        # The verdict lines first (a monitor that logs a lot on its way out
        # must not push them out), then the last of what the VMM said.
        verdict = [l for l in lines if re.match(r"(FAIL|not ok|kvm-machine:)", l)]
        vmm = [l for l in lines if re.match(r"vmm[:\[-]", l)]
        print("FAILED %s (%s%s):" % (t["name"], t["result"],
              ", its second run" if log == "retry.json" else
              ", then run once more" if log == "kvm.json" and t["name"].split(" / ")[-1] in retried
              else ""))
        for l in (verdict[-8:] + vmm[-8:]) if verdict or vmm else lines[-12:]:
            print("    " + l[:200])
'

count() { cat "$tmp"/log-* 2>/dev/null | awk -v k="$1" '$1 == k":" {n += $2} END {print n + 0}'; }
ok=$(count Ok); fail=$(count Fail); to=$(count Timeout); skip=$(count Skipped)
# a retried test counts once: its second run's result
[ -s "$tmp/retry" ] && fail=$((fail - $(wc -l <"$tmp/retry")))
# A run that ended early (the emulated machine failed) counts what did not run as failed.
total=$(cat "$tmp/host" "$tmp/kvm" | grep -c .)
missing=$(( total - ok - fail - to - skip))
[ "$missing" -gt 0 ] && { echo "test: $missing selected tests did not run"; rc=1; }
echo "$ok passed, $(( fail + to + (missing > 0 ? missing : 0) )) failed, $skip skipped"
exit "$rc"
}
