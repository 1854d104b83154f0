#!/usr/bin/env bash
# Builds web/ (the Scalar bundle) into src/Analytics.Api/wwwroot. Skips, with a note, when npm is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v npm >/dev/null; then
  echo "npm not found: /scalar will explain how to build the API reference" >&2
  exit 0
fi
if [[ ! -f "$root/src/Analytics.Api/wwwroot/scalar/standalone.js" || "$root/web/package-lock.json" -nt "$root/src/Analytics.Api/wwwroot/scalar/standalone.js" ]]; then
  (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run --silent build >/dev/null) \
    || echo "web build failed: /scalar will explain how to build the API reference" >&2
fi
