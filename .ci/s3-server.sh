#!/usr/bin/env bash
# Starts a local S3-compatible server (versitygw, serving a temporary
# directory) on a loopback port for the S3 store tests, installing it with
# `go install` first if needed.
#
#   eval "$(.ci/s3-server.sh)"        # start a server and export its settings
#   go test ./...                     # S3 tests now run instead of skipping
#   eval "$(.ci/s3-server.sh aws-env)" # the AWS SDK's standard variables for it,
#                                     # for the examples and cmd/dcbackup
#   .ci/s3-server.sh stop             # stop the server this shell started
#
# Each start without DCBACKUP_S3_STATE starts its own server, in a new
# state directory under ${TMPDIR:-/tmp}, on the first free loopback port,
# so concurrent runs on one machine never share or stop each other's
# server. The exported settings include DCBACKUP_S3_STATE: a later start in
# the same shell reuses that server, and stop stops exactly that one.
#
# stdout carries only the `export DCBACKUP_S3_...` lines; progress goes to
# stderr. The same lines are in $DCBACKUP_S3_STATE/env for `source`.
# The DCBACKUP_S3_* variables describe the server to the tests; programs
# are configured through the AWS SDK's own variables, which `aws-env`
# prints (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY).
#
# Environment (all optional):
#   DCBACKUP_S3_STATE   state directory (pid, port, env, log, data) of the
#                       server to reuse or stop
#   DCBACKUP_S3_BIN     where the versitygw binary is installed;
#                       default ${XDG_CACHE_HOME:-$HOME/.cache}/dcbackup/bin
#   DCBACKUP_S3_PORT    first loopback port to try (default 7070; the next
#                       free one of 50 is used if it is busy)
set -euo pipefail

VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0

cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/dcbackup
state=${DCBACKUP_S3_STATE:-}
bindir=${DCBACKUP_S3_BIN:-$cache/bin}
bin=$bindir/versitygw
first_port=${DCBACKUP_S3_PORT:-7070}
access_key=dcbackup-test
secret_key=dcbackup-test-secret
region=us-east-1

log() { echo "s3-server: $*" >&2; }

# installed reports whether $bin is versitygw at the pinned version.
installed() {
	[ -x "$bin" ] && go version -m "$bin" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+$VERSITYGW_MODULE[[:space:]]+$VERSITYGW_VERSION([[:space:]]|$)"
}

install() {
	installed && return 0
	command -v go >/dev/null || { log "go is not on PATH"; exit 1; }
	log "installing versitygw $VERSITYGW_VERSION into $bindir (with empty Go caches: about 300 MB of modules, 2.5 minutes on 2 idle cores)"
	mkdir -p "$bindir"
	local t0=$SECONDS
	# Outside any module, so the repository's go.mod plays no part.
	(cd / && GOBIN=$bindir GOFLAGS=-buildvcs=false go install "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION")
	log "installed in $((SECONDS - t0)) s"
}

# answers reports whether an S3 server answers HTTP on 127.0.0.1:$1.
answers() {
	if command -v curl >/dev/null; then
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null
		return
	fi
	local line
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
		IFS= read -r -t 2 line <&3 && [[ $line == HTTP/* ]]
	) 2>/dev/null
}

# port_free reports whether nothing listens on 127.0.0.1:$1.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running_pid() {
	local pid
	[ -n "$state" ] || return 1
	pid=$(cat "$state/pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

print_env() {
	cat "$state/env"
}

print_aws_env() {
	cat <<EOF
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$(cat "$state/port")
export AWS_REGION=$region
export AWS_ACCESS_KEY_ID=$access_key
export AWS_SECRET_ACCESS_KEY=$secret_key
EOF
}

stop() {
	local pid
	if [ -z "$state" ]; then
		log "DCBACKUP_S3_STATE is not set: no server of this shell to stop"
		return 0
	fi
	if pid=$(running_pid); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
		log "stopped pid $pid"
	fi
	# Only what start created: the directory may be the caller's.
	rm -rf "$state/data"
	rm -f "$state/pid" "$state/port" "$state/env" "$state/log"
	rmdir "$state" 2>/dev/null || true
}

# listens reports whether process $1 holds a listening socket on
# 127.0.0.1:$2 (so an answer on the port is its own, not another server's).
# Where /proc/net/tcp is unavailable it trusts that the process is alive.
listens() {
	local pid=$1 hex inode
	[ -r /proc/net/tcp ] || { kill -0 "$pid" 2>/dev/null; return; }
	hex=$(printf '%04X' "$2")
	for inode in $(awk -v p=":$hex" '$2 == "0100007F" p && $4 == "0A" { print $10 }' /proc/net/tcp); do
		if ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "socket:\[$inode\]"; then
			return 0
		fi
	done
	return 1
}

# launch starts versitygw on 127.0.0.1:$1 and waits (up to 30 s, polling
# every 0.1 s) until it answers; it fails if the server exits first.
launch() {
	local port=$1 pid
	# setsid: the server outlives this script and is not tied to its
	# terminal; it is stopped with `.ci/s3-server.sh stop`.
	ROOT_ACCESS_KEY=$access_key ROOT_SECRET_KEY=$secret_key VGW_REGION=$region \
		$detach "$bin" --port "127.0.0.1:$port" --quiet posix "$state/data" \
		>"$state/log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$state/pid"
	echo "$port" >"$state/port"
	for _ in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || return 1
		if listens "$pid" "$port" && answers "$port"; then
			return 0
		fi
		sleep 0.1
	done
	log "versitygw did not answer on 127.0.0.1:$port within 30 s"
	kill "$pid" 2>/dev/null || true
	return 1
}

start() {
	local pid port
	if [ -n "$state" ] && pid=$(running_pid) && [ -f "$state/env" ]; then
		port=$(cat "$state/port")
		if answers "$port"; then
			log "reusing versitygw pid $pid on 127.0.0.1:$port"
			print_env
			return 0
		fi
	fi
	if [ -n "$state" ]; then
		stop
	else
		state=$(mktemp -d "${TMPDIR:-/tmp}/dcbackup-s3.XXXXXX")
	fi
	install
	mkdir -p "$state/data"
	# Try free ports in turn; another process may take a port between the
	# check and versitygw's bind, and then the next one is tried.
	local detach= p
	command -v setsid >/dev/null && detach=setsid
	port=
	for p in $(seq "$first_port" $((first_port + 49))); do
		port_free "$p" || continue
		if launch "$p"; then
			port=$p
			break
		fi
		grep -qi "address already in use" "$state/log" 2>/dev/null || {
			log "versitygw failed to start; its log:"
			cat "$state/log" >&2
			stop
			exit 1
		}
	done
	if [ -z "$port" ]; then
		log "no free loopback port in $first_port..$((first_port + 49))"
		stop
		exit 1
	fi
	cat >"$state/env" <<EOF
export DCBACKUP_S3_ENDPOINT=http://127.0.0.1:$port
export DCBACKUP_S3_ACCESS_KEY=$access_key
export DCBACKUP_S3_SECRET_KEY=$secret_key
export DCBACKUP_S3_REGION=$region
export DCBACKUP_S3_STATE=$state
EOF
	pid=$(cat "$state/pid")
	log "versitygw $VERSITYGW_VERSION pid $pid serving $state/data on http://127.0.0.1:$port"
	print_env
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
env) [ -n "$state" ] && running_pid >/dev/null && print_env || { log "not running"; exit 1; } ;;
aws-env) [ -n "$state" ] && running_pid >/dev/null && print_aws_env || { log "not running: start it first with eval \"\$(.ci/s3-server.sh)\""; exit 1; } ;;
install) install ;;
*)
	echo "usage: $0 [start|stop|env|aws-env|install]" >&2
	exit 2
	;;
esac
