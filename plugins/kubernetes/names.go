package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Keys the driver sets on every pod besides the spec's labels.
const (
	// LabelManagedBy selects the pods of this driver (List, Events).
	LabelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "rtmanager"
	// AnnotationName holds the container name the pod name was derived from.
	AnnotationName = "rtmanager.io/name"
	// AnnotationLabels holds every spec label as JSON: the truth Inspect and
	// List return, since label syntax cannot hold every value.
	AnnotationLabels = "rtmanager.io/labels"
	// Finalizer keeps a stopped pod inspectable until Remove (see Stop).
	Finalizer = "rtmanager.io/keep-until-removed"
	// containerName is the name of the engine container in its pod.
	containerName = "engine"
)

// maxPodName keeps pod names DNS-1123 labels, so they are valid host names.
const maxPodName = validation.DNS1123LabelMaxLength

// PodName maps a container name to a DNS-1123 label: itself when it is one,
// else a lower-cased, sanitized prefix plus a hash of the whole name, so two
// names never share a pod. The result is never empty.
func PodName(name string) string {
	if len(validation.IsDNS1123Label(name)) == 0 {
		return name
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:])[:10]
	prefix := b.String()
	if len(prefix) > maxPodName-len(suffix)-1 {
		prefix = prefix[:maxPodName-len(suffix)-1]
	}
	prefix = strings.Trim(prefix, "-")
	if prefix == "" {
		return "rtm-" + suffix
	}
	return prefix + "-" + suffix
}

// labelValue is how value is stored in a label: as is when label syntax can
// hold it, else a hash (the real value lives in AnnotationLabels, and List
// filters on it after the label selector has narrowed the pods down).
func labelValue(value string) string {
	if len(validation.IsValidLabelValue(value)) == 0 {
		return value
	}
	sum := sha256.Sum256([]byte(value))
	return "sha256-" + hex.EncodeToString(sum[:])[:40]
}

// encodeLabels splits spec labels into pod labels and annotations. Keys
// that are not qualified names are kept in AnnotationLabels only.
func encodeLabels(labels map[string]string) (podLabels, annotations map[string]string, err error) {
	podLabels = map[string]string{LabelManagedBy: managedBy}
	annotations = map[string]string{}
	for k, v := range labels {
		if k == LabelManagedBy {
			continue
		}
		if len(validation.IsQualifiedName(k)) > 0 {
			continue
		}
		lv := labelValue(v)
		podLabels[k] = lv
		if lv != v {
			annotations[k] = v
		}
	}
	raw, err := json.Marshal(labels)
	if err != nil {
		return nil, nil, fmt.Errorf("encode labels: %w", err)
	}
	annotations[AnnotationLabels] = string(raw)
	return podLabels, annotations, nil
}

// podLabels returns the spec labels of pod.
func podLabels(pod *corev1.Pod) map[string]string {
	out := map[string]string{}
	if raw, ok := pod.Annotations[AnnotationLabels]; ok && json.Unmarshal([]byte(raw), &out) == nil {
		return out
	}
	// A pod made by hand: its labels are all there is.
	maps.Copy(out, pod.Labels)
	delete(out, LabelManagedBy)
	return out
}

// selector returns the label selector narrowing pods to those that may carry
// labels; matches must still be checked with hasLabels.
func selector(labels map[string]string) string {
	parts := []string{LabelManagedBy + "=" + managedBy}
	for k, v := range labels {
		if k == LabelManagedBy || len(validation.IsQualifiedName(k)) > 0 {
			continue
		}
		parts = append(parts, k+"="+labelValue(v))
	}
	return strings.Join(parts, ",")
}

// hasLabels reports whether got holds every key=value of want.
func hasLabels(got, want map[string]string) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// NormalizeImage returns ref in the fully qualified form the kubelet
// reports node images in (docker.io/library/x:latest for "x").
func NormalizeImage(ref string) string {
	name, digest, hasDigest := strings.Cut(ref, "@")
	first, _, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	if hasDigest {
		return name + "@" + digest
	}
	if i := strings.LastIndex(name, ":"); i < 0 || strings.Contains(name[i:], "/") {
		name += ":latest"
	}
	return name
}
