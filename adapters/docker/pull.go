package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.ImageStore = (*Driver)(nil)

// LocalImage implements ports.ImageStore.
func (d *Driver) LocalImage(ctx context.Context, ref string) (img ports.Image, err error) {
	defer wrap(&err, "docker: image %s", ref)
	if ref == "" {
		return ports.Image{}, fmt.Errorf("%w: empty image reference", ports.ErrInvalid)
	}
	res, err := d.cli.ImageInspect(ctx, ref)
	if err != nil {
		return ports.Image{}, translate(err)
	}
	img = ports.Image{Ref: ref, ID: res.ID, SizeBytes: res.Size, Digest: repoDigest(ref, res.RepoDigests)}
	if t, err := time.Parse(time.RFC3339Nano, res.Created); err == nil {
		img.CreatedAt = t
	}
	return img, nil
}

// PullImage implements ports.ImageStore: it pulls ref with the credentials
// Config.Auth holds for its registry (none when it holds none) and
// classifies a failure into the ports pull sentinels.
func (d *Driver) PullImage(ctx context.Context, ref string) (img ports.Image, err error) {
	defer wrap(&err, "docker: pull %s", ref)
	if ref == "" {
		return ports.Image{}, fmt.Errorf("%w: empty image reference", ports.ErrInvalid)
	}
	if err := d.pull(ctx, ref); err != nil {
		return ports.Image{}, err
	}
	return d.LocalImage(ctx, ref)
}

// pull runs one pull of ref to completion.
func (d *Driver) pull(ctx context.Context, ref string) error {
	header, err := d.authHeader(ref)
	if err != nil {
		return err
	}
	resp, err := d.cli.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: header})
	if err == nil {
		err = resp.Wait(ctx)
	}
	return classifyPull(ctx, err)
}

// authHeader returns the X-Registry-Auth value for ref's registry.
func (d *Driver) authHeader(ref string) (string, error) {
	host, err := registryauth.HostOf(ref)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ports.ErrInvalid, err)
	}
	creds, _, err := d.cfg.Auth.Lookup(host)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ports.ErrImageUnauthorized, err)
	}
	return creds.DockerHeader(host)
}

// classifyPull maps a pull failure onto the ports pull sentinels. The
// daemon reports registry failures as text in its JSON stream, so beside
// the errdefs classes the message decides; that parsing stays here.
func classifyPull(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ports.ErrPullTimeout, err)
	case ctx.Err() != nil:
		return ctx.Err()
	case client.IsErrConnectionFailed(err):
		// The daemon, not the registry, is down.
		return translate(err)
	case cerrdefs.IsUnauthorized(err), cerrdefs.IsPermissionDenied(err),
		strings.Contains(msg, "unauthorized"), strings.Contains(msg, "no basic auth credentials"),
		strings.Contains(msg, "authentication required"), strings.Contains(msg, "denied"):
		return fmt.Errorf("%w: %w", ports.ErrImageUnauthorized, err)
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"),
		strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "network is unreachable"),
		strings.Contains(msg, "connection reset"), strings.Contains(msg, "tls handshake timeout"):
		return fmt.Errorf("%w: %w", ports.ErrRegistryUnreachable, err)
	case cerrdefs.IsNotFound(err), strings.Contains(msg, "manifest unknown"),
		strings.Contains(msg, "not found"), strings.Contains(msg, "name unknown"):
		return fmt.Errorf("%w: %w", ports.ErrImageNotFound, err)
	}
	return fmt.Errorf("%w: %w", ports.ErrImageUnavailable, err)
}

// repoDigest returns the digest part of the entry of digests ("repo@sha256:…")
// for ref's repository, or "" when there is none.
func repoDigest(ref string, digests []string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	for _, rd := range digests {
		n, err := reference.ParseNormalizedNamed(rd)
		if err != nil {
			continue
		}
		if c, ok := n.(reference.Canonical); ok && n.Name() == named.Name() {
			return c.Digest().String()
		}
	}
	return ""
}

// Images implements ports.ImageStore: one entry per tag.
func (d *Driver) Images(ctx context.Context) ([]ports.Image, error) {
	res, err := d.cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker: list images: %w", translate(err))
	}
	var out []ports.Image
	for _, s := range res.Items {
		for _, tag := range s.RepoTags {
			if tag == "<none>:<none>" {
				continue
			}
			out = append(out, ports.Image{Ref: tag, ID: s.ID, SizeBytes: s.Size,
				Digest: repoDigest(tag, s.RepoDigests), CreatedAt: time.Unix(s.Created, 0).UTC()})
		}
	}
	return out, nil
}

// RemoveImage implements ports.ImageStore: it untags ref (never forced, so
// an image a container uses is refused with ErrConflict).
func (d *Driver) RemoveImage(ctx context.Context, ref string) error {
	_, err := d.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	}
	return fmt.Errorf("docker: remove image %s: %w", ref, translate(err))
}
