// Package config loads printers.hcl, Comandera's configuration file: the
// server block, the printers and their drivers, extra printer profiles,
// quirks plugins and the MQTT connector.
//
// Decoding happens in two phases, as in Packer and Waypoint: the outer blocks
// are decoded with gohcl into this package's types, and the body of each
// printer's driver block (usblp, libusb, serial, net, sim…) is handed to the
// Config() struct of the driver registered under the block's type, so every
// driver owns its block's schema. Every problem is an hcl.Diagnostic anchored
// at the attribute or block at fault, and all of them are reported at once;
// Format renders them as "printers.hcl:12:3: summary; detail" lines.
//
// Values:
//   - Durations are strings parsed by time.ParseDuration ("30s", "2m", "24h").
//   - Sizes are strings with an optional unit: "4MiB", "512KiB", "1MB",
//     "4096" (bytes); a bare number is a number of bytes too.
//   - Relative paths (server data_dir and tls files, plugin path, connector
//     tls files, file() arguments) are resolved against the directory of the
//     configuration file. Driver configs get the same directory through
//     PathResolver. The embedded default resolves against the working
//     directory.
//
// Functions available in expressions:
//
//	env("NAME")             the environment variable; an error if it is not set
//	env("NAME", "default")  the environment variable, or default if it is not set
//	file("path")            the contents of a file (UTF-8, at most 1 MiB)
//	trimspace(s)            s without leading and trailing white space
package config

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/comandera/comandera"
	"github.com/comandera/comandera/core"
	"github.com/hashicorp/hcl/v2"
)

// Defaults for settings a configuration leaves out.
const (
	DefaultListen            = "127.0.0.1:3001"
	DefaultDataDir           = "./comandera-data"
	DefaultMaxBody           = 4 << 20 // 4 MiB
	DefaultIdempotencyWindow = 24 * time.Hour
	DefaultHistoryMaxAge     = 7 * 24 * time.Hour
	DefaultHistoryMaxJobs    = 10000

	DefaultQueueLimit    = 1000
	DefaultTTL           = 30 * time.Minute
	DefaultFailoverAfter = 2 * time.Minute
	DefaultMaxAttempts   = 10
	DefaultRetryBackoff  = time.Second
	DefaultRetryMax      = time.Minute

	DefaultPluginTimeout = 5 * time.Second

	DefaultKeepAlive     = 30 * time.Second
	DefaultSessionExpiry = 24 * time.Hour

	// TokenEnv is read for the server token when the server block has no
	// token attribute at all.
	TokenEnv = "PRINTER_SECRET"

	// MaxFileSize bounds the configuration file and what file() reads.
	MaxFileSize = 1 << 20
)

// DefaultPublicPaths are served without authentication unless public_paths
// says otherwise.
var DefaultPublicPaths = []string{"/health", "/metrics"}

// Config is a decoded, validated printers.hcl.
type Config struct {
	// Filename is the name diagnostics use for the file.
	Filename string
	// Dir is the directory relative paths were resolved against.
	Dir string

	Server Server
	// Printers in declaration order; the first is the default printer.
	Printers []*Printer
	// Profiles are the built-in profiles plus those the file adds or
	// overrides.
	Profiles core.Profiles
	// Plugins in declaration order.
	Plugins []*Plugin
	// MQTT is the connector "mqtt" block, or nil.
	MQTT *MQTT
}

// Server is the server block.
type Server struct {
	// Listen is the HTTP listen address, host:port.
	Listen string
	// Token is the bearer token; empty means no authentication, which is
	// only accepted on a loopback listen address or with Insecure.
	Token string
	// Insecure allows a non-loopback Listen without a token.
	Insecure bool
	// PublicPaths are served without authentication.
	PublicPaths []string
	// DataDir holds the job queue (bbolt).
	DataDir string
	// MaxBody bounds a request body, in bytes.
	MaxBody int64
	// Backends are URL prefixes a job's callback_url must start with; each
	// has a path ending in "/". Empty: no callback URL is accepted.
	Backends []*url.URL
	// CallbackSecret is the HMAC-SHA256 key for callbacks and events;
	// defaults to Token.
	CallbackSecret    string
	IdempotencyWindow time.Duration
	HistoryMaxAge     time.Duration
	HistoryMaxJobs    int
	// TLS is the tls block (cert and key), or nil for plain HTTP.
	TLS *TLS
	// Range is the server block's definition, or the start of the file when
	// the block is absent.
	Range hcl.Range
}

// TLS is a tls block: certificate and key files, and for the MQTT connector
// a CA bundle to verify the broker with.
type TLS struct {
	CA   string // connector only; empty: the system roots
	Cert string
	Key  string
}

// Printer is one printer block.
type Printer struct {
	Name string
	// Driver is the registry name of the driver (the driver block's type).
	Driver string
	// DriverConfig is the driver's Config() value with the block decoded
	// into it, ready for Driver.Open.
	DriverConfig any
	// Profile is the printer's resolved profile (a copy of its own).
	Profile *core.Profile
	// Fallback names the printer this one's queue fails over to, or "".
	Fallback string
	// FailoverAfter is how long the printer must be down before its queue
	// goes to Fallback.
	FailoverAfter time.Duration
	// Quirks names the plugin jobs go through: the printer's quirks
	// attribute, else the profile's. "" for none.
	Quirks string
	// QueueLimit is the most jobs waiting for this printer.
	QueueLimit int
	// TTL is the default expires_in of its jobs.
	TTL time.Duration
	// MaxAttempts is how many times a job is tried before it fails.
	MaxAttempts int
	// RetryBackoff is the first retry delay; it doubles up to RetryMax.
	RetryBackoff time.Duration
	RetryMax     time.Duration
	// Range is the printer block's definition; DriverRange its driver
	// block's. Use them to anchor start-up diagnostics.
	Range       hcl.Range
	DriverRange hcl.Range
}

// Plugin is one plugin block.
type Plugin struct {
	Name string
	// Path is the plugin binary, absolute or relative to the config file.
	Path string
	// SHA256 is the binary's expected checksum, lowercase hex.
	SHA256 string
	// Timeout bounds each call.
	Timeout time.Duration
	// Range is the plugin block's definition; SHA256Range its sha256 value,
	// where a checksum mismatch should be reported.
	Range       hcl.Range
	SHA256Range hcl.Range
}

// The values of a connector "mqtt" block's protocol.
const (
	ProtocolAuto = "auto"
	Protocol5    = "5"
	Protocol311  = "3.1.1"
)

// MQTT is the connector "mqtt" block.
type MQTT struct {
	// Broker is the broker URL as written; BrokerURL its parsed form, with a
	// scheme of mqtt, mqtts, tls, ws or wss.
	Broker      string
	BrokerURL   *url.URL
	ClientID    string
	TopicPrefix string
	Username    string
	Password    string
	// KeepAlive is a whole number of seconds from 1 to 65535.
	KeepAlive time.Duration
	// SessionExpiry is a whole number of seconds, at most 2³²-1.
	SessionExpiry time.Duration
	// Envelope wraps every message the connector publishes as
	// {"body": "<JSON text>", "signature": "sha256=…"}, for brokers or
	// bridges that drop MQTT 5 user properties (MQTT 3.1.1).
	Envelope bool
	// Protocol is the MQTT version spoken: ProtocolAuto (MQTT 5, falling
	// back to 3.1.1 when the broker refuses 5), Protocol5 or Protocol311.
	Protocol string
	// TLS is the tls block (CA, client certificate and key), or nil.
	TLS   *TLS
	Range hcl.Range
}

// PathResolver may be implemented by a driver config with file paths in it
// (a device node, an output directory). The loader calls ResolvePaths with
// the configuration file's directory after decoding the driver block, so
// relative paths mean the same thing whatever the working directory.
type PathResolver interface {
	ResolvePaths(dir string)
}

// Validator may be implemented by a driver config to check values that its
// schema cannot (an address's syntax, a baud rate). The loader calls Validate
// after ResolvePaths and SetProfile; an error becomes a diagnostic at the
// driver block.
type Validator interface {
	Validate() error
}

// Printer returns the named printer, or nil.
func (c *Config) Printer(name string) *Printer {
	for _, p := range c.Printers {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// DefaultPrinter returns the first declared printer, or nil if there is none.
func (c *Config) DefaultPrinter() *Printer {
	if len(c.Printers) == 0 {
		return nil
	}
	return c.Printers[0]
}

// Plugin returns the named plugin, or nil.
func (c *Config) Plugin(name string) *Plugin {
	for _, p := range c.Plugins {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Load reads and parses the configuration file at path. Relative paths in it
// are resolved against the file's directory. The Config is nil when the
// diagnostics have errors.
func Load(path string) (*Config, hcl.Diagnostics) {
	src, err := readFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration",
			Detail:   err.Error(),
			Subject:  &hcl.Range{Filename: path},
		}}
	}
	return parse(src, path, filepath.Dir(path))
}

// Parse parses configuration source; filename names it in diagnostics and its
// directory is the base of relative paths. The Config is nil when the
// diagnostics have errors.
func Parse(src []byte, filename string) (*Config, hcl.Diagnostics) {
	return parse(src, filename, filepath.Dir(filename))
}

// Default parses the embedded default configuration (the repo-root
// printers.hcl): two sim printers, kitchen and bar, with relative paths
// resolved against the working directory.
func Default() (*Config, hcl.Diagnostics) {
	return parse(comandera.DefaultConfig, "printers.hcl", ".")
}

// readFile reads a regular file of at most MaxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
	}
	return b, nil
}
