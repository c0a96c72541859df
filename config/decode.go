package config

import (
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/comandera/comandera/core"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The outer schema: the blocks a printers.hcl may hold.
var rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "server"},
	{Type: "printer", LabelNames: []string{"name"}},
	{Type: "profile", LabelNames: []string{"name"}},
	{Type: "plugin", LabelNames: []string{"name"}},
	{Type: "connector", LabelNames: []string{"kind"}},
}}

// The bodies of the outer blocks, decoded with gohcl. Pointers tell an
// attribute that is absent (take the default) from one set to a zero value
// (an error where zero is not allowed). The *Range fields anchor diagnostics
// about a value at the value.
type serverBody struct {
	Listen                 *string        `hcl:"listen,optional"`
	ListenRange            hcl.Range      `hcl:"listen,attr_value_range"`
	Token                  *string        `hcl:"token,optional"`
	Insecure               bool           `hcl:"insecure,optional"`
	PublicPaths            hcl.Expression `hcl:"public_paths,optional"`
	DataDir                *string        `hcl:"data_dir,optional"`
	DataDirRange           hcl.Range      `hcl:"data_dir,attr_value_range"`
	MaxBody                *string        `hcl:"max_body,optional"`
	MaxBodyRange           hcl.Range      `hcl:"max_body,attr_value_range"`
	Backends               hcl.Expression `hcl:"backends,optional"`
	BackendsRange          hcl.Range      `hcl:"backends,attr_value_range"`
	CallbackSecret         string         `hcl:"callback_secret,optional"`
	IdempotencyWindow      *string        `hcl:"idempotency_window,optional"`
	IdempotencyWindowRange hcl.Range      `hcl:"idempotency_window,attr_value_range"`
	HistoryMaxAge          *string        `hcl:"history_max_age,optional"`
	HistoryMaxAgeRange     hcl.Range      `hcl:"history_max_age,attr_value_range"`
	HistoryMaxJobs         *int           `hcl:"history_max_jobs,optional"`
	HistoryMaxJobsRange    hcl.Range      `hcl:"history_max_jobs,attr_value_range"`
	TLS                    *serverTLSBody `hcl:"tls,block"`
}

type serverTLSBody struct {
	Cert      string    `hcl:"cert"`
	CertRange hcl.Range `hcl:"cert,attr_value_range"`
	Key       string    `hcl:"key"`
	KeyRange  hcl.Range `hcl:"key,attr_value_range"`
}

type printerBody struct {
	Profile            *string   `hcl:"profile,optional"`
	ProfileRange       hcl.Range `hcl:"profile,attr_value_range"`
	Fallback           *string   `hcl:"fallback,optional"`
	FallbackRange      hcl.Range `hcl:"fallback,attr_value_range"`
	FailoverAfter      *string   `hcl:"failover_after,optional"`
	FailoverAfterRange hcl.Range `hcl:"failover_after,attr_value_range"`
	Quirks             *string   `hcl:"quirks,optional"`
	QuirksRange        hcl.Range `hcl:"quirks,attr_value_range"`
	QueueLimit         *int      `hcl:"queue_limit,optional"`
	QueueLimitRange    hcl.Range `hcl:"queue_limit,attr_value_range"`
	TTL                *string   `hcl:"ttl,optional"`
	TTLRange           hcl.Range `hcl:"ttl,attr_value_range"`
	MaxAttempts        *int      `hcl:"max_attempts,optional"`
	MaxAttemptsRange   hcl.Range `hcl:"max_attempts,attr_value_range"`
	RetryBackoff       *string   `hcl:"retry_backoff,optional"`
	RetryBackoffRange  hcl.Range `hcl:"retry_backoff,attr_value_range"`
	RetryMax           *string   `hcl:"retry_max,optional"`
	RetryMaxRange      hcl.Range `hcl:"retry_max,attr_value_range"`
	// Driver holds the driver block, decoded in the second phase.
	Driver hcl.Body `hcl:",remain"`
}

type pluginBody struct {
	Path         string    `hcl:"path"`
	PathRange    hcl.Range `hcl:"path,attr_value_range"`
	SHA256       string    `hcl:"sha256"`
	SHA256Range  hcl.Range `hcl:"sha256,attr_value_range"`
	Timeout      *string   `hcl:"timeout,optional"`
	TimeoutRange hcl.Range `hcl:"timeout,attr_value_range"`
}

type mqttBody struct {
	Broker             string            `hcl:"broker"`
	BrokerRange        hcl.Range         `hcl:"broker,attr_value_range"`
	ClientID           string            `hcl:"client_id"`
	ClientIDRange      hcl.Range         `hcl:"client_id,attr_value_range"`
	TopicPrefix        *string           `hcl:"topic_prefix,optional"`
	TopicPrefixRange   hcl.Range         `hcl:"topic_prefix,attr_value_range"`
	Username           string            `hcl:"username,optional"`
	Password           string            `hcl:"password,optional"`
	KeepAlive          *string           `hcl:"keepalive,optional"`
	KeepAliveRange     hcl.Range         `hcl:"keepalive,attr_value_range"`
	SessionExpiry      *string           `hcl:"session_expiry,optional"`
	SessionExpiryRange hcl.Range         `hcl:"session_expiry,attr_value_range"`
	Envelope           bool              `hcl:"envelope,optional"`
	Protocol           *string           `hcl:"protocol,optional"`
	ProtocolRange      hcl.Range         `hcl:"protocol,attr_value_range"`
	TLS                *connectorTLSBody `hcl:"tls,block"`
}

type connectorTLSBody struct {
	CA        string    `hcl:"ca,optional"`
	CARange   hcl.Range `hcl:"ca,attr_value_range"`
	Cert      string    `hcl:"cert,optional"`
	CertRange hcl.Range `hcl:"cert,attr_value_range"`
	Key       string    `hcl:"key,optional"`
	KeyRange  hcl.Range `hcl:"key,attr_value_range"`
	DefRange  hcl.Range `hcl:",def_range"`
}

// decoder holds the state of one parse.
type decoder struct {
	ctx   *hcl.EvalContext
	dir   string
	cfg   *Config
	diags hcl.Diagnostics

	// brokenProfiles are profile blocks that failed: printers naming them
	// get no second "unknown profile" diagnostic.
	brokenProfiles map[string]bool
	// plugins and printers declared in the file, by name, wherever they are
	// and whether or not they decoded.
	plugins  map[string]bool
	printers map[string]*hcl.Block
	// fallbacks are the printers' fallback attributes, for the cycle check.
	fallbacks map[string]fallbackRef
}

type fallbackRef struct {
	to    string
	rng   hcl.Range
	index int
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

func parse(src []byte, filename, dir string) (*Config, hcl.Diagnostics) {
	start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	if len(src) > MaxFileSize {
		return nil, hcl.Diagnostics{errAt(start, "Configuration too large", fmt.Sprintf("The file is %d bytes; the limit is %d.", len(src), MaxFileSize))}
	}
	if diags := checkShape(src, filename); diags.HasErrors() {
		return nil, diags
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		sortDiagnostics(diags)
		return nil, diags
	}
	// Loops are the one way a small file could make evaluation build huge
	// values (nested for over long lists); printers.hcl has no use for them.
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		loops := hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if fe, ok := n.(*hclsyntax.ForExpr); ok {
				return hcl.Diagnostics{errAt(fe.SrcRange, "Unsupported expression", "for expressions and %{ for } directives are not supported in printers.hcl; write the values out.")}
			}
			return nil
		})
		if loops.HasErrors() {
			sortDiagnostics(loops)
			return nil, loops
		}
	}
	d := &decoder{
		ctx:            evalContext(dir),
		dir:            dir,
		cfg:            &Config{Filename: filename, Dir: dir, Profiles: core.Builtin()},
		diags:          diags,
		brokenProfiles: map[string]bool{},
		plugins:        map[string]bool{},
		printers:       map[string]*hcl.Block{},
		fallbacks:      map[string]fallbackRef{},
	}
	content, cd := f.Body.Content(rootSchema)
	d.add(cd...)
	blocks := content.Blocks.ByType()

	// Order matters: printers refer to plugins and profiles, profiles to
	// each other; every block is still decoded, so all problems surface.
	d.decodePlugins(blocks["plugin"])
	d.decodeProfiles(blocks["profile"])
	d.decodeServer(blocks["server"], start)
	d.decodeConnectors(blocks["connector"])
	d.decodePrinters(blocks["printer"])
	if len(blocks["printer"]) == 0 {
		d.add(errAt(start, "No printers", `Declare at least one printer "NAME" { … } block with a driver block in it.`))
	}

	d.diags = dropCascades(d.diags)
	sortDiagnostics(d.diags)
	if d.diags.HasErrors() {
		return nil, d.diags
	}
	return d.cfg, d.diags
}

// --- plugins ---

func (d *decoder) decodePlugins(blocks []*hcl.Block) {
	first := map[string]hcl.Range{}
	for _, b := range blocks {
		name := b.Labels[0]
		if err := checkName("plugin", name); err != nil {
			d.add(errAt(b.LabelRanges[0], "Invalid plugin name", err.Error()+"."))
		}
		if prev, dup := first[name]; dup {
			d.add(errAt(b.DefRange, "Duplicate plugin", fmt.Sprintf("A plugin %q is already declared at %s.", name, posString(prev))))
			continue
		}
		first[name] = b.DefRange
		d.plugins[name] = true

		var pb pluginBody
		if diags := gohcl.DecodeBody(b.Body, d.ctx, &pb); diags.HasErrors() {
			d.add(diags...)
			continue
		}
		p := &Plugin{Name: name, Path: resolve(d.dir, pb.Path), Range: b.DefRange, SHA256Range: pb.SHA256Range}
		ok := true
		if pb.Path == "" {
			d.add(errAt(pb.PathRange, "Invalid plugin path", "The path of the plugin binary is empty."))
			ok = false
		}
		sum := strings.ToLower(strings.TrimSpace(pb.SHA256))
		if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 {
			d.add(errAt(pb.SHA256Range, "Invalid sha256", fmt.Sprintf("%q is not a SHA-256 checksum: want 64 hex digits, as `sha256sum PLUGIN` prints.", pb.SHA256)))
			ok = false
		}
		p.SHA256 = sum
		p.Timeout, ok = d.duration(pb.Timeout, pb.TimeoutRange, DefaultPluginTimeout, false, ok)
		if ok {
			d.cfg.Plugins = append(d.cfg.Plugins, p)
		}
	}
}

// --- profiles ---

// decodeProfiles decodes the profile blocks with core.DecodeProfile on top of
// the built-in profiles, each after the profile it is based on when that is
// also defined in the file (so order in the file does not matter).
func (d *decoder) decodeProfiles(blocks []*hcl.Block) {
	byName := map[string]*hcl.Block{}
	var order []*hcl.Block
	for _, b := range blocks {
		name := b.Labels[0]
		if prev, dup := byName[name]; dup {
			d.add(errAt(b.DefRange, "Duplicate profile", fmt.Sprintf("A profile %q is already defined at %s.", name, posString(prev.DefRange))))
			continue
		}
		byName[name] = b
		order = append(order, b)
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var stack []string
	var visit func(b *hcl.Block)
	visit = func(b *hcl.Block) {
		name := b.Labels[0]
		if state[name] != 0 {
			return
		}
		state[name] = visiting
		stack = append(stack, name)
		base, baseRange := d.peekBase(b)
		if bb, ok := byName[base]; ok && base != name {
			switch state[base] {
			case 0:
				visit(bb)
			case visiting:
				i := slices.Index(stack, base)
				cycle := append(slices.Clone(stack[i:]), base)
				d.add(errAt(baseRange, "Profile cycle", fmt.Sprintf("Profiles are based on each other in a circle: %s.", strings.Join(cycle, " → "))))
				for _, n := range cycle {
					d.brokenProfiles[n] = true
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		if d.brokenProfiles[name] {
			return
		}
		if base != name && d.brokenProfiles[base] {
			// Its base failed and said so; this one cannot be built.
			d.brokenProfiles[name] = true
			return
		}
		p, diags := core.DecodeProfile(b, d.ctx, d.cfg.Profiles)
		d.add(diags...)
		if p == nil || diags.HasErrors() {
			d.brokenProfiles[name] = true
			return
		}
		d.cfg.Profiles[name] = p
	}
	for _, b := range order {
		visit(b)
	}
}

// peekBase returns the value of a profile block's base attribute, if it has
// a string one.
func (d *decoder) peekBase(b *hcl.Block) (string, hcl.Range) {
	sb, ok := b.Body.(*hclsyntax.Body)
	if !ok {
		return "", b.DefRange
	}
	a, ok := sb.Attributes["base"]
	if !ok {
		return "", b.DefRange
	}
	var base string
	if diags := gohcl.DecodeExpression(a.Expr, d.ctx, &base); diags.HasErrors() {
		return "", b.DefRange
	}
	return base, a.Expr.Range()
}

// --- server ---

func (d *decoder) decodeServer(blocks []*hcl.Block, start hcl.Range) {
	s := &d.cfg.Server
	*s = Server{
		Listen:            DefaultListen,
		Token:             os.Getenv(TokenEnv),
		PublicPaths:       slices.Clone(DefaultPublicPaths),
		DataDir:           resolve(d.dir, DefaultDataDir),
		MaxBody:           DefaultMaxBody,
		IdempotencyWindow: DefaultIdempotencyWindow,
		HistoryMaxAge:     DefaultHistoryMaxAge,
		HistoryMaxJobs:    DefaultHistoryMaxJobs,
		Range:             start,
	}
	if len(blocks) == 0 {
		s.CallbackSecret = s.Token
		return
	}
	for _, b := range blocks[1:] {
		d.add(errAt(b.DefRange, "Duplicate server block", fmt.Sprintf("The server block is already at %s; there is only one.", posString(blocks[0].DefRange))))
	}
	b := blocks[0]
	s.Range = b.DefRange
	var sb serverBody
	d.add(gohcl.DecodeBody(b.Body, d.ctx, &sb)...)

	if sb.Token != nil {
		s.Token = *sb.Token
	}
	s.Insecure = sb.Insecure
	listenRange := b.DefRange
	if sb.Listen != nil {
		s.Listen = *sb.Listen
		listenRange = sb.ListenRange
	}
	if _, err := checkListen(s.Listen); err != nil {
		d.add(errAt(listenRange, "Invalid listen address", err.Error()+"."))
	} else if err := s.CheckAuth(); err != nil {
		d.add(errAt(listenRange, "Listening on the network without a token", err.Error()+"."))
	}

	if paths, ranges, set := d.stringList(sb.PublicPaths); set {
		s.PublicPaths = paths
		for i, p := range paths {
			if !strings.HasPrefix(p, "/") {
				d.add(errAt(ranges[i], "Invalid public path", fmt.Sprintf("%q: a public path is a URL path like \"/health\".", p)))
			}
		}
	}
	if sb.DataDir != nil {
		if *sb.DataDir == "" {
			d.add(errAt(sb.DataDirRange, "Invalid data_dir", "The data directory is empty."))
		}
		s.DataDir = resolve(d.dir, *sb.DataDir)
	}
	if sb.MaxBody != nil {
		n, err := ParseSize(*sb.MaxBody)
		switch {
		case err != nil:
			d.add(errAt(sb.MaxBodyRange, "Invalid size", err.Error()+"."))
		case n < 1<<10 || n > 1<<30:
			d.add(errAt(sb.MaxBodyRange, "Invalid max_body", fmt.Sprintf("%q: want 1KiB to 1GiB.", *sb.MaxBody)))
		default:
			s.MaxBody = n
		}
	}
	if backends, ranges, set := d.stringList(sb.Backends); set {
		for i, raw := range backends {
			u, err := parseBackend(raw)
			if err != nil {
				d.add(errAt(ranges[i], "Invalid backend URL", err.Error()+"."))
				continue
			}
			s.Backends = append(s.Backends, u)
		}
	}
	s.CallbackSecret = sb.CallbackSecret
	if s.CallbackSecret == "" {
		s.CallbackSecret = s.Token
	}
	if len(s.Backends) > 0 && s.CallbackSecret == "" {
		d.add(warnAt(sb.BackendsRange, "Callbacks signed with an empty key", "Neither callback_secret nor token is set, so backends cannot verify callbacks and events; set callback_secret."))
	}
	s.IdempotencyWindow, _ = d.duration(sb.IdempotencyWindow, sb.IdempotencyWindowRange, DefaultIdempotencyWindow, false, true)
	s.HistoryMaxAge, _ = d.duration(sb.HistoryMaxAge, sb.HistoryMaxAgeRange, DefaultHistoryMaxAge, false, true)
	s.HistoryMaxJobs, _ = d.intRange(sb.HistoryMaxJobs, sb.HistoryMaxJobsRange, "history_max_jobs", DefaultHistoryMaxJobs, 1, 100_000_000, true)
	if t := sb.TLS; t != nil {
		ok := d.nonEmpty(t.Cert, t.CertRange, "cert") && d.nonEmpty(t.Key, t.KeyRange, "key")
		if ok {
			s.TLS = &TLS{Cert: resolve(d.dir, t.Cert), Key: resolve(d.dir, t.Key)}
		}
	}
}

// --- connectors ---

func (d *decoder) decodeConnectors(blocks []*hcl.Block) {
	var first *hcl.Block
	for _, b := range blocks {
		if kind := b.Labels[0]; kind != "mqtt" {
			d.add(errAt(b.LabelRanges[0], "Unknown connector", fmt.Sprintf("There is no connector %q; the connector is \"mqtt\".", kind)))
			continue
		}
		if first != nil {
			d.add(errAt(b.DefRange, "Duplicate connector", fmt.Sprintf("A connector \"mqtt\" is already declared at %s.", posString(first.DefRange))))
			continue
		}
		first = b
		var mb mqttBody
		if diags := gohcl.DecodeBody(b.Body, d.ctx, &mb); diags.HasErrors() {
			d.add(diags...)
			continue
		}
		m := &MQTT{Broker: mb.Broker, ClientID: mb.ClientID, Username: mb.Username, Password: mb.Password, Envelope: mb.Envelope, Range: b.DefRange}
		ok := true
		u, err := parseBroker(mb.Broker)
		if err != nil {
			d.add(errAt(mb.BrokerRange, "Invalid broker URL", err.Error()+"."))
			ok = false
		}
		m.BrokerURL = u
		if mb.ClientID == "" {
			d.add(errAt(mb.ClientIDRange, "Invalid client_id", "The client ID is empty; give each box its own, like \"restaurant-12\"."))
			ok = false
		} else if len(mb.ClientID) > 65535 || strings.ContainsAny(mb.ClientID, "\x00") {
			d.add(errAt(mb.ClientIDRange, "Invalid client_id", "The client ID must be at most 65535 bytes, without NUL."))
			ok = false
		}
		m.TopicPrefix = "comandera/" + mb.ClientID
		if mb.TopicPrefix != nil {
			m.TopicPrefix = *mb.TopicPrefix
			if err := checkTopicPrefix(m.TopicPrefix); err != nil {
				d.add(errAt(mb.TopicPrefixRange, "Invalid topic_prefix", err.Error()+"."))
				ok = false
			}
		}
		m.KeepAlive, ok = d.duration(mb.KeepAlive, mb.KeepAliveRange, DefaultKeepAlive, false, ok)
		if m.KeepAlive%time.Second != 0 || m.KeepAlive > 65535*time.Second {
			d.add(errAt(mb.KeepAliveRange, "Invalid keepalive", fmt.Sprintf("%s: want whole seconds from 1s to 65535s.", m.KeepAlive)))
			ok = false
		}
		m.Protocol = ProtocolAuto
		if mb.Protocol != nil {
			switch m.Protocol = *mb.Protocol; m.Protocol {
			case ProtocolAuto, Protocol5, Protocol311:
			default:
				d.add(errAt(mb.ProtocolRange, "Invalid protocol", fmt.Sprintf("%q: want \"auto\" (MQTT 5, or 3.1.1 when the broker refuses 5), \"5\" or \"3.1.1\".", m.Protocol)))
				ok = false
			}
		}
		m.SessionExpiry, ok = d.duration(mb.SessionExpiry, mb.SessionExpiryRange, DefaultSessionExpiry, true, ok)
		if m.SessionExpiry%time.Second != 0 || m.SessionExpiry > (1<<32-1)*time.Second {
			d.add(errAt(mb.SessionExpiryRange, "Invalid session_expiry", fmt.Sprintf("%s: want whole seconds from 0s to 4294967295s.", m.SessionExpiry)))
			ok = false
		}
		if t := mb.TLS; t != nil {
			if u != nil && !brokerSchemes[u.Scheme] {
				d.add(errAt(t.DefRange, "TLS block on a plain broker", fmt.Sprintf("The broker URL %q does not use TLS; use mqtts://, tls:// or wss://, or remove the tls block.", mb.Broker)))
				ok = false
			}
			if (t.Cert == "") != (t.Key == "") {
				r := t.CertRange
				if t.Cert == "" {
					r = t.KeyRange
				}
				d.add(errAt(r, "Incomplete client certificate", "A client certificate needs both cert and key."))
				ok = false
			}
			m.TLS = &TLS{CA: resolve(d.dir, t.CA), Cert: resolve(d.dir, t.Cert), Key: resolve(d.dir, t.Key)}
		}
		if ok {
			d.cfg.MQTT = m
		}
	}
}

// --- printers ---

func (d *decoder) decodePrinters(blocks []*hcl.Block) {
	// First the names, so a fallback may name a printer declared later.
	var order []*hcl.Block
	for _, b := range blocks {
		name := b.Labels[0]
		if err := checkName("printer", name); err != nil {
			d.add(errAt(b.LabelRanges[0], "Invalid printer name", err.Error()+"."))
		}
		if prev, dup := d.printers[name]; dup {
			d.add(errAt(b.DefRange, "Duplicate printer", fmt.Sprintf("A printer %q is already declared at %s.", name, posString(prev.DefRange))))
			continue
		}
		d.printers[name] = b
		order = append(order, b)
	}
	for i, b := range order {
		if p := d.decodePrinter(b, i); p != nil {
			d.cfg.Printers = append(d.cfg.Printers, p)
		}
	}
	d.checkFallbackCycles(order)
}

func (d *decoder) decodePrinter(b *hcl.Block, index int) *Printer {
	name := b.Labels[0]
	var pb printerBody
	diags := gohcl.DecodeBody(b.Body, d.ctx, &pb)
	d.add(diags...)
	ok := !diags.HasErrors()
	p := &Printer{Name: name, Range: b.DefRange}

	// Profile.
	profName, profRange := core.DefaultProfile, b.DefRange
	if pb.Profile != nil && *pb.Profile != "" {
		profName, profRange = *pb.Profile, pb.ProfileRange
	}
	if prof, err := d.cfg.Profiles.Lookup(profName); err == nil {
		p.Profile = prof.Clone()
	} else {
		ok = false
		if !d.brokenProfiles[profName] {
			d.add(errAt(profRange, "Unknown profile", fmt.Sprintf("Printer %q uses profile %q, which is neither built in nor defined by a profile block. Known profiles: %s.", name, profName, strings.Join(d.cfg.Profiles.Names(), ", "))))
		}
	}

	// Quirks: the printer's own, else its profile's.
	switch {
	case pb.Quirks != nil:
		p.Quirks = *pb.Quirks
		if p.Quirks != "" && !d.plugins[p.Quirks] {
			d.add(errAt(pb.QuirksRange, "Undeclared plugin", fmt.Sprintf("Printer %q uses the quirks plugin %q, but no plugin %q block declares it; add plugin %q { path = \"…\" sha256 = \"…\" }.", name, p.Quirks, p.Quirks, p.Quirks)))
			ok = false
		}
	case p.Profile != nil && p.Profile.Quirks != "":
		p.Quirks = p.Profile.Quirks
		if !d.plugins[p.Quirks] {
			d.add(errAt(profRange, "Undeclared plugin", fmt.Sprintf("Profile %q needs the quirks plugin %q, but no plugin %q block declares it; add plugin %q { path = \"…\" sha256 = \"…\" } (or set quirks = \"\" on printer %q to send its jobs without the plugin).", p.Profile.Name, p.Quirks, p.Quirks, p.Quirks, name)))
			ok = false
		}
	}

	// Fallback: checked against the names; cycles once all are known.
	if pb.Fallback != nil && *pb.Fallback != "" {
		p.Fallback = *pb.Fallback
		switch _, declared := d.printers[p.Fallback]; {
		case p.Fallback == name:
			d.add(errAt(pb.FallbackRange, "Invalid fallback", fmt.Sprintf("Printer %q cannot fall back to itself.", name)))
			ok = false
		case !declared:
			d.add(errAt(pb.FallbackRange, "Unknown fallback printer", fmt.Sprintf("Printer %q falls back to %q, which is not declared. Declared printers: %s.", name, p.Fallback, strings.Join(d.printerNames(), ", "))))
			ok = false
		default:
			d.fallbacks[name] = fallbackRef{to: p.Fallback, rng: pb.FallbackRange, index: index}
		}
	}
	p.FailoverAfter, ok = d.duration(pb.FailoverAfter, pb.FailoverAfterRange, DefaultFailoverAfter, false, ok)
	if pb.FailoverAfter != nil && p.Fallback == "" {
		d.add(warnAt(pb.FailoverAfterRange, "failover_after without fallback", fmt.Sprintf("Printer %q has no fallback, so failover_after has no effect.", name)))
	}

	// Queue settings.
	p.QueueLimit, ok = d.intRange(pb.QueueLimit, pb.QueueLimitRange, "queue_limit", DefaultQueueLimit, 1, 1_000_000, ok)
	p.TTL, ok = d.duration(pb.TTL, pb.TTLRange, DefaultTTL, false, ok)
	p.MaxAttempts, ok = d.intRange(pb.MaxAttempts, pb.MaxAttemptsRange, "max_attempts", DefaultMaxAttempts, 1, 1000, ok)
	var backoffOK, maxOK bool
	p.RetryBackoff, backoffOK = d.duration(pb.RetryBackoff, pb.RetryBackoffRange, DefaultRetryBackoff, false, true)
	p.RetryMax, maxOK = d.duration(pb.RetryMax, pb.RetryMaxRange, DefaultRetryMax, false, true)
	ok = ok && backoffOK && maxOK
	if backoffOK && maxOK && p.RetryMax < p.RetryBackoff {
		r := pb.RetryMaxRange
		if pb.RetryMax == nil {
			r = pb.RetryBackoffRange
		}
		d.add(errAt(r, "Invalid retry delays", fmt.Sprintf("retry_max (%s) is shorter than retry_backoff (%s).", p.RetryMax, p.RetryBackoff)))
		ok = false
	}

	// Second phase: the driver block.
	if pb.Driver == nil {
		return nil
	}
	if !d.decodeDriverBlock(p, b, pb.Driver) {
		ok = false
	}
	if !ok {
		return nil
	}
	return p
}

// printerAttrs are the printer block's own attributes, offered as
// suggestions when an argument is misspelt.
var printerAttrs = func() []hcl.AttributeSchema {
	s, _ := gohcl.ImpliedBodySchema(&printerBody{})
	return s.Attributes
}()

// decodeDriverBlock finds the printer's one driver block in what the outer
// decode left, and decodes its body into the driver's Config().
func (d *decoder) decodeDriverBlock(p *Printer, printer *hcl.Block, rest hcl.Body) bool {
	registered := core.Drivers()
	types := slices.Clone(registered)
	written := -1 // blocks in the source, when known
	if sb, ok := rest.(*hclsyntax.Body); ok {
		written = len(sb.Blocks)
		for _, b := range sb.Blocks {
			if !slices.Contains(types, b.Type) {
				types = append(types, b.Type)
			}
		}
	}
	schema := &hcl.BodySchema{Attributes: printerAttrs}
	for _, t := range types {
		schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: t})
	}
	content, diags := rest.Content(schema)
	d.add(diags...)
	ok := !diags.HasErrors()

	known := strings.Join(registered, ", ")
	if known == "" {
		known = "none are registered (forgotten import of drivers/all?)"
	}
	if len(content.Blocks) == 0 {
		if written > 0 {
			// The block is there but malformed (a label); Content said so.
			return false
		}
		d.add(errAt(printer.DefRange, "Missing driver block", fmt.Sprintf("Printer %q needs exactly one driver block; registered drivers: %s.", p.Name, known)))
		return false
	}
	for _, b := range content.Blocks[1:] {
		d.add(errAt(b.DefRange, "Duplicate driver block", fmt.Sprintf("Printer %q already has a %s block at %s; a printer has exactly one driver block.", p.Name, content.Blocks[0].Type, posString(content.Blocks[0].DefRange))))
		ok = false
	}
	for i, b := range content.Blocks {
		cfg, good := d.decodeDriver(p, b, known)
		if i == 0 {
			p.Driver, p.DriverConfig, p.DriverRange = b.Type, cfg, b.DefRange
			ok = ok && good
		}
	}
	return ok
}

// decodeDriver decodes one driver block with the driver's own schema.
func (d *decoder) decodeDriver(p *Printer, b *hcl.Block, known string) (cfg any, ok bool) {
	drv, err := core.Lookup(b.Type)
	if err != nil {
		detail := "Registered drivers: " + known + "."
		if s := suggest(b.Type, core.Drivers()); s != "" {
			detail = fmt.Sprintf("Did you mean %q? %s", s, detail)
		}
		d.add(errAt(b.DefRange, err.Error(), detail))
		return nil, false
	}
	ok = true
	if err := core.Available(drv); err != nil {
		d.add(errAt(b.DefRange, fmt.Sprintf("Driver %q is not available", b.Type), err.Error()))
		ok = false
	}
	cfg, diags := decodeDriverConfig(drv, b, d.ctx)
	d.add(diags...)
	if cfg == nil || diags.HasErrors() {
		return nil, false
	}
	if err := prepareDriverConfig(cfg, d.dir, p.Profile); err != nil {
		d.add(errAt(b.DefRange, fmt.Sprintf("Invalid %s block", b.Type), err.Error()))
		return nil, false
	}
	return cfg, ok
}

// decodeDriverConfig decodes a driver block into a new Config() of the
// driver. A driver whose Config is not a pointer to a struct, or whose hcl
// tags make gohcl panic, gets a diagnostic, not a crash.
func decodeDriverConfig(drv core.Driver, b *hcl.Block, ctx *hcl.EvalContext) (cfg any, diags hcl.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			cfg = nil
			diags = append(diags, errAt(b.DefRange, "Driver error", fmt.Sprintf("Decoding the %s block panicked in the driver (a bug in the driver): %v.", b.Type, r)))
		}
	}()
	cfg = drv.Config()
	if v := reflect.ValueOf(cfg); !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, hcl.Diagnostics{errAt(b.DefRange, "Driver error", fmt.Sprintf("The %s driver's Config() returned %T, not a pointer to a struct (a bug in the driver).", b.Type, cfg))}
	}
	return cfg, gohcl.DecodeBody(b.Body, ctx, cfg)
}

// prepareDriverConfig gives a decoded driver config what it may need: the
// base directory, the printer's profile; then lets it validate itself.
func prepareDriverConfig(cfg any, dir string, prof *core.Profile) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the driver panicked (a bug in the driver): %v", r)
		}
	}()
	if r, ok := cfg.(PathResolver); ok {
		r.ResolvePaths(dir)
	}
	if s, ok := cfg.(core.ProfileSetter); ok && prof != nil {
		s.SetProfile(prof)
	}
	if v, ok := cfg.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// checkFallbackCycles reports each circle of fallbacks once, at the
// fallback attribute of its first declared printer.
func (d *decoder) checkFallbackCycles(order []*hcl.Block) {
	done := map[string]bool{}
	for _, b := range order {
		var path []string
		onPath := map[string]int{}
		for n := b.Labels[0]; !done[n]; {
			if i, seen := onPath[n]; seen {
				cycle := path[i:]
				first := cycle[0]
				for _, c := range cycle {
					if d.fallbacks[c].index < d.fallbacks[first].index {
						first = c
					}
				}
				j := slices.Index(cycle, first)
				rot := append(slices.Clone(cycle[j:]), cycle[:j]...)
				rot = append(rot, first)
				d.add(errAt(d.fallbacks[first].rng, "Fallback cycle", fmt.Sprintf("Printers fall back to each other in a circle: %s.", strings.Join(rot, " → "))))
				break
			}
			onPath[n] = len(path)
			path = append(path, n)
			f, ok := d.fallbacks[n]
			if !ok {
				break
			}
			n = f.to
		}
		for _, n := range path {
			done[n] = true
		}
	}
}

func (d *decoder) printerNames() []string {
	var names []string
	for n := range d.printers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// --- values ---

// duration parses an optional duration attribute. It returns def when the
// attribute is absent and ok unchanged unless the value is bad.
func (d *decoder) duration(s *string, r hcl.Range, def time.Duration, allowZero, ok bool) (time.Duration, bool) {
	if s == nil {
		return def, ok
	}
	v, err := parseDuration(*s)
	if err != nil && allowZero {
		switch z, zerr := time.ParseDuration(strings.TrimSpace(*s)); {
		case zerr == nil && z == 0:
			return 0, ok
		case zerr == nil && z < 0:
			err = fmt.Errorf("%q: the duration cannot be negative", *s)
		}
	}
	if err != nil {
		d.add(errAt(r, "Invalid duration", err.Error()+"."))
		return def, false
	}
	return v, ok
}

// intRange checks an optional integer attribute against its bounds.
func (d *decoder) intRange(v *int, r hcl.Range, name string, def, min, max int, ok bool) (int, bool) {
	if v == nil {
		return def, ok
	}
	if *v < min || *v > max {
		d.add(errAt(r, "Invalid "+name, fmt.Sprintf("%d: want %d to %d.", *v, min, max)))
		return def, false
	}
	return *v, ok
}

func (d *decoder) nonEmpty(s string, r hcl.Range, name string) bool {
	if s == "" {
		d.add(errAt(r, "Invalid "+name, "The path is empty."))
		return false
	}
	return true
}

// stringList decodes an optional list-of-strings attribute, with the range
// of each element so a bad one can be pointed at.
func (d *decoder) stringList(expr hcl.Expression) (vals []string, ranges []hcl.Range, set bool) {
	if expr == nil {
		return nil, nil, false
	}
	v, diags := expr.Value(d.ctx)
	if diags.HasErrors() {
		d.add(diags...)
		return nil, nil, false
	}
	if v.IsNull() {
		return nil, nil, false
	}
	if elems, diags := hcl.ExprList(expr); !diags.HasErrors() {
		vals, ranges = make([]string, 0, len(elems)), make([]hcl.Range, 0, len(elems))
		good := true
		for _, e := range elems {
			var s string
			if diags := gohcl.DecodeExpression(e, d.ctx, &s); diags.HasErrors() {
				d.add(diags...)
				good = false
				continue
			}
			vals = append(vals, s)
			ranges = append(ranges, e.Range())
		}
		return vals, ranges, good
	}
	// Not a literal list (a function call, say): decode it whole.
	if diags := gohcl.DecodeExpression(expr, d.ctx, &vals); diags.HasErrors() {
		d.add(diags...)
		return nil, nil, false
	}
	ranges = make([]hcl.Range, len(vals))
	for i := range ranges {
		ranges[i] = expr.Range()
	}
	return vals, ranges, true
}

// suggest returns the name closest to given, if one is close enough.
func suggest(given string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if dist := levenshtein.Distance(given, n, nil); dist < bestDist {
			best, bestDist = n, dist
		}
	}
	return best
}

// dropCascades removes gohcl's "value must be known" diagnostics. An
// expression that fails (a bad function call, a variable) evaluates to an
// unknown value after reporting its error, and gohcl then reports that it
// cannot store it. printers.hcl has no variables, so an unknown value always
// comes from an error already reported; the cascade is dropped as long as
// some other error remains.
func dropCascades(diags hcl.Diagnostics) hcl.Diagnostics {
	cascade := func(d *hcl.Diagnostic) bool {
		return d.Summary == "Unsuitable value type" && strings.HasSuffix(d.Detail, "value must be known")
	}
	others := false
	for _, d := range diags {
		if d.Severity == hcl.DiagError && !cascade(d) {
			others = true
		}
	}
	if !others {
		return diags
	}
	out := diags[:0:0]
	for _, d := range diags {
		if !cascade(d) {
			out = append(out, d)
		}
	}
	return out
}
