#!/usr/bin/env bash
# The git workload of tests/realworld/git.sh. It runs inside a fresh directory, with HOME a
# temporary directory, and prints only what is deterministic: hashes, logs, diffs, listings.
set -euo pipefail

export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Real World" GIT_AUTHOR_EMAIL="realworld@example.invalid"
export GIT_COMMITTER_NAME="Real World" GIT_COMMITTER_EMAIL="realworld@example.invalid"
export GIT_TERMINAL_PROMPT=0 GIT_PAGER=cat PAGER=cat
cat >"$HOME/.gitconfig" <<'CONFIG'
[init]
	defaultBranch = main
[core]
	autocrlf = false
	pager = cat
[gc]
	auto = 0
[advice]
	detachedHead = false
[color]
	ui = false
CONFIG

# first N COMMAND...: the first N lines of COMMAND's output (no SIGPIPE for COMMAND).
first() {
  local n=$1
  shift
  "$@" >"$TMPDIR/first.out"
  head -n "$n" "$TMPDIR/first.out"
}

when() { # when N: the Nth commit's date
  export GIT_AUTHOR_DATE="2024-01-0${1}T12:00:00Z" GIT_COMMITTER_DATE="2024-01-0${1}T12:00:00Z"
}

# generate ROUND: writes (or rewrites) a few hundred deterministic source-like files.
generate() {
  awk -v round="$1" '
    function rnd(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return int(seed / 65536) % n }
    BEGIN {
      seed = 7
      for (f = 0; f < 300; f++) {
        dir = sprintf("src/module%02d", f % 12)
        file = sprintf("%s/file%03d.txt", dir, f)
        system("mkdir -p " dir)
        lines = 20 + rnd(80)
        for (l = 0; l < lines; l++) {
          changed = (round > 1 && (f + l) % (7 + round) == 0)
          printf "line %d of file %d: value %d%s\n", l, f, rnd(100000), (changed ? " edited in round " round : "") > file
        }
        if (round >= 3 && f % 10 == 0) printf "appended in round %d\n", round > file
        close(file)
      }
    }'
}

git init -q repo
cd repo

echo "== round 1"
generate 1
printf 'build/\n*.o\n' >.gitignore
git add -A
when 1
git commit -q -m "Initial import of 300 files"
git rev-parse HEAD
git ls-files | wc -l

echo "== round 2"
generate 2
git add -A
git mv src/module00/file000.txt src/module00/renamed000.txt
git rm -q -f src/module11/file011.txt
when 2
git commit -q -m "Edit every few lines, rename one file, delete one"
git rev-parse HEAD

echo "== branch"
git checkout -q -b feature HEAD~1
for i in $(seq 1 40); do printf 'feature note %d\n' "$i" >"src/module05/feature$i.txt"; done
git add -A
when 3
git commit -q -m "Add feature notes"
git checkout -q main

echo "== round 3"
generate 3
git add -A
when 4
git commit -q -m "Append a line to every tenth file"
when 5
git merge -q --no-edit feature
git rev-parse HEAD HEAD^1 HEAD^2

echo "== log --stat"
git log --stat --format='%H %an <%ae> %ad%n%s' --date=iso-strict
echo "== log --graph"
git log --graph --oneline --all
echo "== diff HEAD~2 HEAD (stat)"
git diff --stat HEAD~2 HEAD >"$TMPDIR/stat.out"
tail -n 5 "$TMPDIR/stat.out"
echo "== diff round 1..2 (patch)"
first 400 git diff HEAD~3 HEAD~2 -- src/module03 src/module00
echo "== diff --name-status"
git diff --name-status --find-renames HEAD~3 HEAD >"$TMPDIR/names.out"
first 60 sort "$TMPDIR/names.out"

echo "== worktree edits"
sed -i 's/value/VALUE/' src/module07/file007.txt
git diff --numstat
git status --porcelain
git stash -q
git status --porcelain
git stash pop -q
git status --porcelain
git checkout -q -- .

echo "== blame and grep"
first 20 git blame -s --abbrev=12 src/module04/file004.txt
git grep -c "edited in round 3" -- src/module06 | sort
first 10 git grep -n "round 3" HEAD -- src/module10

echo "== gc"
git count-objects -v | grep -E '^(count|in-pack|packs):'
git gc -q --aggressive --prune=now
git count-objects -v | grep -E '^(count|in-pack|packs):'
echo "== fsck"
git fsck --full --strict --no-progress
echo "fsck status $?"
git verify-pack "$(ls .git/objects/pack/*.idx)" && echo "verify-pack ok"
git rev-list --objects --all | wc -l
git cat-file --batch-all-objects --batch-check='%(objecttype)' | sort | uniq -c

echo "== archive and clone"
git archive --format=tar HEAD | tar -tf - | sort | md5sum
cd ..
git clone -q --no-hardlinks repo clone
git -C clone log --format=%H -n 3
git -C clone ls-files -s | md5sum
git -C clone repack -q -a -d -f
git -C clone fsck --no-progress && echo "clone fsck ok"
