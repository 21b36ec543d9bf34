#!/usr/bin/env bash
# Run a season's batch of campaigns from cron: one run at a time, logged, exit code kept.
#
#   examples/cron/run_campaigns.sh                      # every campaigns/*.yaml, --jobs 2
#   examples/cron/run_campaigns.sh campaigns/holiday-2025.yaml --only plan
#
# Arguments, when given, replace the default `campaigns/*.yaml --jobs 2` after `playbook run`.
# Settings (environment):
#   PLAYBOOK_HOME     project folder (default: two folders above this script)
#   PLAYBOOK_BIN      playbook executable (default $PLAYBOOK_HOME/.venv/bin/playbook)
#   PLAYBOOK_JOBS     --jobs of the default batch (default 2)
#   PLAYBOOK_LOG_DIR  where logs and the lock live (default $HOME/.local/state/seasonal-playbook)
#   PLAYBOOK_NOTIFY   an address mailed on failure with `mail` (optional; cron's MAILTO also
#                     receives everything this script prints on stderr)
# Exit codes: those of `playbook run` (0 ok, 1 a campaign or step failed, 2 usage or config
# error), and 75 (EX_TEMPFAIL) when a previous run still holds the lock: nothing was run.
# flock(1): https://man7.org/linux/man-pages/man1/flock.1.html
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${PLAYBOOK_HOME:-$(cd "$here/../.." && pwd)}"
playbook="${PLAYBOOK_BIN:-$home/.venv/bin/playbook}"
jobs="${PLAYBOOK_JOBS:-2}"
log_dir="${PLAYBOOK_LOG_DIR:-${HOME:-/tmp}/.local/state/seasonal-playbook}"
notify="${PLAYBOOK_NOTIFY:-}"

mkdir -p "$log_dir"
log="$log_dir/run-$(date -u +%Y%m%dT%H%M%SZ).log"

# Success is logged only; failures also go to stderr, which cron mails to MAILTO.
say() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$log"; }

fail() {  # fail CODE MESSAGE...: log, print on stderr, notify, exit with CODE
    local code="$1"
    shift
    say "$*"
    printf 'playbook cron: %s\n' "$*" >&2
    if [[ -n "$notify" ]] && command -v mail >/dev/null; then
        tail -n 50 "$log" | mail -s "playbook run failed (exit $code) on $(hostname)" "$notify" || true
    fi
    exit "$code"
}

[[ -x "$playbook" ]] ||
    fail 2 "playbook executable not found: $playbook (create the venv with 'make setup', or set PLAYBOOK_BIN)"
cd "$home"
export PLAYBOOK_ROOT="$home"

# One run at a time: a run that outlasts the interval makes the next one skip, not pile up.
exec 9>>"$log_dir/run_campaigns.lock"
if ! flock --nonblock 9; then
    fail 75 "skipped: a previous run still holds $log_dir/run_campaigns.lock"
fi

if (($# > 0)); then
    args=("$@")
else
    shopt -s nullglob
    configs=(campaigns/*.yaml)
    ((${#configs[@]} > 0)) || fail 2 "no campaign files in $home/campaigns/*.yaml"
    args=("${configs[@]}" --jobs "$jobs")
fi

say "start: $playbook run ${args[*]} (in $home)"
rc=0
"$playbook" run "${args[@]}" >>"$log" 2>&1 || rc=$?
case "$rc" in
    0) say "ok: every campaign published (log $log)" ;;
    1) fail 1 "failed: a campaign or step failed; see the summary table in $log and reports/_failed/" ;;
    2) fail 2 "usage or config error: check the arguments, then run:" \
              "$playbook check-config campaigns/*.yaml (log $log)" ;;
    *) fail "$rc" "stopped with exit $rc (130 = interrupted, 137 = killed, e.g. out of memory; log $log)" ;;
esac
