#!/bin/bash
# Supervision of device processes (--devices process): one vmm-devproc per
# device, named for ps; a device process that dies or stops answering is
# reported with its class, instance, pid and cause, the VM ends with status
# 1, and no process is left behind. One case per meson test.
#
# The uart guest is the workload: after "uart: waiting for input" it polls
# the UART's line status register, so every device is up and the serial
# device process is being read from while we act.

. "$(dirname "$0")/lib.sh"

# pid of the device process serving device $1 (e.g. serial0) of our VM.
device_pid() {
	pgrep -f -- "vmm-devproc --control-fd 3 --name $1 --vm vm$MON_PID\$" | head -n 1
}

expect_no_devices_left() {
	local i left
	for ((i = 0; i < 40; i++)); do
		left=$(pgrep -f -- "--vm vm$MON_PID\$" || true)
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	fail "device processes left behind: $left"
}

case_ps_names() {
	local d pid
	start_uart_guest
	for d in serial0 rtc0 i8042-0 acpi_pm0 virtio-rng0; do
		pid=$(device_pid "$d")
		[ -n "$pid" ] || fail "no vmm-devproc for $d in ps: $(pgrep -af vmm-devproc)"
		[ "$(cut -d' ' -f4 /proc/"$pid"/stat)" = "$MON_PID" ] ||
			fail "$d (pid $pid) is not a child of the monitor"
	done
	[ "$(pgrep -c -f -- "--vm vm$MON_PID\$")" = 5 ] || fail "not exactly 5 device processes"
	printf Z >&3
	wait_monitor
	expect_status 0
	expect_line "PASS uart"
	expect_no_devices_left
	ok "one vmm-devproc per device, named in ps; all gone after poweroff"
}

# SIGKILL the device process of $1 ($2: its class) while the guest runs: a
# new process replaces it, resumes from its committed state, and the guest
# goes on to its end.
kill_case() {
	local pid new
	start_uart_guest
	pid=$(device_pid "$1")
	[ -n "$pid" ] || fail "no device process for $1"
	kill -9 "$pid"
	wait_for_err "device $1 \\(class $2, pid $pid\\) died: was killed by signal 9 \\(Killed\\): replaced by pid [0-9]+"
	new=$(device_pid "$1")
	[ -n "$new" ] && [ "$new" != "$pid" ] || fail "no new process for $1 (old $pid, now '$new')"
	printf Z >&3
	wait_monitor
	expect_status 0 "the guest ran to its end"
	expect_line "PASS uart"
	expect_no_devices_left
	ok "$1 killed: replaced by pid $new ($(grep -ao 'unavailable [0-9.]* ms' "$ERR" | head -n 1)), the guest went on"
}

case_kill_serial() { kill_case serial0 serial; }
case_kill_rtc() { kill_case rtc0 rtc; }
case_kill_i8042() { kill_case i8042-0 i8042; }
case_kill_acpi_pm() { kill_case acpi_pm0 acpi_pm; }
case_kill_virtio_rng() { kill_case virtio-rng0 virtio-rng; }

# --device-restart 0: a device that dies stops the VM, reported as before.
case_kill_no_restart() {
	local pid
	start_uart_guest --device-restart 0
	pid=$(device_pid serial0)
	[ -n "$pid" ] || fail "no device process for serial0"
	kill -9 "$pid"
	wait_monitor
	expect_status 1 "a device died"
	expect_err "device serial0 \\(class serial, pid $pid\\) died: was killed by signal 9"
	expect_no_devices_left
	ok "--device-restart 0: serial0 killed, reported, status 1, nothing left"
}

# More deaths than the policy allows in its window: the last is reported and the VM stops.
case_restart_limit() {
	local pid i
	start_uart_guest --device-restart 2
	for ((i = 1; i <= 3; i++)); do
		pid=$(device_pid rtc0)
		[ -n "$pid" ] || fail "no device process for rtc0 (round $i)"
		kill -9 "$pid"
		[ "$i" = 3 ] || wait_for_err "restart $i, $i in the last minute"
	done
	wait_monitor
	expect_status 1 "the policy's limit"
	expect_err "device rtc0 \\(class rtc, pid $pid\\) died: was killed by signal 9 \\(Killed\\); not replaced: 2 restarts in the last minute \\(--device-restart 2\\)"
	expect_no_devices_left
	ok "a third death within a minute with --device-restart 2 stops the VM, reported"
}

# A device that stops answering: the vCPU's read hits the deadline, the
# device is killed and replaced, and the read gets its answer from the new one.
case_deadline() {
	local pid
	start_uart_guest --device-timeout-ms 200
	pid=$(device_pid serial0)
	[ -n "$pid" ] || fail "no device process for serial0"
	kill -STOP "$pid"
	wait_for_err "device serial0 \\(class serial, pid $pid\\) did not answer within 200 ms; killed: replaced by pid [0-9]+"
	printf Z >&3
	wait_monitor
	expect_status 0 "the guest ran to its end"
	expect_line "PASS uart"
	expect_no_devices_left
	ok "a stopped device is killed at the deadline and replaced; the guest went on"
}

# A device that hangs (rtc0) is found - by a vCPU's read that times out or
# by the monitor's liveness check, whichever comes first - killed and
# replaced, twice in a row.
case_hung_twice() {
	local pid round
	start_uart_guest --device-timeout-ms 300
	for round in 1 2; do
		pid=$(device_pid rtc0)
		[ -n "$pid" ] || fail "no device process for rtc0 (round $round)"
		kill -STOP "$pid"
		wait_for_err "device rtc0 \\(class rtc, pid $pid\\) did not answer (the monitor )?within [0-9]+ ms; killed: replaced by pid [0-9]+" 20
	done
	printf Z >&3
	wait_monitor
	expect_status 0 "the guest ran to its end"
	expect_line "PASS uart"
	expect_no_devices_left
	ok "rtc0 stopped twice: found and replaced each time"
}

# Stopping the VM while a vCPU waits on a device that does not answer (here
# stopped, with a 30 s deadline): the wait ends at once, the vCPUs stop, the
# monitor shuts down in order (no "did not stop" vCPU, no device report) and
# exits 1 for the signal, well inside the deadline (the 1 s it gives a device
# to exit, then SIGKILL, is most of it).
case_stop_while_waiting() {
	local pid t0 t1
	start_uart_guest --device-timeout-ms 30000
	pid=$(device_pid serial0)
	[ -n "$pid" ] || fail "no device process for serial0"
	kill -STOP "$pid"
	sleep 0.5
	t0=$(date +%s%N)
	kill -TERM "$MON_PID"
	wait_monitor
	t1=$(date +%s%N)
	expect_status 1 "stopped by SIGTERM"
	! grep -aq "did not stop" "$ERR" || fail "a vCPU did not stop: $(grep -a "did not stop" "$ERR")"
	! grep -aq "device serial0 (class" "$ERR" || fail "serial0 was reported: $(grep -a "device serial0" "$ERR")"
	[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "the monitor took $(( (t1 - t0) / 1000000 )) ms to stop"
	expect_no_devices_left
	ok "SIGTERM while a vCPU waits on a stopped device: $(( (t1 - t0) / 1000000 )) ms to an orderly exit"
}

# A device the host keeps from running is slow, not broken: serial0 pinned
# to CPU 1 under a real-time hog for 2 s (the kernel's RT throttling lets it
# run ~5% of each second, so reads wait up to ~1 s against a 100 ms deadline).
# The monitor waits, says once why, and the guest finishes.
case_slow_host() {
	local pid hog
	[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs (has $(nproc)): one for the vCPU, one to starve"
	command -v chrt >/dev/null || skip "no chrt (util-linux)"
	start_uart_guest --device-timeout-ms 100
	pid=$(device_pid serial0)
	[ -n "$pid" ] || fail "no device process for serial0"
	taskset -a -p -c 0 "$MON_PID" >/dev/null || fail "cannot pin the monitor to CPU 0"
	taskset -a -p -c 1 "$pid" >/dev/null || fail "cannot pin serial0 to CPU 1"
	timeout 2 chrt -f 50 taskset -c 1 sh -c 'while :; do :; done' &
	hog=$!
	wait "$hog"
	kill -0 "$MON_PID" 2>/dev/null || { wait_monitor; fail "the VM ended while serial0 was starved"; }
	printf Z >&3
	wait_monitor
	expect_status 0 "a starved device is not a failed one"
	expect_line "PASS uart"
	expect_err "device serial0: no answer in 100 ms while the host keeps it from running; waiting up to 60 s"
	[ "$(grep -c 'keeps it from running' "$ERR")" = 1 ] || fail "the slow host reported more than once"
	ok "serial0 starved for 2 s against a 100 ms deadline: the VM waits and finishes"
}

# The monitor dies without cleaning up: its device processes follow it.
case_monitor_killed() {
	start_uart_guest
	kill -9 "$MON_PID"
	wait "$MON_PID" 2>/dev/null
	exec 3>&-
	expect_no_devices_left
	ok "device processes exit with their monitor"
}

dispatch "$@"
