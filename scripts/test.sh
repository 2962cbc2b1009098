#!/usr/bin/env bash
# The whole test suite: unit tests (fast, no network) then end-to-end tests with real SIP peers on loopback.
# Assumes scripts/setup.sh ran (npm test runs both).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== lint and format (eslint: typescript-eslint + stylistic)"
npx eslint .
echo "== unit tests"
npx mocha 'test/unit/**/*.test.ts'
echo "== end-to-end tests (real peers on loopback)"
npx mocha --timeout 180000 'test/e2e/**/*.test.ts'
