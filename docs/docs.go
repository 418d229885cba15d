// Package docs embeds rtmanager's published API descriptions so the binary
// can serve them.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml, the description of the REST API.
//
//go:embed openapi.yaml
var OpenAPI []byte
