#!/usr/bin/env bash
# Starts a local S3-compatible server (versitygw, serving a temporary
# directory) on a loopback port for the S3 store tests, installing it with
# `go install` first if needed.
#
#   eval "$(.ci/s3-server.sh)"        # start (or reuse) and export the settings
#   go test ./...                     # S3 tests now run instead of skipping
#   .ci/s3-server.sh stop             # stop it and remove its data
#   .ci/s3-server.sh env              # print the settings of the running server
#
# stdout carries only the `export DCBACKUP_S3_...` lines; progress goes to
# stderr. The same lines are written to $DCBACKUP_S3_STATE/env for `source`.
#
# Environment (all optional):
#   DCBACKUP_S3_STATE   state directory (pid, env, data, log);
#                       default ${XDG_CACHE_HOME:-$HOME/.cache}/dcbackup/s3-server
#   DCBACKUP_S3_BIN     where the versitygw binary is installed;
#                       default ${XDG_CACHE_HOME:-$HOME/.cache}/dcbackup/bin
#   DCBACKUP_S3_PORT    first loopback port to try (default 7070; the next
#                       free one of 50 is used if it is busy)
set -euo pipefail

VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0

cache=${XDG_CACHE_HOME:-$HOME/.cache}/dcbackup
state=${DCBACKUP_S3_STATE:-$cache/s3-server}
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
	log "installing versitygw $VERSITYGW_VERSION into $bindir (about a minute)"
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
	pid=$(cat "$state/pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

print_env() {
	cat "$state/env"
}

stop() {
	local pid
	if pid=$(running_pid); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
		log "stopped pid $pid"
	fi
	rm -rf "$state"
}

start() {
	local pid port
	if pid=$(running_pid) && [ -f "$state/env" ]; then
		port=$(cat "$state/port")
		if answers "$port"; then
			log "reusing versitygw pid $pid on 127.0.0.1:$port"
			print_env
			return 0
		fi
	fi
	stop
	install
	mkdir -p "$state/data"
	port=
	for p in $(seq "$first_port" $((first_port + 49))); do
		if port_free "$p"; then port=$p; break; fi
	done
	[ -n "$port" ] || { log "no free port in $first_port..$((first_port + 49))"; exit 1; }

	local detach=
	command -v setsid >/dev/null && detach=setsid
	# setsid: the server outlives this script and is not tied to its
	# terminal; it is stopped with `.ci/s3-server.sh stop`.
	ROOT_ACCESS_KEY=$access_key ROOT_SECRET_KEY=$secret_key VGW_REGION=$region \
		$detach "$bin" --port "127.0.0.1:$port" --quiet posix "$state/data" \
		>"$state/log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$state/pid"
	echo "$port" >"$state/port"

	# Wait until it answers: up to 30 s, in 0.1 s steps.
	local ok=
	for _ in $(seq 1 300); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "versitygw exited; its log:"
			cat "$state/log" >&2
			exit 1
		fi
		if answers "$port"; then ok=1; break; fi
		sleep 0.1
	done
	if [ -z "$ok" ]; then
		log "versitygw did not answer on 127.0.0.1:$port within 30 s; its log:"
		cat "$state/log" >&2
		stop
		exit 1
	fi
	cat >"$state/env" <<EOF
export DCBACKUP_S3_ENDPOINT=http://127.0.0.1:$port
export DCBACKUP_S3_ACCESS_KEY=$access_key
export DCBACKUP_S3_SECRET_KEY=$secret_key
export DCBACKUP_S3_REGION=$region
EOF
	log "versitygw $VERSITYGW_VERSION pid $pid serving $state/data on http://127.0.0.1:$port"
	print_env
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
env) running_pid >/dev/null && print_env || { log "not running"; exit 1; } ;;
install) install ;;
*)
	echo "usage: $0 [start|stop|env|install]" >&2
	exit 2
	;;
esac
