package kubernetes

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Endpoint modes (--endpoint).
const (
	// EndpointPodIP: the engine answers on podIP:spec.Port (default).
	EndpointPodIP = "pod-ip"
	// EndpointHostPort: the pod publishes spec.Port on a host port from
	// HostPortMin..HostPortMax and the engine answers on hostIP:hostPort.
	EndpointHostPort = "host-port"
)

// Config configures New. ParseFlags fills it from the plugin's arguments.
type Config struct {
	// Kubeconfig is a kubeconfig file; empty means in-cluster, then $KUBECONFIG.
	Kubeconfig string
	// Namespace the pods live in (default "rtmanager").
	Namespace string
	// Endpoint is EndpointPodIP or EndpointHostPort.
	Endpoint string
	// HostPortMin and HostPortMax bound the host ports of EndpointHostPort.
	HostPortMin, HostPortMax int
	// NodeSelector, RuntimeClass and ImagePullSecret go to every pod spec.
	NodeSelector    map[string]string
	RuntimeClass    string
	ImagePullSecret string
	// PullPolicy is the pods' imagePullPolicy (default IfNotPresent).
	PullPolicy corev1.PullPolicy
	// StopTimeout becomes terminationGracePeriodSeconds, the grace the
	// cluster gives an engine it evicts on its own (a drain); rtmanager's
	// Stop passes its own timeout.
	StopTimeout time.Duration
	// RunAsNonRoot sets the pods' runAsNonRoot (the image must then name a
	// numeric non-root user).
	RunAsNonRoot bool
	// Requests is "limits" (requests equal the limits, default) or "none"
	// (no requests: the scheduler packs pods regardless of their limits).
	Requests string
	// Logger receives the driver's logs; nil discards them.
	Logger *slog.Logger
	// Rest, when set, is used instead of loading Kubeconfig (tests).
	Rest *rest.Config
}

// ParseFlags parses the plugin's arguments (RTMANAGER_PLUGIN_ARGS).
func ParseFlags(args []string) (Config, error) {
	c := Config{}
	fs := flag.NewFlagSet("rtmanager-plugin-kubernetes", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG)")
	fs.StringVar(&c.Namespace, "namespace", "rtmanager", "namespace of the game pods")
	fs.StringVar(&c.Endpoint, "endpoint", EndpointPodIP, "pod-ip or host-port")
	ports := fs.String("host-ports", "7000-8000", "host port range of --endpoint=host-port")
	sel := fs.String("node-selector", "", "node selector of the pods, k=v[,k=v...]")
	fs.StringVar(&c.RuntimeClass, "runtime-class", "", "runtimeClassName of the pods")
	fs.StringVar(&c.ImagePullSecret, "image-pull-secret", "", "name of a docker-registry secret in the namespace")
	pull := fs.String("image-pull-policy", string(corev1.PullIfNotPresent), "IfNotPresent, Always or Never")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", 30*time.Second, "terminationGracePeriodSeconds of the pods")
	fs.BoolVar(&c.RunAsNonRoot, "run-as-non-root", false, "set runAsNonRoot on the pods")
	fs.StringVar(&c.Requests, "requests", "limits", "limits (requests = limits) or none")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("flags: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.HostPortMin, c.HostPortMax, err = parseRange(*ports); err != nil {
		return c, fmt.Errorf("--host-ports: %w", err)
	}
	if c.NodeSelector, err = parseSelector(*sel); err != nil {
		return c, fmt.Errorf("--node-selector: %w", err)
	}
	c.PullPolicy = corev1.PullPolicy(*pull)
	return c, c.validate()
}

func (c *Config) validate() error {
	if c.Namespace == "" {
		c.Namespace = "rtmanager"
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		return fmt.Errorf("--namespace %q: %s", c.Namespace, strings.Join(errs, "; "))
	}
	switch c.Endpoint {
	case "":
		c.Endpoint = EndpointPodIP
	case EndpointPodIP, EndpointHostPort:
	default:
		return fmt.Errorf("--endpoint %q: want %s or %s", c.Endpoint, EndpointPodIP, EndpointHostPort)
	}
	if c.Endpoint == EndpointHostPort && (c.HostPortMin < 1 || c.HostPortMax > 65535 || c.HostPortMin > c.HostPortMax) {
		return fmt.Errorf("--host-ports %d-%d: want a range within 1-65535", c.HostPortMin, c.HostPortMax)
	}
	switch c.PullPolicy {
	case "":
		c.PullPolicy = corev1.PullIfNotPresent
	case corev1.PullIfNotPresent, corev1.PullAlways, corev1.PullNever:
	default:
		return fmt.Errorf("--image-pull-policy %q: want IfNotPresent, Always or Never", c.PullPolicy)
	}
	switch c.Requests {
	case "":
		c.Requests = "limits"
	case "limits", "none":
	default:
		return fmt.Errorf("--requests %q: want limits or none", c.Requests)
	}
	if c.StopTimeout < 0 {
		return fmt.Errorf("--stop-timeout %s: must not be negative", c.StopTimeout)
	}
	if c.RuntimeClass != "" && len(validation.IsDNS1123Subdomain(c.RuntimeClass)) > 0 {
		return fmt.Errorf("--runtime-class %q: not a DNS-1123 subdomain", c.RuntimeClass)
	}
	if c.ImagePullSecret != "" && len(validation.IsDNS1123Subdomain(c.ImagePullSecret)) > 0 {
		return fmt.Errorf("--image-pull-secret %q: not a DNS-1123 subdomain", c.ImagePullSecret)
	}
	return nil
}

func parseRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want MIN-MAX", s)
	}
	if lo, err = strconv.Atoi(a); err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	if hi, err = strconv.Atoi(b); err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	return lo, hi, nil
}

func parseSelector(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
			return nil, fmt.Errorf("%q: want key=value pairs of label syntax", kv)
		}
		out[k] = v
	}
	return out, nil
}

// restConfig loads the client configuration: Kubeconfig, else in-cluster,
// else $KUBECONFIG.
func (c Config) restConfig() (*rest.Config, error) {
	if c.Rest != nil {
		return rest.CopyConfig(c.Rest), nil
	}
	if c.Kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	}
	rc, err := rest.InClusterConfig()
	if err == nil {
		return rc, nil
	}
	if !errors.Is(err, rest.ErrNotInCluster) {
		return nil, fmt.Errorf("in-cluster config: %w", err)
	}
	if kc := os.Getenv("KUBECONFIG"); kc != "" {
		return clientcmd.BuildConfigFromFlags("", kc)
	}
	return nil, errors.New("no cluster: not in a cluster, and neither --kubeconfig nor $KUBECONFIG is set")
}
