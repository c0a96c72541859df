package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
	"github.com/hashicorp/hcl/v2"
)

const fullConfig = `
server {
  listen             = "0.0.0.0:3001"
  token              = env("COMANDERA_TEST_TOKEN")
  public_paths       = ["/health"]
  data_dir           = "data"
  max_body           = "512KiB"
  backends           = ["https://API.example.com", "http://10.0.0.5:8000/hooks/"]
  idempotency_window = "1h"
  history_max_age    = "48h"
  history_max_jobs   = 500
  tls {
    cert = "tls/cert.pem"
    key  = "/etc/comandera/tls.key"
  }
}

printer "kitchen" {
  profile        = "epson-tm-t20iii"
  fallback       = "bar"
  failover_after = "30s"
  queue_limit    = 50
  ttl            = "10m"
  max_attempts   = 3
  retry_backoff  = "2s"
  retry_max      = "20s"
  fakeusb {
    device  = "/dev/usb/lp0"
    capture = "capture/kitchen"
  }
}

printer "bar" {
  profile = "star-tsp100"
  fakenet {
    address = "192.168.1.50:9100"
  }
}

printer "terrace" {
  profile = "my-clone"
  quirks  = ""
  fakeusb { device = "/dev/usb/lp1" }
}

profile "my-clone" {
  base     = "my-base"
  dots_per_line = 384
  quirks   = "clone"
}

profile "my-base" {
  base   = "generic-80mm"
  vendor = "Acme"
}

plugin "star" {
  path    = "plugins/comandera-star"
  sha256  = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"
  timeout = "2s"
}

plugin "clone" {
  path   = "/usr/lib/comandera/plugins/comandera-clone"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}

connector "mqtt" {
  broker    = "mqtts://broker.example.com:8883"
  client_id = "restaurant-12"
  username  = env("COMANDERA_TEST_MQTT_USER", "anonymous")
  password  = trimspace(file("secret.txt"))
  tls {
    ca   = "ca.pem"
    cert = "client.pem"
    key  = "client.key"
  }
}
`

func TestParseFull(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("  hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COMANDERA_TEST_TOKEN", "s3cret")
	unsetenv(t, "COMANDERA_TEST_MQTT_USER")
	file := filepath.Join(dir, "printers.hcl")
	if err := os.WriteFile(file, []byte(fullConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := config.Load(file)
	if diags.HasErrors() || len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", config.Format(diags))
	}
	if c.Filename != file || c.Dir != dir {
		t.Errorf("Filename, Dir = %q, %q", c.Filename, c.Dir)
	}

	s := c.Server
	if s.Listen != "0.0.0.0:3001" || s.Token != "s3cret" || s.Insecure {
		t.Errorf("listen/token/insecure = %q %q %v", s.Listen, s.Token, s.Insecure)
	}
	if !slices.Equal(s.PublicPaths, []string{"/health"}) {
		t.Errorf("PublicPaths = %q", s.PublicPaths)
	}
	if s.DataDir != filepath.Join(dir, "data") {
		t.Errorf("DataDir = %q, want it relative to the file", s.DataDir)
	}
	if s.MaxBody != 512<<10 {
		t.Errorf("MaxBody = %d", s.MaxBody)
	}
	var backends []string
	for _, b := range s.Backends {
		backends = append(backends, b.String())
	}
	if !slices.Equal(backends, []string{"https://api.example.com/", "http://10.0.0.5:8000/hooks/"}) {
		t.Errorf("Backends = %q", backends)
	}
	if s.CallbackSecret != "s3cret" {
		t.Errorf("CallbackSecret = %q, want the token", s.CallbackSecret)
	}
	if s.IdempotencyWindow != time.Hour || s.HistoryMaxAge != 48*time.Hour || s.HistoryMaxJobs != 500 {
		t.Errorf("idempotency/history = %v %v %d", s.IdempotencyWindow, s.HistoryMaxAge, s.HistoryMaxJobs)
	}
	if s.TLS == nil || s.TLS.Cert != filepath.Join(dir, "tls/cert.pem") || s.TLS.Key != "/etc/comandera/tls.key" {
		t.Errorf("TLS = %+v", s.TLS)
	}

	// Printers keep their declaration order; the first is the default.
	var names []string
	for _, p := range c.Printers {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"kitchen", "bar", "terrace"}) || c.DefaultPrinter().Name != "kitchen" {
		t.Fatalf("printers = %q", names)
	}
	k := c.Printer("kitchen")
	if k.Driver != "fakeusb" || k.Profile.Name != "epson-tm-t20iii" || k.Fallback != "bar" || k.FailoverAfter != 30*time.Second ||
		k.QueueLimit != 50 || k.TTL != 10*time.Minute || k.MaxAttempts != 3 || k.RetryBackoff != 2*time.Second || k.RetryMax != 20*time.Second || k.Quirks != "" {
		t.Errorf("kitchen = %+v", k)
	}
	kc, ok := k.DriverConfig.(*fakeUSBConfig)
	if !ok {
		t.Fatalf("kitchen DriverConfig = %T", k.DriverConfig)
	}
	if kc.Device != "/dev/usb/lp0" || kc.Capture != filepath.Join(dir, "capture/kitchen") {
		t.Errorf("kitchen driver config = %+v (ResolvePaths not applied?)", kc)
	}
	if kc.Profile != k.Profile || kc.Profile.Name != "epson-tm-t20iii" {
		t.Errorf("SetProfile not called with the printer's profile: %+v", kc.Profile)
	}
	if k.Range.Start.Line != 18 || k.DriverRange.Start.Line != 27 {
		t.Errorf("ranges = %v, %v", k.Range, k.DriverRange)
	}

	// Defaults fill what a printer leaves out; quirks come from the profile.
	b := c.Printer("bar")
	if b.Driver != "fakenet" || b.Quirks != "star" || b.Fallback != "" || b.QueueLimit != config.DefaultQueueLimit ||
		b.TTL != config.DefaultTTL || b.MaxAttempts != config.DefaultMaxAttempts || b.RetryBackoff != config.DefaultRetryBackoff ||
		b.RetryMax != config.DefaultRetryMax || b.FailoverAfter != config.DefaultFailoverAfter {
		t.Errorf("bar = %+v", b)
	}
	if bc := b.DriverConfig.(*fakeNetConfig); bc.Address != "192.168.1.50:9100" {
		t.Errorf("bar driver config = %+v", bc)
	}

	// Profiles defined in the file, in any order, on top of the built-ins;
	// quirks = "" turns the profile's plugin off.
	tr := c.Printer("terrace")
	if tr.Profile.Name != "my-clone" || tr.Profile.DotsPerLine != 384 || tr.Profile.Vendor != "Acme" || tr.Profile.Quirks != "clone" || tr.Quirks != "" {
		t.Errorf("terrace = %+v, profile %+v", tr, tr.Profile)
	}
	if _, err := c.Profiles.Lookup("generic-58mm"); err != nil {
		t.Error("built-in profiles lost:", err)
	}
	// Each printer has its own copy of its profile.
	tr.Profile.DotsPerLine = 1
	if c.Profiles["my-clone"].DotsPerLine != 384 {
		t.Error("printer profile shares memory with Config.Profiles")
	}

	st := c.Plugin("star")
	if st.Path != filepath.Join(dir, "plugins/comandera-star") || st.SHA256 != strings.ToLower("ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789") || st.Timeout != 2*time.Second {
		t.Errorf("star plugin = %+v", st)
	}
	if cl := c.Plugin("clone"); cl.Timeout != config.DefaultPluginTimeout || cl.Path != "/usr/lib/comandera/plugins/comandera-clone" {
		t.Errorf("clone plugin = %+v", cl)
	}
	if st.SHA256Range.Start.Line != 59 || st.SHA256Range.Start.Column != 13 {
		t.Errorf("SHA256Range = %v", st.SHA256Range)
	}

	m := c.MQTT
	if m == nil {
		t.Fatal("no MQTT connector")
	}
	if m.BrokerURL.Scheme != "mqtts" || m.BrokerURL.Host != "broker.example.com:8883" || m.ClientID != "restaurant-12" ||
		m.TopicPrefix != "comandera/restaurant-12" || m.Username != "anonymous" || m.Password != "hunter2" ||
		m.KeepAlive != config.DefaultKeepAlive || m.SessionExpiry != config.DefaultSessionExpiry {
		t.Errorf("mqtt = %+v", m)
	}
	if m.TLS == nil || m.TLS.CA != filepath.Join(dir, "ca.pem") || m.TLS.Cert != filepath.Join(dir, "client.pem") || m.TLS.Key != filepath.Join(dir, "client.key") {
		t.Errorf("mqtt tls = %+v", m.TLS)
	}
}

func TestDefaults(t *testing.T) {
	unsetenv(t, "PRINTER_SECRET")
	c, diags := config.Parse([]byte(`printer "only" {
  fakenet { address = "x" }
}
`), "/etc/comandera/printers.hcl")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", config.Format(diags))
	}
	s := c.Server
	if s.Listen != config.DefaultListen || s.Token != "" || s.DataDir != "/etc/comandera/comandera-data" || s.MaxBody != 4<<20 ||
		!slices.Equal(s.PublicPaths, []string{"/health", "/metrics"}) || len(s.Backends) != 0 || s.TLS != nil ||
		s.IdempotencyWindow != 24*time.Hour || s.HistoryMaxAge != 168*time.Hour || s.HistoryMaxJobs != 10000 {
		t.Errorf("server defaults = %+v", s)
	}
	p := c.DefaultPrinter()
	if p.Profile.Name != core.DefaultProfile {
		t.Errorf("default profile = %s", p.Profile.Name)
	}
	if c.MQTT != nil || len(c.Plugins) != 0 {
		t.Errorf("unexpected connector or plugins")
	}
}

// TestTokenFromEnvironment: without a token attribute, PRINTER_SECRET is the
// token, which lets a non-loopback listen through.
func TestTokenFromEnvironment(t *testing.T) {
	src := []byte(`server { listen = "0.0.0.0:3001" }
printer "a" {
  fakenet { address = "x" }
}
`)
	t.Setenv("PRINTER_SECRET", "from-env")
	c, diags := config.Parse(src, "printers.hcl")
	if diags.HasErrors() {
		t.Fatal(config.Format(diags))
	}
	if c.Server.Token != "from-env" || c.Server.CallbackSecret != "from-env" {
		t.Errorf("token = %q, callback secret = %q", c.Server.Token, c.Server.CallbackSecret)
	}
}

func TestListenAndAuth(t *testing.T) {
	unsetenv(t, "PRINTER_SECRET")
	for _, tc := range []struct {
		server string
		ok     bool
	}{
		{`listen = "127.0.0.1:3001"`, true},
		{`listen = "[::1]:3001"`, true},
		{`listen = "localhost:3001"`, true},
		{`listen = "127.0.0.1:0"`, true},
		{`listen = "0.0.0.0:3001"`, false},
		{`listen = ":3001"`, false},
		{`listen = "192.168.1.10:3001"`, false},
		{"listen = \"0.0.0.0:3001\"\n insecure = true", true},
		{"listen = \"0.0.0.0:3001\"\n token = \"t\"", true},
		{`listen = "127.0.0.1:70000"`, false},
		{`listen = "127.0.0.1:http"`, false},
	} {
		src := "server {\n" + tc.server + "\n}\nprinter \"a\" {\n fakenet { address = \"x\" }\n}\n"
		_, diags := config.Parse([]byte(src), "printers.hcl")
		if diags.HasErrors() == tc.ok {
			t.Errorf("%s: ok = %v, diagnostics:\n%s", tc.server, !diags.HasErrors(), config.Format(diags))
		}
	}
	// The server re-checks after overriding Listen with a flag.
	s := config.Server{Listen: "0.0.0.0:80"}
	if s.CheckAuth() == nil {
		t.Error("CheckAuth accepted a public listen without a token")
	}
	s.Token = "t"
	if err := s.CheckAuth(); err != nil {
		t.Error(err)
	}
}

func TestWarnings(t *testing.T) {
	unsetenv(t, "PRINTER_SECRET")
	c, diags := config.Parse([]byte(`server {
  backends = ["https://api.example.com/"]
}
printer "a" {
  failover_after = "1m"
  fakenet { address = "x" }
}
`), "printers.hcl")
	want := `printers.hcl:2:14: warning: Callbacks signed with an empty key; Neither callback_secret nor token is set, so backends cannot verify callbacks and events; set callback_secret.
printers.hcl:5:20: warning: failover_after without fallback; Printer "a" has no fallback, so failover_after has no effect.
`
	if got := config.Format(diags); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if c == nil || diags.HasErrors() {
		t.Error("warnings made the config fail")
	}
}

func TestCallbackAllowed(t *testing.T) {
	c, diags := config.Parse([]byte(`server {
  backends = ["https://api.example.com", "http://10.0.0.5:8000/hooks"]
  callback_secret = "k"
}
printer "a" {
  fakenet { address = "x" }
}
`), "printers.hcl")
	if diags.HasErrors() {
		t.Fatal(config.Format(diags))
	}
	for u, want := range map[string]bool{
		"https://api.example.com/":                   true,
		"https://api.example.com":                    true,
		"https://API.example.com/jobs/1?x=1":         true,
		"https://api.example.com.evil.net/":          false,
		"http://api.example.com/":                    false,
		"https://api.example.com:8443/":              false,
		"https://user@api.example.com/":              false,
		"http://10.0.0.5:8000/hooks/done":            true,
		"http://10.0.0.5:8000/hooks":                 false,
		"http://10.0.0.5:8000/hooksevil":             false,
		"http://10.0.0.5:8000/hooks/../admin":        false,
		"http://10.0.0.5:8000/hooks/%2e%2e/admin":    false,
		"http://10.0.0.5:8000/hooks/..%2fadmin":      false,
		"http://10.0.0.5:8000/hooks//x":              false,
		"http://10.0.0.6:8000/hooks/x":               false,
		"not a url at all":                           false,
		"mailto:someone@example.com":                 false,
		"http://10.0.0.5:8000/hooks/%E2%82%AC/order": true,
	} {
		if got := c.Server.CallbackAllowed(u); got != want {
			t.Errorf("CallbackAllowed(%q) = %v, want %v", u, got, want)
		}
	}
	var none config.Server
	if none.CallbackAllowed("https://api.example.com/") {
		t.Error("no backends must allow no callback")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "4MiB": 4 << 20, "4 MiB": 4 << 20, "4mib": 4 << 20, "512KiB": 512 << 10,
		"1MB": 1e6, "2GB": 2e9, "1GiB": 1 << 30, "10B": 10, "1kb": 1000,
	} {
		if got, err := config.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "4XB", "4 parsecs", "99999999999999999999", "9999999999GiB"} {
		if got, err := config.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormat(t *testing.T) {
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Bad", Detail: "Very\nbad.", Subject: &hcl.Range{Filename: "a.hcl", Start: hcl.Pos{Line: 3, Column: 5}}},
		{Severity: hcl.DiagWarning, Summary: "Meh", Subject: &hcl.Range{Filename: "a.hcl"}},
		{Severity: hcl.DiagError, Summary: "Nowhere", Detail: "no subject"},
	}
	want := "a.hcl:3:5: Bad; Very bad.\na.hcl: warning: Meh\nNowhere; no subject\n"
	if got := config.Format(diags); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.hcl")
	_, diags := config.Load(missing)
	if got, want := config.Format(diags), missing+": Cannot read configuration; open "+missing+": no such file or directory\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	big := filepath.Join(dir, "big.hcl")
	if err := os.WriteFile(big, make([]byte, config.MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, diags := config.Load(big); !diags.HasErrors() || !strings.Contains(diags[0].Detail, "larger than") {
		t.Errorf("big file: %v", diags)
	}
	if _, diags := config.Load(dir); !diags.HasErrors() || !strings.Contains(diags[0].Detail, "not a regular file") {
		t.Errorf("directory: %v", diags)
	}
	if _, diags := config.Parse(make([]byte, config.MaxFileSize+1), "x.hcl"); !diags.HasErrors() {
		t.Error("Parse accepted an oversized source")
	}
}
