#!/bin/sh
# One Rally task and all its reports, whatever its outcome: rally task start exits 0 (done),
# 2 (an SLA failed) or 1 (error); the reports are written in every case where a task exists.
# Usage: run_task.sh RALLY CONFIG DIR TAG TASK_ARGS_JSON [PLUGIN_PATHS]
# Prints, last, one JSON line: {"rc": N, "uuid": "..."}.
rally=$1 config=$2 dir=$3 tag=$4 args=$5 plugins=$6
set -- "$rally" --config-file "$config"
[ -n "$plugins" ] && set -- "$@" --plugin-paths "$plugins"
"$@" task start "$dir/task.yml" --env enos --task-args "$args" --tag "$tag" >"$dir/rally-start.log" 2>&1
rc=$?
uuid=$("$rally" --config-file "$config" task list --env enos --tag "$tag" --uuids-only 2>/dev/null | tail -n 1)
if [ -n "$uuid" ]; then
  "$rally" --config-file "$config" task report "$uuid" --html-static --out "$dir/report.html" >/dev/null 2>&1
  "$rally" --config-file "$config" task report "$uuid" --json --out "$dir/report.json" >/dev/null 2>&1
  "$rally" --config-file "$config" task export "$uuid" --type junit-xml --to "$dir/junit.xml" >/dev/null 2>&1
fi
tail -n 20 "$dir/rally-start.log"
printf '{"rc": %d, "uuid": "%s"}\n' "$rc" "$uuid"
