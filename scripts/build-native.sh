#!/usr/bin/env bash
# Builds native/ (signer recovery with the system's libsecp256k1, Debian's libsecp256k1-dev, and memory maps of code
# trees) at `npm ci` or `npm install` (again: `npm run install`), with the node-gyp npm puts on the PATH of scripts,
# against the headers of the Node running it (nothing downloaded). Without the library, a C compiler, make or python3
# it warns and succeeds: the indexer then recovers signers with the `secp256k1` package's own build and says so when
# it starts, and proofs read large code trees by pread.
set -uo pipefail
cd "$(dirname "$0")/../native"
# The headers Node installs beside itself (<prefix>/include/node), whatever npm's configuration says.
unset NPM_CONFIG_NODEDIR
export npm_config_nodedir="$(dirname "$(dirname "$(node -p 'process.execPath')")")"
if ! node-gyp rebuild --loglevel=warn; then
  rm -rf build
  echo "warning: native/ not built (it needs libsecp256k1-dev, a C compiler, make and python3): signers will be recovered with the secp256k1 package's 2019 libsecp256k1, and large code trees read by pread" >&2
fi
