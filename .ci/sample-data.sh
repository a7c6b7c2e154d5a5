#!/usr/bin/env bash
# Fetches the public sample data that some tests, the benchmarks and
# `go run ./examples/quickstart -data DIR/mbrainz` read, from the
# repositories that publish it, at pinned commits (so the content is the
# one the tests' counts are taken from). It is never part of this
# repository.
#
#   .ci/sample-data.sh [DIR]
#
# DIR defaults to $DCBACKUP_SAMPLE_DIR, else ../shared/data (relative paths
# are taken from the repository root), which is where the tests look.
# It gets:
#
#   mbrainz/               the MusicBrainz subset of Datomic's mbrainz importer
#                          (github.com/Datomic/mbrainz-importer, subsets/batches;
#                          Apache-2.0, MusicBrainz core data CC0), 9 MB
#   day-of-datomic/        github.com/Datomic/day-of-datomic (EPL-1.0)
#   day-of-datomic-cloud/  github.com/cognitect-labs/day-of-datomic-cloud (EPL-1.0)
#
# Needs git and the network. DCBACKUP_SAMPLE_GIT replaces https://github.com
# as the place the repositories are cloned from (a mirror).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-${DCBACKUP_SAMPLE_DIR:-../shared/data}}
base=${DCBACKUP_SAMPLE_GIT:-https://github.com}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dcbackup-sample.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

log() { echo "sample-data: $*" >&2; }

# clone REPO: a clone without working tree (and, where the server allows,
# without file contents until they are read) into $tmp/REPO.
clone() {
	log "cloning $base/$1"
	git clone --quiet --no-checkout --filter=blob:none "$base/$1" "$tmp/$1" 2>/dev/null ||
		git clone --quiet --no-checkout "$base/$1" "$tmp/$1"
}

# get REPO COMMIT DEST SRC...: writes each file SRC of REPO at COMMIT into
# DEST (a directory under $dir).
get() {
	local repo=$1 commit=$2 dest=$dir/$3 src
	shift 3
	mkdir -p "$dest"
	for src in "$@"; do
		git -C "$tmp/$repo" show "$commit:$src" >"$dest/$(basename "$src")"
	done
}

# The subset as of 2019-10-01; later commits add :release/abstractRelease
# and change the counts. Its LICENSE came later.
clone Datomic/mbrainz-importer
get Datomic/mbrainz-importer 58a02faea9aefa9c64a4be0743f061bb0920d956 mbrainz \
	subsets/batches/{schema,enums,super-enums,artists,areleases,areleases-artists,labels,releases,releases-artists}.edn
get Datomic/mbrainz-importer 2c2a7900f3721dd0f429d84b71939119429cb4bc mbrainz LICENSE

clone Datomic/day-of-datomic
get Datomic/day-of-datomic daa457f766e16f55243a95513e759573b8827329 day-of-datomic \
	COPYRIGHT epl-v10.html resources/streets.edn \
	resources/day-of-datomic/{bigger-than-pluto,clojure-data-functions,graph,provenance,schema,social-news}.edn

clone cognitect-labs/day-of-datomic-cloud
get cognitect-labs/day-of-datomic-cloud 385438c4d983d9855bf40d83eaabb618048a7cfc day-of-datomic-cloud \
	LICENSE resources/day-of-datomic-cloud/{course-registration,graph,provenance,schema,social-news,streets}.edn

log "sample data in $dir"
