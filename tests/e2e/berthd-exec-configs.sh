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
# Then workloads through berth.v1.Executions with berthctl: run streams the
# output and returns the exit code, with the config's memory limit in the
# workload's cgroup under config-NAME/user-UID; a config of another group
# is refused with PermissionDenied and an audit line; a user sees and
# cancels only their own executions; Ctrl-C cancels a run; removal leaves
# no pod behind. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

W=$(mktemp -d /tmp/berth-e2e-execcfg.XXXXXX)
CG=/berth-e2e-execcfg-$$
BERTHD_PID=
GA=bta$$ GB=btb$$ GM=btm$$ U=btu$$ V=btv$$ X=btx$$
cleanup() {
    berthd_cleanup "$CG"
    userdel "$U" 2>/dev/null
    userdel "$V" 2>/dev/null
    userdel "$X" 2>/dev/null
    groupdel "$GA" 2>/dev/null
    groupdel "$GM" 2>/dev/null
    groupdel "$GB" 2>/dev/null
}
on_exit cleanup

plan 36

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
groupadd "$GA" && groupadd "$GB" && groupadd "$GM" && useradd -M -N -g "$GA" -s /usr/sbin/nologin -d / "$U" &&
    useradd -M -N -g "$GB" -s /usr/sbin/nologin -d / "$V" && useradd -M -N -g "$GA" -G "$GM" -s /usr/sbin/nologin -d / "$X"
check "a user in group A, another in group B, an admin in group A (the test's own)" $? ""
kill -TERM "$BERTHD_PID"
wait "$BERTHD_PID" 2>/dev/null
rm -f "$W/configs.d/"*.toml
IMG=localhost/berthd-exec-e2e:1
mkdir -p "$W/cdi"
cat >"$W/cdi/fake.yaml" <<X
cdiVersion: "0.6.0"
kind: example.com/gpu
devices:
- name: fake0
  containerEdits:
    env: [FAKE_GPU=fake0]
    deviceNodes:
    - {path: /dev/fakegpu0, hostPath: /dev/zero, permissions: rw}
X
{
    printf 'socket_group = "%s"\n' "$GA"   # top-level: before base's tables
    base
    printf 'admin_group = "%s"\n' "$GM"      # still in base's [executions]
    printf '[runtime.handlers.gpu]\ncdi_devices = ["example.com/gpu=fake0"]\n'
    printf '[configs.gpu]\nimage = "%s"\nruntime = "gpu"\n' "$IMG"
    printf '[configs.for-a]\nimage = "%s"\ngroups = ["%s"]\nresources.memory = "64m"\nenv = { FROM = "config" }\n' "$IMG" "$GA"
    printf '[configs.for-b]\nimage = "%s"\ngroups = ["%s"]\n' "$IMG" "$GB"
    printf '[configs.root-only]\nimage = "%s"\n' "$IMG"
    printf '[configs.capped]\nimage = "%s"\nquota.memory = "96m"\n' "$IMG"
    printf '[configs.reserved]\nimage = "%s"\nresources.memory = "48m"\nquota.memory = "96m"\n' "$IMG"
    printf '[configs.per-user]\nimage = "%s"\ngroups = ["%s"]\nresources.memory = "48m"\n' "$IMG" "$GA"
    printf 'quota.memory = "1g"\nquota.per_user.memory = "48m"\n'
    printf '[configs.short]\nimage = "%s"\nmax_runtime = "2s"\n' "$IMG"
} >"$W/berthd.toml"
sed -i "/^cgroup_parent = /a cdi_spec_dirs = [\"$W/cdi\"]" "$W/berthd.toml"
start_berthd
check "berthd restarts with its socket in group A" $? "$(tail -3 "$W/berthd.log")"
chmod 711 "$W"
cp "$BERTHCTL" "$W/berthctl" && chmod 755 "$W/berthctl"
as() { local who=$1; shift; setpriv --reuid="$who" --regid="$(id -g "$who")" --init-groups "$W/berthctl" -r "unix://$W/berthd.sock" "$@"; }
names() { python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin).get("configs", [])))'; }
out=$("$BERTHCTL" -r "unix://$W/berthd.sock" configs -o json 2>&1 | names)
[ "$out" = "capped for-a for-b gpu per-user reserved root-only short" ]
check "root sees every config" $? "$out"
out=$(as "$U" configs -o json 2>&1)
[ "$(echo "$out" | names 2>&1)" = "for-a per-user" ]
check "a user of group A sees only group A's configs" $? "$out"
out=$(as "$U" pods 2>&1)
[[ $out == *"PermissionDenied"*"served to root only"*"$U (uid $(id -u "$U")"* ]]
check "the CRI services refuse that user with PermissionDenied, naming them" $? "$out"
out=$(as "$V" configs 2>&1)
[[ $out == *"Permission denied"* ]]
check "a user outside the socket's group cannot connect at all" $? "$out"

# --- workloads
CTL=("$BERTHCTL" -r "unix://$W/berthd.sock")
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" &&
    "${CTL[@]}" load -i "$W/img.tar" >/dev/null 2>&1
check "the configs' image loaded" $? ""
"${CTL[@]}" run --config root-only -- sh -c 'echo out-$FROM; echo err >&2; exit 3' >"$W/o" 2>"$W/e"
rc=$?
[ $rc = 3 ] && [ "$(cat "$W/o")" = out- ] && [ "$(cat "$W/e")" = err ]
check "run streams stdout and stderr apart and exits with the workload's exit code" $? "rc=$rc out=$(cat "$W/o") err=$(cat "$W/e")"
out=$(as "$U" run --config for-a -- sh -c 'echo from-$FROM; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' 2>&1)
rc=$?
[ $rc = 0 ] && [ "$out" = "$(printf 'from-config\n67108864')" ]
check "a user runs its group's config: the config's env, and its memory limit in the workload's cgroup" $? "rc=$rc $out"
grep -q "audit: allow user=$U uid=$(id -u "$U") .*config=for-a execution=" "$W/berthd.log"
check "...with an audit line: allow, who, config, execution" $? "$(grep audit "$W/berthd.log" | tail -3)"
out=$(as "$U" run --config for-b -- true 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == *PermissionDenied*'config "for-b"'*"$U (uid"* ]] &&
    grep "audit: deny user=$U uid=$(id -u "$U") .*config=for-b reason=" "$W/berthd.log" | grep -q "not in its groups"
check "another group's config: PermissionDenied naming config and user, and an audit line: deny" $? "rc=$rc $out $(grep audit "$W/berthd.log" | tail -2)"
ids_root=$("${CTL[@]}" executions -a -q 2>&1)
ids_u=$(as "$U" executions -a -q 2>&1)
[ "$(echo "$ids_root" | wc -l)" = 2 ] && [ "$(echo "$ids_u" | wc -l)" = 1 ] && echo "$ids_root" | grep -qx "$ids_u"
check "a user lists only its own executions; root lists all" $? "root: $ids_root user: $ids_u"
root_id=$(echo "$ids_root" | grep -vx "$ids_u")
out=$(as "$U" cancel "$root_id" 2>&1)
[[ $out == *NotFound* ]]
check "a user cannot cancel another's execution (NotFound, as one that does not exist)" $? "$out"
ids_x=$(as "$X" executions -a -q 2>&1)
out=$(as "$X" logs "$ids_u" 2>&1)
[ "$ids_x" = "$ids_root" ] && [[ $out == *from-config* ]]
check "a member of admin_group sees every user's executions and their logs" $? "admin: $ids_x root: $ids_root logs: $out"
out=$(as "$U" logs "$ids_u" 2>&1)
[[ $out == *from-config* ]]
check "logs of one's own execution (berthctl logs falls back to Executions)" $? "$out"
cg=$(ls -d /sys/fs/cgroup/memory"$CG"/config-for-a/user-"$(id -u "$U")" /sys/fs/cgroup"$CG"/config-for-a/user-"$(id -u "$U")" 2>/dev/null | head -1)
[ -n "$cg" ]
check "the workload's cgroup sits under config-for-a/user-UID" $? "$(find /sys/fs/cgroup/memory"$CG" /sys/fs/cgroup"$CG" -maxdepth 2 -type d 2>/dev/null | head)"

# Ctrl-C on a run cancels the workload.
setpriv --reuid="$U" --regid="$GA" --init-groups "$W/berthctl" -r "unix://$W/berthd.sock" run --config for-a -- sleep 300 \
    >"$W/int.out" 2>&1 &
RP=$!
wait_for 10 sh -c "setpriv --reuid=$U --regid=$GA --init-groups $W/berthctl -r unix://$W/berthd.sock executions -q | grep -q ." 
sleep 0.5
kill -INT "$RP"
wait_for 20 sh -c "! kill -0 $RP 2>/dev/null"
wait "$RP"
rc=$?
last=$(as "$U" executions -a -o json 2>&1 | python3 -c 'import json,sys; e=json.load(sys.stdin)["executions"][0]; print(e["state"], e.get("reason",""))' 2>&1)
[ $rc != 0 ] && [ "$last" = "exited Canceled" ] && grep -q "canceling execution" "$W/int.out"
check "Ctrl-C on berthctl run cancels the workload (reason Canceled) and berthctl exits non-zero" $? "rc=$rc last=$last $(cat "$W/int.out")"

id=$("${CTL[@]}" run -d --config root-only -- sh -c 'exec dd if=/dev/zero of=/dev/null bs=20M' 2>&1)
sleep 1
get() { "${CTL[@]}" executions -a -o json | python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin)["executions"] if x["id"]==sys.argv[1]][0]; print(int(e.get("peakMemoryBytes",0)), int(e.get("cpuTimeNs",0)))' "$1"; }
read -r peak cpu <<<"$(get "$id")"
[ "${peak:-0}" -ge 20971520 ] && [ "${cpu:-0}" -gt 0 ]
check "an execution reports its peak memory (a 20 MiB buffer) and CPU time" $? "peak=$peak cpu=$cpu"
out=$("${CTL[@]}" rm-execution "$id" 2>&1)
[[ $out == *FailedPrecondition*"Cancel it first"* ]]
check "a running execution is not removed" $? "$out"
"${CTL[@]}" cancel --grace 1 "$id" >/dev/null && [ "$("${CTL[@]}" wait "$id")" != 0 ]
check "cancel, then wait gives its exit code" $? ""

# --- aggregate quotas, kept by the kernel and at admission
hog=(sh -c 'exec dd if=/dev/zero of=/dev/null bs=48M')   # holds a 48 MiB buffer, touched, until killed
h1=$("${CTL[@]}" run -d --config capped -- "${hog[@]}") && h2=$("${CTL[@]}" run -d --config capped -- "${hog[@]}") &&
    h3=$("${CTL[@]}" run -d --config capped -- "${hog[@]}")
check "three workloads of 48 MiB each under a config whose quota is 96 MiB start (none has a limit of its own)" $? "$h1 $h2 $h3"
cgc=/sys/fs/cgroup/memory$CG/config-capped
[ -d "$cgc" ] || cgc=/sys/fs/cgroup$CG/config-capped
oomed() { "${CTL[@]}" executions -a -o json | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["executions"] if e["config"]=="capped" and e["reason"]=="OOMKilled"))'; }
wait_for 20 sh -c "[ \"\$(\"$BERTHCTL\" -r unix://$W/berthd.sock executions -a -o json | grep -c OOMKilled)\" -ge 1 ]"
n_oom=$(oomed)
peak=$(cat "$cgc/memory.max_usage_in_bytes" 2>/dev/null || cat "$cgc/memory.peak" 2>/dev/null)
limit=$(cat "$cgc/memory.limit_in_bytes" 2>/dev/null || cat "$cgc/memory.max" 2>/dev/null)
[ "$n_oom" -ge 1 ] && [ "$limit" = 100663296 ] && [ "${peak:-0}" -le 100663296 ]
check "the kernel keeps their sum under the config's cap: one is OOMKilled, the config cgroup's peak stays within 96 MiB" $? "oom=$n_oom limit=$limit peak=$peak $("${CTL[@]}" executions -a)"
"${CTL[@]}" cancel --grace 0 "$h1" "$h2" "$h3" >/dev/null 2>&1
r1=$("${CTL[@]}" run -d --config reserved -- sleep 300) && r2=$("${CTL[@]}" run -d --config reserved -- sleep 300)
out=$("${CTL[@]}" run -d --config reserved -- sleep 300 2>&1)
[ -n "$r1" ] && [ -n "$r2" ] && [[ $out == *ResourceExhausted*"memory quota 96m: 96m reserved by 2 running execution(s), 0 left; this workload needs 48m"* ]]
check "a third 48 MiB workload under a 96 MiB quota: ResourceExhausted saying what is used and what is left" $? "$out"
"${CTL[@]}" cancel --grace 0 "$r1" >/dev/null && r3=$("${CTL[@]}" run -d --config reserved -- sleep 300 2>&1)
check "...and once one is canceled, it fits" $? "$r3"
"${CTL[@]}" cancel --grace 0 "$r2" "$r3" >/dev/null 2>&1
u1=$(as "$U" run -d --config per-user -- sleep 300 2>&1)
out=$(as "$U" run -d --config per-user -- sleep 300 2>&1)
[[ $out == *ResourceExhausted*"the user's memory quota 48m"* ]]
check "a user's second workload past its per-user quota: ResourceExhausted" $? "$u1 $out"
ucg=$(ls -d /sys/fs/cgroup/memory"$CG"/config-per-user/user-"$(id -u "$U")" /sys/fs/cgroup"$CG"/config-per-user/user-"$(id -u "$U")" 2>/dev/null | head -1)
lim=$(cat "$ucg/memory.limit_in_bytes" 2>/dev/null || cat "$ucg/memory.max" 2>/dev/null)
[ "$lim" = 50331648 ]
check "the user's cgroup carries the per-user cap" $? "$ucg: $lim"
as "$U" cancel --grace 0 "$u1" >/dev/null 2>&1

out=$("${CTL[@]}" run --rm --config gpu -- sh -c 'echo $FAKE_GPU; ls -l /dev/fakegpu0' 2>&1)
[ "$(echo "$out" | sed -n 1p)" = fake0 ] && [[ $(echo "$out" | sed -n 2p) == c*/dev/fakegpu0 ]]
check "a GPU config: its runtime handler injects the (fake) CDI device into the workload" $? "$out"

t0=$SECONDS
"${CTL[@]}" run --config short -- sleep 60 >/dev/null 2>&1
rc=$? took=$((SECONDS - t0))
last=$("${CTL[@]}" executions -a -o json | python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin)["executions"] if x["config"]=="short"][0]; print(e["reason"])' 2>&1)
[ $rc != 0 ] && [ $took -le 8 ] && [ "$last" = DeadlineExceeded ]
check "max_runtime 2s: the workload is killed after it, reason DeadlineExceeded" $? "rc=$rc took=${took}s reason=$last"

for e in $("${CTL[@]}" executions -a -q); do "${CTL[@]}" rm-execution "$e" >/dev/null || echo "rm $e failed"; done
out=$("$CRI_CLIENT" -a "$W/berthd.sock" call ListPodSandbox '{}' 2>&1)
[ "$("${CTL[@]}" executions -a -q)" = "" ] && [ "$(echo "$out" | py 'len(d.get("items", []))')" = 0 ] && [ -z "$(ls -A "$W/state/executions" 2>/dev/null)" ]
check "rm-execution leaves no execution, pod or log dir" $? "$out $(ls -la "$W/state/executions")"
exit $failed
