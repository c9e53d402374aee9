#!/usr/bin/env bash
# The whole test suite, as `npm test` and CI run it: make sure nats-server and redis-server are
# present, compile the TypeScript into build/, run tap over the compiled tests, and close with one
# plain "N passed, N failed" line. Arguments are passed on to tap (e.g. one compiled test file).
set -uo pipefail
cd "$(dirname "$0")/.."

# The JetStream tests need Debian's nats-server (2.9+), and the benchmark's BullMQ peer Debian's
# redis-server. Install what is missing when we can; otherwise say exactly what to install. Never
# skip those tests silently.
need_package() { # <binary> <package> <override variable>
  local binary=$1 package=$2 override=$3
  if command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ] || [ -x "/usr/bin/$binary" ] || [ -n "${!override:-}" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$binary is missing: installing Debian's package (apt-get install -y $package)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null; }; then
      echo "error: could not install $package with apt-get; install it yourself (apt-get install -y $package) and rerun" >&2
      exit 1
    fi
    # The package enables a system service on its default port; the tests start their own servers.
    systemctl disable --now "$package" >/dev/null 2>&1 || true
  else
    echo "error: $binary is not installed. Install it with 'sudo apt-get install -y $package'" >&2
    echo "       (Debian/Ubuntu), or point $override at a $binary binary, then rerun." >&2
    exit 1
  fi
}
need_package nats-server nats-server NATS_SERVER
need_package redis-server redis-server REDIS_SERVER

rm -rf build
npm run --silent build || exit 1

out=$(mktemp)
./node_modules/.bin/tap "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
# tap's own closing line is "# { total: N, pass: N, fail: N, ... }" (test points); say it plainly.
node -e '
  const text = require("fs").readFileSync(process.argv[1], "utf8");
  const m = [...text.matchAll(/^# \{ total: \d+(.*)\}$/gm)].pop();
  const get = (k) => Number(((m ? m[1] : "").match(new RegExp(k + ": (\\d+)")) || [])[1] || 0);
  console.log(`${get("pass")} passed, ${get("fail")} failed, ${get("skip")} skipped`);
' "$out"
rm -f "$out"
exit "$rc"
