#!/usr/bin/env bash
# Install what the report tests open and compile with: headless Chromium and its WebDriver (the
# report bundle test) and a LaTeX engine with booktabs (the per-language tables). Debian packages,
# about 600 MB. Idempotent: does nothing when every binary is already there. Needs root and apt-get;
# exits 2 (with a message) when either is missing.
set -euo pipefail

if command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v pdflatex >/dev/null \
    && kpsewhich booktabs.sty >/dev/null 2>&1; then
    echo "chromium, chromedriver and pdflatex already installed"
    exit 0
fi
source "$(dirname "${BASH_SOURCE[0]}")/apt_preflight.sh"
need_root_and_apt "chromium and LaTeX"
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get -q -o DPkg::Lock::Timeout=600 update
timeout 900 apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends \
    chromium chromium-driver texlive-latex-base texlive-latex-recommended
echo "installed: chromium $(dpkg-query -W -f='${Version}' chromium), $(pdflatex --version | head -1)"
