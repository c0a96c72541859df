package mqtt

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/queue"
	"github.com/comandera/comandera/server"
)

// Options configure a Connector. Zero values take the defaults given.
type Options struct {
	// Logger receives the connector's logs; nil discards them.
	Logger *slog.Logger
	// Secret is the HMAC-SHA256 key of the signatures; default the server's
	// callback secret (server.callback_secret, else its token). Without
	// one, messages are published unsigned.
	Secret []byte
	// MaxBody bounds a job message; default the server's max_body.
	MaxBody int64
	// InFlight is the MQTT 5 Receive Maximum: how many unacknowledged QoS 1
	// messages the broker may send at once; default 16.
	InFlight uint16
	// EventBacklog bounds the messages other than events (replies,
	// rejections) held in memory while the broker is unreachable; more are
	// dropped and counted. Events wait on disk, in the queue's "mqtt" sink,
	// within its bounds (queue.SinkOptions). Default 10,000.
	EventBacklog int
	// StatusEvery is how often P/status is published when nothing changes;
	// default 60s. StatusCheck is how often the status is compared with
	// the last one published; default 1s.
	StatusEvery time.Duration
	StatusCheck time.Duration
	// ReconnectMin and ReconnectMax bound the wait between connection
	// attempts (exponential with jitter); defaults 1s and 1m.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// ConnectTimeout bounds one connection attempt; default 10s.
	ConnectTimeout time.Duration
	// RetryMax caps the wait between tries of a job the server cannot take
	// now (a full queue, an internal error); default 5s.
	RetryMax time.Duration
	// Requests is how many requests (other than print) run at once; more
	// are answered 503. Default 8.
	Requests int

	// Test hooks, called with each job message before it is queued (false:
	// drop it unacknowledged, as a crash would) and after it is queued but
	// before it is acknowledged.
	beforeQueue func(*paho.Publish) bool
	afterQueue  func(*paho.Publish)
}

func (o *Options) defaults(svc *server.Service) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Secret == nil {
		o.Secret = []byte(svc.Config().Server.CallbackSecret)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = svc.Config().Server.MaxBody
	}
	if o.MaxBody <= 0 {
		o.MaxBody = config.DefaultMaxBody
	}
	if o.InFlight == 0 {
		o.InFlight = 16
	}
	if o.EventBacklog <= 0 {
		o.EventBacklog = 10000
	}
	if o.StatusEvery <= 0 {
		o.StatusEvery = time.Minute
	}
	if o.StatusCheck <= 0 {
		o.StatusCheck = time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = time.Second
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = max(time.Minute, o.ReconnectMin)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.Requests <= 0 {
		o.Requests = 8
	}
}

// Stats counts what a Connector did since Start.
type Stats struct {
	Connected     bool   `json:"connected"`
	Connects      uint64 `json:"connects"`       // connections made
	ConnectErrors uint64 `json:"connect_errors"` // attempts that failed (refused, TLS, network)
	Received      uint64 `json:"received"`       // messages received on P/jobs and P/requests/+
	Queued        uint64 `json:"queued"`         // jobs queued (new)
	Duplicates    uint64 `json:"duplicates"`     // job messages that returned an existing job
	Rejected      uint64 `json:"rejected"`       // job messages refused for good
	Requests      uint64 `json:"requests"`       // requests answered (other than print)
	Events        uint64 `json:"events"`         // events published and acknowledged by the broker (PUBACK)
	EventRetries  uint64 `json:"event_retries"`  // event publishes that failed and were tried again
	EventsPending int    `json:"events_pending"` // events waiting on disk to be published
	EventsDropped uint64 `json:"events_dropped"` // events dropped unpublished by the sink's bounds or refused for good by the broker
	Dropped       uint64 `json:"dropped"`        // replies and rejections not published: backlog full
}

// A Connector connects a Service to an MQTT broker. Start one with Start;
// Close stops it.
type Connector struct {
	svc     *server.Service
	cfg     *config.MQTT
	log     *slog.Logger
	opts    Options
	topics  Topics
	reqPfx  string
	started time.Time

	cm     *autopaho.ConnectionManager // the MQTT 5 session; nil with protocol = "3.1.1"
	sessMu sync.Mutex
	sess   session // cm, or a session311 after a fallback or with protocol = "3.1.1"
	pubq   *boundedQueue
	sink   *queue.Sink // the job events, durable

	stMu    sync.Mutex
	up      bool
	since   time.Time // when the connection last went up or down
	lastErr string    // why it is not connected (no secrets)

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	jobs   chan inbound
	kick   chan struct{} // publish the status now

	reqMu   sync.Mutex
	closing bool
	reqSem  chan struct{}
	reqWG   sync.WaitGroup
	wg      sync.WaitGroup
	once    sync.Once

	connected       atomic.Bool
	v311            atomic.Bool // speaking MQTT 3.1.1
	probing         atomic.Bool // tryV311 is running
	subscribedCount atomic.Uint64
	connects, connectErrors, received, queued, duplicates, rejected,
	requests, events, eventRetries, eventsRefused, dropped atomic.Uint64
	lastDropLog atomic.Int64
}

// inbound is a message received on P/jobs or P/requests/+.
type inbound struct {
	p       *paho.Publish
	ack     func() error // sends the PUBACK
	op      string       // "" for P/jobs
	request bool         // received on P/requests/{op}
}

// Start starts a connector for svc with the connector "mqtt" block cfg. It
// checks the TLS files and returns at once; the connection is made (and
// remade after each loss) in the background, so a box starts and prints
// local jobs while the broker is unreachable.
func Start(svc *server.Service, cfg *config.MQTT, o Options) (*Connector, error) {
	if cfg == nil {
		return nil, errors.New("mqtt: no connector configuration")
	}
	sink := svc.Queue().Sink(server.MQTTSink)
	if sink == nil {
		return nil, fmt.Errorf("mqtt: the service has no %q event sink (server.Open keeps one when the configuration has a connector \"mqtt\" block)", server.MQTTSink)
	}
	o.defaults(svc)
	tlsCfg, err := TLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Connector{
		svc: svc, cfg: cfg, log: o.Logger, opts: o,
		topics:  TopicsFor(cfg.TopicPrefix),
		reqPfx:  cfg.TopicPrefix + "/" + TopicRequests + "/",
		started: time.Now(),
		pubq:    newBoundedQueue(o.EventBacklog),
		sink:    sink,
		lastErr: "not connected yet",
		since:   time.Now().UTC(),
		jobs:    make(chan inbound, int(o.InFlight)+16),
		kick:    make(chan struct{}, 1),
		reqSem:  make(chan struct{}, o.Requests),
	}
	if len(o.Secret) == 0 {
		c.log.Warn("mqtt: publishing unsigned: no callback secret or token is configured")
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	// Events are taken from the first one not yet acknowledged: those a
	// connector closed earlier in this process took but did not deliver
	// too.
	c.sink.Rewind()

	if cfg.Protocol == config.Protocol311 {
		c.v311.Store(true)
		s := c.newSession311(true)
		c.sess = s
		s.start()
	} else if err := c.startV5(tlsCfg); err != nil {
		return nil, err
	}
	c.wg.Add(3)
	go c.jobLoop()
	go c.eventLoop()
	go c.statusLoop()
	svc.RegisterConnector("mqtt", c.Info)
	c.log.Info("mqtt: connecting", "broker", cfg.BrokerURL.Redacted(), "client_id", cfg.ClientID, "protocol", cfg.Protocol,
		"topic_prefix", cfg.TopicPrefix, "session_expiry", cfg.SessionExpiry, "envelope", cfg.Envelope,
		"events_pending", c.sink.Pending())
	return c, nil
}

// startV5 starts the MQTT 5 session.
func (c *Connector) startV5(tlsCfg *tls.Config) error {
	o, cfg := c.opts, c.cfg
	backoff := autopaho.NewConstantBackoff(o.ReconnectMin)
	if o.ReconnectMax > o.ReconnectMin {
		backoff = autopaho.NewExponentialBackoff(o.ReconnectMin, o.ReconnectMax, min(2*o.ReconnectMin, o.ReconnectMax), 2)
	}
	cc := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{brokerURL(cfg.BrokerURL)},
		TlsCfg:                        tlsCfg,
		KeepAlive:                     uint16(cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(cfg.SessionExpiry / time.Second),
		ReconnectBackoff:              backoff,
		ConnectTimeout:                o.ConnectTimeout,
		Queue:                         c.pubq,
		ConnectUsername:               cfg.Username,
		ConnectPassword:               []byte(cfg.Password),
		ConnectPacketBuilder:          c.connectPacket,
		OnConnectionUp:                c.onUp,
		OnConnectionDown:              c.onDown,
		OnConnectError:                c.onConnectError,
		Errors:                        pahoLog{c.log, slog.LevelDebug},
		PahoErrors:                    pahoLog{c.log, slog.LevelDebug},
		ClientConfig: paho.ClientConfig{
			ClientID:                   cfg.ClientID,
			EnableManualAcknowledgment: true,
			OnPublishReceived:          []func(paho.PublishReceived) (bool, error){c.onPublish},
			OnServerDisconnect: func(d *paho.Disconnect) {
				reason := ""
				if d.Properties != nil {
					reason = d.Properties.ReasonString
				}
				c.log.Warn("mqtt: the broker closed the connection", "reason_code", d.ReasonCode, "reason", reason)
				msg := fmt.Sprintf("the broker closed the connection (reason code 0x%02x)", d.ReasonCode)
				if reason != "" {
					msg += ": " + reason
				}
				c.setState(false, msg, true)
			},
		},
	}
	cm, err := autopaho.NewConnection(context.Background(), cc)
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	c.cm, c.sess = cm, cm
	return nil
}

// Topics returns the connector's topic names.
func (c *Connector) Topics() Topics { return c.topics }

// Connected reports whether the connection to the broker is up.
func (c *Connector) Connected() bool { return c.connected.Load() }

// AwaitConnection waits until the connection is up or ctx ends.
func (c *Connector) AwaitConnection(ctx context.Context) error { return c.awaitConnection(ctx) }

// Stats returns the connector's counters.
func (c *Connector) Stats() Stats {
	ss := c.sink.Stats()
	return Stats{
		Connected: c.connected.Load(), Connects: c.connects.Load(), ConnectErrors: c.connectErrors.Load(),
		Received: c.received.Load(), Queued: c.queued.Load(), Duplicates: c.duplicates.Load(),
		Rejected: c.rejected.Load(), Requests: c.requests.Load(), Events: c.events.Load(),
		EventRetries: c.eventRetries.Load(), EventsPending: ss.Pending, EventsDropped: ss.Dropped + c.eventsRefused.Load(),
		Dropped: c.dropped.Load(),
	}
}

// Info describes the connector for GET /status (server.ConnectorInfo):
// the broker without credentials, whether it is connected and why not, and
// the events waiting.
func (c *Connector) Info() server.ConnectorInfo {
	c.stMu.Lock()
	since, lastErr := c.since, c.lastErr
	c.stMu.Unlock()
	ss := c.sink.Stats()
	info := server.ConnectorInfo{
		Broker: PublicURL(c.cfg.BrokerURL), ClientID: c.cfg.ClientID, Protocol: c.Protocol(), Connected: c.connected.Load(), Since: since,
		PendingEvents: ss.Pending, DroppedEvents: ss.Dropped + c.eventsRefused.Load(),
	}
	if !info.Connected {
		info.LastError = lastErr
	}
	return info
}

// PublicURL returns u without user information, query or fragment: what may
// be shown to anyone who can read /status.
func PublicURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return v.String()
}

// setState records the connection's state for Info; reason says why it
// is down. A reason given while already down replaces the one before only
// when replace is set (a connection error is news; "connection lost" after
// the broker said why it closed the connection is not).
func (c *Connector) setState(up bool, reason string, replace bool) {
	c.stMu.Lock()
	defer c.stMu.Unlock()
	if up != c.up {
		c.up, c.since = up, time.Now().UTC()
	} else if !replace {
		return
	}
	c.lastErr = ""
	if !up {
		c.lastErr = c.redact(reason)
	}
}

// redact removes the broker's credentials from a message.
func (c *Connector) redact(s string) string {
	if u := c.cfg.BrokerURL; u != nil && u.User != nil {
		s = strings.ReplaceAll(s, u.String(), PublicURL(u))
		s = strings.ReplaceAll(s, u.User.String()+"@", "")
	}
	if p := c.cfg.Password; len(p) >= 4 {
		s = strings.ReplaceAll(s, p, "xxxxx")
	}
	return s
}

// Close stops the connector: it stops taking jobs (one in hand that is not
// yet queued stays unacknowledged, for the broker to deliver again),
// publishes the replies still waiting (until ctx ends) and a retained
// offline status, and disconnects. Call it after the Service's Shutdown:
// while the queue closes it waits for the connector to publish the events
// of the last jobs (queue.SinkOptions.Drain); events still unpublished stay
// on disk and are published after the next start.
func (c *Connector) Close(ctx context.Context) error {
	var err error
	c.once.Do(func() {
		c.reqMu.Lock()
		c.closing = true
		c.reqMu.Unlock()
		c.cancel() // events not yet published stay in the sink for the next start
		done := make(chan struct{})
		go func() {
			c.wg.Wait()
			c.reqWG.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if c.connected.Load() {
			// What is queued goes out before the offline status and the
			// DISCONNECT (one connection delivers in order).
			select {
			case <-c.pubq.WaitForEmpty():
			case <-ctx.Done():
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if perr := c.publishStatus(pctx, Status{Online: false, ClientID: c.cfg.ClientID, Reason: "shutdown", Time: time.Now().UTC()}); perr != nil {
				c.log.Warn("mqtt: cannot publish the offline status", "err", perr)
			}
			cancel()
		}
		if derr := c.session().Disconnect(ctx); derr != nil && err == nil {
			err = derr
		}
		c.connected.Store(false)
		c.log.Info("mqtt: disconnected", "stats", c.Stats())
	})
	return err
}

// --- connection ---

// brokerURL returns u with the default port of its scheme when it has none.
func brokerURL(u *url.URL) *url.URL {
	c := *u
	if c.Port() == "" {
		switch c.Scheme {
		case "mqtt":
			c.Host = net.JoinHostPort(c.Hostname(), "1883")
		case "mqtts", "tls":
			c.Host = net.JoinHostPort(c.Hostname(), "8883")
		}
	}
	return &c
}

// TLSConfig returns the TLS configuration for the connector's broker: nil
// for mqtt:// and ws://; for mqtts://, tls:// and wss:// the system roots or
// the tls block's CA, and its client certificate for mutual TLS.
func TLSConfig(cfg *config.MQTT) (*tls.Config, error) {
	switch cfg.BrokerURL.Scheme {
	case "mqtts", "tls", "wss":
	default:
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.BrokerURL.Hostname()}
	t := cfg.TLS
	if t == nil {
		return tc, nil
	}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("mqtt: tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: tls ca %s: no PEM certificate in it", t.CA)
		}
		tc.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("mqtt: tls cert %s and key %s: %w", t.Cert, t.Key, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// connectPacket completes each CONNECT: flow control, the largest packet
// the box takes, and the will (a retained offline status).
func (c *Connector) connectPacket(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
	if cp.Properties == nil {
		cp.Properties = &paho.ConnectProperties{}
	}
	rm := c.opts.InFlight
	cp.Properties.ReceiveMaximum = &rm
	// Problem information on (the MQTT default): paho sends the property
	// even when false, and some brokers then strip user properties (and
	// with them the signatures) from what they deliver.
	cp.Properties.RequestProblemInfo = true
	mps := uint32(min(c.opts.MaxBody+64<<10, 1<<28))
	cp.Properties.MaximumPacketSize = &mps
	will, err := json.Marshal(Status{Online: false, ClientID: c.cfg.ClientID, Reason: "connection lost", Time: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	payload, props := c.encode(will, nil)
	cp.WillMessage = &paho.WillMessage{Retain: true, QoS: 1, Topic: c.topics.Status, Payload: payload}
	cp.WillProperties = &paho.WillProperties{ContentType: "application/json", PayloadFormat: &utf8Format, User: props}
	return cp, nil
}

var utf8Format byte = 1

func (c *Connector) onUp(cm *autopaho.ConnectionManager, ca *paho.Connack) {
	c.connectionUp("session_present", ca.SessionPresent)
	// RetainHandling 2: a retained message on these topics is never
	// delivered on subscribing (a retained job would print on every
	// reconnect once its key left the idempotency window).
	sub := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: c.topics.Jobs, QoS: 1, RetainHandling: 2},
		{Topic: c.topics.Requests, QoS: 1, RetainHandling: 2},
	}}
	go c.subscribe(func(ctx context.Context) ([]byte, error) {
		sa, err := cm.Subscribe(ctx, sub)
		if sa != nil {
			return sa.Reasons, err
		}
		return nil, err
	})
}

// connectionUp records a new connection; attrs are logged with it.
func (c *Connector) connectionUp(attrs ...any) {
	c.setState(true, "", true)
	c.connected.Store(true)
	c.connects.Add(1)
	c.log.Info("mqtt: connected", append([]any{"broker", c.cfg.BrokerURL.Redacted(), "protocol", c.Protocol()}, attrs...)...)
}

// subscribe subscribes to P/jobs and P/requests/+ with sub, which returns
// the reason codes of the SUBACK, retrying while the connection is up.
func (c *Connector) subscribe(sub func(context.Context) ([]byte, error)) {
	wait := 200 * time.Millisecond
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		reasons, err := sub(ctx)
		cancel()
		if err == nil {
			break
		}
		if c.ctx.Err() != nil || !c.connected.Load() {
			return // the next connection subscribes
		}
		refused := false
		for i, rc := range reasons {
			if rc == 0x87 { // not authorized: retrying will not help
				c.log.Error("mqtt: the broker refused the subscription (check its ACL)", "topic", []string{c.topics.Jobs, c.topics.Requests}[min(i, 1)], "reason_code", rc)
				refused = true
			}
		}
		if refused || try == 10 {
			c.log.Error("mqtt: cannot subscribe; retrying on the next connection", "err", err)
			return
		}
		c.log.Warn("mqtt: cannot subscribe; retrying", "err", err, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-c.ctx.Done():
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
	c.subscribedCount.Add(1)
	c.log.Debug("mqtt: subscribed", "jobs", c.topics.Jobs, "requests", c.topics.Requests)
	c.kickStatus()
}

func (c *Connector) onDown() bool {
	c.setState(false, "connection lost", false)
	c.connected.Store(false)
	if c.ctx.Err() == nil {
		c.log.Warn("mqtt: connection to the broker lost; reconnecting")
	}
	return true
}

func (c *Connector) onConnectError(err error) {
	c.setState(false, err.Error(), true)
	c.connectErrors.Add(1)
	if c.ctx.Err() == nil {
		c.log.Warn("mqtt: cannot connect to the broker; retrying", "broker", c.cfg.BrokerURL.Redacted(), "protocol", c.Protocol(), "err", err)
		if c.cfg.Protocol == config.ProtocolAuto && !c.v311.Load() && refusesV5(err) {
			go c.tryV311(err)
		}
	}
}

// --- receiving ---

// onPublish routes a received message. It never blocks for long: jobs go
// to the job loop (the Receive Maximum bounds how many wait), requests to
// their own goroutines.
func (c *Connector) onPublish(pr paho.PublishReceived) (bool, error) {
	p, cli := pr.Packet, pr.Client
	c.route(inbound{p: p, ack: func() error { return cli.Ack(p) }})
	return true, nil
}

// route sends a received message where it goes.
func (c *Connector) route(m inbound) {
	p := m.p
	switch {
	case p.Topic == c.topics.Jobs:
		c.received.Add(1)
		c.toJobLoop(m)
	case strings.HasPrefix(p.Topic, c.reqPfx):
		c.received.Add(1)
		m.op, m.request = p.Topic[len(c.reqPfx):], true
		if m.op == OpPrint {
			c.toJobLoop(m)
			break
		}
		c.ack(m) // at most once: see the package doc
		c.startRequest(m)
	default:
		c.ack(m)
		c.log.Debug("mqtt: ignoring a message on an unexpected topic", "topic", truncate(p.Topic, 200))
	}
}

func (c *Connector) toJobLoop(m inbound) {
	select {
	case c.jobs <- m:
	case <-c.ctx.Done(): // left unacknowledged: delivered again next time
	}
}

// ack acknowledges m to the broker (in order with the messages before it:
// paho sends acknowledgements in the order the messages came).
func (c *Connector) ack(m inbound) {
	if err := m.ack(); err != nil && !errors.Is(err, paho.ErrPacketNotFound) {
		c.log.Debug("mqtt: acknowledgement not sent", "err", err)
	}
}

// replyTarget is where an answer to m goes: its MQTT 5 response topic with
// the correlation data, else for a request P/replies; "" for none.
func (c *Connector) replyTarget(m inbound) (string, []byte) {
	if pp := m.p.Properties; pp != nil && pp.ResponseTopic != "" {
		if validTopic(pp.ResponseTopic) {
			return pp.ResponseTopic, pp.CorrelationData
		}
		c.log.Warn("mqtt: ignoring an invalid response topic", "topic", truncate(pp.ResponseTopic, 200))
	}
	if m.request {
		return c.topics.Replies, nil
	}
	return "", nil
}

// validTopic reports whether s can be published to: no wildcards, no NUL,
// not empty, valid UTF-8, at most 65535 bytes.
func validTopic(s string) bool {
	return s != "" && len(s) <= 65535 && !strings.ContainsAny(s, "+#\x00") && isUTF8(s)
}

// --- jobs ---

func (c *Connector) jobLoop() {
	defer c.wg.Done()
	for {
		select {
		case m := <-c.jobs:
			c.handleJob(m)
		case <-c.ctx.Done():
			return
		}
	}
}

// handleJob queues one job message and acknowledges it once it is on disk
// (or refused for good).
func (c *Connector) handleJob(m inbound) {
	op := OpPrint
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("mqtt: panic while handling a job; acknowledging it", "topic", m.p.Topic, "panic", v)
			c.reject(m, "", "", &server.Error{Status: 500, Code: server.CodeInternal, Message: "internal error; see the server log"})
		}
	}()
	req, corr, err := ParseJob(m.p.Payload, c.opts.MaxBody)
	if err != nil {
		c.reject(m, corr, "", server.AsError(err))
		return
	}
	if c.opts.beforeQueue != nil && !c.opts.beforeQueue(m.p) {
		return
	}
	wait := 500 * time.Millisecond
	for {
		job, existed, err := c.svc.Print(c.ctx, req)
		if err == nil {
			if c.opts.afterQueue != nil {
				c.opts.afterQueue(m.p)
			}
			c.ack(m)
			if existed {
				c.duplicates.Add(1)
				c.log.Info("mqtt: job already queued (redelivery or retry)", "job", job.ID, "printer", job.Printer, "idempotency_key", truncate(req.IdempotencyKey, 80))
			} else {
				c.queued.Add(1)
				c.log.Debug("mqtt: job queued", "job", job.ID, "printer", job.Printer)
			}
			if topic, cd := c.replyTarget(m); topic != "" {
				status := 202
				if existed || job.State.Final() {
					status = 200
				}
				c.reply(topic, cd, Reply{Op: op, Status: status, CorrelationID: corr,
					Result: server.JobResponse{Job: server.WithoutPayload(job), Existed: existed}})
			}
			return
		}
		e := server.AsError(err)
		if c.ctx.Err() != nil || errors.Is(err, server.ErrClosing) || errors.Is(err, queue.ErrClosed) {
			c.log.Info("mqtt: shutting down; the job is left unacknowledged for the broker to deliver again", "idempotency_key", truncate(req.IdempotencyKey, 80))
			return
		}
		if e.Status == 429 || e.Status >= 500 {
			// RetryAfter is a hint for HTTP clients; polling here is cheap,
			// and the job should go in as soon as there is room.
			d := min(max(wait, e.RetryAfter), c.opts.RetryMax)
			wait = min(2*wait, c.opts.RetryMax)
			c.log.Warn("mqtt: cannot queue the job now; retrying (the message stays unacknowledged)",
				"code", e.Code, "err", e.Message, "retry_in", d)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		c.reject(m, corr, req.IdempotencyKey, e)
		return
	}
}

// reject acknowledges a job message the server refused for good and says
// why: on P/errors for P/jobs, and to the reply target.
func (c *Connector) reject(m inbound, corr, key string, e *server.Error) {
	c.ack(m)
	c.rejected.Add(1)
	c.log.Warn("mqtt: job refused", "topic", truncate(m.p.Topic, 200), "status", e.Status, "code", e.Code, "err", e.Message, "bytes", len(m.p.Payload))
	if !m.request {
		now := time.Now().UTC()
		body, err := json.Marshal(Rejection{Time: now, Timestamp: now.Unix(), Topic: m.p.Topic, IdempotencyKey: key,
			CorrelationID: corr, Status: e.Status, Error: *errBody(e)})
		if err == nil {
			c.enqueue(c.topics.Errors, body, nil, nil)
		}
	}
	if topic, cd := c.replyTarget(m); topic != "" {
		c.reply(topic, cd, Reply{Op: OpPrint, Status: e.Status, CorrelationID: corr, Error: errBody(e)})
	}
}

// --- requests ---

func (c *Connector) startRequest(m inbound) {
	c.reqMu.Lock()
	if c.closing {
		c.reqMu.Unlock()
		return
	}
	select {
	case c.reqSem <- struct{}{}:
	default:
		c.reqMu.Unlock()
		c.log.Warn("mqtt: too many requests at once; answering 503", "op", truncate(m.op, 64))
		if topic, cd := c.replyTarget(m); topic != "" {
			c.reply(topic, cd, Reply{Op: m.op, Status: 503, CorrelationID: lenientCorrelation(m.p.Payload),
				Error: &server.ErrorDetail{Code: server.CodeUnavailable, Message: "too many requests in progress; retry shortly"}})
		}
		return
	}
	c.reqWG.Add(1)
	c.reqMu.Unlock()
	go func() {
		defer func() {
			<-c.reqSem
			c.reqWG.Done()
		}()
		c.handleRequest(m)
	}()
}

func (c *Connector) handleRequest(m inbound) {
	topic, cd := c.replyTarget(m)
	r := Reply{Op: truncate(m.op, 64), Status: 200}
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("mqtt: panic while handling a request", "op", r.Op, "panic", v)
			r.Status, r.Result, r.Error = 500, nil, &server.ErrorDetail{Code: server.CodeInternal, Message: "internal error; see the server log"}
		}
		c.requests.Add(1)
		if r.Error != nil {
			c.log.Warn("mqtt: request failed", "op", r.Op, "status", r.Status, "code", r.Error.Code, "err", r.Error.Message)
		}
		if topic != "" {
			c.reply(topic, cd, r)
		}
	}()
	req, err := ParseRequest(m.op, m.p.Payload)
	if err != nil {
		e := server.AsError(err)
		r.CorrelationID = lenientCorrelation(m.p.Payload)
		r.Status, r.Error = e.Status, errBody(e)
		return
	}
	r.CorrelationID = req.CorrelationID
	ctx := c.ctx
	jobAnswer := func(j *queue.Job, err error, status int) {
		if err != nil {
			e := server.AsError(err)
			r.Status, r.Error = e.Status, errBody(e)
			return
		}
		if j.State.Final() {
			status = 200
		}
		r.Status, r.Result = status, server.JobResponse{Job: server.WithoutPayload(j)}
	}
	switch req.Op {
	case OpTest:
		j, err := c.svc.Test(ctx, req.Printer)
		jobAnswer(j, err, 202)
	case OpScan:
		r.Result = c.svc.Scan(ctx)
	case OpStatus:
		r.Result = c.svc.Status()
	case OpHealth:
		r.Result = c.svc.Health()
	case OpJob:
		j, err := c.svc.Job(req.JobID)
		if err != nil {
			e := server.AsError(err)
			r.Status, r.Error = e.Status, errBody(e)
			return
		}
		r.Result = j
	case OpJobs:
		jobs, err := c.svc.Jobs(req.Filter)
		if err != nil {
			e := server.AsError(err)
			r.Status, r.Error = e.Status, errBody(e)
			return
		}
		out := server.JobList{Jobs: jobs}
		if out.Jobs == nil {
			out.Jobs = []*queue.Job{}
		}
		if len(jobs) == req.Filter.Limit {
			out.Next = jobs[len(jobs)-1].ID
		}
		r.Result = out
	case OpCancel:
		j, err := c.svc.Cancel(ctx, req.JobID)
		if err != nil {
			e := server.AsError(err)
			r.Status, r.Error = e.Status, errBody(e)
			return
		}
		r.Result = server.WithoutPayload(j)
	case OpReprint:
		j, err := c.svc.Reprint(ctx, req.JobID, req.Printer)
		jobAnswer(j, err, 202)
	}
}

// lenientCorrelation reads a correlation_id from a payload that may not be
// a valid request, for the answer that says so.
func lenientCorrelation(payload []byte) string {
	var b struct {
		C json.RawMessage `json:"correlation_id"`
	}
	if json.Unmarshal(payload, &b) != nil || b.C == nil {
		return ""
	}
	s, err := correlationID(b.C)
	if err != nil {
		return ""
	}
	return s
}

// --- publishing ---

// encode signs body and applies the envelope option: the payload to
// publish and its user properties (extra first).
func (c *Connector) encode(body []byte, extra paho.UserProperties) ([]byte, paho.UserProperties) {
	return c.encodeAs(body, extra, c.cfg.Envelope || c.v311.Load())
}

// encodeAs is encode with the envelope on or off.
func (c *Connector) encodeAs(body []byte, extra paho.UserProperties, envelope bool) ([]byte, paho.UserProperties) {
	sig := ""
	if len(c.opts.Secret) > 0 {
		sig = queue.Sign(c.opts.Secret, body)
	}
	props := append(paho.UserProperties{}, extra...)
	if envelope {
		env, err := json.Marshal(Envelope{Body: string(body), Signature: sig})
		if err == nil {
			return env, props
		}
	}
	if sig != "" {
		props = append(props, paho.UserProperty{Key: PropSignature, Value: sig})
	}
	return body, props
}

// enqueue publishes at QoS 1 through the publish queue, in order, when the
// connection is up.
func (c *Connector) enqueue(topic string, body []byte, correlation []byte, extra paho.UserProperties) {
	payload, props := c.encode(body, extra)
	p := &paho.Publish{QoS: 1, Topic: topic, Payload: payload, Properties: &paho.PublishProperties{
		ContentType: "application/json", PayloadFormat: &utf8Format, CorrelationData: correlation, User: props,
	}}
	// What ConnectionManager.PublishViaQueue does, without needing the
	// manager (a request may be answered before Start has it).
	var buf bytes.Buffer
	_, err := p.Packet().WriteTo(&buf)
	if err == nil {
		err = c.pubq.Enqueue(&buf)
	}
	if err != nil {
		c.dropped.Add(1)
		c.logDrop("mqtt: message not published", "topic", topic, "err", err)
	}
}

func (c *Connector) reply(topic string, correlation []byte, r Reply) {
	body, err := json.Marshal(r)
	if err != nil {
		c.log.Error("mqtt: cannot encode a reply", "op", r.Op, "err", err)
		return
	}
	c.enqueue(topic, body, correlation, nil)
}

// logDrop logs at most once every 10 seconds.
func (c *Connector) logDrop(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := c.lastDropLog.Load()
	if now-last < int64(10*time.Second) || !c.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn(msg, append(args, "dropped_total", c.dropped.Load())...)
}

// --- events ---

// eventLoop publishes the job events from the durable sink, in order, one
// at a time: each is published at QoS 1 until the broker acknowledges it
// (PUBACK), and only then removed from the sink. It ends when the
// connector closes or the queue does; what is left is published after the
// next start, from the first event not acknowledged.
func (c *Connector) eventLoop() {
	defer c.wg.Done()
	for {
		e, err := c.sink.Next(c.ctx)
		if err != nil {
			return // closing, or the queue is closed
		}
		if !c.publishEvent(e) {
			return
		}
	}
}

// publishEvent publishes one entry until the broker acknowledges it. It
// returns false when the connector or the queue closes first.
func (c *Connector) publishEvent(e queue.Entry) bool {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if err := c.awaitConnection(c.ctx); err != nil {
			return false
		}
		cb, body, err := e.Callback(time.Now(), attempt)
		if err == nil && cb.Job == nil {
			err = errors.New("the event has no job")
		}
		if err != nil {
			c.log.Error("mqtt: damaged event in the sink; dropping it", "entry", e.ID, "err", err)
			c.eventsRefused.Add(1)
			c.ackEvent(e.ID)
			return true
		}
		payload, props := c.encode(body, paho.UserProperties{
			{Key: PropTimestamp, Value: fmt.Sprint(cb.Timestamp)},
			{Key: PropEvent, Value: cb.ID},
		})
		pr, err := c.session().Publish(c.ctx, &paho.Publish{QoS: 1, Topic: c.topics.Events, Payload: payload,
			Properties: &paho.PublishProperties{ContentType: "application/json", PayloadFormat: &utf8Format, User: props}})
		if err == nil {
			c.events.Add(1)
			c.ackEvent(e.ID)
			return true
		}
		if c.ctx.Err() != nil {
			return false
		}
		if pr != nil && (pr.ReasonCode == 0x95 || pr.ReasonCode == 0x99) {
			// Packet too large, payload format invalid: this message
			// can never be taken, and must not hold back the others.
			c.eventsRefused.Add(1)
			c.log.Error("mqtt: the broker refused an event for good; dropping it", "event", cb.ID, "job", cb.Job.ID,
				"state", cb.State, "reason_code", pr.ReasonCode, "bytes", len(payload), "err", err)
			c.ackEvent(e.ID)
			return true
		}
		c.eventRetries.Add(1)
		level := slog.LevelWarn
		if !c.connected.Load() {
			level = slog.LevelDebug // the connection is down: the log says so already
		}
		c.log.Log(c.ctx, level, "mqtt: event not acknowledged by the broker; publishing it again", "event", cb.ID,
			"job", cb.Job.ID, "state", cb.State, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return false
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// ackEvent removes a published entry from the sink (the sink batches the
// deletions, so publishing the next one does not wait for the disk).
func (c *Connector) ackEvent(id uint64) {
	if err := c.sink.Ack(id); err != nil {
		// It stays in the sink and is published again after the next
		// start: a duplicate, never a loss.
		level := slog.LevelWarn
		if errors.Is(err, queue.ErrClosed) {
			level = slog.LevelInfo
		}
		c.log.Log(context.Background(), level, "mqtt: cannot remove a published event from the sink; it will be published again after a restart", "entry", id, "err", err)
	}
}

// --- status ---

func (c *Connector) kickStatus() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// statusLoop publishes the retained online status on each connection, when
// it changes (checked every StatusCheck, so at most that often), and every
// StatusEvery.
func (c *Connector) statusLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.StatusCheck)
	defer t.Stop()
	var last string
	var lastAt time.Time
	published := uint64(0) // connects count of the last publish
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
		if !c.connected.Load() {
			continue
		}
		st := c.onlineStatus()
		d := digest(st)
		n := c.connects.Load()
		if d == last && n == published && time.Since(lastAt) < c.opts.StatusEvery {
			continue
		}
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		err := c.publishStatus(ctx, st)
		cancel()
		if err != nil {
			if c.ctx.Err() == nil && c.connected.Load() {
				c.log.Warn("mqtt: cannot publish the status", "err", err)
			}
			continue
		}
		last, lastAt, published = d, time.Now(), n
	}
}

func (c *Connector) onlineStatus() Status {
	h := c.svc.Health()
	host, _ := os.Hostname()
	return Status{
		Online: true, ClientID: c.cfg.ClientID, Time: time.Now().UTC(),
		Hostname: host, Version: versionString(), StartedAt: c.started.UTC(),
		Health: h.Status, Message: h.Message, Printers: c.svc.Printers(),
	}
}

// digest is what a status change is: printers' state, queue and errors,
// not the times.
func digest(s Status) string {
	s.Time = time.Time{}
	ps := make([]server.PrinterInfo, len(s.Printers))
	copy(ps, s.Printers)
	for i := range ps {
		ps[i].CheckedAt = time.Time{}
	}
	s.Printers = ps
	b, _ := json.Marshal(s)
	return string(b)
}

func (c *Connector) publishStatus(ctx context.Context, s Status) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	payload, props := c.encode(body, nil)
	_, err = c.session().Publish(ctx, &paho.Publish{QoS: 1, Retain: true, Topic: c.topics.Status, Payload: payload,
		Properties: &paho.PublishProperties{ContentType: "application/json", PayloadFormat: &utf8Format, User: props}})
	return err
}

// pahoLog adapts slog to paho's logger interface.
type pahoLog struct {
	l     *slog.Logger
	level slog.Level
}

func (p pahoLog) Println(v ...any) {
	if p.l.Enabled(context.Background(), p.level) {
		p.l.Log(context.Background(), p.level, "mqtt: paho: "+strings.TrimSpace(fmt.Sprintln(v...)))
	}
}

func (p pahoLog) Printf(format string, v ...any) {
	if p.l.Enabled(context.Background(), p.level) {
		p.l.Log(context.Background(), p.level, "mqtt: paho: "+strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}
