#!/bin/bash
# The control API (--api-socket, monitor/api.c) and its client vmm-ctl
# ($VMM_CTL), against the uart guest waiting for input: every command, then
# hostile clients that must not disturb the VM. One case per meson test:
# ctl.sh CASE.

. "$(dirname "$0")/lib.sh"

API=""

ctl() {
	"$VMM_CTL" --timeout 10 "$API" "$@"
}

start_api_guest() {
	[ -x "${VMM_CTL:-}" ] || fail "VMM_CTL not set or not executable"
	API=$TMP/api.sock
	start_uart_guest --api-socket "$API" "$@"
}

# json EXPR: evaluate a Python expression over the JSON on stdin (as j).
json() {
	python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

case_commands() {
	local out e1 e2 n
	start_api_guest --cpus 2 -v
	[ "$(stat -c %a "$API")" = 600 ] || fail "the socket is not mode 0600"
	out=$(ctl status) || fail "status failed: $out"
	grep -q "^state    running$" <<<"$out" || fail "status: not running: $out"
	grep -q "^vcpus    2$" <<<"$out" || fail "status: not 2 vCPUs: $out"
	[ "$(ctl --json status | json 'j["pid"]')" = "$MON_PID" ] || fail "status --json: not the monitor's pid"
	out=$(ctl --json devices) || fail "devices failed"
	n=$(json 'len(j["devices"])' <<<"$out")
	[ "$n" -ge 5 ] || fail "devices: only $n: $out"
	json '[d for d in j["devices"] if d["id"] == "serial0"][0]["pid"]' <<<"$out" |
		grep -qE '^[0-9]+$' || fail "devices: serial0 has no pid: $out"
	[ "$(json '[d for d in j["devices"] if d["id"] == "serial0"][0]["regions"][0]["traps"] > 0' <<<"$out")" = True ] ||
		fail "devices: serial0 served no trap: $out"
	[ "$(json 'all(d["state"] == "running" and d["sandbox"] == "strict" for d in j["devices"])' <<<"$out")" = True ] ||
		fail "devices: not all running under strict: $out"
	ctl devices | grep -qE '^serial0 +serial +[0-9]+ running +strict +0 +region0 [0-9]+' ||
		fail "devices (human): no serial0 line: $(ctl devices)"
	[ "$(ctl --json stats | json 'len(j["vcpus"])')" = 2 ] || fail "stats: not 2 vCPUs"
	[ "$(ctl pause)" = ok ] || fail "pause did not say ok"
	[ "$(ctl --json status | json 'j["state"]')" = paused ] || fail "status after pause: not paused"
	e1=$(ctl --json stats | json 'sum(v["exits"] for v in j["vcpus"])')
	sleep 0.5
	e2=$(ctl --json stats | json 'sum(v["exits"] for v in j["vcpus"])')
	[ "$e1" = "$e2" ] || fail "paused vCPUs still exit: $e1 then $e2"
	[ "$(ctl resume)" = ok ] || fail "resume did not say ok"
	[ "$(ctl --json status | json 'j["state"]')" = running ] || fail "status after resume: not running"
	printf Z >&3
	wait_for_out "PASS uart" 30
	# The guest powers off by itself after PASS; if it is still there, stop ends it.
	ctl stop >/dev/null 2>&1
	wait_monitor
	expect_status 0
	[ -e "$API" ] && fail "the socket outlived the monitor"
	ok "status, devices, stats, pause (exits frozen: $e1), resume, stop; socket 0600 and removed"
}

# stop ends a running VM with status 0 and says so.
case_stop() {
	start_api_guest
	[ "$(ctl stop)" = ok ] || fail "stop did not say ok"
	wait_monitor
	expect_status 0
	expect_err "stopped through the control API"
	ok "vmm-ctl stop: status 0"
}

# Bad clients: the VM and a good client carry on; each bad one is refused.
case_hostile() {
	start_api_guest
	python3 - "$API" <<'PY' || fail "hostile clients: see above"
import socket, struct, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s
def reply(s):
    hdr = b""
    while len(hdr) < 4:
        b = s.recv(4 - len(hdr))
        if not b:
            return None
        hdr += b
    n = struct.unpack("<I", hdr)[0]
    body = b""
    while len(body) < n:
        b = s.recv(n - len(body))
        if not b:
            return None
        body += b
    return body
STATUS = struct.pack("<I", 2) + b"\x0a\x00"    # ApiRequest{status: {}}
def ok(s):
    s.sendall(STATUS)
    r = reply(s)
    assert r and r[0] == 0x1a, "no status reply: %r" % (r,)    # ApiReply field 3 (status)
# a client that connects and never reads or writes, held for the whole case
idle = conn()
# garbage that does not decode: an error reply, then closed
s = conn(); s.sendall(struct.pack("<I", 5) + b"\xff\xff\xff\xff\xff")
r = reply(s); assert r and r[0] == 0x0a, "garbage: no error reply: %r" % (r,)
assert reply(s) is None, "garbage: not closed"
# a length past the limit: an error reply, then closed
s = conn(); s.sendall(struct.pack("<I", 1 << 30))
r = reply(s); assert r and r[0] == 0x0a and b"too long" in r, "oversized: %r" % (r,)
assert reply(s) is None, "oversized: not closed"
# an empty request (no command): an error reply; the connection stays usable
s = conn(); s.sendall(struct.pack("<I", 0))
r = reply(s); assert r and r[0] == 0x0a, "empty: %r" % (r,)
ok(s)
# requests it never reads the replies of: closed once 1 MiB is owed, the VM unharmed
s = conn(); s.setblocking(False)
sent = 0
try:
    for i in range(400000):
        s.send(STATUS); sent += 1
except (BlockingIOError, BrokenPipeError, ConnectionResetError):
    pass
# 100 clients at once, each served
cs = [conn() for i in range(100)]
for c in cs:
    c.sendall(STATUS)
for c in cs:
    r = reply(c); assert r and r[0] == 0x1a, "one of 100 clients: %r" % (r,)
# and a plain good client after all that
ok(conn())
print("hostile: %d unread requests sent" % sent)
PY
	out=$(ctl --json stats) || fail "stats after the hostile clients failed"
	[ "$(json 'j["api_refused"] >= 3' <<<"$out")" = True ] || fail "refusals not counted: $out"
	expect_err "api-socket .*: a request that does not decode: closed"
	printf Z >&3
	wait_monitor
	expect_status 0
	expect_line "PASS uart"
	ok "garbage, oversized, empty, unread and 100 simultaneous clients: each refused or served, the guest passes; $(json 'j["api_refused"]' <<<"$out") refusals counted"
}

case_bad_path() {
	need_kvm
	need_guest hello.elf
	run_monitor --kernel "$(guest hello.elf)" --api-socket "$TMP/no/such/dir/api.sock"
	expect_usage_error 'api-socket .*no such directory'
	touch "$TMP/file"
	run_monitor --kernel "$(guest hello.elf)" --api-socket "$TMP/file"
	expect_usage_error 'api-socket .*not a socket'
	ok "--api-socket in a missing directory, or on a regular file: status 2, one line"
}

# A second VM on the same path is refused while the first runs.
case_in_use() {
	start_api_guest
	run_monitor --kernel "$(guest hello.elf)" --api-socket "$API"
	expect_usage_error 'api-socket .*in use'
	[ "$(ctl --json status | json 'j["pid"]')" = "$MON_PID" ] || fail "the first VM lost its socket"
	printf Z >&3
	wait_monitor
	expect_status 0
	ok "a second monitor on the same --api-socket: status 2; the first keeps it"
}

dispatch "$@"
