package mqtt

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/comandera/comandera/config"
	_ "github.com/comandera/comandera/drivers/sim"
	"github.com/comandera/comandera/queue"
	"github.com/comandera/comandera/server"
)

const (
	testSecret = "test-callback-secret"
	testToken  = "test-token"
)

// testLogger logs to stderr when COMANDERA_TEST_LOG is set, else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("COMANDERA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// --- in-process broker ---

type broker struct {
	t    testing.TB
	srv  *mochi.Server
	addr string // host:port
	tls  *tls.Config

	mu   sync.Mutex
	down bool // srv is closed (mochi panics on a second Close)
}

// startBroker starts a mochi broker on addr ("" for a free loopback port),
// with TLS when tc is set.
func startBroker(t testing.TB, addr string, tc *tls.Config) *broker {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr, TLSConfig: tc})
	var err error
	for range 50 { // a restarted broker may wait for its port
		if err = srv.AddListener(l); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	b := &broker{t: t, srv: srv, addr: l.Address(), tls: tc}
	t.Cleanup(b.stop)
	return b
}

// stop closes the broker (losing its in-memory state).
func (b *broker) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down {
		b.down = true
		b.srv.Close()
	}
}

func (b *broker) url() string {
	if b.tls != nil {
		return "mqtts://" + b.addr
	}
	return "mqtt://" + b.addr
}

// restart closes the broker (losing its in-memory state) and starts a new
// one on the same address.
func (b *broker) restart() {
	b.stop()
	nb := startBroker(b.t, b.addr, b.tls)
	nb.mu.Lock()
	nb.down = true // b closes it
	nb.mu.Unlock()
	b.mu.Lock()
	b.srv, b.down = nb.srv, false
	b.mu.Unlock()
}

// --- a box: a Service and its connector ---

const boxHCL = `
server {
  listen          = "127.0.0.1:0"
  token           = "` + testToken + `"
  callback_secret = "` + testSecret + `"
  data_dir        = "DATA"
  max_body        = "256KiB"
}
printer "kitchen" {
  profile     = "generic-80mm"
  queue_limit   = QLIMIT
  retry_backoff = "100ms"
  retry_max     = "400ms"
  sim {
    output = "OUT/kitchen"
    render = false
  }
}
printer "bar" {
  profile = "generic-58mm"
  sim {
    output = "OUT/bar"
    render = false
  }
}
connector "mqtt" {
  broker         = "BROKER"
  client_id      = "CLIENT"
  keepalive      = "5s"
  session_expiry = "1h"
EXTRA
}
`

type box struct {
	t     testing.TB
	id    string
	dir   string
	data  string
	out   string
	hcl   string
	opts  Options
	cfg   *config.Config
	svc   *server.Service
	conn  *Connector
	qopts func(*queue.Options)
}

type boxOption func(*boxConfig)

type boxConfig struct {
	extra  string
	qlimit int
	dir    string
}

// withMQTT adds lines to the connector block.
func withMQTT(lines string) boxOption { return func(c *boxConfig) { c.extra = lines } }

// withQueueLimit sets the kitchen's queue_limit.
func withQueueLimit(n int) boxOption { return func(c *boxConfig) { c.qlimit = n } }

// inDir puts the box's files in dir instead of a new temporary directory.
func inDir(dir string) boxOption { return func(c *boxConfig) { c.dir = dir } }

// newBox writes a box's configuration; start runs it.
func newBox(t testing.TB, brokerURL, clientID string, opts ...boxOption) *box {
	t.Helper()
	bc := boxConfig{qlimit: 1000}
	for _, o := range opts {
		o(&bc)
	}
	dir := bc.dir
	if dir == "" {
		dir = t.TempDir()
	}
	b := &box{t: t, id: clientID, dir: dir, data: filepath.Join(dir, "data"), out: filepath.Join(dir, "out")}
	b.hcl = strings.NewReplacer("DATA", b.data, "OUT", b.out, "BROKER", brokerURL, "CLIENT", clientID,
		"EXTRA", bc.extra, "QLIMIT", fmt.Sprint(bc.qlimit)).Replace(boxHCL)
	cfg, diags := config.Parse([]byte(b.hcl), filepath.Join(dir, "printers.hcl"))
	if diags.HasErrors() {
		t.Fatalf("config: %s", config.Format(diags))
	}
	b.cfg = cfg
	b.opts = Options{
		// mochi v2.7.9 deadlocks once a client's Receive Maximum is used up
		// (Inflight.NextImmediate read-locks twice while a writer waits), so
		// against it the box takes what comes. Mosquitto tests (tag
		// integration) run with the default.
		InFlight:     65535,
		Logger:       testLogger().With("box", clientID),
		StatusCheck:  100 * time.Millisecond,
		ReconnectMin: 50 * time.Millisecond,
		ReconnectMax: 300 * time.Millisecond,
		RetryMax:     200 * time.Millisecond,
	}
	t.Cleanup(func() { b.stop() })
	return b
}

// start opens the Service and starts the connector.
func (b *box) start() *box {
	b.t.Helper()
	if b.svc != nil {
		b.t.Fatal("box already started")
	}
	svc, err := server.Open(context.Background(), b.cfg, server.Options{Logger: b.opts.Logger, ProbeEvery: -1, Queue: b.qopts})
	if err != nil {
		b.t.Fatal(err)
	}
	conn, err := Start(svc, b.cfg.MQTT, b.opts)
	if err != nil {
		svc.Close(context.Background())
		b.t.Fatal(err)
	}
	b.svc, b.conn = svc, conn
	return b
}

// connected waits until the connector is connected and subscribed.
func (b *box) connected() *box {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.conn.AwaitConnection(ctx); err != nil {
		b.t.Fatalf("box %s: not connected: %v", b.id, err)
	}
	// Subscribed once the online status is out (it follows the SUBACK).
	for b.conn.Stats().Connects == 0 || !b.subscribed() {
		if ctx.Err() != nil {
			b.t.Fatalf("box %s: not subscribed", b.id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return b
}

func (b *box) subscribed() bool {
	// statusLoop publishes after each subscribe; its record is the sign.
	return b.conn.subscribedCount.Load() >= b.conn.connects.Load()
}

// stop shuts the box down the way `comandera serve` does.
func (b *box) stop() {
	if b.svc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.svc.Shutdown(ctx)
	b.conn.Close(ctx)
	b.svc, b.conn = nil, nil
}

// tickets returns how many printed tickets (transcripts) mention each
// marker, over every printer of the box.
func (b *box) tickets(markers []string) map[string]int {
	return countTickets(b.t, b.out, markers)
}

// countTickets counts, for each marker, the transcripts under dir that
// contain it.
func countTickets(t testing.TB, dir string, markers []string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, m := range markers {
		counts[m] = 0
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".txt") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "TICKET" {
				if _, ok := counts[f[1]]; ok {
					counts[f[1]]++
				} else {
					counts[f[1]] = 1 // not asked for: still worth seeing
				}
			}
		}
		return nil
	})
	return counts
}

// waitTickets waits until every marker is printed at least once (or the
// timeout), then returns the counts.
func waitTickets(t testing.TB, dir string, markers []string, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		counts := countTickets(t, dir, markers)
		missing := 0
		for _, m := range markers {
			if counts[m] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return counts
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tickets not printed after %s", missing, len(markers), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkOnce fails unless every marker was printed exactly once.
func checkOnce(t testing.TB, counts map[string]int, markers []string) {
	t.Helper()
	bad := 0
	for _, m := range markers {
		if counts[m] != 1 {
			bad++
			if bad <= 10 {
				t.Errorf("ticket %s printed %d times, want 1", m, counts[m])
			}
		}
	}
	if len(counts) != len(markers) {
		t.Errorf("%d distinct tickets printed, want %d", len(counts), len(markers))
	}
	if bad > 10 {
		t.Errorf("… %d tickets in all not printed exactly once", bad)
	}
}

// jobJSON is a print job whose ticket says "TICKET marker".
func jobJSON(marker string, fields ...string) []byte {
	s := `{"content": "TICKET ` + marker + `\n"`
	for i := 0; i+1 < len(fields); i += 2 {
		v, _ := json.Marshal(fields[i+1])
		s += `, "` + fields[i] + `": ` + string(v)
	}
	return []byte(s + "}")
}

// --- a backend: an MQTT client on the other side ---

var backendSeq atomic.Uint64

type backend struct {
	t  testing.TB
	cm *autopaho.ConnectionManager
	id string

	mu     sync.Mutex
	msgs   []*paho.Publish
	notify chan struct{}
	seq    atomic.Uint64
}

// newBackend connects a client that subscribes to filters (QoS 1) and
// records what arrives.
func newBackend(t testing.TB, brokerURL string, tc *tls.Config, filters ...string) *backend {
	t.Helper()
	return newBackendWith(t, brokerURL, tc, filters, nil)
}

// newBackendWith connects a client that subscribes to filters (QoS 1) and
// calls fn with each message, or records them when fn is nil.
func newBackendWith(t testing.TB, brokerURL string, tc *tls.Config, filters []string, fn func(*paho.Publish)) *backend {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	be := &backend{t: t, id: fmt.Sprintf("backend-%d-%d", time.Now().UnixNano(), backendSeq.Add(1)), notify: make(chan struct{}, 1)}
	subs := make([]paho.SubscribeOptions, 0, len(filters)+1)
	for _, f := range filters {
		subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	subs = append(subs, paho.SubscribeOptions{Topic: be.id + "/replies", QoS: 1})
	ready := make(chan struct{}, 1)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tc,
		KeepAlive:                     10,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         600,
		ReconnectBackoff:              autopaho.NewConstantBackoff(50 * time.Millisecond),
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if cp.Properties == nil {
				cp.Properties = &paho.ConnectProperties{}
			}
			cp.Properties.RequestProblemInfo = true
			return cp, nil
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
					return
				}
				select {
				case ready <- struct{}{}:
				default:
				}
			}()
		},
		ClientConfig: paho.ClientConfig{
			ClientID: be.id,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				if fn != nil {
					fn(pr.Packet)
					return true, nil
				}
				be.mu.Lock()
				be.msgs = append(be.msgs, pr.Packet)
				be.mu.Unlock()
				select {
				case be.notify <- struct{}{}:
				default:
				}
				return true, nil
			}},
		},
	}
	cm, err := autopaho.NewConnection(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	be.cm = cm
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cm.Disconnect(ctx)
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("backend: not connected and subscribed")
	}
	return be
}

// publish publishes at QoS 1 and waits for the PUBACK.
func (be *backend) publish(topic string, payload []byte, props *paho.PublishProperties) {
	be.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, err := be.cm.Publish(ctx, &paho.Publish{QoS: 1, Topic: topic, Payload: payload, Properties: props})
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			be.t.Fatalf("publish %s: %v", topic, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor waits for a message that pred accepts, among those received
// since the start.
func (be *backend) waitFor(timeout time.Duration, what string, pred func(*paho.Publish) bool) *paho.Publish {
	be.t.Helper()
	deadline := time.After(timeout)
	for {
		be.mu.Lock()
		for _, m := range be.msgs {
			if pred(m) {
				be.mu.Unlock()
				return m
			}
		}
		be.mu.Unlock()
		select {
		case <-be.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			be.t.Fatalf("no %s after %s", what, timeout)
		}
	}
}

// waitCount waits until n messages arrived on topic and returns them.
func (be *backend) waitCount(topic string, n int, timeout time.Duration) []*paho.Publish {
	be.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ms := be.messages(topic); len(ms) >= n {
			return ms
		}
		if time.Now().After(deadline) {
			be.t.Fatalf("%d messages on %s after %s, want %d", len(be.messages(topic)), topic, timeout, n)
		}
		select {
		case <-be.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// messages returns the messages received on topic.
func (be *backend) messages(topic string) []*paho.Publish {
	be.mu.Lock()
	defer be.mu.Unlock()
	var out []*paho.Publish
	for _, m := range be.msgs {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// request sends request op with an MQTT 5 response topic and correlation
// data, and waits for the reply.
func (be *backend) request(topics Topics, op string, body string) Reply {
	be.t.Helper()
	corr := fmt.Sprintf("corr-%d", be.seq.Add(1))
	be.publish(topics.Request(op), []byte(body), &paho.PublishProperties{ResponseTopic: be.id + "/replies", CorrelationData: []byte(corr)})
	m := be.waitFor(15*time.Second, "reply to "+op, func(p *paho.Publish) bool {
		return p.Topic == be.id+"/replies" && p.Properties != nil && string(p.Properties.CorrelationData) == corr
	})
	var r Reply
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		be.t.Fatalf("reply %s: %v: %s", op, err, m.Payload)
	}
	if r.Op != op {
		be.t.Errorf("reply op = %q, want %q", r.Op, op)
	}
	checkSigned(be.t, m)
	return r
}

// checkSigned fails unless m carries a valid X-Comandera-Signature.
func checkSigned(t testing.TB, m *paho.Publish) {
	t.Helper()
	if m.Properties == nil {
		t.Fatalf("%s: no properties", m.Topic)
	}
	sig := m.Properties.User.Get(PropSignature)
	if err := queue.Verify([]byte(testSecret), m.Payload, sig); err != nil {
		t.Fatalf("%s: signature %q: %v", m.Topic, sig, err)
	}
}

// event decodes an event message and checks its signature and properties.
func decodeEvent(t testing.TB, m *paho.Publish) queue.Callback {
	t.Helper()
	checkSigned(t, m)
	var cb queue.Callback
	if err := json.Unmarshal(m.Payload, &cb); err != nil {
		t.Fatalf("event: %v", err)
	}
	if got := m.Properties.User.Get(PropEvent); got != cb.ID {
		t.Errorf("%s property = %q, body event_id = %q", PropEvent, got, cb.ID)
	}
	if got := m.Properties.User.Get(PropTimestamp); got != fmt.Sprint(cb.Timestamp) {
		t.Errorf("%s property = %q, body timestamp = %d", PropTimestamp, got, cb.Timestamp)
	}
	return cb
}

// isEvent matches a signed event of a job whose idempotency key or ID is
// given, in state.
func isEvent(topics Topics, state, key string) func(*paho.Publish) bool {
	return func(p *paho.Publish) bool {
		if p.Topic != topics.Events {
			return false
		}
		var cb queue.Callback
		if json.Unmarshal(p.Payload, &cb) != nil || cb.Job == nil {
			return false
		}
		return string(cb.State) == state && (cb.Job.IdempotencyKey == key || cb.Job.ID == key)
	}
}

// lastStatus returns the last status message received, decoded.
func (be *backend) lastStatus(topics Topics) (Status, bool) {
	ms := be.messages(topics.Status)
	if len(ms) == 0 {
		return Status{}, false
	}
	var s Status
	if err := json.Unmarshal(ms[len(ms)-1].Payload, &s); err != nil {
		be.t.Fatalf("status: %v", err)
	}
	return s, true
}

// waitStatus waits until the last status received has online == want.
func (be *backend) waitStatus(topics Topics, online bool, timeout time.Duration) Status {
	be.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if s, ok := be.lastStatus(topics); ok && s.Online == online {
			return s
		}
		if time.Now().After(deadline) {
			s, _ := be.lastStatus(topics)
			be.t.Fatalf("status online=%v not seen after %s (last: %+v)", online, timeout, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatusAfter waits for a status with online == want among those
// received after the first n.
func (be *backend) waitStatusAfter(topics Topics, n int, online bool, timeout time.Duration) Status {
	be.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms := be.messages(topics.Status)
		for i := n; i < len(ms); i++ {
			var s Status
			if err := json.Unmarshal(ms[i].Payload, &s); err != nil {
				be.t.Fatalf("status: %v", err)
			}
			if s.Online == online {
				return s
			}
		}
		if time.Now().After(deadline) {
			be.t.Fatalf("no status online=%v after %s", online, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a loopback address with a port free right now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)

func touch(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func remove(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
