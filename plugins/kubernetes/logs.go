package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.LogSource = (*Driver)(nil)

// Logs implements ports.LogSource through the pods/log API (the kubelet
// keeps the container's output, stdout and stderr merged, with times).
func (d *Driver) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if _, err := d.get(ctx, id); err != nil {
		return translate("logs "+id, err)
	}
	po := &corev1.PodLogOptions{Container: containerName, Follow: opts.Follow, Timestamps: opts.Timestamps}
	if opts.Tail != ports.TailAll {
		tail := int64(opts.Tail)
		po.TailLines = &tail
	}
	if !opts.Since.IsZero() {
		since := metav1.NewTime(opts.Since)
		po.SinceTime = &since
	}
	if opts.Tail == 0 && !opts.Follow {
		return nil // the API reads tailLines=0 as "no limit" on some versions
	}
	rc, err := d.cs.CoreV1().Pods(d.cfg.Namespace).GetLogs(id, po).Stream(ctx)
	if err != nil {
		return translate("logs "+id, err)
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("kubernetes: logs %s: %w", id, err)
	}
	return nil
}
