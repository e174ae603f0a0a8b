#!/usr/bin/env bash
# The test command: builds everything and runs the whole suite against real parts
# (SQLite files, PostgreSQL on loopback, Kestrel fakes, Orleans clusters and gateway processes).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

ORLEANS_SEARCH_TEST_POSTGRES="${ORLEANS_SEARCH_TEST_POSTGRES:-$(bash scripts/postgres.sh)}"
export ORLEANS_SEARCH_TEST_POSTGRES

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here): install it when missing.
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need /usr/bin/chromium: run 'sudo apt-get install -y chromium' (or run this as root)." >&2
  fi
fi

dotnet build Orleans.Search.sln -c Release
rm -rf TestResults
set +e
dotnet test tests/Orleans.Search.Tests -c Release --no-build --logger "trx;LogFileName=results.trx" --results-directory TestResults --blame-hang-timeout 10m --blame-hang-dump-type none "$@"
status=$?
set -e
# One closing line a reader (or CI) can trust: counts from the test run's own report (plain shell: no other runtime needed).
counters=$(grep -o '<Counters [^>]*>' TestResults/results.trx 2>/dev/null || true)
if [ -n "$counters" ]; then
  count() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  total=$(count total); passed=$(count passed); failed=$(count failed)
  echo "$passed passed, $failed failed, $((total - passed - failed)) skipped"
else
  echo "no test report was written" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit $status
