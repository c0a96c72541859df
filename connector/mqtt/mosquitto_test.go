//go:build integration

package mqtt

// These tests run against a real Mosquitto (Debian's mosquitto package),
// which each test starts on a free loopback port with a generated
// configuration:
//
//	go test -tags integration ./connector/mqtt
//
// They fail, never skip, when mosquitto is missing.

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/comandera/comandera/queue"
)

// mosquitto is a broker process the test started.
type mosquitto struct {
	t    testing.TB
	bin  string
	dir  string
	conf string
	addr string
	tls  bool
	cmd  *exec.Cmd
	done chan struct{}
}

func mosquittoBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("mosquitto is not installed (apt-get install mosquitto): the integration tests need it")
	return ""
}

// startMosquitto starts a broker with persistence in a temporary
// directory; with f, on TLS requiring client certificates from f's CA.
func startMosquitto(t testing.TB, f *mtlsFixture) *mosquitto {
	t.Helper()
	m := &mosquitto{t: t, bin: mosquittoBin(t), dir: t.TempDir(), addr: freePort(t), tls: f != nil}
	_, port, _ := net.SplitHostPort(m.addr)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	conf := []string{
		"per_listener_settings false",
		"allow_anonymous true",
		"user " + u.Username, // as root, mosquitto would switch to the user mosquitto
		"persistence true",
		"persistence_location " + m.dir + "/",
		"autosave_interval 1",
		// A box that is away may find more than the default 1000 waiting.
		"max_queued_messages 100000",
		"log_dest file " + filepath.Join(m.dir, "mosquitto.log"),
		"log_type all",
		"listener " + port + " 127.0.0.1",
	}
	if f != nil {
		conf = append(conf, "cafile "+f.ca.path, "certfile "+f.serverCert, "keyfile "+f.serverKey,
			"require_certificate true", "tls_version tlsv1.2")
	}
	m.conf = filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(m.conf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.start()
	t.Cleanup(func() { m.kill() })
	return m
}

func (m *mosquitto) url() string {
	if m.tls {
		return "mqtts://" + m.addr
	}
	return "mqtt://" + m.addr
}

func (m *mosquitto) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out syncBuffer
	m.cmd.Stdout, m.cmd.Stderr = &out, &out
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.done = make(chan struct{})
	go func() {
		m.cmd.Wait()
		close(m.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-m.done:
			log, _ := os.ReadFile(filepath.Join(m.dir, "mosquitto.log"))
			m.t.Fatalf("mosquitto exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto does not listen on %s: %s", m.addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart stops the broker with SIGTERM (it saves its persistence file)
// and starts it again with the same configuration and data.
func (m *mosquitto) restart() {
	m.t.Helper()
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		m.t.Fatal("mosquitto did not stop on SIGTERM")
	}
	m.start()
}

func (m *mosquitto) kill() {
	if m.cmd == nil {
		return
	}
	select {
	case <-m.done:
	default:
		m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.done
	}
}

// productionInFlight gives a box the connector's default Receive Maximum
// (the mochi tests raise it; see newBox).
func productionInFlight(b *box) *box {
	b.opts.InFlight = 0
	return b
}

func TestMosquittoJobAndRequests(t *testing.T) {
	m := startMosquitto(t, nil)
	b := productionInFlight(newBox(t, m.url(), "box-mq-req")).start().connected()
	tp := b.conn.Topics()
	be := newBackend(t, m.url(), nil, tp.Replies, tp.Events, tp.Status)
	be.publish(tp.Jobs, jobJSON("MQ1", "idempotency_key", "mq-1"), nil)
	decodeEvent(t, be.waitFor(10*time.Second, "printed event", isEvent(tp, "printed", "mq-1")))
	checkOnce(t, waitTickets(t, b.out, []string{"MQ1"}, 10*time.Second), []string{"MQ1"})
	checkRequests(t, b, be)
	s := be.waitStatus(tp, true, 5*time.Second)
	if len(s.Printers) != 2 {
		t.Errorf("status %+v", s)
	}
}

// Jobs published while the box is off print when it is back: once each,
// in the order they were published (Mosquitto keeps the order of a
// session's queued messages, as MQTT requires).
func TestMosquittoOfflineJobsInOrder(t *testing.T) {
	m := startMosquitto(t, nil)
	offlineJobsInOrder(t, m, m.url(), "5")
}

func offlineJobsInOrder(t *testing.T, m *mosquitto, boxURL, proto string) {
	b := productionInFlight(newBox(t, boxURL, "box-mq-off")).start().connected()
	checkProtocol(t, b, proto)
	tp := b.conn.Topics()
	be := newBackend(t, m.url(), nil)
	b.stop()
	var markers []string
	for i := range 60 {
		markers = append(markers, fmt.Sprintf("MO%02d", i))
		be.publish(tp.Jobs, jobJSON(markers[i]), nil)
	}
	b.start().connected()
	checkOnce(t, waitTickets(t, b.out, markers, 30*time.Second), markers)
	jobs, err := b.svc.Jobs(queue.Filter{Printer: "kitchen", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != len(markers) {
		t.Fatalf("%d jobs", len(jobs))
	}
	for i, j := range jobs { // newest first
		full, _ := b.svc.Job(j.ID)
		if want := "TICKET " + markers[len(markers)-1-i] + "\n"; full.Content != want {
			t.Fatalf("job %d is %q, want %q: not in publication order", len(jobs)-1-i, full.Content, want)
		}
	}
}

// The broker restarts in the middle of a stream of jobs: nothing is lost
// (its persistence keeps the box's session and queued messages, the
// publisher resends what was in flight) and nothing prints twice (the
// resent messages are deduplicated).
func TestMosquittoBrokerRestartMidStream(t *testing.T) {
	m := startMosquitto(t, nil)
	restartMidStream(t, m, m.url(), "5")
}

func restartMidStream(t *testing.T, m *mosquitto, boxURL, proto string) {
	b := productionInFlight(newBox(t, boxURL, "box-mq-restart")).start().connected()
	checkProtocol(t, b, proto)
	tp := b.conn.Topics()

	// A publisher as a backend would have one: a persistent session and a
	// queue, so what it publishes during the restart goes out afterwards.
	u, _ := url.Parse(m.url())
	var connects atomic.Int32
	pub, err := autopaho.NewConnection(context.Background(), autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 5, SessionExpiryInterval: 3600,
		ReconnectBackoff: autopaho.NewConstantBackoff(100 * time.Millisecond),
		OnConnectionUp:   func(*autopaho.ConnectionManager, *paho.Connack) { connects.Add(1) },
		ClientConfig:     paho.ClientConfig{ClientID: "backend-restart"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pub.AwaitConnection(ctx); err != nil {
		t.Fatal(err)
	}

	const n = 400
	var markers []string
	for i := range n {
		markers = append(markers, fmt.Sprintf("MR%03d", i))
		if err := pub.PublishViaQueue(ctx, &autopaho.QueuePublish{Publish: &paho.Publish{
			QoS: 1, Topic: tp.Jobs, Payload: jobJSON(markers[i]),
		}}); err != nil {
			t.Fatal(err)
		}
		if i == n/3 {
			// Mid-stream: part is printed, part is with the broker, part
			// with the publisher.
			time.Sleep(100 * time.Millisecond)
			m.restart()
		}
		if i%50 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	checkOnce(t, waitTickets(t, b.out, markers, 60*time.Second), markers)
	time.Sleep(time.Second) // anything redelivered late would print now
	checkOnce(t, b.tickets(markers), markers)
	st := b.conn.Stats()
	if st.Connects < 2 || connects.Load() < 2 {
		t.Errorf("box connects %d, publisher connects %d: the broker did not restart under them", st.Connects, connects.Load())
	}
	t.Logf("box: %+v", st)
}

// A message acknowledged late (the connection died after the job was
// queued) is delivered again by Mosquitto and printed once.
func TestMosquittoRedeliveryPrintsOnce(t *testing.T) {
	m := startMosquitto(t, nil)
	redeliveryPrintsOnce(t, m, m.url(), "5", func(b *box, _ *paho.Publish) { b.conn.cm.TerminateConnectionForTest() })
}

// redeliveryPrintsOnce: drop cuts the box's connection.
func redeliveryPrintsOnce(t *testing.T, m *mosquitto, boxURL, proto string, drop func(*box, *paho.Publish)) {
	b := productionInFlight(newBox(t, boxURL, "box-mq-redeliver"))
	var drops atomic.Int32
	b.opts.afterQueue = func(p *paho.Publish) {
		if drops.Add(1) == 1 {
			drop(b, p)
		}
	}
	b.start().connected()
	checkProtocol(t, b, proto)
	tp := b.conn.Topics()
	be := newBackend(t, m.url(), nil)
	be.publish(tp.Jobs, jobJSON("MD1"), nil)
	checkOnce(t, waitTickets(t, b.out, []string{"MD1"}, 10*time.Second), []string{"MD1"})
	deadline := time.Now().Add(10 * time.Second)
	for drops.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	checkOnce(t, b.tickets([]string{"MD1"}), []string{"MD1"})
	if st := b.conn.Stats(); drops.Load() < 2 || st.Duplicates != 1 || st.Queued != 1 {
		t.Errorf("deliveries %d, stats %+v: want a redelivery deduplicated", drops.Load(), st)
	}
}

// kill -9 of a real `comandera serve`: Mosquitto publishes its will.
func TestMosquittoKill9LastWill(t *testing.T) {
	m := startMosquitto(t, nil)
	killAndWill(t, m.url(), nil, "")
}

// kill -9 of a real `comandera serve` after jobs printed while Mosquitto
// was down: their events are published after the restart.
func TestMosquittoKill9EventsDelivered(t *testing.T) {
	m := startMosquitto(t, nil)
	killEvents(t, m.url(), func() {
		// Killed, so it cannot save what it holds: the events come from the box.
		m.kill()
		os.Remove(filepath.Join(m.dir, "mosquitto.db"))
	}, m.start)
}

// Mutual TLS with Mosquitto: the fleet's client certificate is accepted,
// another CA's or none is refused.
func TestMosquittoMutualTLS(t *testing.T) {
	f := newMTLS(t)
	m := startMosquitto(t, f)
	good := productionInFlight(newBox(t, m.url(), "box-mq-tls", withMQTT(tlsBlock(f.ca.path, f.clientCert, f.clientKey)))).start().connected()
	tp := good.conn.Topics()
	be := newBackend(t, m.url(), f.clientTLS(t), tp.Events)
	be.publish(tp.Jobs, jobJSON("MT1", "idempotency_key", "mt-1"), nil)
	decodeEvent(t, be.waitFor(10*time.Second, "printed event over mTLS", isEvent(tp, "printed", "mt-1")))
	checkOnce(t, waitTickets(t, good.out, []string{"MT1"}, 10*time.Second), []string{"MT1"})

	for _, c := range []struct{ name, tls string }{
		{"certificate from another CA", tlsBlock(f.ca.path, f.rogueCert, f.rogueKey)},
		{"no client certificate", tlsBlock(f.ca.path, "", "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBox(t, m.url(), "box-mq-rogue", withMQTT(c.tls)).start()
			deadline := time.Now().Add(10 * time.Second)
			for b.conn.Stats().ConnectErrors < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if st := b.conn.Stats(); st.ConnectErrors < 2 || st.Connects != 0 {
				t.Errorf("stats = %+v: want refused connections", st)
			}
		})
	}
	// And the real binary over mTLS, killed: the will goes out.
	t.Run("kill -9 over mTLS", func(t *testing.T) {
		killAndWill(t, m.url(), f.clientTLS(t), tlsBlock(f.ca.path, f.clientCert, f.clientKey))
	})
}

// Mosquitto behind a front that refuses MQTT 5, as a broker that speaks
// only 3.1.1 does: the box falls back to 3.1.1 and keeps every guarantee
// (offline jobs in order, a broker restart mid-stream, a redelivery
// printed once); the retained will marks it offline when the network
// fails.
func TestMosquittoMQTT311(t *testing.T) {
	m := startMosquitto(t, nil)
	front := startV311Front(t, m.addr)
	t.Run("offline jobs in order", func(t *testing.T) {
		offlineJobsInOrder(t, m, front.url(), "3.1.1")
	})
	t.Run("broker restart mid-stream", func(t *testing.T) {
		restartMidStream(t, m, front.url(), "3.1.1")
	})
	t.Run("redelivery", func(t *testing.T) {
		redeliveryPrintsOnce(t, m, front.url(), "3.1.1", func(_ *box, p *paho.Publish) {
			front.losePuback(p.PacketID) // the PUBACK resent on the next connection
			front.cut(false)
		})
	})
	t.Run("will", func(t *testing.T) {
		b := productionInFlight(newBox(t, front.url(), "box-mq-311-will")).start().connected()
		checkProtocol(t, b, "3.1.1")
		tp := b.conn.Topics()
		be := newBackend(t, m.url(), nil, tp.Status)
		envelopedStatus(t, be, tp, 0, true, 5*time.Second)
		n := len(be.messages(tp.Status))
		front.cut(true)
		if s := envelopedStatus(t, be, tp, n, false, 10*time.Second); s.Reason != "connection lost" {
			t.Errorf("will = %+v", s)
		}
		front.cut(false)
		envelopedStatus(t, be, tp, n+1, true, 10*time.Second)
	})
	if front.refusedV5.Load() == 0 {
		t.Error("the boxes never tried MQTT 5")
	}
}

func checkProtocol(t *testing.T, b *box, want string) {
	t.Helper()
	if got := b.conn.Protocol(); got != want {
		t.Fatalf("protocol %q, want %q", got, want)
	}
}
