package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"

	"github.com/galaxy-game/rtmanager/ports/queuetest"
)

func TestQueueContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			queuetest.Run(t, queuetest.Harness{
				Setup: func(t *testing.T) queuetest.Fixture { return queueFixture(t, url) },
			})
		})
	}
}

func TestReadHonoursContext(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			c := MustConnect(t, url, scratchOptions(t, url))
			q, err := c.Queue(testCtx(t), "a")
			if err != nil {
				t.Fatalf("Queue: %v", err)
			}
			ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
			defer cancel()
			began := time.Now()
			_, err = q.Read(ctx, 1, 5*time.Second)
			if took := time.Since(began); took > 2*time.Second {
				t.Fatalf("Read with a 100ms context returned after %v", took)
			}
			if !errors.Is(err, ports.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Read with an expired context: %v, want ErrUnavailable wrapping DeadlineExceeded", err)
			}
		})
	}
}
