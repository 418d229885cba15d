package kubernetes

import (
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/galaxy-game/rtmanager/ports"
)

// podFor returns the pod that runs spec; hostPort is 0 in pod-ip mode.
func (d *Driver) podFor(spec ports.ContainerSpec, hostPort int) (*corev1.Pod, error) {
	labels, annotations, err := encodeLabels(spec.Labels)
	if err != nil {
		return nil, err
	}
	annotations[AnnotationName] = spec.Name
	env := []corev1.EnvVar{{Name: "PORT", Value: strconv.Itoa(spec.Port)}}
	keys := slices.Sorted(maps.Keys(spec.Env))
	for _, k := range keys {
		if k == "PORT" {
			continue
		}
		env = append(env, corev1.EnvVar{Name: k, Value: spec.Env[k]})
	}
	if _, ok := spec.Env["GAME_ID"]; !ok && spec.Labels[ports.LabelGameID] != "" {
		env = append(env, corev1.EnvVar{Name: "GAME_ID", Value: spec.Labels[ports.LabelGameID]})
	}
	port := corev1.ContainerPort{Name: "engine", ContainerPort: int32(spec.Port), Protocol: corev1.ProtocolTCP}
	if hostPort > 0 {
		port.HostPort = int32(hostPort)
	}
	limits, requests := resourcesFor(spec.Limits)
	if d.cfg.Requests == "none" {
		requests = corev1.ResourceList{}
		for k := range limits {
			requests[k] = resource.MustParse("0")
		}
	}
	grace := int64(math.Ceil(d.cfg.StopTimeout.Seconds()))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: PodName(spec.Name), Namespace: d.cfg.Namespace,
			Labels: labels, Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  ptr(false),
			EnableServiceLinks:            ptr(false),
			NodeSelector:                  d.cfg.NodeSelector,
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: containerName, Image: spec.Image, ImagePullPolicy: d.cfg.PullPolicy,
				Env: env, Ports: []corev1.ContainerPort{port},
				Resources: corev1.ResourceRequirements{Limits: limits, Requests: requests},
				SecurityContext: &corev1.SecurityContext{
					Privileged:               ptr(false),
					AllowPrivilegeEscalation: ptr(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			}},
		},
	}
	if d.cfg.RunAsNonRoot {
		pod.Spec.SecurityContext.RunAsNonRoot = ptr(true)
	}
	if d.cfg.RuntimeClass != "" {
		pod.Spec.RuntimeClassName = ptr(d.cfg.RuntimeClass)
	}
	if d.cfg.ImagePullSecret != "" {
		pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: d.cfg.ImagePullSecret}}
	}
	return pod, nil
}

// resourcesFor maps rtmanager limits to resources.limits (and equal
// requests). Pids limits have no per-pod field: the kubelet's podPidsLimit
// applies.
func resourcesFor(l ports.Limits) (limits, requests corev1.ResourceList) {
	limits = corev1.ResourceList{}
	if l.MemoryBytes > 0 {
		limits[corev1.ResourceMemory] = *resource.NewQuantity(l.MemoryBytes, resource.BinarySI)
	}
	if l.NanoCPUs > 0 {
		milli := max(l.NanoCPUs/1e6, 1)
		limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
	}
	return limits, limits.DeepCopy()
}

// engineStatus returns the status of the engine container of pod, if any.
func engineStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == containerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// containerOf translates pod to a ports.Container.
func (d *Driver) containerOf(pod *corev1.Pod) ports.Container {
	c := ports.Container{
		ID: pod.Name, Name: pod.Annotations[AnnotationName], Labels: podLabels(pod),
		State: ports.StateCreated, CreatedAt: pod.CreationTimestamp.Time,
	}
	if c.Name == "" {
		c.Name = pod.Name
	}
	if len(pod.Spec.Containers) > 0 {
		c.Image = pod.Spec.Containers[0].Image
	}
	st := engineStatus(pod)
	switch {
	case st != nil && st.State.Running != nil:
		c.State = ports.StateRunning
		c.StartedAt = st.State.Running.StartedAt.Time
		c.Endpoint = d.endpointOf(pod)
	case st != nil && st.State.Terminated != nil:
		t := st.State.Terminated
		c.State, c.ExitCode = ports.StateExited, int(t.ExitCode)
		c.OOMKilled = t.Reason == "OOMKilled"
		c.StartedAt, c.FinishedAt = t.StartedAt.Time, t.FinishedAt.Time
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || unscheduledDeleted(pod):
		// Ended before its container ran (deleted, evicted, deadline).
		c.State, c.ExitCode = ports.StateExited, -1
		if pod.DeletionTimestamp != nil {
			c.FinishedAt = pod.DeletionTimestamp.Time
		}
	}
	return c
}

// endpointOf is where the engine of a running pod answers.
func (d *Driver) endpointOf(pod *corev1.Pod) string {
	if len(pod.Spec.Containers) == 0 || len(pod.Spec.Containers[0].Ports) == 0 {
		return ""
	}
	p := pod.Spec.Containers[0].Ports[0]
	if d.cfg.Endpoint == EndpointHostPort && p.HostPort > 0 {
		if pod.Status.HostIP == "" {
			return ""
		}
		return net.JoinHostPort(pod.Status.HostIP, strconv.Itoa(int(p.HostPort)))
	}
	if pod.Status.PodIP == "" {
		return ""
	}
	return net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(p.ContainerPort)))
}

// exited reports whether pod's engine has ended for good.
func exited(pod *corev1.Pod) bool {
	if st := engineStatus(pod); st != nil && st.State.Terminated != nil {
		return true
	}
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || unscheduledDeleted(pod)
}

// unscheduledDeleted: a pod deleted before it was bound to a node; no
// kubelet will ever report on it.
func unscheduledDeleted(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp != nil && pod.Spec.NodeName == ""
}

// imageFailure returns why the kubelet cannot get pod's image, if that is
// what keeps it waiting.
func imageFailure(pod *corev1.Pod) string {
	st := engineStatus(pod)
	if st == nil || st.State.Waiting == nil {
		return ""
	}
	switch st.State.Waiting.Reason {
	case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "ImageInspectError", "RegistryUnavailable":
		return fmt.Sprintf("%s: %s", st.State.Waiting.Reason, st.State.Waiting.Message)
	}
	return ""
}

// startFailure returns why the kubelet cannot start pod's container, for
// reasons that will not resolve by waiting.
func startFailure(pod *corev1.Pod) string {
	st := engineStatus(pod)
	if st == nil || st.State.Waiting == nil {
		return ""
	}
	switch st.State.Waiting.Reason {
	case "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "PreCreateHookError", "PreStartHookError":
		return fmt.Sprintf("%s: %s", st.State.Waiting.Reason, st.State.Waiting.Message)
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
