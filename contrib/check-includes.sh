#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the #include "…" lines of agent/, drivers/ and lib/: no include
# cycle between files (tsort finds them), and no layer includes one above
# it (drivers/ nothing from agent/, lib/ nothing from agent/ or drivers/).
# Prints what it finds and exits 1 if anything; run by 'make check'.
# Usage: contrib/check-includes.sh [TOP_SRCDIR]

set -eu

top=${1:-${VFO_TOP_SRCDIR:-$(dirname "$0")/..}}
cd "$top"

status=0
edges=$(mktemp)
loops=$(mktemp)
trap 'rm -f "$edges" "$loops"' EXIT

# "FILE INCLUDED" for every quoted include; our includes name paths from the
# top of the tree.
grep -r --include='*.c' --include='*.h' -o '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*"' \
        agent drivers lib |
        sed 's/^\([^:]*\):.*"\([^"]*\)"$/\1 \2/' >"$edges"

if ! tsort "$edges" >/dev/null 2>"$loops"; then
        echo "Include cycles:"
        sed -e 's/^tsort: .*: input contains a loop:$/a cycle through:/' -e 's/^tsort: /  /' "$loops"
        status=1
fi

layer_violations() {
        # $1: the layer's directory, $2: a pattern of the directories above it
        grep "^$1/[^ ]* \\($2\\)/" "$edges" || true
}
for rule in "drivers agent" "lib agent\\|drivers"; do
        set -- $rule
        found=$(layer_violations "$1" "$2")
        if [ -n "$found" ]; then
                echo "$1/ includes from a layer above it:"
                echo "$found" | sed 's/ / includes /'
                status=1
        fi
done

exit $status
