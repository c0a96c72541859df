package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseSize parses a size: a whole number of bytes with an optional unit
// (B, KB, MB, GB, KiB, MiB, GiB; case-insensitive), e.g. "4MiB" or "4096".
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size; want a whole number of bytes with an optional unit, like \"4MiB\", \"512KiB\" or \"1MB\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	mult := sizeUnits[strings.ToLower(m[2])]
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

var (
	sizeRE    = regexp.MustCompile(`^([0-9]{1,19})\s*(?i:(b|kb|mb|gb|kib|mib|gib)?)$`)
	sizeUnits = map[string]int64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
	}
)

// parseDuration parses a positive duration.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; want a number with a unit, like \"30s\", \"2m\" or \"24h\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: the duration must be positive", s)
	}
	return d, nil
}

// checkListen checks a host:port listen address and reports whether it is
// on a loopback interface.
func checkListen(addr string) (loopback bool, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("%q is not a listen address; want host:port, like \"127.0.0.1:3001\", \"0.0.0.0:3001\" or \"[::1]:3001\"", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return false, fmt.Errorf("%q: the port must be a number from 0 to 65535", addr)
	}
	return isLoopback(host), nil
}

// isLoopback reports whether host names only loopback interfaces. An empty
// host means every interface.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckAuth reports an error when the server would accept requests from the
// network without a token: Listen is not a loopback address, Token is empty
// and Insecure is false. The loader runs it; a server that changes Listen
// (a command-line flag) must run it again.
func (s *Server) CheckAuth() error {
	loopback, err := checkListen(s.Listen)
	if err != nil {
		return err
	}
	if !loopback && s.Token == "" && !s.Insecure {
		return fmt.Errorf("listening on %s (not loopback) without a token would let anyone who can reach it print; set token (token = env(%q)) or, on a trusted network, insecure = true", s.Listen, TokenEnv)
	}
	return nil
}

// parseBackend parses a callback URL prefix. Its path is made to end in "/"
// so "https://api.example.com" cannot match "https://api.example.com.evil.net".
func parseBackend(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: a backend must be an http:// or https:// URL", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%q: the URL has no host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q: a backend is a scheme, host and path prefix, without user info, query or fragment", s)
	}
	if !cleanPath(u.Path) {
		return nil, fmt.Errorf("%q: the path has empty, . or .. segments", s)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

// cleanPath reports whether p has no empty, "." or ".." segments (a trailing
// slash is allowed).
func cleanPath(p string) bool {
	if p == "" || p == "/" {
		return true
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") {
		c += "/"
	}
	return c == p
}

// CallbackAllowed reports whether a job's callback URL starts with one of
// the configured backends: same scheme, same host and port, and a path under
// the backend's. URLs with user info or path tricks (.., //) are refused, so
// the server cannot be made to post into the restaurant's network.
func (s *Server) CallbackAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" {
		return false
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if !cleanPath(p) {
		return false
	}
	for _, b := range s.Backends {
		if u.Scheme == b.Scheme && strings.EqualFold(u.Host, b.Host) && strings.HasPrefix(p, b.Path) {
			return true
		}
	}
	return false
}

// Broker URL schemes the connector accepts, and whether each uses TLS.
var brokerSchemes = map[string]bool{"mqtt": false, "mqtts": true, "tls": true, "ws": false, "wss": true}

func parseBroker(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	if _, ok := brokerSchemes[u.Scheme]; !ok {
		return nil, fmt.Errorf("%q: the broker scheme must be mqtt://, mqtts://, tls://, ws:// or wss://", s)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q: the URL has no host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
		}
	}
	return u, nil
}

// checkTopicPrefix checks an MQTT topic prefix: no wildcards, no empty
// levels at either end.
func checkTopicPrefix(s string) error {
	switch {
	case s == "":
		return errors.New("the topic prefix is empty")
	case strings.ContainsAny(s, "+#\x00"):
		return fmt.Errorf("%q: a topic prefix cannot contain the wildcards + or # (or NUL)", s)
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/"):
		return fmt.Errorf("%q: a topic prefix cannot start or end with /", s)
	case len(s) > 1024:
		return fmt.Errorf("the topic prefix is longer than 1024 bytes")
	}
	return nil
}

// nameRE is what printer and plugin names may look like: they end up in
// URLs, MQTT topics, metric labels and file names.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func checkName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%s name %q: want 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit", kind, name)
	}
	return nil
}
