// Command rtmanager-plugin-kubernetes is the runtime driver plugin that runs
// each game container as a Pod of a Kubernetes cluster (package
// plugins/kubernetes). rtmanager starts it with RTMANAGER_DRIVER=plugin,
// RTMANAGER_PLUGIN_PATH pointing here and its flags in
// RTMANAGER_PLUGIN_ARGS; see docs/kubernetes.md.
//
// Flags:
//
//	--kubeconfig FILE         default: in-cluster, then $KUBECONFIG
//	--namespace NS            default rtmanager
//	--endpoint pod-ip|host-port
//	--host-ports MIN-MAX      host ports of --endpoint=host-port (7000-8000)
//	--node-selector k=v,...   --runtime-class NAME   --image-pull-secret NAME
//	--image-pull-policy P     IfNotPresent (default), Always, Never
//	--stop-timeout D          terminationGracePeriodSeconds (30s)
//	--run-as-non-root         --requests limits|none
package main

import (
	"os"

	"github.com/galaxy-game/rtmanager/plugins/kubernetes"
	"github.com/galaxy-game/rtmanager/plugins/sdk"
)

func main() {
	log := sdk.Logger()
	cfg, err := kubernetes.ParseFlags(os.Args[1:])
	if err != nil {
		log.Error("start kubernetes driver", "error", err)
		os.Exit(2)
	}
	cfg.Logger = log
	d, err := kubernetes.New(cfg)
	if err != nil {
		log.Error("start kubernetes driver", "error", err)
		os.Exit(1)
	}
	sdk.Serve(d)
}
