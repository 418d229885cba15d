package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
)

// logsCmd runs `ctl logs [-f] [--tail N] [--timestamps] [--since T] <game>`:
// it copies the engine's output to w as it arrives, until the stream ends
// (with -f: the engine exits) or ctx ends (Ctrl-C).
func (c *client) logsCmd(ctx context.Context, args []string, w, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctl logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	follow := fs.Bool("f", false, "follow the output until the engine exits")
	fs.BoolVar(follow, "follow", false, "same as -f")
	tail := fs.String("tail", "200", `how many last lines ("all" for every line)`)
	ts := fs.Bool("timestamps", false, "prefix lines with their time")
	since := fs.String("since", "", "only lines written after this RFC 3339 time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("ctl logs: want exactly one game\n%s", ctlUsage)
	}
	q := url.Values{"tail": {*tail}}
	if *follow {
		q.Set("follow", "true")
	}
	if *ts {
		q.Set("timestamps", "true")
	}
	if *since != "" {
		q.Set("since", *since)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.base+"/runtimes/"+url.PathEscape(fs.Arg(0))+"/logs?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	c.authorize(req)
	// No client timeout: a follow lasts as long as the engine runs.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ctl: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("ctl logs: %w", err)
	}
	return nil
}

// authorize adds the bearer token, if any.
func (c *client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// apiError returns the API's error body of resp as "code: message".
func apiError(resp *http.Response) error {
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || body.Error.Code == "" {
		return fmt.Errorf("ctl: HTTP %d", resp.StatusCode)
	}
	return fmt.Errorf("%s: %s", body.Error.Code, body.Error.Message)
}

// statsCmd prints one resource sample of the game, as a table or JSON.
func (c *client) statsCmd(ctx context.Context, game string, asJSON bool, w io.Writer) error {
	out, err := c.do(ctx, http.MethodGet, "/runtimes/"+url.PathEscape(game)+"/stats", nil)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GAME\tCPU %\tMEMORY\tLIMIT\tPIDS\tNET RX\tNET TX\tAT")
	fmt.Fprintf(tw, "%v\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", out["game_id"], percent(out["cpu_percent"]),
		bytesOf(out["memory_bytes"]), bytesOf(out["memory_limit_bytes"]), figure(out["pids"]),
		bytesOf(out["net_rx_bytes"]), bytesOf(out["net_tx_bytes"]), out["at"])
	return tw.Flush()
}

// opsCmd prints the game's operation log, newest first, as a table or JSON.
func (c *client) opsCmd(ctx context.Context, game, limit string, asJSON bool, w io.Writer) error {
	path := "/runtimes/" + url.PathEscape(game) + "/operations"
	if limit != "" {
		path += "?limit=" + url.QueryEscape(limit)
	}
	out, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tKIND\tSOURCE\tBY\tOUTCOME\tCODE\tIMAGE\tMESSAGE")
	items, _ := out["items"].([]any)
	for _, it := range items {
		o, _ := it.(map[string]any)
		fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\t%v\t%v\t%v\n", o["started_at"], o["op_kind"], o["op_source"], o["source_ref"],
			o["outcome"], dash(o["error_code"]), dash(o["image_ref"]), dash(o["error_message"]))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// dash prints an empty value as "-".
func dash(v any) string {
	if s := fmt.Sprint(v); s != "" && v != nil {
		return s
	}
	return "-"
}

// figure prints a JSON number (or null as "-").
func figure(v any) string {
	f, ok := v.(float64)
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func percent(v any) string {
	f, ok := v.(float64)
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// bytesOf prints a byte count in binary units (or null as "-").
func bytesOf(v any) string {
	f, ok := v.(float64)
	if !ok {
		return "-"
	}
	const unit = 1024
	if f < unit {
		return fmt.Sprintf("%.0f B", f)
	}
	div, exp := float64(unit), 0
	for n := f / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", f/div, "KMGTP"[exp])
}
