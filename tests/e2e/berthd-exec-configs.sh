#!/usr/bin/env bash
# berthd's execution configurations at start and on SIGHUP, on a real
# berthd: a bad config stops berthd from starting with a message naming the
# config, key and file; a good set (berthd.toml's [configs] plus a config
# dir) is listed at start; SIGHUP reloads a changed dir, and a bad file
# leaves the last good set in force while berthd keeps serving. Then who may
# use what, with a user and two groups the test makes (and removes): the
# socket's group admits the user, berth.v1.Executions' ListConfigs shows it
# only its group's configs (root sees all), and the CRI services refuse it
# with PermissionDenied; a user outside the socket's group cannot connect.
# TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

W=$(mktemp -d /tmp/berth-e2e-execcfg.XXXXXX)
CG=/berth-e2e-execcfg-$$
BERTHD_PID=
GA=bta$$ GB=btb$$ U=btu$$ V=btv$$
cleanup() {
    berthd_cleanup "$CG"
    userdel "$U" 2>/dev/null
    userdel "$V" 2>/dev/null
    groupdel "$GA" 2>/dev/null
    groupdel "$GB" 2>/dev/null
}
on_exit cleanup

plan 13

mkdir -p "$W/configs.d"
base() {
    cat <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
[executions]
config_dir = "$W/configs.d"
X
}
{ base; printf '[configs.small]\nimage = "busybox"\nresources.memory = "128m"\nquota.memory = "96m"\n'; } >"$W/berthd.toml"
out=$(timeout 20 "$BERTHD" --config "$W/berthd.toml" --root "$W/root" --state "$W/state" --listen "$W/berthd.sock" \
    --cni-conf-dir "$W/cni-none" 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == *"$W/berthd.toml: configs.small.resources.memory: 128m is more than quota.memory (96m)"* ]] &&
    [ ! -e "$W/berthd.sock" ]
check "a config whose limit contradicts its quota: berthd does not start, and says which" $? "rc=$rc $out"

{ base; printf '[configs.small]\nimage = "busybox"\nresources.memory = "64m"\nquota.memory = "96m"\ngroups = ["users"]\n'; } >"$W/berthd.toml"
printf 'image = "busybox"\n[resources]\ncpus = 1\n' >"$W/configs.d/batch.toml"
start_berthd
check "berthd starts with a [configs] table and a config dir" $? "$(tail -5 "$W/berthd.log")"
grep -q "execution configs: batch, small" "$W/berthd.log"
check "...and lists the configs it loaded" $? "$(grep -i config "$W/berthd.log" | tail -3)"

printf 'image = "busybox"\n' >"$W/configs.d/gpu.toml"
kill -HUP "$BERTHD_PID"
wait_for 10 grep -q "SIGHUP: execution configs reloaded: batch, gpu, small" "$W/berthd.log"
check "SIGHUP reloads the dir: a new config is in" $? "$(tail -3 "$W/berthd.log")"

printf 'image = "busybox"\nruntime = "nvidia"\n' >"$W/configs.d/gpu.toml"
kill -HUP "$BERTHD_PID"
wait_for 10 grep -q "SIGHUP: execution configs not reloaded, the last good set stays (batch, gpu, small): $W/configs.d/gpu.toml: gpu.runtime: no runtime handler" "$W/berthd.log"
check "SIGHUP with a bad file: refused naming it, the last good set stays" $? "$(tail -3 "$W/berthd.log")"
"$BERTHCTL" -r "unix://$W/berthd.sock" version >/dev/null 2>&1 && alive "$BERTHD_PID"
check "...and berthd goes on serving" $? ""

rm "$W/configs.d/gpu.toml"
kill -HUP "$BERTHD_PID"
wait_for 10 grep -q "SIGHUP: execution configs reloaded: batch, small" "$W/berthd.log"
check "the bad file removed: the next SIGHUP takes the new set" $? "$(tail -3 "$W/berthd.log")"

# --- who may use what
groupadd "$GA" && groupadd "$GB" && useradd -M -N -g "$GA" -s /usr/sbin/nologin -d / "$U" &&
    useradd -M -N -g "$GB" -s /usr/sbin/nologin -d / "$V"
check "a user in group A, another in group B (the test's own)" $? ""
kill -TERM "$BERTHD_PID"
wait "$BERTHD_PID" 2>/dev/null
rm -f "$W/configs.d/"*.toml
{
    printf 'socket_group = "%s"\n' "$GA"   # top-level: before base's tables
    base
    printf '[configs.for-a]\nimage = "busybox"\ngroups = ["%s"]\n' "$GA"
    printf '[configs.for-b]\nimage = "busybox"\ngroups = ["%s"]\n' "$GB"
    printf '[configs.root-only]\nimage = "busybox"\n'
} >"$W/berthd.toml"
start_berthd
check "berthd restarts with its socket in group A" $? "$(tail -3 "$W/berthd.log")"
chmod 711 "$W"
cp "$BERTHCTL" "$W/berthctl" && chmod 755 "$W/berthctl"
as() { local who=$1; shift; setpriv --reuid="$who" --regid="$(id -g "$who")" --init-groups "$W/berthctl" -r "unix://$W/berthd.sock" "$@"; }
names() { python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin).get("configs", [])))'; }
out=$("$BERTHCTL" -r "unix://$W/berthd.sock" configs -o json 2>&1 | names)
[ "$out" = "for-a for-b root-only" ]
check "root sees every config" $? "$out"
out=$(as "$U" configs -o json 2>&1)
[ "$(echo "$out" | names 2>&1)" = for-a ]
check "a user of group A sees only group A's config" $? "$out"
out=$(as "$U" pods 2>&1)
[[ $out == *"PermissionDenied"*"served to root only"*"$U (uid $(id -u "$U")"* ]]
check "the CRI services refuse that user with PermissionDenied, naming them" $? "$out"
out=$(as "$V" configs 2>&1)
[[ $out == *"Permission denied"* ]]
check "a user outside the socket's group cannot connect at all" $? "$out"
exit $failed
