#!/usr/bin/env bash
# Install the Debian packages the points till needs, only those that are missing.
#
#   fonts-wqy-microhei      CJK font (a copy also ships in resources/fonts)
#   libzbar0                barcode decoding for pyzbar
#   postgresql (15)         the HQ database; tests start private clusters from its binaries
#   libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0
#                           runtime libraries PySide6's Qt needs, even offscreen
#   socat                   the loopback serial pair the pole-display tests talk over
#   chromium                the HQ console's browser test (Playwright drives /usr/bin/chromium)
#   python3-venv            only when python3 is Debian's and cannot make a venv
#
# When everything is installed it does no apt work at all (one dpkg-query).
# Runs as root as is; as another user it uses sudo if there is one.
# Usage: scripts/setup_system.sh [--check]   (--check: report, install nothing; exit 1 if missing)
set -euo pipefail

PACKAGES=(
  fonts-wqy-microhei
  libzbar0
  postgresql
  postgresql-15
  libegl1
  libgl1
  libxkbcommon0
  libfontconfig1
  libdbus-1-3
  libglib2.0-0
  socat
  chromium
)

check_only=0
if [[ "${1:-}" == "--check" ]]; then
  check_only=1
fi

say() { printf 'setup_system: %s\n' "$*"; }

if ! command -v dpkg-query >/dev/null 2>&1; then
  say "no dpkg here (not Debian): install the equivalents of ${PACKAGES[*]} yourself; skipping"
  exit 0
fi

# python3 -m venv needs python3-venv on Debian's own Python (a pyenv/python.org Python has ensurepip).
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  PACKAGES+=(python3-venv)
fi

missing=()
# One dpkg-query for all: prints "<package> <status>" for each known package.
installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)"
for pkg in "${PACKAGES[@]}"; do
  if ! grep -qx "${pkg} installed" <<<"$installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  say "all ${#PACKAGES[@]} Debian packages present; nothing to do"
  exit 0
fi

say "missing: ${missing[*]}"
if ((check_only)); then
  exit 1
fi

if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  say "not root and no sudo: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
say "apt-get update"
"${as_root[@]}" apt-get update -q
say "apt-get install -y --no-install-recommends ${missing[*]}"
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

# Debian's postgresql package may create and start a system cluster on port 5432.
# The tests never use it (they start private clusters), so leave it as it is.
say "done"
