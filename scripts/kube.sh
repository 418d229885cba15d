#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for the cluster tests
# of plugins/kubernetes. Everything binds to 127.0.0.1.
#
#   scripts/kube.sh build              build the binaries (cached by version)
#   scripts/kube.sh up                 build if needed, start the cluster, print export lines
#   scripts/kube.sh load-image IMAGE.. copy local Docker images into the cluster runtime
#   scripts/kube.sh unload-image IMAGE.. remove them again
#   scripts/kube.sh plugin             build rtmanager-plugin-kubernetes, print its path
#   scripts/kube.sh down               stop what up started, undo its host changes
#   scripts/kube.sh add-node N         start node N (>= 2): its own containerd,
#                                      kubelet, CNI bridge and cgroup root
#   scripts/kube.sh restart-apiserver  (tests: the driver must ride it out)
#
# The binaries are built from upstream sources through the Go module proxy in a
# wrapper module outside the project's go.mod, and cached under
# $RTMANAGER_KUBE_CACHE/$KUBE_VERSION/bin (default /var/cache/rtmanager-kube).
# Run state lives under $RTMANAGER_KUBE_RUN (default /tmp/rtm-kube).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
STAGING_VERSION=v0${KUBE_VERSION#v1}
ETCD_VERSION=${ETCD_VERSION:-v3.7.0}
CACHE=${RTMANAGER_KUBE_CACHE:-/var/cache/rtmanager-kube}/$KUBE_VERSION
BIN=$CACHE/bin
RUN=${RTMANAGER_KUBE_RUN:-/tmp/rtm-kube}

log() { echo "kube.sh: $*" >&2; }

STAGING="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
cloud-provider cluster-bootstrap code-generator component-base component-helpers
controller-manager cri-api cri-client cri-streaming csi-translation-lib
dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
mount-utils pod-security-admission sample-apiserver streaming"

KUBE_CMDS="kube-apiserver kubelet kubectl kube-scheduler kube-controller-manager"

build() {
	local want="$KUBE_CMDS etcd"
	local missing=""
	for b in $want; do [ -x "$BIN/$b" ] || missing="$missing $b"; done
	if [ -z "$missing" ]; then return 0; fi
	log "building$missing ($KUBE_VERSION) into $BIN (cold: ~15 min on 2 cores)"
	local mod=$CACHE/src
	mkdir -p "$mod" "$BIN"
	{
		echo "module rtmanager.local/kubebuild"
		echo
		echo "go 1.25"
		echo
		echo "require ("
		echo "	k8s.io/kubernetes $KUBE_VERSION"
		echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
		echo ")"
		echo
		echo "replace ("
		for s in $STAGING; do echo "	k8s.io/$s => k8s.io/$s $STAGING_VERSION"; done
		echo ")"
	} >"$mod/go.mod"
	cat >"$mod/tools.go" <<'EOT'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
EOT
	local minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	local ld="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld="$ld -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
	done
	(
		cd "$mod"
		export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
		nice -n 10 go mod tidy -e >/dev/null 2>&1 || true
		for b in $missing; do
			local pkg=k8s.io/kubernetes/cmd/$b
			[ "$b" = etcd ] && pkg=go.etcd.io/etcd/server/v3
			log "go build $pkg"
			nice -n 10 go build -trimpath -ldflags "$ld" -o "$BIN/$b.tmp" "$pkg"
			mv "$BIN/$b.tmp" "$BIN/$b"
		done
	)
}


# Ports (all on 127.0.0.1), chosen away from the usual defaults so the
# cluster cannot collide with other services on this machine.
ETCD_PORT=${RTM_KUBE_ETCD_PORT:-23790}
ETCD_PEER_PORT=$((ETCD_PORT + 10))
APISERVER_PORT=${RTM_KUBE_APISERVER_PORT:-16443}
KUBELET_PORT=${RTM_KUBE_KUBELET_PORT:-20250}
POD_SUBNET=${RTM_KUBE_POD_SUBNET:-10.244.77.0/24}
CNI_BIN=/usr/lib/cni
# Host paths the kubelet and CNI write regardless of their root dirs.
HOST_DIRS="/var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /etc/cni"
SYSCTLS="kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward"

pidfile() { echo "$RUN/pids/$1.pid"; }

# launch NAME CMD...: starts CMD in its own session, logging to $RUN/logs.
launch() {
	local name=$1
	shift
	printf '%q ' "$@" >"$RUN/cmd/$name"
	setsid "$@" >>"$RUN/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$(pidfile "$name")"
}

# stop NAME: SIGTERM, then SIGKILL after 10s, by the pid launch recorded.
stop() {
	local f
	f=$(pidfile "$1")
	[ -f "$f" ] || return 0
	local pid
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$f"
}

# waitfor WHAT SECONDS CMD...: polls CMD until it succeeds.
waitfor() {
	local what=$1 secs=$2
	shift 2
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $end ]; then
			log "$what not ready after ${secs}s; last log lines:"
			tail -n 20 "$RUN/logs/"*.log >&2 || true
			return 1
		fi
		sleep 0.2
	done
}

kubectl_() { "$BIN/kubectl" --kubeconfig "$RUN/kubeconfig" "$@"; }

# pause_image builds the sandbox image: a static pause program packed as a
# one-layer OCI archive.
pause_image() {
	[ -f "$CACHE/pause.tar" ] && return 0
	local dir=$CACHE/pause
	mkdir -p "$dir"
	cat >"$dir/main.go" <<'EOT'
// Command pause is the pod sandbox process: it waits for a stop signal.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
EOT
	(cd "$dir" && GOWORK=off GOFLAGS= CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o pause main.go)
	python3 - "$dir/pause" "$CACHE/pause.tar" <<'EOT'
import hashlib, io, json, sys, tarfile, gzip, time
binary, out = sys.argv[1], sys.argv[2]
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w") as t:
    ti = tarfile.TarInfo("pause"); data = open(binary, "rb").read()
    ti.size, ti.mode, ti.mtime = len(data), 0o755, 0
    t.addfile(ti, io.BytesIO(data))
raw = layer.getvalue()
gz = gzip.compress(raw, mtime=0)
def d(b): return "sha256:" + hashlib.sha256(b).hexdigest()
config = json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/pause"]},
    "rootfs": {"type": "layers", "diff_ids": [d(raw)]}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(gz), "size": len(gz)}]}).encode()
index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": d(manifest), "size": len(manifest),
    "annotations": {"io.containerd.image.name": "registry.k8s.io/pause:rtm", "org.opencontainers.image.ref.name": "rtm"}}]}).encode()
with tarfile.open(out, "w") as t:
    def add(name, b):
        ti = tarfile.TarInfo(name); ti.size = len(b); ti.mtime = 0
        t.addfile(ti, io.BytesIO(b))
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", index)
    for b in (config, manifest, gz):
        add("blobs/sha256/" + hashlib.sha256(b).hexdigest(), b)
EOT
}

# ctr_ runs ctr on the containerd of node $CTR_NODE (default 1).
ctr_() {
	local sock=$RUN/containerd/containerd.sock
	[ "${CTR_NODE:-1}" = 1 ] || sock=$RUN/node$CTR_NODE/containerd/containerd.sock
	ctr -a "$sock" -n k8s.io "$@"
}

# nodes lists the cluster's node numbers.
nodes() {
	echo 1
	[ -f "$RUN/host/nodes" ] && cat "$RUN/host/nodes"
	return 0
}

# Node n (1, 2, ...) of the cluster: its own containerd (root, state,
# socket), CNI bridge and subnet, kubelet root dir, ports and cgroup root.
node_vars() {
	n=$1
	dir=$RUN
	[ "$n" = 1 ] || dir=$RUN/node$n
	bridge=rtmkube$((n - 1))
	subnet=10.244.$((76 + n)).0/24
	[ "$n" != 1 ] || subnet=$POD_SUBNET
	port=$((KUBELET_PORT + 10 * (n - 1)))
	node=rtm-kube-node-$n
	cgroot=/
	[ "$n" = 1 ] || cgroot=/rtm-kube-node-$n
}

# node_proc NAME N: the pid name of a per-node process.
node_proc() { if [ "$2" = 1 ]; then echo "$1"; else echo "$1-$2"; fi; }

start_runtime() {
	local n dir bridge subnet port node cgroot
	node_vars "$1"
	mkdir -p "$dir"/{containerd,cni/net.d,cni/ipam,kubelet}
	cat >"$dir/containerd/config.toml" <<EOT
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$dir/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:rtm"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$dir/cni/net.d"
EOT
	cat >"$dir/cni/net.d/10-rtm-kube.conflist" <<EOT
{"cniVersion": "1.0.0", "name": "rtm-kube", "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "dataDir": "$dir/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOT
	launch "$(node_proc containerd "$n")" containerd --config "$dir/containerd/config.toml"
	waitfor "containerd of node $n" 30 ctr -a "$dir/containerd/containerd.sock" version
	ctr -a "$dir/containerd/containerd.sock" -n k8s.io images import "$CACHE/pause.tar" >/dev/null

}

start_node() {
	local n dir bridge subnet port node cgroot
	node_vars "$1"
	if [ "$cgroot" != / ]; then
		# The kubelet wants its cgroup root to exist in every hierarchy.
		for h in /sys/fs/cgroup/*/; do mkdir -p "$h${cgroot#/}"; done
	fi
	cat >"$dir/kubelet/config.yaml" <<EOT
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $((port - 2))
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$dir/containerd/containerd.sock
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
serializeImagePulls: false
evictionHard: {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
podPidsLimit: 4096
maxPods: 250
cgroupRoot: $cgroot
EOT
	launch "$(node_proc kubelet "$n")" "$BIN/kubelet" --config "$dir/kubelet/config.yaml" --kubeconfig "$RUN/kubeconfig" \
		--root-dir "$dir/kubelet/root" --cert-dir "$dir/kubelet/pki" --node-ip 127.0.0.1 \
		--hostname-override "$node" --v 1
	waitfor "node $node" 120 kubectl_ wait --for=condition=Ready "node/$node" --timeout=2s
	# The kubelet refuses a loopback node IP ("nodeIP can't be loopback
	# address") and then reports no address at all, which leaves pods
	# without a hostIP and the API server unable to reach the kubelet for
	# logs. It keeps addresses it cannot set itself, so set them here.
	kubectl_ patch node "$node" --subresource=status --type merge \
		-p '{"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"},{"type":"Hostname","address":"'"$node"'"}]}}' >/dev/null
}

# add_node N: starts node N (>= 2) on the running cluster.
add_node() {
	[ "${1:-}" -ge 2 ] 2>/dev/null || { log "add-node needs a node number >= 2"; exit 2; }
	echo "$1" >>"$RUN/host/nodes"
	start_runtime "$1"
	start_node "$1"
}

# Only env_lines reach stdout (the caller evals them); see services.sh.
up() {
	start_cluster >&2
	env_lines
}

start_cluster() {
	if [ -f "$(pidfile kube-apiserver)" ]; then
		log "already up (run dir $RUN); run down first"
		exit 1
	fi
	build
	pause_image
	for b in bridge host-local portmap loopback; do
		[ -x "$CNI_BIN/$b" ] || { log "missing CNI plugin $CNI_BIN/$b: apt-get install containernetworking-plugins"; exit 1; }
	done
	mkdir -p "$RUN"/{pids,logs,cmd,pki,containerd,cni/net.d,cni/ipam,kubelet,etcd,host}
	# Host state to restore in down.
	for k in $SYSCTLS; do sysctl -n "$k" >"$RUN/host/sysctl.$k" 2>/dev/null || true; done
	for dir in $HOST_DIRS; do [ -e "$dir" ] || echo "$dir" >>"$RUN/host/created-dirs"; done

	start_runtime 1

	local token
	token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	echo "$token,admin,admin,system:masters" >"$RUN/pki/tokens.csv"
	chmod 600 "$RUN/pki/tokens.csv"
	openssl genrsa -out "$RUN/pki/sa.key" 2048 2>/dev/null
	cat >"$RUN/kubeconfig" <<EOT
apiVersion: v1
kind: Config
clusters:
- name: rtm-kube
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: "$token"}
contexts:
- name: rtm-kube
  context: {cluster: rtm-kube, user: admin, namespace: rtmanager}
current-context: rtm-kube
EOT
	chmod 600 "$RUN/kubeconfig"

	launch etcd "$BIN/etcd" --name rtm-kube --data-dir "$RUN/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "rtm-kube=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" --log-level warn
	launch kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
		--cert-dir "$RUN/pki" --token-auth-file "$RUN/pki/tokens.csv" --authorization-mode RBAC \
		--service-account-key-file "$RUN/pki/sa.key" --service-account-signing-key-file "$RUN/pki/sa.key" \
		--service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.96.77.0/24 \
		--kubelet-preferred-address-types InternalIP --allow-privileged=false --profiling=false \
		--endpoint-reconciler-type none --v 1
	waitfor kube-apiserver 120 kubectl_ get --raw /readyz
	# The API server's self-signed certificate (serving certificate plus
	# the CA that signed it, for 127.0.0.1 and kubernetes.default.svc) is
	# what pods trust: the controller-manager publishes it as ca.crt of the
	# kube-root-ca.crt ConfigMap of every namespace, which service account
	# token volumes project. Without it the ConfigMap holds no CA and an
	# in-cluster client (rtmanager's Kubernetes plugin in a pod,
	# deploy/kubernetes) cannot verify the API server.
	launch kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$RUN/kubeconfig" \
		--bind-address 127.0.0.1 --secure-port $((APISERVER_PORT + 1)) --leader-elect=false \
		--service-account-private-key-file "$RUN/pki/sa.key" --use-service-account-credentials=false \
		--root-ca-file "$RUN/pki/apiserver.crt" \
		--profiling=false --v 1
	launch kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$RUN/kubeconfig" \
		--bind-address 127.0.0.1 --secure-port $((APISERVER_PORT + 2)) --leader-elect=false --profiling=false --v 1

	start_node 1
	kubectl_ create namespace rtmanager >/dev/null 2>&1 || true
	waitfor "service account rtmanager/default" 60 kubectl_ -n rtmanager get serviceaccount default
}

env_lines() {
	echo "export KUBECONFIG=$RUN/kubeconfig"
	echo "export PATH=$BIN:\$PATH"
	echo "export RTMANAGER_TEST_KUBECONFIG=$RUN/kubeconfig"
	echo "export RTMANAGER_TEST_KUBE_SCRIPT=$ROOT/scripts/kube.sh"
}

# load_image IMAGE...: copies local Docker images (or `docker save`
# archives, given as file paths) into the cluster's runtime.
load_image() {
	for img in "$@"; do
		for CTR_NODE in $(nodes); do
			if [ -f "$img" ]; then
				ctr_ images import "$img" >/dev/null
			else
				docker save "$img" | ctr_ images import - >/dev/null
			fi
		done
	done
}

# unload_image IMAGE...: removes images load_image copied (Docker
# references: a short name means docker.io/library/NAME).
unload_image() {
	for img in "$@"; do
		local full=$img
		case ${img%%/*} in
		"$img") full=docker.io/library/$img ;;
		*.* | *:* | localhost) ;;
		*) full=docker.io/$img ;;
		esac
		for CTR_NODE in $(nodes); do ctr_ images rm "$full" >/dev/null 2>&1 || true; done
	done
}

restart_apiserver() {
	stop kube-apiserver
	local cmd
	cmd=$(cat "$RUN/cmd/kube-apiserver")
	eval "launch kube-apiserver $cmd"
	waitfor kube-apiserver 120 kubectl_ get --raw /readyz
}

plugin() {
	local out=$RUN/bin/rtmanager-plugin-kubernetes
	mkdir -p "$RUN/bin"
	(cd "$ROOT/plugins/kubernetes" && GOWORK=off CGO_ENABLED=0 go build -trimpath -o "$out" ./cmd/rtmanager-plugin-kubernetes)
	echo "$out"
}

# sweep_runtime kills and deletes every task and container of the cluster's
# own containerd (it holds nothing else).
sweep_runtime() {
	for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
	for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
	for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
}

# clean_iptables deletes the KUBE-* and CNI-* rules and chains the kubelet
# and the CNI plugins added, in every table, for IPv4 and IPv6.
clean_iptables() {
	for ipt in iptables ip6tables; do
		command -v "$ipt" >/dev/null || continue
		for table in filter nat mangle; do
			"$ipt-save" -t "$table" 2>/dev/null | grep -E '^-A ' | grep -E '(KUBE|CNI)-' | while read -r line; do
				eval "$ipt -w -t $table -D ${line#-A }" 2>/dev/null || true
			done || true
			for chain in $("$ipt-save" -t "$table" 2>/dev/null | grep -oE '^:(KUBE|CNI)-[^ ]+' | tr -d :); do
				"$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
			done
			for chain in $("$ipt-save" -t "$table" 2>/dev/null | grep -oE '^:(KUBE|CNI)-[^ ]+' | tr -d :); do
				"$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
			done
		done
	done
}

down() {
	[ -d "$RUN" ] || { log "not up"; return 0; }
	# Pods first, while the kubelet can still tear their sandboxes down.
	if [ -f "$(pidfile kubelet)" ] && kubectl_ get --raw /readyz >/dev/null 2>&1; then
		for ns in $(kubectl_ get ns -o name 2>/dev/null | cut -d/ -f2); do
			kubectl_ -n "$ns" get pods -o name 2>/dev/null | while read -r p; do
				kubectl_ -n "$ns" patch "$p" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
			done || true
			kubectl_ -n "$ns" delete pods --all --grace-period=1 --wait=false >/dev/null 2>&1 || true
		done
		local end=$((SECONDS + 30))
		for CTR_NODE in $(nodes); do
			while [ $SECONDS -lt $end ] && [ -n "$(ctr_ tasks ls -q 2>/dev/null)" ]; do sleep 0.5; done
		done
	fi
	for n in $(nodes); do stop "$(node_proc kubelet "$n")"; done
	for c in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$c"; done
	for CTR_NODE in $(nodes); do
		sweep_runtime
		stop "$(node_proc containerd "$CTR_NODE")"
	done
	# Network namespaces and other mounts under the run dir.
	{ grep -o " $RUN[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	for n in $(nodes); do ip link del "rtmkube$((n - 1))" 2>/dev/null || true; done
	clean_iptables
	# kubepods cgroups, deepest first.
	find /sys/fs/cgroup -maxdepth 3 -type d \( -name 'kubepods*' -o -name 'rtm-kube-node-*' \) 2>/dev/null | while read -r top; do
		find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done || true
	for f in "$RUN"/host/sysctl.*; do
		[ -f "$f" ] || continue
		sysctl -qw "${f##*/sysctl.}=$(cat "$f")" 2>/dev/null || true
	done
	if [ -f "$RUN/host/created-dirs" ]; then
		while read -r dir; do rm -rf "$dir"; done <"$RUN/host/created-dirs"
	fi
	rm -rf "$RUN"
}

case "${1:-}" in
build) build ;;
up) up ;;
env) env_lines ;;
down) down ;;
load-image) shift; load_image "$@" ;;
unload-image) shift; unload_image "$@" ;;
plugin) plugin ;;
restart-apiserver) restart_apiserver ;;
add-node) shift; add_node "$@" ;;
*) echo "usage: $0 build|up|env|down|load-image IMAGE...|unload-image IMAGE...|plugin|restart-apiserver|add-node N" >&2; exit 2 ;;
esac
