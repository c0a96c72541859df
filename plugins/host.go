package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/comandera/comandera/core"
)

// Config is one `plugin "NAME" { path = … sha256 = … }` block.
type Config struct {
	// Name is the block's label: what printers and profiles name in
	// quirks = "NAME".
	Name string
	// Path is the plugin binary. A relative path is taken from the current
	// directory (the config loader resolves it against the config file).
	Path string
	// SHA256 is the binary's SHA-256 in hex, as sha256sum prints it. The
	// binary is refused, before it runs, if its sum differs.
	SHA256 string
	// Timeout bounds each call to this plugin; 0 means the host's
	// (WithCallTimeout, default DefaultCallTimeout).
	Timeout time.Duration
}

// Defaults for the host's options.
const (
	DefaultCallTimeout  = 10 * time.Second
	DefaultStartTimeout = 15 * time.Second
	maxRestartBackoff   = 30 * time.Second
)

type options struct {
	callTimeout  time.Duration
	startTimeout time.Duration
	maxMsg       int
}

// An Option changes how a Host runs plugins.
type Option func(*options)

// WithCallTimeout bounds each plugin call (default DefaultCallTimeout). A
// plugin that does not answer in time is considered wedged: the call fails
// with ErrTimeout and the plugin is restarted.
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

// WithStartTimeout bounds starting a plugin process and its first Info call
// (default DefaultStartTimeout).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// WithMaxMessageSize bounds the size of one message to or from a plugin
// (default MaxMessageSize). A larger answer is refused, not allocated.
func WithMaxMessageSize(n int) Option { return func(o *options) { o.maxMsg = n } }

// A Host loads plugins, restarts them when they crash and stops them all on
// Close. It is safe for concurrent use.
type Host struct {
	log  *slog.Logger
	opts options

	mu      sync.Mutex
	plugins map[string]*Plugin
	closed  bool
	kills   sync.WaitGroup // plugin processes being stopped
}

// NewHost returns a Host that logs, and bridges the plugins' logs, to logger
// (nil: discard).
func NewHost(logger *slog.Logger, opts ...Option) *Host {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{callTimeout: DefaultCallTimeout, startTimeout: DefaultStartTimeout, maxMsg: MaxMessageSize}
	for _, f := range opts {
		f(&o)
	}
	return &Host{log: logger, opts: o, plugins: map[string]*Plugin{}}
}

// Load verifies the plugin binary's SHA-256, starts it, asks for its Info and
// checks its API version. The error names what is wrong: a *ChecksumError
// (errors.Is ErrChecksum) when the sum differs, so the config can anchor a
// diagnostic at the plugin block. The plugin stays loaded until Close.
func (h *Host) Load(ctx context.Context, cfg Config) (*Plugin, error) {
	if cfg.Name == "" {
		return nil, errors.New("plugins: a plugin needs a name")
	}
	if cfg.Path == "" {
		return nil, fmt.Errorf("plugin %q: path is empty", cfg.Name)
	}
	if _, err := parseSum(cfg.SHA256, cfg.Path); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", cfg.Name, err)
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", cfg.Name, err)
	}
	cfg.Path = abs
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errors.New("plugins: host is closed")
	}
	if _, dup := h.plugins[cfg.Name]; dup {
		h.mu.Unlock()
		return nil, fmt.Errorf("plugin %q is already loaded", cfg.Name)
	}
	p := &Plugin{host: h, cfg: cfg, log: h.log.With("plugin", cfg.Name)}
	h.plugins[cfg.Name] = p
	h.mu.Unlock()

	if _, _, err := p.acquire(ctx); err != nil {
		h.mu.Lock()
		delete(h.plugins, cfg.Name)
		h.mu.Unlock()
		p.close()
		return nil, fmt.Errorf("plugin %q: %w", cfg.Name, err)
	}
	return p, nil
}

// Get returns the loaded plugin called name.
func (h *Host) Get(name string) (*Plugin, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.plugins[name]
	return p, ok
}

// Names lists the loaded plugins, sorted.
func (h *Host) Names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.plugins))
	for n := range h.plugins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Close stops every plugin process and waits for them to exit. Calls after
// Close fail.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	ps := make([]*Plugin, 0, len(h.plugins))
	for _, p := range h.plugins {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.close()
		}()
	}
	wg.Wait()
	h.kills.Wait()
	return nil
}

// A Plugin is a loaded plugin. It implements Quirks: each call runs under the
// host's call timeout, starts the plugin again if it crashed, and fails only
// itself when the plugin misbehaves.
type Plugin struct {
	host *Host
	cfg  Config
	log  *slog.Logger

	mu        sync.Mutex
	client    *plugin.Client
	quirks    Quirks
	info      Info
	gen       int // incremented at each start
	closed    bool
	startErr  error     // the last failed start
	nextStart time.Time // no new start before this, after a failed one
	backoff   time.Duration
}

var _ Quirks = (*Plugin)(nil)

// Name is the plugin block's label.
func (p *Plugin) Name() string { return p.cfg.Name }

// LoadedInfo returns the Info the plugin gave when it last started, without
// a call (for status pages and logs).
func (p *Plugin) LoadedInfo() Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info
}

// Pid returns the process ID of the running plugin, or 0 if it is not
// running.
func (p *Plugin) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return 0
	}
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// acquire returns a running plugin, starting it if it is not running.
func (p *Plugin) acquire(ctx context.Context) (Quirks, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, errors.New("plugins: host is closed")
	}
	if p.client != nil {
		if !p.client.Exited() {
			return p.quirks, p.gen, nil
		}
		p.log.Warn("plugin process exited; restarting it")
		p.dropLocked()
	}
	if now := time.Now(); now.Before(p.nextStart) {
		return nil, 0, fmt.Errorf("%w: it failed to start (%v); next try in %s",
			ErrUnavailable, p.startErr, p.nextStart.Sub(now).Round(time.Millisecond))
	}
	if err := p.startLocked(ctx); err != nil {
		p.startErr = err
		p.backoff = min(max(2*p.backoff, time.Second), maxRestartBackoff)
		p.nextStart = time.Now().Add(p.backoff)
		p.log.Error("plugin failed to start", "err", err, "retry_in", p.backoff)
		return nil, 0, err
	}
	p.startErr, p.backoff, p.nextStart = nil, 0, time.Time{}
	return p.quirks, p.gen, nil
}

func (p *Plugin) startLocked(ctx context.Context) error {
	o := p.host.opts
	// Check the sum here for a clear error naming both sums; go-plugin's
	// SecureConfig checks it again just before exec.
	if err := VerifySHA256(p.cfg.Path, p.cfg.SHA256); err != nil {
		return err
	}
	sum, _ := parseSum(p.cfg.SHA256, p.cfg.Path)
	cmd := exec.Command(p.cfg.Path)
	// The plugin does not inherit the server's environment (and its tokens).
	cmd.Env = []string{}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	}
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{PluginName: &GRPCPlugin{}},
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     o.startTimeout,
		Logger:           newHCLogger(p.log),
		SyncStdout:       &lineWriter{log: p.log, stream: "stdout"},
		SyncStderr:       &lineWriter{log: p.log, stream: "stderr"},
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(o.maxMsg), grpc.MaxCallSendMsgSize(o.maxMsg))},
	})
	fail := func(err error) error {
		c.Kill()
		return err
	}
	rpc, err := c.Client()
	if err != nil {
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			// The file changed between our check and go-plugin's.
			return fail(fmt.Errorf("%w: %s changed while starting", ErrChecksum, p.cfg.Path))
		}
		return fail(fmt.Errorf("%w: starting %s: %v", ErrUnavailable, p.cfg.Path, err))
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return fail(fmt.Errorf("%w: %s: %v", ErrUnavailable, p.cfg.Path, err))
	}
	q, ok := raw.(Quirks)
	if !ok {
		return fail(fmt.Errorf("plugins: %s does not serve the quirks contract", p.cfg.Path))
	}
	ictx, cancel := context.WithTimeout(ctx, o.startTimeout)
	defer cancel()
	info, err := q.Info(ictx)
	if err != nil {
		return fail(fmt.Errorf("asking %s for its info: %w", p.cfg.Path, err))
	}
	if info.APIVersion != APIVersion {
		return fail(fmt.Errorf("plugins: %s was built for plugin API %d, this Comandera speaks %d: rebuild it",
			p.cfg.Path, info.APIVersion, APIVersion))
	}
	p.client, p.quirks, p.info = c, q, info
	p.gen++
	pid := 0
	if rc := c.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	p.log.Info("plugin ready", "name", info.Name, "version", info.Version, "pid", pid,
		"command_sets", info.CommandSets, "capabilities", info.Capabilities, "status_request", fmt.Sprintf("% x", info.StatusRequest))
	return nil
}

// dropLocked forgets the running process and stops it in the background.
func (p *Plugin) dropLocked() {
	c := p.client
	p.client, p.quirks = nil, nil
	if c == nil {
		return
	}
	p.host.kills.Add(1)
	go func() {
		defer p.host.kills.Done()
		start := time.Now()
		c.Kill()
		p.log.Debug("plugin process stopped", "took", time.Since(start))
	}()
}

// reset stops generation gen of the plugin, if it is still the running one,
// so the next call starts a fresh process.
func (p *Plugin) reset(gen int, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen != gen || p.client == nil {
		return
	}
	p.log.Warn("plugin will be restarted on the next call", "reason", why)
	p.dropLocked()
}

func (p *Plugin) exited(gen int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen == gen && p.client != nil && p.client.Exited()
}

func (p *Plugin) close() {
	p.mu.Lock()
	p.closed = true
	c := p.client
	p.client, p.quirks = nil, nil
	p.mu.Unlock()
	if c != nil {
		c.Kill()
	}
}

// call runs f against the plugin under the call timeout and decides what a
// failure means: the caller's context ended (not the plugin's fault), the
// plugin crashed or hung (restart it), or it answered with an error.
func (p *Plugin) call(ctx context.Context, method string, f func(context.Context, Quirks) error) error {
	q, gen, err := p.acquire(ctx)
	if err != nil {
		return fmt.Errorf("plugin %q: %s: %w", p.cfg.Name, method, err)
	}
	timeout := p.cfg.Timeout
	if timeout <= 0 {
		timeout = p.host.opts.callTimeout
	}
	dl, callerDL := ctx.Deadline()
	callerFirst := callerDL && !dl.After(time.Now().Add(timeout)) // a timeout would be the caller's
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = f(cctx, q)
	// The plugin's side may report the deadline (gRPC sends it along) a
	// moment before this side's timer fires: a timeout either way.
	timedOut := err != nil && (errors.Is(cctx.Err(), context.DeadlineExceeded) || errors.Is(err, ErrTimeout) || pastDeadline(cctx))
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil || (callerFirst && timedOut):
		return fmt.Errorf("plugin %q: %s: %w", p.cfg.Name, method, err)
	case errors.Is(err, ErrUnavailable) || p.exited(gen):
		p.reset(gen, "crashed during "+method)
		if !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return fmt.Errorf("plugin %q: %s: %w", p.cfg.Name, method, err)
	case timedOut:
		p.reset(gen, fmt.Sprintf("%s did not answer within %s", method, timeout))
		if !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		return fmt.Errorf("plugin %q: %s: no answer within %s: %w", p.cfg.Name, method, timeout, err)
	}
	return fmt.Errorf("plugin %q: %s: %w", p.cfg.Name, method, err)
}

// pastDeadline reports whether ctx's deadline has passed, whether or not
// its timer has fired yet.
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// Info asks the plugin for its Info.
func (p *Plugin) Info(ctx context.Context) (Info, error) {
	var in Info
	err := p.call(ctx, "Info", func(ctx context.Context, q Quirks) (err error) {
		in, err = q.Info(ctx)
		return err
	})
	return in, err
}

// Encode asks the plugin to encode doc for profile pr.
func (p *Plugin) Encode(ctx context.Context, doc core.Document, pr *core.Profile) ([]byte, error) {
	var out []byte
	err := p.call(ctx, "Encode", func(ctx context.Context, q Quirks) (err error) {
		out, err = q.Encode(ctx, doc, pr)
		return err
	})
	return out, err
}

// Transform asks the plugin to rewrite data for profile pr.
func (p *Plugin) Transform(ctx context.Context, data []byte, pr *core.Profile) ([]byte, error) {
	var out []byte
	err := p.call(ctx, "Transform", func(ctx context.Context, q Quirks) (err error) {
		out, err = q.Transform(ctx, data, pr)
		return err
	})
	return out, err
}

// ParseStatus asks the plugin to decode a status reply.
func (p *Plugin) ParseStatus(ctx context.Context, reply []byte, pr *core.Profile) (core.Status, error) {
	var s core.Status
	err := p.call(ctx, "ParseStatus", func(ctx context.Context, q Quirks) (err error) {
		s, err = q.ParseStatus(ctx, reply, pr)
		return err
	})
	return s, err
}

// ChecksumError says a plugin binary is not the one the config declares.
type ChecksumError struct {
	Path     string
	Expected string // from the config
	Actual   string // of the file
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: SHA-256 mismatch: the config expects %s but the file's is %s; "+
		"the plugin was not started (if you installed a new build on purpose, put its sum in the plugin block)",
		e.Path, e.Expected, e.Actual)
}

// Unwrap makes errors.Is(err, ErrChecksum) true.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// FileSHA256 returns the hex SHA-256 of the file at path, as sha256sum
// prints it.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file (a plugin is an executable file)", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifySHA256 checks that the file at path has the SHA-256 want (hex, case
// and surrounding space ignored). A mismatch is a *ChecksumError naming both
// sums; `comandera validate` reports it at the plugin block.
func VerifySHA256(path, want string) error {
	sum, err := parseSum(want, path)
	if err != nil {
		return err
	}
	got, err := FileSHA256(path)
	if err != nil {
		return err
	}
	if gotb, _ := hex.DecodeString(got); !bytes.Equal(gotb, sum) {
		return &ChecksumError{Path: path, Expected: hex.EncodeToString(sum), Actual: got}
	}
	return nil
}

func parseSum(s, path string) ([]byte, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return nil, fmt.Errorf("sha256 is required: compute it with `sha256sum %s`", path)
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("sha256 %q is not a SHA-256 (64 hex digits): compute it with `sha256sum %s`", s, path)
	}
	return b, nil
}

// lineWriter logs what a plugin prints on its standard output or error
// after it started serving, one record per line.
type lineWriter struct {
	log    *slog.Logger
	stream string
	mu     sync.Mutex
	buf    []byte
}

const maxLogLine = 4096

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			if len(w.buf) >= maxLogLine {
				w.flush()
			}
			break
		}
		w.buf = append(w.buf, b[:i]...)
		w.flush()
		b = b[i+1:]
	}
	return n, nil
}

func (w *lineWriter) flush() {
	line := strings.TrimRight(string(w.buf), "\r")
	w.buf = w.buf[:0]
	if line != "" {
		w.log.Info("plugin output", "stream", w.stream, "line", line)
	}
}
