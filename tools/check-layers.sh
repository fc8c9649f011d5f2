#!/bin/sh
# Layering rules (DESIGN.md): the LM toolkit never touches a back end, and public headers
# include nothing private. Prints each violation; exits 1 if any.
cd "$(dirname "$0")/.." || exit 2
bad=0
if grep -rnE '#include *"(backend/|\.\./backend)' src/lm src/cli 2>/dev/null; then
    echo "layering: src/lm and src/cli must not include src/backend" >&2
    bad=1
fi
if grep -rnE '#include *"' include/cmlx | grep -vE '#include *"cmlx/' ; then
    echo "layering: include/cmlx may only include other include/cmlx headers" >&2
    bad=1
fi
[ $bad = 0 ] && echo "layering: ok (src/lm and src/cli include no back end; include/cmlx includes nothing from src)"
exit $bad
