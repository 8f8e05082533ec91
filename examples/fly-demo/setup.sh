#!/usr/bin/env bash
# Make a git repository of the fly demo at DEST, with a local bare "origin" at
# DEST.origin.git, ready for: cd DEST && maverick fly --branch-name demo-feature
set -euo pipefail

dest=${1:?usage: examples/fly-demo/setup.sh DEST}
here=$(cd "$(dirname "$0")" && pwd)
for path in "$dest" "${dest%/}.origin.git"; do
  if [ -e "$path" ]; then
    echo "setup.sh: $path already exists; choose a new directory" >&2
    exit 2
  fi
done
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)   # absolute: the origin's path is stored in .git/config
origin="$dest.origin.git"
cp -R "$here/." "$dest/"
# the copy is a fresh project: no run state, caches or this script
rm -rf "$dest/.maverick" "$dest/setup.sh"
find "$dest" -name __pycache__ -type d -prune -exec rm -rf {} +

cd "$dest"
git init -q .
git symbolic-ref HEAD refs/heads/main
# commits need an identity; keep the user's own when git has one
git config user.name >/dev/null || git config user.name "Fly Demo"
git config user.email >/dev/null || git config user.email "fly-demo@example.invalid"
git add -A
git commit -q -m "Fly demo: a tiny calculator to build"

git init -q --bare "$origin"
git --git-dir="$origin" symbolic-ref HEAD refs/heads/main
git remote add origin "$origin"
git push -q -u origin main

echo "fly demo ready in $dest (origin: $origin)"
echo "next: cd $dest && maverick fly --branch-name demo-feature"
