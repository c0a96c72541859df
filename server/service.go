package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
	"github.com/comandera/comandera/plugins"
	"github.com/comandera/comandera/queue"
)

// Options configure a Service. Zero values take the defaults given.
type Options struct {
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// ProbeEvery is how often an idle printer's status is read for /status,
	// /health and the metrics; default 15s, negative: never.
	ProbeEvery time.Duration
	// Queue, when set, adjusts the queue's options before it opens (tests
	// shorten its intervals).
	Queue func(*queue.Options)
	// Plugins, when set, is used instead of loading the configuration's
	// plugin blocks; the caller closes it.
	Plugins *plugins.Host
}

// Service is the print server without its transport: every operation of
// the HTTP API, for the HTTP handlers and the MQTT connector alike. Its
// methods are safe for concurrent use. Errors that concern the request are
// *Error values (see AsError) carrying the HTTP status and code.
type Service struct {
	cfg     *config.Config
	log     *slog.Logger
	opts    Options
	q       *queue.Queue
	host    *plugins.Host
	ownHost bool
	devices map[string]*device
	order   []string
	metrics *metrics
	started time.Time

	closing   chan struct{} // closed when shutdown begins: waits and streams end
	closeOnce sync.Once
	bg        sync.WaitGroup
	stopBG    chan struct{}
	probed    chan struct{} // closed once every printer's status was read once

	httpMu sync.Mutex
	srv    *http.Server

	metricsOnce    sync.Once
	metricsHandler http.Handler

	connMu     sync.Mutex
	connectors map[string]func() ConnectorInfo
}

// MQTTSink is the queue's durable event sink the MQTT connector publishes
// from: Open keeps it when the configuration has a connector "mqtt" block.
const MQTTSink = "mqtt"

// ConnectorInfo describes a connector (a transport beside the HTTP API,
// such as the MQTT connector) in GET /status. Nothing in it is secret: the
// broker URL carries no credentials.
type ConnectorInfo struct {
	Broker        string    `json:"broker"`
	ClientID      string    `json:"client_id,omitempty"`
	Protocol      string    `json:"protocol,omitempty"` // the MQTT version in use: "5" or "3.1.1"
	Connected     bool      `json:"connected"`
	Since         time.Time `json:"since,omitzero"`       // when the connection last went up or down
	LastError     string    `json:"last_error,omitempty"` // why it is not connected
	PendingEvents int       `json:"pending_events"`       // job events waiting to be delivered (durable)
	DroppedEvents uint64    `json:"dropped_events"`       // events the bounds dropped undelivered since start
}

// RegisterConnector makes GET /status report a connector under name: info
// is called for each request.
func (s *Service) RegisterConnector(name string, info func() ConnectorInfo) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.connectors == nil {
		s.connectors = map[string]func() ConnectorInfo{}
	}
	s.connectors[name] = info
}

func (s *Service) connectorInfo() map[string]ConnectorInfo {
	s.connMu.Lock()
	fns := make(map[string]func() ConnectorInfo, len(s.connectors))
	for k, f := range s.connectors {
		fns[k] = f
	}
	s.connMu.Unlock()
	out := make(map[string]ConnectorInfo, len(fns))
	for k, f := range fns {
		out[k] = f()
	}
	return out
}

// A PluginError is a plugin that could not be loaded at start-up.
type PluginError struct {
	Plugin *config.Plugin
	Err    error
}

func (e *PluginError) Error() string { return e.Err.Error() }
func (e *PluginError) Unwrap() error { return e.Err }

// Diagnostic anchors the error in the configuration: at the plugin's sha256
// for a checksum mismatch, else at its block.
func (e *PluginError) Diagnostic() *hcl.Diagnostic {
	r := e.Plugin.Range
	summary := "Cannot start plugin"
	if errors.Is(e.Err, plugins.ErrChecksum) {
		r = e.Plugin.SHA256Range
		summary = "Plugin checksum mismatch"
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: e.Err.Error(), Subject: &r}
}

// Open starts the service for cfg: it loads the quirks plugins (verifying
// their checksums), opens the job queue in the data directory (recovering
// what a crash left) and starts one worker per printer.
func Open(ctx context.Context, cfg *config.Config, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProbeEvery == 0 {
		o.ProbeEvery = 15 * time.Second
	}
	if len(cfg.Printers) == 0 {
		return nil, errors.New("no printers are configured: declare at least one printer block")
	}
	s := &Service{
		cfg: cfg, log: o.Logger, opts: o,
		devices: map[string]*device{},
		metrics: newMetrics(),
		started: time.Now(),
		closing: make(chan struct{}),
		stopBG:  make(chan struct{}),
		probed:  make(chan struct{}),
		host:    o.Plugins,
	}
	if s.host == nil {
		s.host = plugins.NewHost(o.Logger)
		s.ownHost = true
		for _, p := range cfg.Plugins {
			_, err := s.host.Load(ctx, plugins.Config{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Timeout: p.Timeout})
			if err != nil {
				s.host.Close()
				return nil, &PluginError{Plugin: p, Err: err}
			}
		}
	}
	fail := func(err error) (*Service, error) {
		if s.ownHost {
			s.host.Close()
		}
		return nil, err
	}
	var pcs []queue.PrinterConfig
	for _, p := range cfg.Printers {
		var q plugins.Quirks
		if p.Quirks != "" {
			pl, ok := s.host.Get(p.Quirks)
			if !ok {
				return fail(fmt.Errorf("printer %q: quirks plugin %q is not loaded", p.Name, p.Quirks))
			}
			q = pl
		}
		d, err := newDevice(p, q, s.log, s.metrics)
		if err != nil {
			return fail(err)
		}
		s.devices[p.Name] = d
		s.order = append(s.order, p.Name)
		pcs = append(pcs, queue.PrinterConfig{
			Name: p.Name, Printer: d,
			MaxAttempts: p.MaxAttempts, RetryBackoff: p.RetryBackoff, RetryMax: p.RetryMax,
			TTL: p.TTL, QueueLimit: p.QueueLimit,
			Fallback: p.Fallback, FailoverAfter: p.FailoverAfter,
		})
	}
	qo := queue.Options{
		Logger:            s.log.With("component", "queue"),
		Printers:          pcs,
		IdempotencyWindow: cfg.Server.IdempotencyWindow,
		KeepFor:           cfg.Server.HistoryMaxAge,
		KeepJobs:          cfg.Server.HistoryMaxJobs,
		Callback: queue.CallbackOptions{
			Secret: []byte(cfg.Server.CallbackSecret),
			Allow:  s.allowCallback,
		},
	}
	if cfg.MQTT != nil {
		// MQTT events are as durable as callbacks: written with each change.
		qo.Sinks = append(qo.Sinks, MQTTSink)
	}
	if o.Queue != nil {
		o.Queue(&qo)
	}
	q, err := queue.Open(filepath.Join(cfg.Server.DataDir, queue.FileName), qo)
	if err != nil {
		return fail(err)
	}
	s.q = q
	s.metrics.reg.MustRegister(newStateCollector(s))

	sub := q.Subscribe(8192)
	s.bg.Add(1)
	go s.countEvents(sub)
	if o.ProbeEvery > 0 {
		s.bg.Add(1)
		go s.monitor(o.ProbeEvery)
	} else {
		close(s.probed)
	}
	return s, nil
}

// Config returns the configuration the service runs.
func (s *Service) Config() *config.Config { return s.cfg }

// Queue returns the job queue, for transports that need more than the
// Service offers.
func (s *Service) Queue() *queue.Queue { return s.q }

func (s *Service) allowCallback(url string) error {
	if s.cfg.Server.CallbackAllowed(url) {
		return nil
	}
	return fmt.Errorf("callback URL %q is not under a configured backend", url)
}

// countEvents feeds the job metrics.
func (s *Service) countEvents(sub *queue.Subscription) {
	defer s.bg.Done()
	var dropped uint64
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			s.metrics.observe(&ev)
			if d := sub.Dropped(); d > dropped {
				s.metrics.eventsDropped.Add(float64(d - dropped))
				dropped = d
			}
		case <-s.stopBG:
			sub.Close()
			return
		}
	}
}

// monitor reads idle printers' status every interval.
func (s *Service) monitor(every time.Duration) {
	defer s.bg.Done()
	t := time.NewTicker(every / 3)
	defer t.Stop()
	first := true
	defer func() {
		if first {
			close(s.probed)
		}
	}()
	for {
		for _, name := range s.order {
			select {
			case <-s.stopBG:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.devices[name].probe(ctx, every)
			cancel()
		}
		if first {
			close(s.probed)
			first = false
		}
		select {
		case <-t.C:
		case <-s.stopBG:
			return
		}
	}
}

// awaitProbe waits (a little) for the first status reading of every
// printer, so /status and /health right after start-up report what the
// printers say rather than "unknown".
func (s *Service) awaitProbe() {
	select {
	case <-s.probed:
	case <-time.After(3 * time.Second):
	}
}

// printer resolves a printer name ("" is the default printer).
func (s *Service) printer(name string) (*device, error) {
	if name == "" {
		name = s.order[0]
	}
	d := s.devices[name]
	if d == nil {
		return nil, &Error{Status: http.StatusNotFound, Code: CodeUnknownPrinter,
			Message: fmt.Sprintf("unknown printer %q; the printers are %s", name, strings.Join(s.order, ", ")),
			Err:     queue.ErrUnknownPrinter}
	}
	return d, nil
}

func (s *Service) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// Print checks a request against the configuration (printer, callback URL,
// the document on the printer's profile) and queues it. It returns once the
// job is on disk; existed is true when the idempotency key returned an
// earlier job, which is returned instead.
func (s *Service) Print(ctx context.Context, r *PrintRequest) (job *queue.Job, existed bool, err error) {
	if s.isClosing() {
		return nil, false, ErrClosing
	}
	d, err := s.printer(r.Printer)
	if err != nil {
		return nil, false, err
	}
	if r.CallbackURL != "" && !s.cfg.Server.CallbackAllowed(r.CallbackURL) {
		return nil, false, s.callbackRefused(r.CallbackURL)
	}
	if err := d.check(r.Document); err != nil {
		return nil, false, &Error{Status: http.StatusBadRequest, Code: CodeInvalidDocument,
			Message: fmt.Sprintf("the document cannot be printed on printer %q (profile %s): %v", d.cfg.Name, d.profile.Name, err), Err: err}
	}
	job, existed, err = s.q.Submit(ctx, queue.Request{
		Printer: d.cfg.Name, Content: r.Content, Raw: r.Raw, Document: r.Document,
		Copies: r.Copies, IdempotencyKey: r.IdempotencyKey, CallbackURL: r.CallbackURL,
		Metadata: r.Metadata, ExpiresIn: r.ExpiresIn,
	})
	if err != nil {
		return nil, false, err
	}
	return job, existed, nil
}

func (s *Service) callbackRefused(url string) error {
	var msg string
	if len(s.cfg.Server.Backends) == 0 {
		msg = fmt.Sprintf("callback_url %q refused: no backend is configured (server { backends = [...] }), so no callback URL is accepted", truncate(url, 200))
	} else {
		var prefixes []string
		for _, b := range s.cfg.Server.Backends {
			prefixes = append(prefixes, b.String())
		}
		msg = fmt.Sprintf("callback_url %q refused: it must start with a configured backend (%s)", truncate(url, 200), strings.Join(prefixes, ", "))
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeCallbackRefused, Message: msg}
}

// Wait waits until job id is final or ctx ends, and returns the job as it
// is then (without payload). A ctx that ends is not an error here: the job
// is returned in its current state.
func (s *Service) Wait(ctx context.Context, id string) (*queue.Job, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	j, err := s.q.Wait(ctx, id)
	if j != nil && (err == nil || ctx.Err() != nil || errors.Is(err, queue.ErrClosed)) {
		return WithoutPayload(j), nil
	}
	return nil, err
}

// Test queues a test page on printer ("" is the default printer): its name,
// profile and driver, a line of Spanish accents and the euro sign, text
// styles, a QR code, a barcode and the time.
func (s *Service) Test(ctx context.Context, printer string) (*queue.Job, error) {
	if s.isClosing() {
		return nil, ErrClosing
	}
	d, err := s.printer(printer)
	if err != nil {
		return nil, err
	}
	job, _, err := s.q.Submit(ctx, queue.Request{Printer: d.cfg.Name, Document: TestPage(d.cfg, time.Now())})
	return job, err
}

// TestPage is the document POST /test prints on printer p.
func TestPage(p *config.Printer, now time.Time) core.Document {
	prof := p.Profile
	stamp := now.Format("2006-01-02 15:04:05 MST")
	return core.Document{
		{Kind: core.KindText, Text: "COMANDERA", Align: "center", Bold: true, Width: 2, Height: 2},
		{Kind: core.KindText, Text: "Test page", Align: "center"},
		{Kind: core.KindLine, Text: "="},
		{Kind: core.KindColumns, Columns: []string{"Printer", p.Name}},
		{Kind: core.KindColumns, Columns: []string{"Profile", prof.Name}},
		{Kind: core.KindColumns, Columns: []string{"Driver", p.Driver}},
		{Kind: core.KindColumns, Columns: []string{"Paper", fmt.Sprintf("%d dots, %d dpi", prof.DotsPerLine, prof.DPI)}},
		{Kind: core.KindColumns, Columns: []string{"Version", core.Version()}},
		{Kind: core.KindColumns, Columns: []string{"Time", stamp}},
		{Kind: core.KindLine, Text: "-"},
		{Kind: core.KindText, Text: "Code page: ñ á é í ó ú ü ¿ ¡ €"},
		{Kind: core.KindText, Text: "Ñ Á É Í Ó Ú Ü · Año, café, pingüino"},
		{Kind: core.KindText, Text: "Bold", Bold: true},
		{Kind: core.KindText, Text: "Underline", Underline: true},
		{Kind: core.KindText, Text: "Invert", Invert: true},
		{Kind: core.KindText, Text: "Font B: 0123456789", Font: "b"},
		{Kind: core.KindText, Text: "Double", Width: 2, Height: 2},
		{Kind: core.KindLine, Text: "-"},
		{Kind: core.KindQR, Text: "comandera test " + p.Name + " " + now.UTC().Format(time.RFC3339), Align: "center"},
		{Kind: core.KindBarcode, Text: "4006381333931", Symbology: "ean13", HRI: true, Align: "center"},
		{Kind: core.KindText, Text: "If you can read the accents, the code page is right.", Align: "center", Font: "b"},
		{Kind: core.KindCut, Cut: "partial"},
	}
}

// ScanResult is what POST /scan answers.
type ScanResult struct {
	Devices []core.Device `json:"devices"`
	Errors  []string      `json:"errors,omitempty"`
}

// Scan asks every driver that can discover printers for what it sees.
func (s *Service) Scan(ctx context.Context) ScanResult {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	devs, errs := core.Discover(ctx)
	res := ScanResult{Devices: devs}
	if res.Devices == nil {
		res.Devices = []core.Device{}
	}
	for _, e := range errs {
		res.Errors = append(res.Errors, e.Error())
	}
	return res
}

// Job returns a job with its payload.
func (s *Service) Job(id string) (*queue.Job, error) { return s.q.Get(id) }

// Jobs lists jobs, newest first, without payloads. An unknown printer is an
// error, not an empty list.
func (s *Service) Jobs(f queue.Filter) ([]*queue.Job, error) {
	if f.Printer != "" {
		if _, err := s.printer(f.Printer); err != nil {
			return nil, err
		}
	}
	return s.q.List(f)
}

// Cancel cancels a queued job.
func (s *Service) Cancel(ctx context.Context, id string) (*queue.Job, error) {
	if s.isClosing() {
		return nil, ErrClosing
	}
	return s.q.Cancel(ctx, id)
}

// Reprint queues job id again, marked REPRINT, on printer ("" its own).
func (s *Service) Reprint(ctx context.Context, id, printer string) (*queue.Job, error) {
	if s.isClosing() {
		return nil, ErrClosing
	}
	if printer != "" {
		if _, err := s.printer(printer); err != nil {
			return nil, err
		}
	}
	return s.q.Reprint(ctx, id, printer)
}

// Rendered is a preview made by Render.
type Rendered struct {
	PNG      []byte
	Profile  string
	Text     string   // the transcript
	Warnings []string // what a real printer would have done differently
}

// Render draws what a request would print, on the printer's profile (or the
// named profile), as a PNG of the whole roll. Nothing is printed or queued.
func (s *Service) Render(ctx context.Context, r *RenderRequest) (*Rendered, error) {
	var d *device
	if r.Profile != "" {
		prof, err := s.cfg.Profiles.Lookup(r.Profile)
		if err != nil {
			return nil, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
		}
		d = &device{profile: prof, cfg: &config.Printer{Name: "", Profile: prof}}
		if prof.Quirks != "" {
			if pl, ok := s.host.Get(prof.Quirks); ok {
				d.quirks = pl
			}
		}
	} else {
		var err error
		if d, err = s.printer(r.Printer); err != nil {
			return nil, err
		}
	}
	data, err := d.encodePayload(ctx, r.Content, r.Raw, r.Document, false)
	if err != nil {
		if errors.Is(err, plugins.ErrUnavailable) || errors.Is(err, plugins.ErrTimeout) {
			return nil, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error(), RetryAfter: 5 * time.Second, Err: err}
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidDocument,
			Message: fmt.Sprintf("cannot encode for profile %s: %v", d.profile.Name, err), Err: err}
	}
	res, err := sim.Render(data, d.profile)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Message: fmt.Sprintf("cannot render profile %s: %v", d.profile.Name, err), Err: err}
	}
	var buf bytes.Buffer
	if err := sim.EncodePNG(&buf, res.Image); err != nil {
		return nil, err
	}
	return &Rendered{PNG: buf.Bytes(), Profile: d.profile.Name, Text: res.Text(), Warnings: res.Warnings()}, nil
}

// Events subscribes to every job event; the caller closes the
// subscription. See queue.Subscription for what happens when it falls
// behind.
func (s *Service) Events(buffer int) *queue.Subscription { return s.q.Subscribe(buffer) }

// EventsAfter is Events for a client resuming after event ID after (SSE's
// Last-Event-ID); see queue.SubscribeAfter.
func (s *Service) EventsAfter(buffer int, after string) (*queue.Subscription, bool) {
	return s.q.SubscribeAfter(buffer, after)
}

// PrinterInfo describes a printer for GET /printers and /status.
type PrinterInfo struct {
	Name       string            `json:"name"`
	Default    bool              `json:"default,omitempty"`
	Driver     string            `json:"driver"`
	Profile    string            `json:"profile"`
	Quirks     string            `json:"quirks,omitempty"`
	Fallback   string            `json:"fallback,omitempty"`
	State      core.PrinterState `json:"state"`
	Status     core.Status       `json:"status"`
	CheckedAt  time.Time         `json:"checked_at,omitzero"`
	QueueDepth int               `json:"queue_depth"`
	QueueLimit int               `json:"queue_limit"`
	CurrentJob string            `json:"current_job,omitempty"`
	DownSince  time.Time         `json:"down_since,omitzero"`
	LastError  string            `json:"last_error,omitempty"`
	TTL        string            `json:"ttl"`
	Columns    int               `json:"columns"`
}

// Ready reports whether the printer can take a job now: online, or unknown
// on a transport that cannot tell.
func (p PrinterInfo) Ready() bool {
	return p.State == core.StateOnline || p.State == core.StateUnknown
}

// Printers describes the configured printers in configuration order.
func (s *Service) Printers() []PrinterInfo {
	out := make([]PrinterInfo, 0, len(s.order))
	for _, name := range s.order {
		out = append(out, s.printerInfo(name))
	}
	return out
}

func (s *Service) printerInfo(name string) PrinterInfo {
	d := s.devices[name]
	qi, _ := s.q.Printer(name)
	st, err, at := d.last()
	info := PrinterInfo{
		Name: name, Default: name == s.order[0],
		Driver: d.cfg.Driver, Profile: d.profile.Name, Quirks: d.cfg.Quirks, Fallback: d.cfg.Fallback,
		State: qi.State, Status: qi.Status, CheckedAt: at,
		QueueDepth: qi.QueueDepth, QueueLimit: d.cfg.QueueLimit,
		CurrentJob: qi.Current, DownSince: qi.DownSince, LastError: qi.LastError,
		TTL: d.cfg.TTL.String(), Columns: d.profile.FontAColumns,
	}
	busy := qi.QueueDepth > 0 || qi.Current != ""
	switch {
	case at.IsZero():
	case qi.State == core.StateOffline && busy:
		// The worker is retrying: its view is the current one.
	case err != nil && errors.Is(err, core.ErrOffline):
		info.State, info.Status = core.StateOffline, core.Status{}
		if info.LastError == "" {
			info.LastError = err.Error()
		}
	case err != nil:
		if info.LastError == "" {
			info.LastError = err.Error()
		}
	default:
		info.State, info.Status = st.State(), st
		if !busy {
			info.DownSince, info.LastError = time.Time{}, ""
		}
	}
	return info
}

// StatusInfo is what GET /status answers.
type StatusInfo struct {
	Hostname      string              `json:"hostname"`
	Version       string              `json:"version"`
	GoVersion     string              `json:"go_version"`
	StartedAt     time.Time           `json:"started_at"`
	Uptime        string              `json:"uptime"`
	UptimeSeconds float64             `json:"uptime_seconds"`
	Drivers       []string            `json:"drivers"`
	Plugins       []string            `json:"plugins"`
	Printers      []PrinterInfo       `json:"printers"`
	Callbacks     queue.CallbackStats `json:"callbacks"`
	// Connectors: the transports beside the HTTP API, by name ("mqtt").
	Connectors map[string]ConnectorInfo `json:"connectors"`
}

// Status describes the server and its printers.
func (s *Service) Status() StatusInfo {
	s.awaitProbe()
	host, _ := os.Hostname()
	up := time.Since(s.started)
	plugs := s.host.Names()
	if plugs == nil {
		plugs = []string{}
	}
	return StatusInfo{
		Hostname: host, Version: core.Version(), GoVersion: runtime.Version(),
		StartedAt: s.started.UTC(), Uptime: up.Round(time.Second).String(), UptimeSeconds: up.Seconds(),
		Drivers: core.Drivers(), Plugins: plugs,
		Printers: s.Printers(), Callbacks: s.q.CallbackStats(),
		Connectors: s.connectorInfo(),
	}
}

// Health is what GET /health answers. Its first five fields are those of
// the server Comandera replaces; nothing in it is secret.
type Health struct {
	Status        string          `json:"status"` // healthy | degraded
	Message       string          `json:"message"`
	Timestamp     time.Time       `json:"timestamp"`
	ActivePorts   int             `json:"active_ports"`   // printers that can print now
	TotalPrinters int             `json:"total_printers"` // printers configured
	Printers      []HealthPrinter `json:"printers"`
}

// HealthPrinter is one printer's line in Health.
type HealthPrinter struct {
	Name       string            `json:"name"`
	State      core.PrinterState `json:"state"`
	QueueDepth int               `json:"queue_depth"`
}

// Health summarises whether every printer can print.
func (s *Service) Health() Health {
	s.awaitProbe()
	h := Health{Status: "healthy", Timestamp: time.Now().UTC(), TotalPrinters: len(s.order)}
	var problems []string
	for _, p := range s.Printers() {
		h.Printers = append(h.Printers, HealthPrinter{Name: p.Name, State: p.State, QueueDepth: p.QueueDepth})
		if p.Ready() {
			h.ActivePorts++
		} else {
			problems = append(problems, fmt.Sprintf("%s is %s", p.Name, strings.ReplaceAll(string(p.State), "_", " ")))
		}
	}
	switch {
	case s.isClosing():
		h.Status, h.Message = "degraded", "shutting down"
	case len(problems) > 0:
		h.Status = "degraded"
		h.Message = strings.Join(problems, "; ")
	default:
		h.Message = fmt.Sprintf("all %d printers ready", len(s.order))
		if len(s.order) == 1 {
			h.Message = "the printer is ready"
		}
	}
	return h
}

// Alive reports whether the service still works: its database answers. The
// systemd watchdog is fed only while it does.
func (s *Service) Alive() bool {
	if s.isClosing() {
		return true // shutting down is not hanging
	}
	done := make(chan struct{})
	go func() {
		_ = s.q.Depth(s.order[0])
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// BeginShutdown makes waits and event streams return and refuses new jobs
// (ErrClosing); Close finishes the shutdown.
func (s *Service) BeginShutdown() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// Close shuts the service down: new jobs are refused, each worker finishes
// the job in hand, the queue is closed cleanly (when ctx ends first, prints
// in progress are cut off and reprinted marked at the next start), and the
// plugins are stopped.
func (s *Service) Close(ctx context.Context) error {
	s.BeginShutdown()
	err := s.q.Shutdown(ctx)
	close(s.stopBG)
	s.bg.Wait()
	for _, d := range s.devices {
		d.close()
	}
	if s.ownHost {
		s.host.Close()
	}
	return err
}

// WithoutPayload returns a copy of j without its content, for answers that
// need not echo it.
func WithoutPayload(j *queue.Job) *queue.Job {
	if j == nil {
		return nil
	}
	c := *j
	c.Content, c.Raw, c.Document = "", nil, nil
	return &c
}
