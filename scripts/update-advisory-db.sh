#!/usr/bin/env bash
# Refreshes .ci/advisory-db, the RustSec advisories `cargo deny` checks against
# (CI cannot reach GitHub). Give it a clone (or bare mirror) of
# https://github.com/rustsec/advisory-db; it copies the advisories of every
# crate named in Cargo.lock, and records which crates and which commit the
# snapshot covers. Run it after changing dependencies, and every few months.
#   scripts/update-advisory-db.sh /path/to/advisory-db[.git]
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?usage: $0 <advisory-db git dir or clone>}
out=.ci/advisory-db
git_db() { git --git-dir="$(git -C "$src" rev-parse --absolute-git-dir 2>/dev/null || echo "$src")" "$@"; }
commit=$(git_db rev-parse HEAD)
date=$(git_db show -s --format=%cI HEAD)
crates=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock | sort -u)
rm -rf "$out"
mkdir -p "$out/crates"
for c in $crates; do
  if git_db cat-file -e "HEAD:crates/$c" 2>/dev/null; then
    mkdir -p "$out/crates/$c"
    git_db archive HEAD "crates/$c" | tar -x -C "$out"
  fi
done
printf '%s\n' "$crates" >"$out/COVERS"
cat >"$out/SNAPSHOT" <<EOF
source https://github.com/rustsec/advisory-db
commit $commit
date $date
EOF
echo "advisory-db $commit ($date): $(find "$out/crates" -name '*.md' | wc -l) advisories of $(ls "$out/crates" | wc -l) crates, covering $(wc -l <"$out/COVERS") crates of Cargo.lock"
