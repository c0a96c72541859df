package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
)

// unsetenv unsets an environment variable for the test's duration.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // registers the restore
	os.Unsetenv(name)
}

// TestParseErrors checks, for broken configurations, every diagnostic with
// its exact file:line:col and message, all reported in one pass.
func TestParseErrors(t *testing.T) {
	unsetenv(t, "PRINTER_SECRET")
	unsetenv(t, "COMANDERA_TEST_UNSET")
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "syntax error",
			src: `printer "a" {
  fakenet { address = "x"
}
`,
			want: []string{
				`printers.hcl:2:26: Invalid single-argument block definition; An argument definition on the same line as its containing block creates a single-line block definition, which must also be closed on the same line. Place the block's closing brace immediately after the argument definition.`,
			},
		},
		{
			name: "loops",
			src: `server {
  public_paths = [for p in ["health", "metrics"]: "/${p}"]
  token        = "%{ for x in ["a", "b"] }${x}%{ endfor }"
}
`,
			want: []string{
				`printers.hcl:2:18: Unsupported expression; for expressions and %{ for } directives are not supported in printers.hcl; write the values out.`,
				`printers.hcl:3:19: Unsupported expression; for expressions and %{ for } directives are not supported in printers.hcl; write the values out.`,
			},
		},
		{
			name: "no printers",
			src:  `server {}` + "\n",
			want: []string{
				`printers.hcl:1:1: No printers; Declare at least one printer "NAME" { … } block with a driver block in it.`,
			},
		},
		{
			name: "duplicates",
			src: `server {}
server {}
printer "a" {
  fakenet { address = "x" }
}
printer "a" {
  fakenet { address = "y" }
}
plugin "p" {
  path   = "/p"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}
plugin "p" {
  path   = "/q"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}
profile "x" { base = "generic-58mm" }
profile "x" { base = "generic-80mm" }
connector "mqtt" {
  broker    = "mqtt://127.0.0.1"
  client_id = "a"
}
connector "mqtt" {
  broker    = "mqtt://127.0.0.1"
  client_id = "b"
}
`,
			want: []string{
				`printers.hcl:2:1: Duplicate server block; The server block is already at printers.hcl:1:1; there is only one.`,
				`printers.hcl:6:1: Duplicate printer; A printer "a" is already declared at printers.hcl:3:1.`,
				`printers.hcl:13:1: Duplicate plugin; A plugin "p" is already declared at printers.hcl:9:1.`,
				`printers.hcl:18:1: Duplicate profile; A profile "x" is already defined at printers.hcl:17:1.`,
				`printers.hcl:23:1: Duplicate connector; A connector "mqtt" is already declared at printers.hcl:19:1.`,
			},
		},
		{
			name: "driver blocks",
			src: `printer "none" {
  profile = "generic-80mm"
}
printer "two" {
  fakenet { address = "x" }
  fakeusb { device = "/dev/usb/lp0" }
}
printer "typo" {
  fakeusd { device = "/dev/usb/lp0" }
}
printer "unregistered" {
  laserjet { device = "/dev/usb/lp0" }
}
printer "off" {
  fakeoff { address = "x" }
}
printer "labelled" {
  fakenet "x" { address = "x" }
}
printer "badconfig" {
  fakebad { address = "x" }
}
printer "schema" {
  fakenet {
    adress  = "x"
    timeout = 5
  }
}
printer "invalid" {
  fakeusb { device = "lp0" }
}
printer "attribute" {
  fakenet = { address = "x" }
}
`,
			want: []string{
				`printers.hcl:1:1: Missing driver block; Printer "none" needs exactly one driver block; registered drivers: {drivers}.`,
				`printers.hcl:6:3: Duplicate driver block; Printer "two" already has a fakenet block at printers.hcl:5:3; a printer has exactly one driver block.`,
				`printers.hcl:9:3: unknown driver "fakeusd" (forgotten import?); Did you mean "fakeusb"? Registered drivers: {drivers}.`,
				`printers.hcl:12:3: unknown driver "laserjet" (forgotten import?); Registered drivers: {drivers}.`,
				`printers.hcl:15:3: Driver "fakeoff" is not available; fakeoff needs Plan 9`,
				`printers.hcl:18:11: Extraneous label for fakenet; No labels are expected for fakenet blocks.`,
				`printers.hcl:21:3: Driver error; The fakebad driver's Config() returned config_test.fakeNetConfig, not a pointer to a struct (a bug in the driver).`,
				`printers.hcl:24:11: Missing required argument; The argument "address" is required, but no definition was found.`,
				`printers.hcl:25:5: Unsupported argument; An argument named "adress" is not expected here. Did you mean "address"?`,
				`printers.hcl:30:3: Invalid fakeusb block; device lp0 is not under /dev`,
				`printers.hcl:32:1: Missing driver block; Printer "attribute" needs exactly one driver block; registered drivers: {drivers}.`,
				`printers.hcl:33:3: Unsupported argument; An argument named "fakenet" is not expected here. Did you mean to define a block of type "fakenet"?`,
			},
		},
		{
			name: "fallbacks",
			src: `printer "a" {
  fallback = "b"
  fakenet { address = "x" }
}
printer "b" {
  fallback = "c"
  fakenet { address = "x" }
}
printer "c" {
  fallback = "a"
  fakenet { address = "x" }
}
printer "self" {
  fallback = "self"
  fakenet { address = "x" }
}
printer "lost" {
  fallback = "nowhere"
  fakenet { address = "x" }
}
printer "chain" {
  fallback = "a"
  fakenet { address = "x" }
}
`,
			want: []string{
				`printers.hcl:2:14: Fallback cycle; Printers fall back to each other in a circle: a → b → c → a.`,
				`printers.hcl:14:14: Invalid fallback; Printer "self" cannot fall back to itself.`,
				`printers.hcl:18:14: Unknown fallback printer; Printer "lost" falls back to "nowhere", which is not declared. Declared printers: a, b, c, chain, lost, self.`,
			},
		},
		{
			name: "profiles and quirks",
			src: `printer "a" {
  profile = "epson-tm-t21"
  fakenet { address = "x" }
}
printer "b" {
  quirks = "clone"
  fakenet { address = "x" }
}
printer "c" {
  profile = "star-tsp100"
  fakenet { address = "x" }
}
printer "d" {
  profile = "loop1"
  fakenet { address = "x" }
}
printer "e" {
  profile = "broken"
  fakenet { address = "x" }
}
profile "loop1" { base = "loop2" }
profile "loop2" { base = "loop1" }
profile "broken" {
  base          = "generic-58mm"
  dots_per_line = 10
}
profile "orphan" { base = "nope" }
`,
			want: []string{
				`printers.hcl:2:13: Unknown profile; Printer "a" uses profile "epson-tm-t21", which is neither built in nor defined by a profile block. Known profiles: {profiles}.`,
				`printers.hcl:6:12: Undeclared plugin; Printer "b" uses the quirks plugin "clone", but no plugin "clone" block declares it; add plugin "clone" { path = "…" sha256 = "…" }.`,
				`printers.hcl:10:13: Undeclared plugin; Profile "star-tsp100" needs the quirks plugin "star", but no plugin "star" block declares it; add plugin "star" { path = "…" sha256 = "…" } (or set quirks = "" on printer "c" to send its jobs without the plugin).`,
				`printers.hcl:22:26: Profile cycle; Profiles are based on each other in a circle: loop1 → loop2 → loop1.`,
				`printers.hcl:23:1: Invalid profile; Profile "broken": dots_per_line 10: want 96 to 4096.`,
				`printers.hcl:27:27: Unknown base profile; Profile "orphan" is based on "nope", which is not defined (known: {profiles}).`,
			},
		},
		{
			name: "values",
			src: `server {
  listen             = "localhost"
  max_body           = "4 parsecs"
  idempotency_window = "1 day"
  history_max_age    = "-1h"
  history_max_jobs   = 0
  public_paths       = ["/health", "metrics"]
  backends           = ["https://api.example.com/", "ftp://files.example.com/", "https://user:pw@api.example.com/", "https:///nohost"]
  callback_secret    = "s"
}
printer "a" {
  failover_after = "soon"
  fallback       = "b"
  queue_limit    = 0
  ttl            = "30"
  max_attempts   = 1001
  retry_backoff  = "10s"
  retry_max      = "1s"
  fakenet { address = "x" }
}
printer "b" {
  name = "b"
  fakenet { address = "x" }
}
plugin "p" {
  path    = ""
  sha256  = "abc"
  timeout = "0s"
}
plugin "bad name" {
  path   = "/p"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}
connector "mqtt" {
  broker         = "http://broker.example.com"
  client_id      = ""
  topic_prefix   = "comandera/#"
  keepalive      = "1.5s"
  session_expiry = "-1s"
  protocol       = "3"
  tls {
    cert = "client.pem"
  }
}
connector "amqp" {}
`,
			want: []string{
				`printers.hcl:2:24: Invalid listen address; "localhost" is not a listen address; want host:port, like "127.0.0.1:3001", "0.0.0.0:3001" or "[::1]:3001".`,
				`printers.hcl:3:24: Invalid size; "4 parsecs" is not a size; want a whole number of bytes with an optional unit, like "4MiB", "512KiB" or "1MB".`,
				`printers.hcl:4:24: Invalid duration; "1 day" is not a duration; want a number with a unit, like "30s", "2m" or "24h".`,
				`printers.hcl:5:24: Invalid duration; "-1h": the duration must be positive.`,
				`printers.hcl:6:24: Invalid history_max_jobs; 0: want 1 to 100000000.`,
				`printers.hcl:7:36: Invalid public path; "metrics": a public path is a URL path like "/health".`,
				`printers.hcl:8:53: Invalid backend URL; "ftp://files.example.com/": a backend must be an http:// or https:// URL.`,
				`printers.hcl:8:81: Invalid backend URL; "https://user:pw@api.example.com/": a backend is a scheme, host and path prefix, without user info, query or fragment.`,
				`printers.hcl:8:117: Invalid backend URL; "https:///nohost": the URL has no host.`,
				`printers.hcl:12:20: Invalid duration; "soon" is not a duration; want a number with a unit, like "30s", "2m" or "24h".`,
				`printers.hcl:14:20: Invalid queue_limit; 0: want 1 to 1000000.`,
				`printers.hcl:15:20: Invalid duration; "30" is not a duration; want a number with a unit, like "30s", "2m" or "24h".`,
				`printers.hcl:16:20: Invalid max_attempts; 1001: want 1 to 1000.`,
				`printers.hcl:18:20: Invalid retry delays; retry_max (1s) is shorter than retry_backoff (10s).`,
				`printers.hcl:22:3: Unsupported argument; An argument named "name" is not expected here.`,
				`printers.hcl:26:13: Invalid plugin path; The path of the plugin binary is empty.`,
				`printers.hcl:27:13: Invalid sha256; "abc" is not a SHA-256 checksum: want 64 hex digits, as ` + "`sha256sum PLUGIN`" + ` prints.`,
				`printers.hcl:28:13: Invalid duration; "0s": the duration must be positive.`,
				`printers.hcl:30:8: Invalid plugin name; plugin name "bad name": want 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit.`,
				`printers.hcl:35:20: Invalid broker URL; "http://broker.example.com": the broker scheme must be mqtt://, mqtts://, tls://, ws:// or wss://.`,
				`printers.hcl:36:20: Invalid client_id; The client ID is empty; give each box its own, like "restaurant-12".`,
				`printers.hcl:37:20: Invalid topic_prefix; "comandera/#": a topic prefix cannot contain the wildcards + or # (or NUL).`,
				`printers.hcl:38:20: Invalid keepalive; 1.5s: want whole seconds from 1s to 65535s.`,
				`printers.hcl:39:20: Invalid duration; "-1s": the duration cannot be negative.`,
				`printers.hcl:40:20: Invalid protocol; "3": want "auto" (MQTT 5, or 3.1.1 when the broker refuses 5), "5" or "3.1.1".`,
				`printers.hcl:42:12: Incomplete client certificate; A client certificate needs both cert and key.`,
				`printers.hcl:45:11: Unknown connector; There is no connector "amqp"; the connector is "mqtt".`,
			},
		},
		{
			name: "token",
			src: `server {
  listen = "0.0.0.0:3001"
}
printer "a" {
  fakenet { address = "x" }
}
`,
			want: []string{
				`printers.hcl:2:12: Listening on the network without a token; listening on 0.0.0.0:3001 (not loopback) without a token would let anyone who can reach it print; set token (token = env("PRINTER_SECRET")) or, on a trusted network, insecure = true.`,
			},
		},
		{
			name: "tls on a plain broker",
			src: `printer "a" {
  fakenet { address = "x" }
}
connector "mqtt" {
  broker    = "mqtt://broker.example.com:1883"
  client_id = "box"
  tls {
    ca = "ca.pem"
  }
}
`,
			want: []string{
				`printers.hcl:7:3: TLS block on a plain broker; The broker URL "mqtt://broker.example.com:1883" does not use TLS; use mqtts://, tls:// or wss://, or remove the tls block.`,
			},
		},
		{
			name: "unknown blocks and functions",
			src: `sever {}
printer "a" {
  profile = envv("X")
  fakenet { address = env("COMANDERA_TEST_UNSET") }
}
printer "b" {
  fakenet { address = env() }
}
printer "c" {
  fakenet { address = env("A", "b", "c") }
}
printer "d" {
  fakenet { address = file("does-not-exist") }
}
printer "e" {
  fakenet { address = var.x }
}
`,
			want: []string{
				`printers.hcl:1:1: Unsupported block type; Blocks of type "sever" are not expected here. Did you mean "server"?`,
				`printers.hcl:3:13: Call to unknown function; There is no function named "envv". Did you mean "env"?`,
				`printers.hcl:4:23: Error in function call; Call to function "env" failed: environment variable COMANDERA_TEST_UNSET is not set; set it, or give a default: env("COMANDERA_TEST_UNSET", "").`,
				`printers.hcl:7:27: Not enough function arguments; Function "env" expects at least 1 argument(s). Missing value for "name".`,
				`printers.hcl:10:38: Invalid function argument; Invalid value for "default" parameter: env takes a name and at most one default.`,
				`printers.hcl:13:23: Error in function call; Call to function "file" failed: open does-not-exist: no such file or directory.`,
				`printers.hcl:16:23: Variables not allowed; Variables may not be used here.`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := config.Parse([]byte(tc.src), "printers.hcl")
			got := strings.Split(strings.TrimSuffix(config.Format(diags), "\n"), "\n")
			// Real drivers linked into the test binary are listed too, and the
			// built-in profiles grow.
			for i := range tc.want {
				tc.want[i] = strings.ReplaceAll(tc.want[i], "{drivers}", strings.Join(core.Drivers(), ", "))
				tc.want[i] = strings.ReplaceAll(tc.want[i], "{profiles}", strings.Join(core.Builtin().Names(), ", "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if c != nil {
				t.Errorf("Parse returned a config along with errors")
			}
			if !diags.HasErrors() {
				t.Errorf("no errors")
			}
		})
	}
}
