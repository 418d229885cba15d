package rest

import (
	"fmt"
	"html/template"
	"strconv"
)

// gamePage is the per-game status page. It has no script and no external
// asset; a meta refresh keeps the figures and lines live.
var gamePage = template.Must(template.New("game").Funcs(gamePageFuncs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Rec.GameID}} · rtmanager</title>
<meta http-equiv="refresh" content="10">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:80rem}
table{border-collapse:collapse}th,td{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
th{font-weight:600;color:#555}
.running{color:#16803c}.stopped{color:#a15c00}.starting{color:#1d4ed8}.removed{color:#777}
.failure{color:#b91c1c}.success{color:#16803c}
.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}
pre{background:#111;color:#eee;padding:1rem;overflow:auto;max-height:32rem;font-size:.85em;white-space:pre-wrap}
.note{color:#777;font-style:italic}code{font-size:.9em}
</style></head><body>
<p><a href="/status">← all runtimes</a></p>
<h1 id="game"><code>{{.Rec.GameID}}</code> <span class="{{.Rec.Status}}" id="status">{{.Rec.Status}}</span></h1>
<table id="record">
<tr><th>generation</th><td>{{.Rec.Generation}}</td></tr>
<tr><th>image</th><td><code>{{.Rec.ImageRef}}</code></td></tr>
<tr><th>container</th><td><code>{{if .Rec.ContainerID}}{{.Rec.ContainerID}}{{else}}—{{end}}</code></td></tr>
<tr><th>endpoint</th><td><code>{{if .Rec.Endpoint}}{{.Rec.Endpoint}}{{else}}—{{end}}</code></td></tr>
<tr><th>created</th><td>{{when .Rec.CreatedAt}}</td></tr>
<tr><th>started</th><td>{{when .Rec.StartedAt}}</td></tr>
<tr><th>stopped</th><td>{{when .Rec.StoppedAt}}</td></tr>
<tr><th>last operation</th><td>{{when .Rec.LastOpAt}}</td></tr>
</table>

<h2>Resources</h2>
{{with .Stats}}<div class="cards" id="stats">
<div class="card">CPU<b id="cpu">{{pct .CPUPercent}}</b></div>
<div class="card">memory<b id="memory">{{bytes .MemoryBytes}}</b>of {{bytes .MemoryLimitBytes}}</div>
<div class="card">pids<b id="pids">{{num .Pids}}</b></div>
<div class="card">network in<b>{{bytes .NetRxBytes}}</b></div>
<div class="card">network out<b>{{bytes .NetTxBytes}}</b></div>
</div><p class="note">sampled {{when .At}} UTC</p>
{{else}}<p class="note" id="stats">no sample: {{.StatsNote}}</p>{{end}}

<h2>Health</h2>
{{with .Snap}}<table id="health"><tr><th>last event</th><td>{{.LastEventType}}</td></tr>
<tr><th>at</th><td>{{when .LastEventAt}}</td></tr>
<tr><th>consecutive failures</th><td>{{.ConsecutiveFailures}}</td></tr>
{{range $k, $v := .Details}}<tr><th>{{$k}}</th><td>{{$v}}</td></tr>{{end}}</table>
{{else}}<p class="note" id="health">no health event yet</p>{{end}}

<h2>Last {{len .Ops}} operations</h2>
<table id="operations"><thead><tr><th>started</th><th>kind</th><th>source</th><th>by</th><th>outcome</th><th>code</th><th>message</th></tr></thead><tbody>
{{range .Ops}}<tr><td>{{when .StartedAt}}</td><td>{{.OpKind}}</td><td>{{.OpSource}}</td><td><code>{{.SourceRef}}</code></td>
<td class="{{.Outcome}}">{{.Outcome}}</td><td>{{.ErrorCode}}</td><td>{{.ErrorMessage}}</td></tr>
{{else}}<tr><td colspan="7">none</td></tr>{{end}}</tbody></table>

<h2>Engine output (last 100 lines)</h2>
{{if .LogsNote}}<p class="note">{{.LogsNote}}</p>{{end}}
<pre id="logs">{{.Logs}}</pre>
<p><small>Generated {{when .Now}} UTC; refreshes every 10 s. Follow live with <code>rtmanager ctl logs -f {{.Rec.GameID}}</code>.</small></p>
</body></html>
`))

// humanBytes prints n in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func formatPercent(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + " %" }
