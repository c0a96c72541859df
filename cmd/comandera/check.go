package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/comandera/comandera/config"
)

func init() {
	register(command{name: "check", summary: "check a running server: environment, connectivity, printers, MQTT connector, health (-full-test prints)", run: runCheck})
}

// Environment variables the backend's old `manage.py test_printer_connection`
// read, and `comandera check` reads the same way.
const (
	envHost   = "RPI4_HTTP_HOST"
	envPort   = "RPI4_HTTP_PORT"
	envSecret = "PRINTER_SECRET"
)

// runCheck is `comandera check [-full-test] [-url URL] [-token T]`.
func runCheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	full := fs.Bool("full-test", false, "also print a test page on every printer and wait until it is printed")
	rawURL := fs.String("url", "", "server `URL` (default http://$RPI4_HTTP_HOST:$RPI4_HTTP_PORT)")
	tok := fs.String("token", "", "bearer `token` (default $PRINTER_SECRET)")
	timeout := fs.Duration("timeout", time.Minute, "how long -full-test waits for each test page")
	caFile := fs.String("ca", "", "PEM `file` of the CA (or self-signed certificate) that signed the server's HTTPS certificate")
	cfgFile := fs.String("config", "", "check the local server this printers.hcl `file` configures: its listen address, its token, and its own TLS certificate (pinned)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: comandera check [-full-test] [-url URL] [-token T] [-ca FILE]
       comandera check -config /etc/comandera/printers.hcl [-full-test]

Checks a running comandera server the way the backend's
"manage.py test_printer_connection" did: the environment (RPI4_HTTP_HOST,
RPI4_HTTP_PORT, PRINTER_SECRET, or -url and -token), connectivity (hostname,
version), each printer's state, the MQTT connector's connection when the
server has one, and health. -full-test also prints a test
page on each printer and waits for it to be printed. Every line is ✅ or ❌
with the reason; the exit status is 1 if any line is ❌.

With -config, the server is the one that file configures on this machine:
the URL comes from its listen address (https when it has a tls block, whose
certificate must be the one the server presents), and the token from it
when neither -token nor PRINTER_SECRET is given.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if *caFile != "" {
		pool, err := caPool(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "comandera check: -ca: %v\n", err)
			return 2
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	if *cfgFile != "" {
		cfg, diags := config.Load(*cfgFile)
		if diags.HasErrors() {
			_ = config.WriteDiagnostics(stderr, diags)
			return 1
		}
		if *rawURL == "" {
			*rawURL = localURL(cfg.Server)
		}
		if *tok == "" && os.Getenv(envSecret) == "" {
			*tok = cfg.Server.Token
		}
		if cfg.Server.TLS != nil && *caFile == "" {
			pin, err := pinned(cfg.Server.TLS.Cert)
			if err != nil {
				fmt.Fprintf(stderr, "comandera check: %v\n", err)
				return 1
			}
			tr.TLSClientConfig = pin
		}
	}
	c := &checker{out: stdout, client: &http.Client{Timeout: 15 * time.Second, Transport: tr}}
	c.run(ctx, *rawURL, *tok, *full, *timeout)
	if c.failed > 0 {
		fmt.Fprintf(stdout, "\n%d %s failed.\n", c.failed, pluralWord(c.failed, "check", "checks"))
		return 1
	}
	fmt.Fprintln(stdout, "\nAll checks passed.")
	return 0
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

type checker struct {
	out    io.Writer
	client *http.Client
	base   string
	token  string
	failed int
}

func (c *checker) section(name string) { fmt.Fprintf(c.out, "\n%s\n", name) }

func (c *checker) ok(format string, args ...any) {
	fmt.Fprintf(c.out, "  ✅ %s\n", fmt.Sprintf(format, args...))
}

func (c *checker) bad(format string, args ...any) {
	fmt.Fprintf(c.out, "  ❌ %s\n", fmt.Sprintf(format, args...))
	c.failed++
}

// checkStatus is the part of GET /status the check reads.
type checkStatus struct {
	Hostname  string `json:"hostname"`
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Uptime    string `json:"uptime"`
	Printers  []struct {
		Name       string `json:"name"`
		Driver     string `json:"driver"`
		Profile    string `json:"profile"`
		State      string `json:"state"`
		QueueDepth int    `json:"queue_depth"`
		LastError  string `json:"last_error"`
	} `json:"printers"`
	Connectors map[string]checkConnector `json:"connectors"`
}

// checkConnector is a connector's entry in GET /status (server.ConnectorInfo).
type checkConnector struct {
	Broker        string `json:"broker"`
	ClientID      string `json:"client_id"`
	Protocol      string `json:"protocol"`
	Connected     bool   `json:"connected"`
	LastError     string `json:"last_error"`
	PendingEvents int    `json:"pending_events"`
	DroppedEvents uint64 `json:"dropped_events"`
}

type checkHealth struct {
	Status        *string `json:"status"`
	Message       *string `json:"message"`
	Timestamp     *string `json:"timestamp"`
	ActivePorts   *int    `json:"active_ports"`
	TotalPrinters *int    `json:"total_printers"`
}

type checkJob struct {
	ID        string `json:"job_id"`
	State     string `json:"state"`
	LastError string `json:"last_error"`
	Attempts  int    `json:"attempts"`
}

func (c *checker) run(ctx context.Context, rawURL, tok string, full bool, timeout time.Duration) {
	c.section("Environment")
	if !c.environment(rawURL, tok) {
		c.section("Connectivity")
		c.bad("skipped: no server address")
		return
	}

	c.section("Connectivity")
	start := time.Now()
	var h checkHealth
	st, body, err := c.call(ctx, "GET", "/health", nil, false, &h)
	if err != nil {
		c.bad("cannot reach %s: %v (is `comandera serve` running, listening on that address, and the port forwarded?)", c.base, err)
		return
	}
	if st != http.StatusOK && st != http.StatusServiceUnavailable {
		c.bad("GET %s/health answered %d: %s", c.base, st, snippet(body))
		return
	}
	c.ok("reached %s (GET /health answered in %s)", c.base, time.Since(start).Round(time.Millisecond))
	var s checkStatus
	st, body, err = c.call(ctx, "GET", "/status", nil, true, &s)
	switch {
	case err != nil:
		c.bad("GET /status: %v", err)
		return
	case st == http.StatusUnauthorized && c.token == "":
		c.bad("the server wants a token (401): set %s or pass -token", envSecret)
		return
	case st == http.StatusUnauthorized:
		c.bad("the token was refused (401): %s is not the server's token", envSecret)
		return
	case st != http.StatusOK:
		c.bad("GET /status answered %d: %s", st, apiMessage(body))
		return
	}
	if c.token != "" {
		c.ok("token accepted")
	}
	c.ok("hostname: %s", s.Hostname)
	c.ok("version: comandera %s (%s), up %s", s.Version, s.GoVersion, s.Uptime)

	c.section("Printers")
	if len(s.Printers) == 0 {
		c.bad("no printers configured")
	}
	for _, p := range s.Printers {
		desc := fmt.Sprintf("%s (%s, %s), %d waiting", p.Name, p.Driver, p.Profile, p.QueueDepth)
		switch p.State {
		case "online":
			c.ok("%s: online", desc)
		case "unknown":
			c.ok("%s: state unknown (the connection cannot report it; jobs are sent anyway)", desc)
		default:
			reason := strings.ReplaceAll(p.State, "_", " ")
			if p.LastError != "" {
				reason += ": " + p.LastError
			}
			c.bad("%s: %s", desc, reason)
		}
	}

	if len(s.Connectors) > 0 {
		c.section("Connectors")
		names := make([]string, 0, len(s.Connectors))
		for name := range s.Connectors {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			c.connector(name, s.Connectors[name])
		}
	}

	c.section("Health")
	missing := []string{}
	if h.Status == nil {
		missing = append(missing, "status")
	}
	if h.Message == nil {
		missing = append(missing, "message")
	}
	if h.Timestamp == nil {
		missing = append(missing, "timestamp")
	}
	if h.ActivePorts == nil {
		missing = append(missing, "active_ports")
	}
	if h.TotalPrinters == nil {
		missing = append(missing, "total_printers")
	}
	if len(missing) > 0 {
		c.bad("/health lacks %s", strings.Join(missing, ", "))
	} else {
		summary := fmt.Sprintf("%s (%d of %d printers active)", *h.Message, *h.ActivePorts, *h.TotalPrinters)
		if *h.Status == "healthy" {
			c.ok("healthy: %s", summary)
		} else {
			c.bad("%s: %s", *h.Status, summary)
		}
	}

	if !full {
		return
	}
	c.section("Test pages")
	for _, p := range s.Printers {
		start := time.Now()
		wait := strconv.Itoa(int(max(timeout, time.Second)/time.Second)) + "s"
		var j checkJob
		c.client.Timeout = timeout + 15*time.Second
		st, body, err := c.call(ctx, "POST", "/test?wait="+url.QueryEscape(wait), map[string]string{"printer": p.Name}, true, &j)
		switch {
		case err != nil:
			c.bad("%s: %v", p.Name, err)
		case st != http.StatusOK && st != http.StatusAccepted:
			c.bad("%s: POST /test answered %d: %s", p.Name, st, apiMessage(body))
		case j.State == "printed":
			c.ok("%s: test page printed (job %s, %s)", p.Name, j.ID, time.Since(start).Round(time.Millisecond))
		case j.State == "queued" || j.State == "printing":
			reason := "still " + j.State + " after " + timeout.String()
			if j.LastError != "" {
				reason += ": " + j.LastError
			} else if why := c.printerProblem(ctx, p.Name); why != "" {
				reason += ": the printer is " + why
			}
			c.bad("%s: test page %s (job %s)", p.Name, reason, j.ID)
		default:
			c.bad("%s: test page %s (job %s): %s", p.Name, j.State, j.ID, j.LastError)
		}
	}
}

// connector reports one connector: ✅ connected, or ❌ with the reason.
func (c *checker) connector(name string, k checkConnector) {
	to := k.Broker
	if k.ClientID != "" {
		to += " as " + k.ClientID
	}
	var waiting string
	switch k.PendingEvents {
	case 0:
		waiting = "no events waiting"
	case 1:
		waiting = "1 event waiting to be published"
	default:
		waiting = fmt.Sprintf("%d events waiting to be published", k.PendingEvents)
	}
	if k.DroppedEvents > 0 {
		waiting += fmt.Sprintf("; %d dropped undelivered since the start, beyond the event sink's bounds", k.DroppedEvents)
	}
	if k.Connected {
		if k.Protocol == "3.1.1" { // the broker refused MQTT 5, or the configuration says so
			to += " over MQTT 3.1.1"
		}
		c.ok("%s: connected to %s (%s)", name, to, waiting)
		return
	}
	reason := k.LastError
	if reason == "" {
		reason = "no reason given"
	}
	c.bad("%s: not connected to %s: %s (%s)", name, to, reason, waiting)
}

// printerProblem reads a printer's state again, for a test page that did
// not print: "" when it looks fine.
func (c *checker) printerProblem(ctx context.Context, name string) string {
	var s checkStatus
	if st, _, err := c.call(ctx, "GET", "/status", nil, true, &s); err != nil || st != http.StatusOK {
		return ""
	}
	for _, p := range s.Printers {
		if p.Name == name && p.State != "online" && p.State != "unknown" {
			why := strings.ReplaceAll(p.State, "_", " ")
			if p.LastError != "" {
				why += " (" + p.LastError + ")"
			}
			return why
		}
	}
	return ""
}

// environment works out the server's URL and token, reporting each.
func (c *checker) environment(rawURL, tok string) bool {
	good := true
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.bad("-url %q: want http://HOST:PORT or https://HOST:PORT", rawURL)
			return false
		}
		c.base = strings.TrimSuffix(u.String(), "/")
		c.ok("server URL %s (from -url)", c.base)
	} else {
		host := strings.TrimSpace(os.Getenv(envHost))
		port := strings.TrimSpace(os.Getenv(envPort))
		switch {
		case host == "":
			c.bad("%s is not set: export the print server's address (e.g. %s=192.168.1.50) or pass -url", envHost, envHost)
			good = false
		default:
			c.ok("%s = %s", envHost, host)
		}
		switch {
		case port == "":
			port = "3001"
			c.ok("%s is not set: using the default port 3001", envPort)
		default:
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				c.bad("%s = %q: want a port number from 1 to 65535", envPort, port)
				good = false
			} else {
				c.ok("%s = %s", envPort, port)
			}
		}
		if good {
			if strings.Contains(host, "://") {
				u, err := url.Parse(host)
				if err != nil || u.Host == "" {
					c.bad("%s = %q is not an address", envHost, host)
					return false
				}
				if u.Port() == "" {
					u.Host = net.JoinHostPort(u.Hostname(), port)
				}
				c.base = strings.TrimSuffix(u.String(), "/")
			} else {
				c.base = "http://" + net.JoinHostPort(strings.Trim(host, "[]"), port)
			}
			c.ok("server URL %s", c.base)
		}
	}
	c.token = tok
	switch {
	case tok != "":
		c.ok("token given with -token (%d characters)", len(tok))
	case os.Getenv(envSecret) != "":
		c.token = os.Getenv(envSecret)
		c.ok("%s is set (%d characters)", envSecret, len(c.token))
	default:
		c.ok("%s is not set: checking without a token (works only if the server has none)", envSecret)
	}
	return good
}

// call sends a request and decodes a JSON answer into out.
func (c *checker) call(ctx context.Context, method, path string, body any, auth bool, out any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, b, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, b, fmt.Errorf("%s %s: the answer is not the JSON expected (%v): %s", method, path, err, snippet(b))
		}
	}
	return resp.StatusCode, b, nil
}

// apiMessage is the message of an API error body, or a snippet of it.
func apiMessage(b []byte) string {
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return snippet(b)
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// caPool is the system's roots plus the PEM certificates in file.
func caPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// localURL is where a server with this server block answers on this
// machine: a wildcard listen address is reached on loopback.
func localURL(s config.Server) string {
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		host, port = "127.0.0.1", "3001"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if s.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// pinned trusts exactly the certificate in certFile (the server's own, from
// its configuration), whatever names it carries: checking the local server
// through 127.0.0.1 must not depend on the certificate naming that address.
func pinned(certFile string) (*tls.Config, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("the server's TLS certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", certFile)
	}
	want := block.Bytes
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return fmt.Errorf("the server's certificate is not the one in %s", certFile)
			}
			return nil
		},
	}, nil
}
