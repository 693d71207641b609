#!/usr/bin/env bash
# make self-contained: the repository stands alone. Fails (exit 1, listing file:line) when a file
#   - cites the model specification that used to live outside the repository: the word S-P-E-C
#     as a whole word, a relative path up into the old "shared" directory beside the checkout, or
#     an absolute path under the development machine's w-o-r-k tree (cite docs/model.md instead);
#   - has a relative Markdown link that leads outside the repository or to no file.
# Files: those git tracks (every file but the build directories when there is no git).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd -P)

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -d '' files < <(git ls-files -z)
else
  mapfile -d '' files < <(find . \( -name '.build*' -o -name .git -o -name runs \) -prune -o -type f -print0)
fi

bad=0
# The patterns are written so that this file does not match them itself.
if hits=$(printf '%s\0' "${files[@]}" | xargs -0 grep -nIE '\bS[P]EC\b|\.\./[s]hared|/[w]ork/' --); then
  echo "self-contained: these lines point outside the repository (cite docs/model.md):" >&2
  echo "$hits" | sed 's/^/  /' >&2
  bad=1
fi

for f in "${files[@]}"; do
  [[ "$f" == *.md && -f "$f" ]] || continue
  while IFS=: read -r line target; do
    target=${target#](}; target=${target%%#*}; target=${target%% *}
    [[ -z "$target" || "$target" =~ ^[a-z]+: ]] && continue
    dir=$(dirname "$f")
    resolved=$(realpath -m "$dir/$target")
    if [[ "$resolved" != "$ROOT"/* || ! -e "$resolved" ]]; then
      echo "self-contained: $f:$line: link to $target leads outside the repository or to no file" >&2
      bad=1
    fi
  done < <(grep -noE '\]\([^)]+' "$f" || true)
done

[[ $bad == 0 ]] || exit 1
echo "self-contained: ${#files[@]} files, none points outside the repository"
