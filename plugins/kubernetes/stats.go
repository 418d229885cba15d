package kubernetes

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.StatsSource = (*Driver)(nil)

// summary is the part of the kubelet's /stats/summary
// (k8s.io/kubelet/pkg/apis/stats/v1alpha1) that Stats reads.
type summary struct {
	Pods []struct {
		PodRef struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			UID       string `json:"uid"`
		} `json:"podRef"`
		Containers []struct {
			Name string `json:"name"`
			CPU  *struct {
				UsageNanoCores *uint64 `json:"usageNanoCores"`
			} `json:"cpu"`
			Memory *struct {
				WorkingSetBytes *uint64 `json:"workingSetBytes"`
			} `json:"memory"`
		} `json:"containers"`
		Network *struct {
			RxBytes *uint64 `json:"rxBytes"`
			TxBytes *uint64 `json:"txBytes"`
		} `json:"network"`
		ProcessStats *struct {
			ProcessCount *uint64 `json:"process_count"`
		} `json:"process_stats"`
	} `json:"pods"`
}

// maxSummary bounds the summary body Stats reads (a node with hundreds of
// pods answers a few MB).
const maxSummary = 64 << 20

// Stats implements ports.StatsSource from the kubelet summary API of the
// pod's node, read through the API server
// (GET /api/v1/nodes/{node}/proxy/stats/summary, RBAC nodes/proxy get):
// CPU from usageNanoCores (the kubelet's own rate; 100 = one CPU), memory
// from workingSetBytes, the limit from the pod spec, network from the pod's
// interface and pids from the pod's process count. Until the kubelet has
// sampled a new container (a few seconds after it starts) the figures it
// lacks are null. A pod that does not run is ports.ErrNotFound.
func (d *Driver) Stats(ctx context.Context, id string) (ports.Stats, error) {
	pod, err := d.get(ctx, id)
	if err != nil {
		return ports.Stats{}, translate("stats "+id, err)
	}
	if st := engineStatus(pod); exited(pod) || st == nil || st.State.Running == nil || pod.Spec.NodeName == "" {
		return ports.Stats{}, fmt.Errorf("kubernetes: stats %s: %w: the engine does not run", id, ports.ErrNotFound)
	}
	raw, err := d.summary(ctx, pod.Spec.NodeName)
	if err != nil {
		return ports.Stats{}, err
	}
	var sum summary
	if err := json.Unmarshal(raw, &sum); err != nil {
		return ports.Stats{}, fmt.Errorf("kubernetes: stats %s: %w: bad kubelet summary: %v", id, ports.ErrUnavailable, err)
	}
	out := ports.Stats{At: time.Now().UTC()}
	if q, ok := engineContainer(pod).Resources.Limits[corev1.ResourceMemory]; ok {
		out.MemoryLimitBytes = ports.Int64(q.Value())
	}
	for _, p := range sum.Pods {
		if p.PodRef.Namespace != pod.Namespace || p.PodRef.Name != pod.Name || p.PodRef.UID != string(pod.UID) {
			continue
		}
		if p.Network != nil {
			out.NetRxBytes, out.NetTxBytes = i64(p.Network.RxBytes), i64(p.Network.TxBytes)
		}
		if p.ProcessStats != nil {
			out.Pids = i64(p.ProcessStats.ProcessCount)
		}
		for _, c := range p.Containers {
			if c.Name != containerName {
				continue
			}
			if c.CPU != nil && c.CPU.UsageNanoCores != nil {
				out.CPUPercent = ports.Float64(float64(*c.CPU.UsageNanoCores) / 1e7)
			}
			if c.Memory != nil {
				out.MemoryBytes = i64(c.Memory.WorkingSetBytes)
			}
		}
	}
	return out, nil
}

// i64 converts a summary figure, keeping nil.
func i64(v *uint64) *int64 {
	if v == nil {
		return nil
	}
	return ports.Int64(int64(*v))
}

// engineContainer returns the engine's container of pod's spec.
func engineContainer(pod *corev1.Pod) corev1.Container {
	for _, c := range pod.Spec.Containers {
		if c.Name == containerName {
			return c
		}
	}
	return corev1.Container{}
}

// summary reads the kubelet summary of node through the API server. The
// API server refuses to proxy to a node whose address is loopback
// ("address not allowed"): such a kubelet runs on this very host (a
// single-host development cluster), so summary then asks it directly, as
// an anonymous client and never with the driver's credentials.
func (d *Driver) summary(ctx context.Context, node string) ([]byte, error) {
	raw, err := d.cs.CoreV1().RESTClient().Get().Resource("nodes").Name(node).
		SubResource("proxy").Suffix("stats/summary").Do(ctx).Raw()
	if err == nil {
		return raw, nil
	}
	// client-go does not decode the Status of a proxy answer: its message
	// is only in the raw body.
	if apierrors.IsBadRequest(err) && bytes.Contains(raw, []byte("address not allowed")) {
		raw, lerr := d.localSummary(ctx, node)
		if lerr == nil {
			return raw, nil
		}
		return nil, fmt.Errorf("kubernetes: stats: %w: the API server does not proxy to node %s (%v), and its loopback kubelet: %v",
			ports.ErrUnavailable, node, err, lerr)
	}
	var status metav1.Status
	if json.Unmarshal(raw, &status) == nil && status.Message != "" {
		if status.Code == http.StatusForbidden {
			return nil, fmt.Errorf("kubernetes: stats: %w: %s (grant nodes/proxy get, see docs/kubernetes.md)", ports.ErrUnavailable, status.Message)
		}
		err = fmt.Errorf("%w: %s", err, status.Message)
	}
	return nil, translate("stats: kubelet summary of node "+node, err)
}

// localSummary asks the kubelet of node directly, when its InternalIP is a
// loopback address, anonymously.
func (d *Driver) localSummary(ctx context.Context, node string) ([]byte, error) {
	nodes, err := d.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + node})
	if err != nil || len(nodes.Items) != 1 {
		return nil, fmt.Errorf("node %s: %v", node, err)
	}
	n := nodes.Items[0]
	var ip net.IP
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = net.ParseIP(a.Address)
		}
	}
	port := n.Status.DaemonEndpoints.KubeletEndpoint.Port
	if ip == nil || !ip.IsLoopback() || port <= 0 {
		return nil, fmt.Errorf("node %s has no loopback kubelet address", node)
	}
	url := "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(int(port))) + "/stats/summary"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	// A kubelet serves a self-signed certificate; on loopback there is no
	// network to trust, and no credentials are sent.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // loopback only, anonymous
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSummary))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}
