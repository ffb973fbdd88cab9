#!/usr/bin/env bash
# `cargo deny check`: licences, bans, sources and advisories (deny.toml).
# Installs cargo-deny from crates.io when it is missing. Advisories come from
# the snapshot in .ci/advisory-db (CI cannot reach GitHub, where the RustSec
# database lives): it is staged where cargo-deny looks for its database and
# marked as fetched on the snapshot's date, so `maximum-db-staleness` in
# deny.toml fails CI once the snapshot is too old. A crate in Cargo.lock that
# the snapshot does not cover fails too: run scripts/update-advisory-db.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q " $DENY_VERSION\$"; then
  echo "==> installing cargo-deny $DENY_VERSION"
  cargo install --locked cargo-deny --version "$DENY_VERSION"
fi

snap=.ci/advisory-db
missing=$(comm -23 <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock | sort -u) <(sort -u "$snap/COVERS"))
if [ -n "$missing" ]; then
  echo "the advisory snapshot does not cover these crates of Cargo.lock:" $missing >&2
  echo "refresh it: scripts/update-advisory-db.sh <clone of github.com/rustsec/advisory-db>" >&2
  exit 1
fi
# cargo-deny keeps each database in <db-path>/<name>-<hash of its URL>; this
# is the directory of the default RustSec URL (deny.toml's db-urls).
db=target/advisory-dbs/advisory-db-3157b0e258782691
rm -rf "$db"
mkdir -p "$db/.git"
cp -R "$snap/crates" "$db/crates"
touch -d "$(sed -n 's/^date //p' "$snap/SNAPSHOT")" "$db/.git/FETCH_HEAD"

# The crates of every platform must be in the local cache for `--offline`.
cargo fetch --locked --quiet
cargo deny --offline --locked --all-features check "$@"
