package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const ctlUsage = `usage: rtmanager ctl [--addr host:port] [--admin user] [-o table|json] <command> [args]

commands:
  list [status]                 list runtimes (optionally only running|stopped|removed|starting)
  get <game>                    show one runtime
  ops <game> [limit]            show its operation log, newest first (a table; -o json)
  health <game>                 show its health snapshot
  logs [-f] [--tail N|all] [--timestamps] [--since T] <game>
                                print the engine's output (-f: follow until it exits)
  stats <game>                  show its resource use (a table; -o json)
  start <game> <image> [K=V...] start a game with optional env
  stop <game> [reason]          stop it (reason default admin_request)
  restart <game>                restart it
  patch <game> <image>          move it to another image
  cleanup <game>                remove the container of a stopped game
  pull <image>                  pre-pull an image (allow-list applies)

The address defaults to RTMANAGER_HTTP_ADDR (127.0.0.1:8080; a wildcard
host such as 0.0.0.0 means loopback), the token to RTMANAGER_API_TOKEN. A
host name other than a loopback one must be in the server's
RTMANAGER_ALLOWED_HOSTS. Operations are sent as an admin (X-Admin-User,
default $USER), so the audit log shows op_source=admin and who acted; the
server honours that only with a token or from a loopback connection.`

// ctl is the operator CLI: a thin client of the REST API.
func ctl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, ctlUsage) }
	addr := fs.String("addr", envOr("RTMANAGER_HTTP_ADDR", "127.0.0.1:8080"), "rtmanager address")
	admin := fs.String("admin", envOr("USER", "operator"), "admin user recorded in the audit log")
	output := fs.String("o", "table", "output of list-like commands: table or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return fmt.Errorf("ctl: -o %q must be table or json", *output)
	}
	asJSON := *output == "json"
	c := &client{base: "http://" + dialAddr(*addr) + "/api/v1/internal", token: os.Getenv("RTMANAGER_API_TOKEN"), admin: *admin,
		http: &http.Client{Timeout: 5 * time.Minute}}
	a := fs.Args()
	need := func(n int) error {
		if len(a) < n+1 {
			return fmt.Errorf("ctl %s: missing arguments\n%s", a[0], ctlUsage)
		}
		return nil
	}
	if len(a) == 0 {
		return errors.New(ctlUsage)
	}
	game := func() string { return url.PathEscape(a[1]) }
	switch a[0] {
	case "list":
		q := url.Values{"limit": {"1000"}}
		if len(a) > 1 {
			q.Set("status", a[1])
		}
		return c.list(ctx, q, stdout)
	case "logs":
		return c.logsCmd(ctx, a[1:], stdout, stderr)
	case "stats":
		if err := need(1); err != nil {
			return err
		}
		return c.statsCmd(ctx, a[1], asJSON, stdout)
	case "ops":
		if err := need(1); err != nil {
			return err
		}
		limit := ""
		if len(a) > 2 {
			limit = a[2]
		}
		return c.opsCmd(ctx, a[1], limit, asJSON, stdout)
	case "get", "health":
		if err := need(1); err != nil {
			return err
		}
		path := "/runtimes/" + game()
		switch a[0] {
		case "health":
			path += "/health"
		}
		return c.show(ctx, http.MethodGet, path, nil, stdout)
	case "start":
		if err := need(2); err != nil {
			return err
		}
		env := map[string]string{}
		for _, kv := range a[3:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("ctl start: env %q must be KEY=VALUE", kv)
			}
			env[k] = v
		}
		return c.show(ctx, http.MethodPost, "/runtimes/"+game()+"/start", map[string]any{"image_ref": a[2], "env": env}, stdout)
	case "stop":
		if err := need(1); err != nil {
			return err
		}
		reason := "admin_request"
		if len(a) > 2 {
			reason = a[2]
		}
		return c.show(ctx, http.MethodPost, "/runtimes/"+game()+"/stop", map[string]any{"reason": reason}, stdout)
	case "restart":
		if err := need(1); err != nil {
			return err
		}
		return c.show(ctx, http.MethodPost, "/runtimes/"+game()+"/restart", map[string]any{}, stdout)
	case "patch":
		if err := need(2); err != nil {
			return err
		}
		return c.show(ctx, http.MethodPost, "/runtimes/"+game()+"/patch", map[string]any{"image_ref": a[2]}, stdout)
	case "cleanup":
		if err := need(1); err != nil {
			return err
		}
		return c.show(ctx, http.MethodDelete, "/runtimes/"+game(), nil, stdout)
	case "pull":
		if err := need(1); err != nil {
			return err
		}
		return c.show(ctx, http.MethodPost, "/images/pull", map[string]any{"image_ref": a[1]}, stdout)
	}
	return fmt.Errorf("ctl: unknown command %q\n%s", a[0], ctlUsage)
}

// dialAddr returns the address ctl connects to for a listen address: a
// wildcard host (0.0.0.0, ::, or none) means this machine's loopback, which
// is also a Host the API always serves.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		return net.JoinHostPort("127.0.0.1", port)
	case "::":
		return net.JoinHostPort("::1", port)
	}
	return addr
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type client struct {
	base, token, admin string
	http               *http.Client
}

// do sends one request and returns the decoded body, or an error carrying
// the API's error code and message.
func (c *client) do(ctx context.Context, method, path string, body any) (map[string]any, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil || method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if method != http.MethodGet && c.admin != "" {
		req.Header.Set("X-Admin-User", c.admin)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ctl: %w", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("ctl: HTTP %d with an unreadable body: %w", resp.StatusCode, err)
	}
	if e, ok := out["error"].(map[string]any); ok {
		return out, fmt.Errorf("%v: %v", e["code"], e["message"])
	}
	return out, nil
}

func (c *client) show(ctx context.Context, method, path string, body any, w io.Writer) error {
	out, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (c *client) list(ctx context.Context, q url.Values, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GAME\tSTATUS\tGEN\tIMAGE\tENDPOINT\tLAST OP")
	for {
		out, err := c.do(ctx, http.MethodGet, "/runtimes?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		items, _ := out["items"].([]any)
		for _, it := range items {
			r, _ := it.(map[string]any)
			fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\t%v\n", r["game_id"], r["status"], r["generation"], r["image_ref"], r["endpoint"], r["last_op_at"])
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			return tw.Flush()
		}
		q.Set("cursor", next)
	}
}
