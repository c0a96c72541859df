package config_test

import (
	"strings"
	"testing"

	"github.com/comandera/comandera"
	"github.com/comandera/comandera/config"
)

// FuzzParse feeds arbitrary bytes to Parse: it must not panic or hang, must
// return a config exactly when there is no error, and every diagnostic must
// render on one line.
//
//	go test ./config -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	f.Add(comandera.DefaultConfig)
	f.Add([]byte(fullConfig))
	f.Add([]byte(`printer "a" { fakenet { address = env("X", "y") } }`))
	f.Add([]byte(`printer "a" {
  fallback = "b"
  quirks = "q"
  fakeusb { device = "/dev/usb/lp0" }
}
printer "b" {
  fallback = "a"
  profile = "p"
  fakeoff { address = file("x") }
}
profile "p" { base = "p2" }
profile "p2" { base = "p" }
plugin "q" {
  path = "x"
  sha256 = "zz"
}
connector "mqtt" {
  broker = "wss://h:99999"
  client_id = "c"
  tls { key = "k" }
}
server {
  listen = "[::]:1"
  backends = ["https://x/..", "http://y"]
  max_body = "1GiB"
}
`))
	f.Add([]byte(`server { public_paths = [for p in ["a"]: "/${p}"] }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, diags := config.Parse(src, "fuzz.hcl")
		if diags.HasErrors() != (c == nil) {
			t.Fatalf("errors = %v but config = %v", diags.HasErrors(), c)
		}
		for _, d := range diags {
			if line := config.FormatDiagnostic(d); strings.ContainsAny(line, "\n\r") {
				t.Fatalf("diagnostic on several lines: %q", line)
			}
		}
		if c == nil {
			return
		}
		if len(c.Printers) == 0 {
			t.Fatal("a valid config without printers")
		}
		for _, p := range c.Printers {
			if p.DriverConfig == nil || p.Profile == nil || p.Driver == "" {
				t.Fatalf("printer %s half decoded: %+v", p.Name, p)
			}
			if p.Fallback != "" && c.Printer(p.Fallback) == nil {
				t.Fatalf("printer %s falls back to undeclared %s", p.Name, p.Fallback)
			}
		}
		if err := c.Server.CheckAuth(); err != nil {
			t.Fatalf("valid config fails CheckAuth: %v", err)
		}
	})
}
