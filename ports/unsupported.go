package ports

import "errors"

// ErrUnsupported: the driver does not offer the call (e.g. an image store
// on a plugin driver, or logs on a driver without them).
var ErrUnsupported = errors.New("unsupported")
