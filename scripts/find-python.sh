#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter, or explains how to get one and exits 1.
# Rasa 3.6 runs on Python 3.8-3.10 only; this project is tested on 3.10.
set -u
want="3.10"

is_310() { [ -n "$1" ] && [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; }

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$(command -v "$PYTHON" 2>/dev/null || echo "$PYTHON")")
if command -v pyenv >/dev/null 2>&1; then
  candidates+=("$(PYENV_VERSION=$want pyenv which python$want 2>/dev/null)")
  for d in "$(pyenv root 2>/dev/null)"/versions/$want*; do candidates+=("$d/bin/python$want"); done
fi
for d in "$HOME"/.pyenv/versions/$want*; do candidates+=("$d/bin/python$want"); done
candidates+=("$(command -v python$want 2>/dev/null)" /usr/bin/python$want /usr/local/bin/python$want "$HOME/.local/bin/python$want")
if command -v uv >/dev/null 2>&1; then candidates+=("$(uv python find $want 2>/dev/null)"); fi

for c in "${candidates[@]}"; do
  if is_310 "$c"; then echo "$c"; exit 0; fi
done

cat >&2 <<MSG
error: no Python $want found.
Rasa 3.6 supports Python 3.8-3.10 only (not 3.11+); this project is pinned to $want.
Install one of these ways, then run make again:
  - pyenv:   pyenv install $want && (cd $(pwd) && pyenv local $want)
  - Debian/Ubuntu: apt-get install python$want python$want-venv   (deadsnakes PPA on Ubuntu)
  - uv:      uv python install $want
or point at an interpreter explicitly:  make PYTHON=/path/to/python$want ...
MSG
exit 1
