package core

import "fmt"

// PullPolicy says when a start pulls its image (RTMANAGER_PULL_POLICY).
type PullPolicy string

// Pull policies.
const (
	// PullIfNotPresent pulls only an image that is missing locally.
	PullIfNotPresent PullPolicy = "if_not_present"
	// PullAlways pulls before every start; when the registry cannot be
	// reached and a local copy exists, the local copy is used.
	PullAlways PullPolicy = "always"
	// PullNever never pulls on a start: a missing image is
	// image_unavailable (an explicit pre-pull still pulls).
	PullNever PullPolicy = "never"
)

// ParsePullPolicy returns the policy s names; empty means PullIfNotPresent.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := PullPolicy(s); p {
	case "":
		return PullIfNotPresent, nil
	case PullIfNotPresent, PullAlways, PullNever:
		return p, nil
	}
	return "", fmt.Errorf("pull policy %q is not one of if_not_present, always, never", s)
}
