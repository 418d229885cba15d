package ports

// Queued returns how many calls wait for a flush of c (tests only).
func Queued[T, R any](c *Coalescer[T, R]) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}
