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

# exits FILE: the sum of the vCPUs' exits in a saved `--json stats` (no Python: it is slow to start in the emulated machine).
exits() {
	grep -o '"exits": [0-9]*' "$1" | awk '{ n += $2 } END { print n + 0 }'
}

case_commands() {
	local out e1 e2 old
	start_api_guest --cpus 2 -v
	[ "$(stat -c %a "$API")" = 600 ] || fail "the socket is not mode 0600"
	out=$(ctl status) || fail "status failed: $out"
	grep -q "^state    running$" <<<"$out" || fail "status: not running: $out"
	grep -q "^vcpus    2$" <<<"$out" || fail "status: not 2 vCPUs: $out"
	ctl --json status >"$TMP/status.json" || fail "status --json failed"
	ctl --json devices >"$TMP/devices.json" || fail "devices --json failed"
	ctl devices >"$TMP/devices.txt" || fail "devices failed"
	grep -qE '^serial0 +serial +[0-9]+ running +strict +0 +region0 [0-9]+' "$TMP/devices.txt" ||
		fail "devices (human): no serial0 line: $(cat "$TMP/devices.txt")"
	ctl --json stats >"$TMP/stats.json" || fail "stats --json failed"
	[ "$(ctl pause)" = ok ] || fail "pause did not say ok"
	ctl --json status | grep -q '"state": "paused"' || fail "status after pause: not paused"
	ctl --json stats >"$TMP/p1.json"
	sleep 0.5
	ctl --json stats >"$TMP/p2.json"
	e1=$(exits "$TMP/p1.json") e2=$(exits "$TMP/p2.json")
	[ "$e1" = "$e2" ] || fail "paused vCPUs still exit: $e1 then $e2"
	[ "$(ctl resume)" = ok ] || fail "resume did not say ok"
	ctl --json status | grep -q '"state": "running"' || fail "status after resume: not running"
	old=$(sed -n 's/^rtc0 \+rtc \+\([0-9]\+\) .*/\1/p' "$TMP/devices.txt")
	[ "$(ctl restart-device rtc0)" = ok ] || fail "restart-device rtc0 did not say ok"
	wait_for_err "device rtc0 \\(class rtc, pid $old\\) restart asked for \\(vmm-ctl restart-device\\); killed: replaced by pid [0-9]+"
	ctl devices | grep -qE "^rtc0 +rtc +[0-9]+ running +strict +1 " ||
		fail "devices after restart-device: rtc0 not running with 1 restart: $(ctl devices)"
	out=$(ctl restart-device nosuch0 2>&1) && fail "restart-device nosuch0 succeeded"
	grep -q "no such device" <<<"$out" || fail "restart-device nosuch0: $out"
	out=$("$VMM_CTL" "$API" restart-device 2>&1); [ $? = 2 ] || fail "restart-device without an id: not status 2: $out"
	printf Z >&3
	wait_for_out "PASS uart" 30
	# The guest powers off by itself after PASS; if it is still there, stop ends it.
	ctl stop >/dev/null 2>&1
	wait_monitor
	expect_status 0
	[ -e "$API" ] && fail "the socket outlived the monitor"
	python3 - "$TMP" "$MON_PID" <<'PY' || fail "the JSON replies (above)"
import json, sys
d, pid = sys.argv[1], int(sys.argv[2])
st = json.load(open(d + "/status.json"))
assert st["pid"] == pid and st["vcpus"] == 2 and st["state"] == "running", st
devs = json.load(open(d + "/devices.json"))["devices"]
assert len(devs) >= 5, devs
assert all(x["state"] == "running" and x["sandbox"] == "strict" and x["pid"] > 0 for x in devs), devs
ser = [x for x in devs if x["id"] == "serial0"][0]
assert ser["class"] == "serial" and ser["regions"][0]["traps"] > 0, ser
r0 = ser["regions"][0]
assert 0 < r0["p50_ns"] <= r0["p99_ns"] <= r0["max_ns"], r0
stats = json.load(open(d + "/stats.json"))
assert len(stats["vcpus"]) == 2 and stats["vcpus"][0]["exits"] > 0, stats
PY
	ok "status, devices, stats (JSON and text), pause (exits frozen at $e1), resume, restart-device, stop; socket 0600 and removed"
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

# --devices inproc: restart-device saves each model, destroys it, creates it
# again and loads it (the path of a replacement process); the guest, which
# polls the UART meanwhile, goes on to pass. A class that keeps no state
# cannot be restarted; neither can anything with --device-restart 0.
case_restart_inproc() {
	local d out
	start_api_guest --devices inproc
	for d in serial0 rtc0 i8042-0 acpi_pm0 virtio-rng0; do
		[ "$(ctl restart-device "$d")" = ok ] || fail "restart-device $d did not say ok"
		wait_for_err "device $d \\(class [a-z0-9_-]+\\) restarted in the monitor from [0-9]+ bytes of saved state"
	done
	printf Z >&3
	wait_monitor
	expect_status 0 "the guest went on"
	expect_line "PASS uart"
	! grep -aiE "failed validation|power-on state|needs reset" "$ERR" ||
		fail "a device did not load its own state"
	ok "--devices inproc: five devices restarted from their saved state; the guest passed"
}

# A device process that stops reading its control socket (SIGSTOP; a long
# --device-timeout-ms keeps the monitor from replacing it) must not hold the
# monitor: once its queue is full, each further powerdown is refused at once
# (EAGAIN) rather than blocking the control loop, and console input still
# reaches the guest.
case_stalled_device() {
	local pid out
	start_api_guest --device-timeout-ms 600000
	pid=$(pgrep -f -- "vmm-devproc --control-fd 3 --name acpi_pm0 --vm vm$MON_PID\$" | head -n 1)
	[ -n "$pid" ] || fail "no device process for acpi_pm0"
	kill -STOP "$pid"
	# One client, powerdowns one after another, each answered within 10 s.
	out=$(python3 - "$API" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("the monitor closed the connection")
        b += c
    return b
POWERDOWN = struct.pack("<I", 2) + b"\x3a\x00"    # ApiRequest{powerdown: {}}
ok = refused = 0
for i in range(2000):
    s.sendall(POWERDOWN)
    try:
        body = recv(struct.unpack("<I", recv(4))[0])
    except socket.timeout:
        sys.exit("powerdown %d: no answer within 10 s (%d ok, %d refused before)" % (i, ok, refused))
    if b"not reading its input" in body:
        refused += 1
        if refused == 20:
            break
    else:
        ok += 1
print(ok, refused)
PY
	) || { kill -CONT "$pid"; fail "powerdowns to a stopped acpi_pm0: $out"; }
	[ "${out#* }" = 20 ] || { kill -CONT "$pid"; fail "2000 powerdowns to a stopped device: $out (ok, refused)"; }
	printf Z >&3
	wait_for_out "PASS uart" 30
	kill -CONT "$pid"
	ctl stop >/dev/null 2>&1
	wait_monitor
	ok "acpi_pm0 stopped: ${out% *} powerdowns queued, then each refused at once; the guest got its input"
}

# Bad clients: the VM and a good client carry on; each bad one is refused.
case_hostile() {
	local out n
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
	n=$(grep -o '"api_refused": [0-9]*' <<<"$out" | awk '{ print $2 }')
	[ "${n:-0}" -ge 3 ] || fail "refusals not counted: $out"
	expect_err "api-socket .*: a request that does not decode: closed"
	printf Z >&3
	wait_monitor
	expect_status 0
	expect_line "PASS uart"
	ok "garbage, oversized, empty, unread and 100 simultaneous clients: each refused or served, the guest passes; $n refusals counted"
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
	ctl --json status | grep -q "\"pid\": $MON_PID," || fail "the first VM lost its socket"
	printf Z >&3
	wait_monitor
	expect_status 0
	ok "a second monitor on the same --api-socket: status 2; the first keeps it"
}

dispatch "$@"
