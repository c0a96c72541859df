package net

import (
	"errors"
	"fmt"
	stdnet "net"
	"strconv"
	"strings"
	"time"

	"github.com/comandera/comandera/core"
)

// Config is the net block of a printer in printers.hcl:
//
//	net { address = "192.168.1.50" }       # port 9100
//	net { address = "printer.local:9101" }
type Config struct {
	// Address is host or host:port; the port defaults to 9100.
	Address string `hcl:"address"`
	// DialTimeout bounds connecting. Default "5s".
	DialTimeout string `hcl:"dial_timeout,optional"`
	// WriteTimeout is how long a write may make no progress (the printer's
	// buffer stays full: paper out, cover open) before it fails. Default "30s".
	WriteTimeout string `hcl:"write_timeout,optional"`
	// StatusTimeout is how long to wait for each reply to DLE EOT (asked
	// only of printers whose profile speaks ESC/POS). Default "500ms".
	StatusTimeout string `hcl:"status_timeout,optional"`
	// KeepAlive is the TCP keepalive idle time and probe interval.
	// Default "15s".
	KeepAlive string `hcl:"keepalive,optional"`
	// CloseTimeout is how long Close waits for the printer to close its end
	// after the job, which confirms it read everything. A printer that keeps
	// connections open costs this much per job (its TCP acknowledgements
	// then confirm the job). Default "2s".
	CloseTimeout string `hcl:"close_timeout,optional"`

	profile *core.Profile // set by SetProfile
}

// SetProfile implements core.ProfileSetter: the driver asks DLE EOT only of
// a printer whose profile speaks ESC/POS (or when no profile is set).
func (c *Config) SetProfile(p *core.Profile) { c.profile = p }

// Defaults for the optional settings.
const (
	DefaultPort          = 9100
	DefaultDialTimeout   = 5 * time.Second
	DefaultWriteTimeout  = 30 * time.Second
	DefaultStatusTimeout = 500 * time.Millisecond
	DefaultKeepAlive     = 15 * time.Second
	DefaultCloseTimeout  = 2 * time.Second
)

type settings struct {
	address       string // host:port
	dialTimeout   time.Duration
	writeTimeout  time.Duration
	statusTimeout time.Duration
	keepAlive     time.Duration
	closeTimeout  time.Duration
	// foreign names the profile's command set when it is not ESC/POS: the
	// printer is not asked DLE EOT.
	foreign string
	profile string
}

// Validate checks the values the schema cannot.
func (c *Config) Validate() error {
	_, err := c.settings()
	return err
}

func (c *Config) settings() (settings, error) {
	var errs []error
	addr, err := Address(c.Address)
	if err != nil {
		errs = append(errs, err)
	}
	s := settings{address: addr}
	s.dialTimeout = duration("dial_timeout", c.DialTimeout, DefaultDialTimeout, &errs)
	s.writeTimeout = duration("write_timeout", c.WriteTimeout, DefaultWriteTimeout, &errs)
	s.statusTimeout = duration("status_timeout", c.StatusTimeout, DefaultStatusTimeout, &errs)
	s.keepAlive = duration("keepalive", c.KeepAlive, DefaultKeepAlive, &errs)
	s.closeTimeout = duration("close_timeout", c.CloseTimeout, DefaultCloseTimeout, &errs)
	if p := c.profile; p != nil && p.CommandSet != "" && p.CommandSet != core.CommandSetESCPOS {
		s.foreign, s.profile = p.CommandSet, p.Name
	}
	return s, errors.Join(errs...)
}

// Address returns addr as host:port, adding port 9100 when it has none.
func Address(addr string) (string, error) {
	a := strings.TrimSpace(addr)
	if a == "" {
		return "", errors.New(`address is empty: set the printer's IP address or host name, like "192.168.1.50" or "192.168.1.50:9100"`)
	}
	host, port, err := stdnet.SplitHostPort(a)
	if err != nil {
		// No port: a host name, an IPv4 address, or an IPv6 address with or
		// without brackets.
		host, port = a, strconv.Itoa(DefaultPort)
		if strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]") {
			host = a[1 : len(a)-1]
		}
		if strings.ContainsAny(host, "[]/ ") || strings.Count(host, ":") == 1 {
			return "", fmt.Errorf("address %q: want host or host:port", addr)
		}
	}
	if host == "" || strings.ContainsAny(host, "/ ") {
		return "", fmt.Errorf("address %q: the host is missing or malformed", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("address %q: port %q is not 1 to 65535", addr, port)
	}
	return stdnet.JoinHostPort(host, port), nil
}

func duration(name, v string, def time.Duration, errs *[]error) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a positive duration like \"5s\"", name, v))
		return def
	}
	return d
}
