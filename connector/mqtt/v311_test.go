package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/comandera/comandera/queue"
)

// openEnvelope checks that m is an envelope with a valid signature and
// returns its body.
func openEnvelope(t testing.TB, m *paho.Publish) []byte {
	t.Helper()
	var env Envelope
	if err := json.Unmarshal(m.Payload, &env); err != nil || env.Body == "" {
		t.Fatalf("%s: not an envelope (%v): %.200s", m.Topic, err, m.Payload)
	}
	if err := queue.Verify([]byte(testSecret), []byte(env.Body), env.Signature); err != nil {
		t.Fatalf("%s: envelope signature: %v", m.Topic, err)
	}
	return []byte(env.Body)
}

// envelopeHas matches a message on topic whose envelope body contains s.
func envelopeHas(topic, s string) func(*paho.Publish) bool {
	return func(p *paho.Publish) bool {
		var env Envelope
		return p.Topic == topic && json.Unmarshal(p.Payload, &env) == nil && strings.Contains(env.Body, s)
	}
}

// envelopedStatus decodes the status messages after the first n.
func envelopedStatus(t testing.TB, be *backend, tp Topics, n int, online bool, timeout time.Duration) Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms := be.messages(tp.Status)
		for _, m := range ms[min(n, len(ms)):] {
			var s Status
			if err := json.Unmarshal(openEnvelope(t, m), &s); err != nil {
				t.Fatal(err)
			}
			if s.Online == online {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status online=%v after %s", online, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRefusesV5(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("failed to connect to mqtt://x: %w", io.EOF), true}, // a 3.1.1 CONNACK, or closed without one
		{fmt.Errorf("failed to connect to mqtt://x: %w", io.ErrUnexpectedEOF), true},
		{autopaho.NewConnackError(errors.New("refused"), &paho.Connack{ReasonCode: 0x84}), true},
		{autopaho.NewConnackError(errors.New("refused"), &paho.Connack{ReasonCode: 0x86}), false}, // bad user name or password
		{autopaho.NewConnackError(errors.New("refused"), &paho.Connack{ReasonCode: 0x87}), false}, // not authorized
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
		{context.DeadlineExceeded, false},
	} {
		if got := refusesV5(tc.err); got != tc.want {
			t.Errorf("refusesV5(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A broker that speaks only MQTT 3.1.1 refuses the MQTT 5 CONNECT; with
// protocol "auto" (the default) the box connects with 3.1.1 and everything
// works the 3.1.1 way: jobs print, events and the status are signed in the
// envelope, requests are answered on P/replies with their correlation_id,
// the will marks the box offline when the connection drops, and jobs sent
// meanwhile print once on the reconnection.
func TestFallsBackToMQTT311(t *testing.T) {
	br := startBroker(t, "", nil)
	front := startV311Front(t, br.addr)
	b := newBox(t, front.url(), "box-311").start().connected()
	if p := b.conn.Protocol(); p != "3.1.1" {
		t.Fatalf("protocol = %q, want 3.1.1", p)
	}
	if front.refusedV5.Load() == 0 {
		t.Fatal("the box did not try MQTT 5 first")
	}
	if info := b.conn.Info(); info.Protocol != "3.1.1" || !info.Connected {
		t.Errorf("info = %+v", info)
	}
	tp := b.conn.Topics()
	be := newBackend(t, br.url(), nil, tp.Events, tp.Status, tp.Replies)

	be.publish(tp.Jobs, jobJSON("F1", "idempotency_key", "f-1"), nil)
	checkOnce(t, waitTickets(t, b.out, []string{"F1"}, 10*time.Second), []string{"F1"})
	m := be.waitFor(10*time.Second, "printed event", envelopeHas(tp.Events, `"state":"printed"`))
	var cb queue.Callback
	if err := json.Unmarshal(openEnvelope(t, m), &cb); err != nil || cb.Job.IdempotencyKey != "f-1" {
		t.Fatalf("event %+v: %v", cb, err)
	}

	// Requests: no response topic in 3.1.1, so the answer goes to
	// P/replies with the body's correlation_id.
	be.publish(tp.Request(OpStatus), []byte(`{"correlation_id":"c-311"}`), nil)
	m = be.waitFor(10*time.Second, "status reply", envelopeHas(tp.Replies, `"correlation_id":"c-311"`))
	var r Reply
	if err := json.Unmarshal(openEnvelope(t, m), &r); err != nil || r.Status != 200 || r.Op != OpStatus {
		t.Fatalf("reply %+v: %v", r, err)
	}
	be.publish(tp.Request(OpPrint), jobJSON("F2", "correlation_id", "c-print"), nil)
	m = be.waitFor(10*time.Second, "print reply", envelopeHas(tp.Replies, `"correlation_id":"c-print"`))
	if err := json.Unmarshal(openEnvelope(t, m), &r); err != nil || r.Status != 202 {
		t.Fatalf("print reply %+v: %v", r, err)
	}
	waitTickets(t, b.out, []string{"F2"}, 10*time.Second)
	if s := envelopedStatus(t, be, tp, 0, true, 5*time.Second); s.ClientID != "box-311" {
		t.Errorf("status = %+v", s)
	}

	// The network fails: the broker publishes the will; jobs sent meanwhile
	// wait in the box's session and print once when it is back.
	n := len(be.messages(tp.Status))
	front.cut(true)
	if s := envelopedStatus(t, be, tp, n, false, 10*time.Second); s.Reason != "connection lost" {
		t.Errorf("will = %+v", s)
	}
	markers := []string{"F3", "F4", "F5"}
	for _, mk := range markers {
		be.publish(tp.Jobs, jobJSON(mk), nil)
	}
	time.Sleep(200 * time.Millisecond)
	counts := countTickets(t, b.out, markers)
	for _, mk := range markers {
		if counts[mk] != 0 {
			t.Fatalf("%s printed while offline", mk)
		}
	}
	refused := front.refusedV5.Load()
	n = len(be.messages(tp.Status))
	front.cut(false)
	all := append([]string{"F1", "F2"}, markers...)
	checkOnce(t, waitTickets(t, b.out, all, 15*time.Second), all)
	envelopedStatus(t, be, tp, n, true, 10*time.Second)
	if front.refusedV5.Load() != refused {
		t.Error("the box tried MQTT 5 again after the fallback")
	}
	if st := b.conn.Stats(); st.Connects < 2 || st.Queued != 5 || st.Duplicates != 0 {
		t.Errorf("stats = %+v", st)
	}

	// A clean stop publishes the offline status.
	n = len(be.messages(tp.Status))
	b.stop()
	if s := envelopedStatus(t, be, tp, n, false, 5*time.Second); s.Reason != "shutdown" {
		t.Errorf("offline status = %+v", s)
	}
}

// protocol = "3.1.1" connects with 3.1.1 without trying MQTT 5; a retained
// job is never printed (3.1.1 has no retain handling: the broker sends it
// on subscribing, flagged retained); a job queued whose acknowledgement is
// lost is delivered again and printed once.
func TestMQTT311Forced(t *testing.T) {
	br := startBroker(t, "", nil)
	front := startV311Front(t, br.addr)
	b := newBox(t, front.url(), "box-311f", withMQTT(`  protocol = "3.1.1"`))
	var drops atomic.Int32
	b.opts.afterQueue = func(p *paho.Publish) {
		if drops.Add(1) == 1 {
			// The connection dies before the PUBACK, and the PUBACK that
			// paho.mqtt.golang keeps and sends on the next connection is
			// lost too: the broker must deliver the job again.
			front.losePuback(p.PacketID)
			front.cut(false)
		}
	}
	topics := TopicsFor(b.cfg.MQTT.TopicPrefix)
	be := newBackend(t, br.url(), nil, topics.Events)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := be.cm.Publish(ctx, &paho.Publish{QoS: 1, Retain: true, Topic: topics.Jobs, Payload: jobJSON("RETAINED")}); err != nil {
		t.Fatal(err)
	}

	b.start().connected()
	if front.refusedV5.Load() != 0 || b.conn.Protocol() != "3.1.1" {
		t.Fatalf("MQTT 5 CONNECTs %d, protocol %q", front.refusedV5.Load(), b.conn.Protocol())
	}
	be.publish(topics.Jobs, jobJSON("G1", "idempotency_key", "g-1"), nil)
	checkOnce(t, waitTickets(t, b.out, []string{"G1"}, 10*time.Second), []string{"G1"})
	deadline := time.Now().Add(10 * time.Second)
	for drops.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	checkOnce(t, b.tickets([]string{"G1"}), []string{"G1"})
	if got := countTickets(t, b.out, []string{"RETAINED"}); got["RETAINED"] != 0 {
		t.Error("a retained job printed")
	}
	if st := b.conn.Stats(); drops.Load() < 2 || st.Duplicates != 1 || st.Queued != 1 {
		t.Errorf("deliveries %d, stats %+v: want a redelivery deduplicated", drops.Load(), st)
	}
	be.waitFor(10*time.Second, "printed event", envelopeHas(topics.Events, `"state":"printed"`))
}

// A real `comandera serve` whose broker speaks only 3.1.1: it falls back,
// says so in GET /status and `comandera check`, prints a job from the
// broker, and on kill -9 the broker publishes its will (in the envelope);
// a job sent while it is dead prints once after the restart.
func TestServeFallsBackToMQTT311(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the comandera binary")
	}
	br := startBroker(t, "", nil)
	front := startV311Front(t, br.addr)
	dir := t.TempDir()
	cfg, out := serveConfig(t, dir, front.url(), "box-serve-311", "")
	tp := TopicsFor("comandera/box-serve-311")
	be := newBackend(t, br.url(), nil, tp.Status, tp.Events)

	p := startServe(t, dir, cfg)
	envelopedStatus(t, be, tp, 0, true, 15*time.Second)
	if info := serveConnector(t, p); info.Protocol != "3.1.1" || !info.Connected {
		t.Errorf("GET /status connectors.mqtt = %+v", info)
	}
	if code, text := runCheck(t, p); code != 0 || !strings.Contains(text, "over MQTT 3.1.1") {
		t.Errorf("comandera check: exit %d\n%s", code, text)
	}
	if !strings.Contains(p.log.String(), "the broker speaks only MQTT 3.1.1") {
		t.Errorf("the fallback is not in the log:\n%s", p.log.String())
	}
	be.publish(tp.Jobs, jobJSON("S1"), nil)
	waitTickets(t, out, []string{"S1"}, 15*time.Second)
	be.waitFor(15*time.Second, "S1's printed event", envelopeHas(tp.Events, `"state":"printed"`))

	n := len(be.messages(tp.Status))
	p.kill()
	if s := envelopedStatus(t, be, tp, n, false, 15*time.Second); s.Reason != "connection lost" {
		t.Errorf("will = %+v", s)
	}
	be.publish(tp.Jobs, jobJSON("S2"), nil)
	n = len(be.messages(tp.Status))
	p = startServe(t, dir, cfg)
	envelopedStatus(t, be, tp, n, true, 15*time.Second)
	checkOnce(t, waitTickets(t, out, []string{"S1", "S2"}, 15*time.Second), []string{"S1", "S2"})
	p.stop()
}
