package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"

	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.ImageStore = (*Driver)(nil)

// resolver returns a registry resolver sending the credentials Config.Auth
// holds for each host (read at each authorisation, so an edited file takes
// effect on the next pull) and talking plain HTTP to loopback registries
// (127.0.0.0/8, ::1, localhost), as Docker does.
func (d *Driver) resolver() remotes.Resolver {
	creds := func(host string) (string, string, error) {
		c, _, err := d.cfg.Auth.Lookup(host)
		if err != nil {
			return "", "", fmt.Errorf("%w: %w", ports.ErrImageUnauthorized, err)
		}
		if c.IdentityToken != "" {
			// An empty user with a secret is containerd's refresh token.
			return "", c.IdentityToken, nil
		}
		return c.Username, c.Password, nil
	}
	hosts := docker.ConfigureDefaultRegistries(
		docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(creds))),
		docker.WithPlainHTTP(docker.MatchLocalhost),
	)
	return docker.NewResolver(docker.ResolverOptions{Hosts: hosts})
}

// pull pulls and unpacks name (a normalised ref) with the driver's
// resolver, classifying a failure into the ports pull sentinels.
func (d *Driver) pull(ctx context.Context, name string) (client.Image, error) {
	img, err := d.client.Pull(ctx, name, client.WithResolver(d.resolver()),
		client.WithPullUnpack, client.WithPullSnapshotter(d.cfg.Snapshotter))
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", name, classifyPull(ctx, err))
	}
	return img, nil
}

// classifyPull maps a containerd pull failure onto the ports sentinels.
// The resolver reports registry answers as wrapped errdefs classes or as
// text, so the message decides where no class does; that parsing stays here.
func classifyPull(ctx context.Context, err error) error {
	msg := strings.ToLower(err.Error())
	var netErr *net.OpError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ports.ErrPullTimeout, err)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ports.ErrImageUnavailable):
		// Already classified (the credential file could not be read).
		return err
	case isUnavailable(err):
		// The containerd daemon itself did not answer.
		return translate(err)
	case errdefs.IsUnauthorized(err), errdefs.IsPermissionDenied(err),
		strings.Contains(msg, "401 unauthorized"), strings.Contains(msg, "403 forbidden"),
		strings.Contains(msg, "authorization failed"), strings.Contains(msg, "unauthorized"):
		return fmt.Errorf("%w: %w", ports.ErrImageUnauthorized, err)
	case errors.As(err, &netErr), errors.Is(err, syscall.ECONNREFUSED),
		strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"):
		return fmt.Errorf("%w: %w", ports.ErrRegistryUnreachable, err)
	case errdefs.IsNotFound(err):
		return fmt.Errorf("%w: %w", ports.ErrImageNotFound, err)
	}
	return fmt.Errorf("%w: %w", ports.ErrImageUnavailable, err)
}

// imageOf describes a containerd image.
func imageOf(ctx context.Context, ref string, img client.Image) ports.Image {
	out := ports.Image{Ref: ref, ID: img.Target().Digest.String(), Digest: img.Target().Digest.String(),
		CreatedAt: img.Metadata().CreatedAt}
	if size, err := img.Size(ctx); err == nil {
		out.SizeBytes = size
	}
	return out
}

// LocalImage implements ports.ImageStore.
func (d *Driver) LocalImage(ctx context.Context, ref string) (ports.Image, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return ports.Image{}, err
	}
	img, err := d.client.GetImage(ctx, name)
	if err != nil {
		return ports.Image{}, fmt.Errorf("image %s: %w", name, translate(err))
	}
	return imageOf(ctx, ref, img), nil
}

// PullImage implements ports.ImageStore: it pulls and unpacks ref with the
// credentials Config.Auth holds for its registry.
func (d *Driver) PullImage(ctx context.Context, ref string) (ports.Image, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return ports.Image{}, err
	}
	img, err := d.pull(ctx, name)
	if err != nil {
		return ports.Image{}, err
	}
	return imageOf(ctx, ref, img), nil
}

// Images implements ports.ImageStore; Ref is the name containerd stores
// (see NormalizeRef).
func (d *Driver) Images(ctx context.Context) ([]ports.Image, error) {
	imgs, err := d.client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", translate(err))
	}
	out := make([]ports.Image, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, imageOf(ctx, img.Name(), img))
	}
	return out, nil
}

// RemoveImage implements ports.ImageStore: it deletes the image name and
// lets containerd's garbage collector free content no other image holds.
func (d *Driver) RemoveImage(ctx context.Context, ref string) error {
	name, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	err = d.client.ImageService().Delete(ctx, name, images.SynchronousDelete())
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove image %s: %w", name, translate(err))
	}
	return nil
}
