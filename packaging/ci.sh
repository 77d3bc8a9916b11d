#!/usr/bin/env bash
# The full packaging check, longer than CI's budget allows next to the unit tests: builds the
# folder, the .deb and the .tar.gz, runs the frozen smoke tests on the folder, then installs the
# .deb into a fresh debootstrap root and runs them there (packaging/test_install.sh; needs root).
# About 10-15 minutes on a 2-core machine (packaging/README.md has the measured figures).
set -euo pipefail
cd "$(dirname "$0")/.."
python packaging/build.py
bash packaging/smoke_test.sh dist/spade-studio
bash packaging/test_install.sh
