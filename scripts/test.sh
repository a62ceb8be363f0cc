#!/usr/bin/env bash
# Install everything the tests need, then run every test. Extra arguments go to pytest.
# Idempotent: each step is skipped when what it installs is already there.
#   - Chromium (Debian's package) for the browser tests, via apt-get when run as root;
#   - nginx (Debian's package) for tests/test_nginx.py, the same way; never started as a service:
#     the test runs its own nginx in a temporary folder;
#   - the package with its test extra (pytest, Playwright's Python package: it drives the
#     system Chromium, so `playwright install` is never run);
#   - axe-core from the npm registry into .cache/npm (git-ignored), for the accessibility test.
# Without Chromium or axe-core the browser tests fail and say why; leave them out with -m 'not browser'.
# Without nginx tests/test_nginx.py fails and says why.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*" >&2; }

can_apt() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then
        apt-get update -qq >/dev/null
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
    if can_apt; then
        say "installing Chromium with apt-get (for the browser tests)…"
        apt_install chromium || say "apt-get could not install Chromium: the browser tests will fail."
    else
        say "Chromium is missing and can only be installed as root (apt-get install chromium)."
        say "The browser tests will fail; set CHROMIUM=/path/to/chromium, or run: $0 -m 'not browser'"
    fi
fi

if [ -z "${NGINX:-}" ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if can_apt; then
        say "installing nginx with apt-get (for tests/test_nginx.py; not started as a service)…"
        # The package would start its service (port 80) on install: Debian's policy-rc.d says no to it,
        # one written for the install and removed after when the machine has none.
        made_policy=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
        fi
        apt_install nginx || say "apt-get could not install nginx: tests/test_nginx.py will fail."
        if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
    else
        say "nginx is missing and can only be installed as root (apt-get install nginx)."
        say "tests/test_nginx.py will fail; set NGINX=/path/to/nginx, or run: $0 --deselect tests/test_nginx.py"
    fi
fi

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[test]'

AXE=.cache/npm/node_modules/axe-core/axe.min.js
if [ ! -f "$AXE" ]; then
    if ! command -v npm >/dev/null 2>&1 && can_apt; then
        say "installing npm with apt-get (to fetch axe-core)…"
        apt_install npm || say "apt-get could not install npm."
    fi
    if command -v npm >/dev/null 2>&1; then
        npm install --no-save --no-audit --no-fund --loglevel=error --prefix .cache/npm axe-core@4 >/dev/null \
            || say "npm could not install axe-core: the accessibility test will fail."
    else
        say "npm is missing, so axe-core is not installed: the accessibility test will fail."
    fi
fi

exec python3 -m pytest "$@"
