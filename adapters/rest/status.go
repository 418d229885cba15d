package rest

import (
	"html/template"
	"net/http"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// statusLimit caps how many runtimes the status page lists.
const statusLimit = 500

// statusPage is the operators' overview: counts by status and the runtimes
// that are not removed, newest activity visible at a glance.
var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rtmanager status</title>
<meta http-equiv="refresh" content="10">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd}
.running{color:#16803c}.stopped{color:#a15c00}.starting{color:#1d4ed8}.removed{color:#777}
.counts span{margin-right:1.5rem}code{font-size:.9em}
</style></head><body>
<h1>rtmanager</h1>
<p class="counts">{{range .Counts}}<span class="{{.Status}}">{{.Status}}: <b>{{.N}}</b></span>{{end}}</p>
<table><thead><tr><th>game</th><th>status</th><th>generation</th><th>image</th><th>endpoint</th><th>last operation</th></tr></thead><tbody>
{{range .Runtimes}}<tr><td><a href="/status/games/{{.GameID}}"><code>{{.GameID}}</code></a></td>
<td class="{{.Status}}">{{.Status}}</td><td>{{.Generation}}</td><td><code>{{.ImageRef}}</code></td>
<td>{{if .Endpoint}}<code>{{.Endpoint}}</code>{{end}}</td><td>{{.LastOpAt.UTC.Format "2006-01-02 15:04:05"}}</td></tr>
{{else}}<tr><td colspan="6">no runtimes</td></tr>{{end}}
</tbody></table>
{{if .Truncated}}<p>Only the first {{.Limit}} runtimes are listed; use <code>rtmanager ctl list</code> for all.</p>{{end}}
<p><small>Generated {{.Now.UTC.Format "2006-01-02 15:04:05"}} UTC; refreshes every 10 s.</small></p>
</body></html>
`))

type statusCount struct {
	Status core.Status
	N      int
}

// status serves the HTML status page, each game linked to its own page.
// It accepts the API token as a bearer token or, from a browser, as the
// HTTP Basic password (authenticatePage).
func (s *server) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	counts, err := s.store.CountByStatus(ctx)
	if err != nil {
		s.writeError(w, r, readError("count runtimes", err, ""))
		return
	}
	data := struct {
		Counts    []statusCount
		Runtimes  []core.Record
		Truncated bool
		Limit     int
		Now       time.Time
	}{Limit: statusLimit, Now: time.Now()}
	for _, st := range core.Statuses() {
		data.Counts = append(data.Counts, statusCount{st, counts[st]})
	}
	q := ports.ListQuery{Limit: statusLimit}
	for _, st := range []core.Status{core.StatusStarting, core.StatusRunning, core.StatusStopped} {
		q.Status = st
		page, next, err := s.store.List(ctx, q)
		if err != nil {
			s.writeError(w, r, readError("list runtimes", err, ""))
			return
		}
		data.Runtimes = append(data.Runtimes, page...)
		data.Truncated = data.Truncated || next != ""
	}
	pageSecurity(w.Header())
	if err := statusPage.Execute(w, data); err != nil {
		s.log.WarnContext(ctx, "render status page", "err", err)
	}
}
