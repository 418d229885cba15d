package rest

import (
	"net/http"
)

// PullBody is the body of POST /images/pull.
type PullBody struct {
	ImageRef string `json:"image_ref"`
}

// PulledImage answers POST /images/pull.
type PulledImage struct {
	ImageRef  string `json:"image_ref"`
	Digest    string `json:"digest"`
	SizeBytes int64  `json:"size_bytes"`
}

// pullImage pre-pulls an image (allow-list applies) through the same
// singleflight the starts use. The pull goes on if the client leaves; the
// handler stops waiting for it.
func (s *server) pullImage(w http.ResponseWriter, r *http.Request) {
	data, ok := s.body(w, r)
	if !ok {
		return
	}
	var b PullBody
	if err := decodeJSON(data, &b); err != nil {
		s.writeError(w, r, err)
		return
	}
	if b.ImageRef == "" {
		s.writeError(w, r, invalid("image_ref is required"))
		return
	}
	img, err := s.svc.Images.Pull(r.Context(), b.ImageRef)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, PulledImage{ImageRef: b.ImageRef, Digest: img.Digest, SizeBytes: img.SizeBytes})
}
