#!/usr/bin/env bash
# make test-install: install Valence into a temporary prefix and use it the way a user without Swift would.
#
#   Tests/install/test-install.sh      (VALENCE_BIN = the checkout's binaries, as make exports it)
#
# 1. `make install DESTDIR=$W/dest PREFIX=/opt/valence` (static build, man pages, completions, scripts);
#    every installed binary must load no Swift runtime library (ldd);
# 2. a reference run made with the checkout's binaries and scripts: valence-init, two calls of
#    pipelines/step.sh (base eval, steps 1 and 2), valence-report;
# 3. the same run made with the installed commands only (PATH = PREFIX/bin, the installed
#    share/valence/pipelines/step.sh, no VALENCE_BIN), with the Swift toolchain, its runtime
#    libraries and the checkout's build directories hidden (empty tmpfs mounts in a private mount
#    namespace, as the Slurm test hides them from its node; without root or mount namespaces it
#    can only clear PATH and LD_LIBRARY_PATH, and says so); there also: `valence-init --help`,
#    `man -M PREFIX/share/man` renders every page (no warning, exit codes, SEE ALSO), and the bash,
#    zsh and fish completions load and complete `valence-split --ru` to `--run` (zsh and fish
#    checks are skipped with a message when the shell is not installed);
# 4. both runs, reports included, must be byte-identical (every file, manifests too);
# 5. `make uninstall` with the same DESTDIR and PREFIX must leave no file behind.
# Exit status: 0 when all hold, 1 otherwise. KEEP=1 keeps the temporary directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REF_BIN=$(cd "${VALENCE_BIN:-$ROOT/.build/release}" && pwd)
MAKE=${MAKE:-make}
PREFIX=/opt/valence
T0=$EPOCHREALTIME

say() { echo "test-install: $*"; }
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

[[ -x "$REF_BIN/valence-init" ]] || fail "$REF_BIN/valence-init: not built (run: make build)"
W=$(mktemp -d /tmp/valence-test-install.XXXXXX)
cleanup() {
  local status=$?
  if [[ $status == 0 && "${KEEP:-0}" != 1 ]]; then rm -rf "$W"; else echo "test-install: kept $W" >&2; fi
  exit "$status"
}
trap cleanup EXIT
DEST=$W/dest
P=$DEST$PREFIX

# 1. Install.
t=$EPOCHREALTIME
# NO_BUILD= : make test passes NO_BUILD=1 (for the checkout's debug binaries) down to every make it runs.
"$MAKE" -C "$ROOT" --no-print-directory install NO_BUILD= DESTDIR="$DEST" PREFIX="$PREFIX" >"$W/install.log" 2>&1 \
  || { cat "$W/install.log" >&2; fail "make install"; }
say "make install (static build included) took $(elapsed "$t")s"
bins=()
for b in "$P"/bin/valence-*; do bins+=("$(basename "$b")"); done
[[ ${#bins[@]} -ge 9 ]] || fail "only ${#bins[@]} commands in $P/bin: ${bins[*]}"
for b in "${bins[@]}"; do
  ! ldd "$P/bin/$b" | grep -E 'libswift|libFoundation|libdispatch' || fail "$b loads the Swift runtime (above)"
  for f in "share/man/man1/$b.1" "share/bash-completion/completions/$b" "share/zsh/site-functions/_$b" \
           "share/fish/vendor_completions.d/$b.fish"; do
    [[ -s "$P/$f" ]] || fail "$PREFIX/$f: not installed"
  done
done
[[ -x "$P/share/valence/pipelines/step.sh" ]] || fail "$PREFIX/share/valence/pipelines/step.sh: not installed"
say "installed ${bins[*]}; none loads a Swift library"

# 2. The reference run, with the checkout's binaries and scripts (paths relative to the cwd, so the
# two runs see the same names).
INIT=(--steps 2 --seed 11 --shards 2 --train 300 --test 200 --corpus 3000 --objective grpo --window 1)
mkdir -p "$W/ref" "$W/inst" "$W/home"
(
  cd "$W/ref"
  "$REF_BIN/valence-init" --run run "${INIT[@]}" --quiet
  for _ in 1 2; do VALENCE_BIN=$REF_BIN QUIET=1 "$ROOT/pipelines/step.sh" run >/dev/null; done
  [[ "$("$REF_BIN/valence-status" --run run --next)" == done ]]
  "$REF_BIN/valence-report" --out report run >"$W/ref-report.log" 2>&1 || { cat "$W/ref-report.log" >&2; exit 1; }
) || fail "the reference run with the checkout's binaries"

# 3. The installed commands, with Swift out of sight.
cat >"$W/inside.sh" <<'EOF'
set -euo pipefail
P=$1 W=$2; shift 2
INIT=("$@")
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }
! command -v swift >/dev/null || fail "swift is still on PATH: $(command -v swift)"
valence-init --help >"$W/help.txt" || fail "valence-init --help exits $?"
grep -q '^USAGE: valence-init' "$W/help.txt" || fail "valence-init --help: no usage line"

cd "$W/inst"
valence-init --run run "${INIT[@]}" --quiet || fail "installed valence-init"
for _ in 1 2; do QUIET=1 "$P/share/valence/pipelines/step.sh" run >/dev/null || fail "installed step.sh"; done
[[ "$(valence-status --run run --next)" == done ]] || fail "the installed run did not reach its last step"
valence-report --out report run >"$W/report.log" 2>&1 || { cat "$W/report.log" >&2; fail "installed valence-report"; }

for b in $(cd "$P/bin" && ls); do
  MANWIDTH=100 man -M "$P/share/man" -P cat "$b" >"$W/man.txt" 2>"$W/man.err" || fail "man $b: $(cat "$W/man.err")"
  [[ ! -s "$W/man.err" ]] || fail "man $b warns: $(head -3 "$W/man.err")"
  grep -q "^NAME" "$W/man.txt" && grep -q "$b" "$W/man.txt" && grep -q -- '--help' "$W/man.txt" \
    || fail "man $b: no NAME section, name or options"
  grep -qE '^ +75 +busy' "$W/man.txt" && grep -q '^SEE ALSO' "$W/man.txt" || fail "man $b: no exit codes or SEE ALSO"
  ! grep -qE 'subcommand' "$W/man.txt" || fail "man $b: lists the parser's help subcommand"
  bash -c 'source "$1"; complete -p "$2"' _ "$P/share/bash-completion/completions/$b" "$b" >/dev/null \
    || fail "bash: $b's completion does not load"
done
MANWIDTH=100 man -M "$P/share/man" -P cat valence-split | grep -q -- '--run dir' || fail "man valence-split: no --run option"

reply=$(bash -c 'source "$1"; COMP_LINE="valence-split --ru"; COMP_WORDS=(valence-split --ru); COMP_CWORD=1
  COMP_POINT=${#COMP_LINE}; _valence-split valence-split --ru valence-split; echo "${COMPREPLY[*]}"' \
  _ "$P/share/bash-completion/completions/valence-split")
[[ "$reply" == --run ]] || fail "bash: 'valence-split --ru' completes to '$reply', not --run"
echo "test-install: bash completes 'valence-split --ru' to $reply"

if command -v zsh >/dev/null; then
  out=$(zsh -fc 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2/zcompdump"
    autoload +X _valence-split && print -r -- "$_comps[valence-split]"' _ "$P/share/zsh/site-functions" "$W") \
    || fail "zsh: the completions do not load"
  [[ "$out" == _valence-split ]] || fail "zsh: valence-split completes with '$out'"
  echo "test-install: zsh loads _valence-split from site-functions"
else
  echo "test-install: zsh not installed; zsh completion check skipped"
fi
if command -v fish >/dev/null; then
  out=$(fish --no-config -c 'set -p fish_complete_path $argv[1]; complete -C "valence-split --ru"' \
    "$P/share/fish/vendor_completions.d") || fail "fish: the completions do not load"
  [[ "$out" == --run* ]] || fail "fish: 'valence-split --ru' completes to '$out'"
  echo "test-install: fish completes 'valence-split --ru' to ${out%%$'\t'*}"
else
  echo "test-install: fish not installed; fish completion check skipped"
fi
EOF

# What a machine without Swift lacks: the toolchain's bin directory, the directory of the runtime
# libraries the checkout's binaries load, and the checkout's build directories.
hide=()
swiftlib=$(ldd "$REF_BIN/valence-init" | awk '$1 == "libswiftCore.so" {print $3}')
[[ -n "$swiftlib" ]] && hide+=("$(dirname "$(readlink -f "$swiftlib")")")
command -v swift >/dev/null && hide+=("$(dirname "$(readlink -f "$(command -v swift)")")")
for d in "$ROOT"/.build "$ROOT"/.build-*; do [[ -d "$d" ]] && hide+=("$d"); done
ENV=(env -i HOME="$W/home" PATH="$P/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 TERM=dumb)
t=$EPOCHREALTIME
if [[ $(id -u) == 0 ]] && unshare -m --propagation private true 2>/dev/null; then
  unshare -m --propagation private bash -c '
    n=$1; shift; for d in "${@:1:n}"; do mount -t tmpfs -o size=1m,mode=0755 valence-hidden "$d" || exit 1; done
    shift "$n"; [[ ! -e "$1" ]] || { echo "test-install: FAILED: $1 still visible" >&2; exit 1; }; shift; exec "$@"' \
    _ "${#hide[@]}" "${hide[@]}" "${swiftlib:-/nonexistent}" "${ENV[@]}" bash "$W/inside.sh" "$P" "$W" "${INIT[@]}" \
    || fail "the installed commands with Swift hidden (above)"
  say "with ${hide[*]} hidden: valence-init --help, a 2-step run, man pages and completions work ($(elapsed "$t")s)"
else
  say "note: not root or no mount namespaces: Swift is only left off PATH and LD_LIBRARY_PATH"
  "${ENV[@]}" bash "$W/inside.sh" "$P" "$W" "${INIT[@]}" || fail "the installed commands without Swift on PATH (above)"
fi

# 4. Byte for byte.
n=$(cd "$W/ref" && find . -type f ! -name .lock ! -path '*/.locks/*' | wc -l)
[[ $n -ge 40 ]] || fail "the reference run holds only $n files"
diff -r --exclude=.lock --exclude=.locks "$W/ref" "$W/inst" >"$W/diff.txt" \
  || { head -20 "$W/diff.txt" >&2; fail "the installed commands wrote different files"; }
say "the installed run and report are byte-identical to the checkout's ($n files)"

# 5. Uninstall.
"$MAKE" -C "$ROOT" --no-print-directory uninstall DESTDIR="$DEST" PREFIX="$PREFIX" >/dev/null
left=$(find "$DEST" -type f)
[[ -z "$left" ]] || fail "left behind by make uninstall: $left"
say "make uninstall removed every installed file"
say "passed ($(elapsed "$T0")s)"
