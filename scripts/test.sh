#!/usr/bin/env bash
# The test command: builds everything and runs the whole suite against real parts
# (SQLite files, PostgreSQL on loopback, Kestrel fakes, Orleans clusters and gateway processes).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

ORLEANS_SEARCH_TEST_POSTGRES="${ORLEANS_SEARCH_TEST_POSTGRES:-$(bash scripts/postgres.sh)}"
export ORLEANS_SEARCH_TEST_POSTGRES

dotnet build Orleans.Search.sln -c Release
rm -rf TestResults
set +e
dotnet test tests/Orleans.Search.Tests -c Release --no-build --logger "trx;LogFileName=results.trx" --results-directory TestResults "$@"
status=$?
set -e
# One closing line a reader (or CI) can trust: counts from the test run's own report.
if [ -f TestResults/results.trx ]; then
  python3 - <<'PY'
import re
text = open("TestResults/results.trx", encoding="utf-8").read()
m = re.search(r'<Counters [^>]*total="(\d+)"[^>]*passed="(\d+)"[^>]*failed="(\d+)"', text)
if m:
    total, passed, failed = map(int, m.groups())
    skipped = total - passed - failed
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
fi
exit $status
