package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt311 "github.com/eclipse/paho.mqtt.golang"

	"github.com/comandera/comandera/config"
)

// A session is the connector's link to the broker, kept up across losses:
// MQTT 5 through paho.golang's autopaho.ConnectionManager, or MQTT 3.1.1
// through paho.mqtt.golang (session311). The rest of the connector speaks
// paho.golang's types; a 3.1.1 session drops what 3.1.1 cannot carry
// (properties), and the connector puts signatures in the envelope instead.
type session interface {
	// AwaitConnection waits until the connection is up, ctx ends or the
	// session is closed.
	AwaitConnection(ctx context.Context) error
	// Publish publishes p and, at QoS 1, waits for the broker's PUBACK.
	Publish(ctx context.Context, p *paho.Publish) (*paho.PublishResponse, error)
	// Disconnect closes the connection (cleanly when it is up) and stops
	// reconnecting.
	Disconnect(ctx context.Context) error
}

var _ session = (*autopaho.ConnectionManager)(nil)

// session returns the current session.
func (c *Connector) session() session {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	return c.sess
}

// awaitConnection waits until the current session is connected, following
// a switch from MQTT 5 to 3.1.1 (the MQTT 5 session's AwaitConnection ends
// when it is closed for the switch).
func (c *Connector) awaitConnection(ctx context.Context) error {
	for {
		s := c.session()
		err := s.AwaitConnection(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if c.session() == s {
			return err
		}
	}
}

// Protocol returns the MQTT version in use: "5" or "3.1.1".
func (c *Connector) Protocol() string {
	if c.v311.Load() {
		return config.Protocol311
	}
	return config.Protocol5
}

// --- falling back from MQTT 5 to 3.1.1 ---

// refusesV5 reports whether a failed MQTT 5 connection attempt looks like a
// broker that does not speak MQTT 5: it answered the CONNECT with a 3.1.1
// CONNACK ("unacceptable protocol version": two bytes, which paho.golang
// cannot read as an MQTT 5 CONNACK and reports as an early EOF), closed the
// connection without a CONNACK, or refused with the MQTT 5 reason code
// 0x84 (unsupported protocol version).
func refusesV5(err error) bool {
	var ce *autopaho.ConnackError
	if errors.As(err, &ce) {
		return ce.ReasonCode == packets.ConnackUnsupportedProtocolVersion
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// tryV311 runs after an MQTT 5 connection attempt that refusesV5: it tries
// once with MQTT 3.1.1 and, when the broker takes that, switches the
// connector to it for the life of the process. Otherwise the MQTT 5
// session goes on retrying as before.
func (c *Connector) tryV311(cause error) {
	if !c.probing.CompareAndSwap(false, true) {
		return
	}
	defer c.probing.Store(false)
	c.log.Info("mqtt: the broker did not take an MQTT 5 connection; trying MQTT 3.1.1", "err", cause)
	s := c.newSession311(false)
	if err := s.connectOnce(c.ctx, c.opts.ConnectTimeout); err != nil {
		c.log.Info("mqtt: the broker did not take MQTT 3.1.1 either; staying on MQTT 5", "err", err)
		_ = s.Disconnect(context.Background())
		return
	}
	if c.ctx.Err() != nil { // closed meanwhile: Close disconnected the session it found
		_ = s.Disconnect(context.Background())
	}
}

// adopt makes s the connector's session (on its first connection) and
// stops the MQTT 5 session it replaces.
func (c *Connector) adopt(s *session311) {
	c.sessMu.Lock()
	old := c.sess
	c.sess = s
	c.v311.Store(true)
	c.sessMu.Unlock()
	if old == nil || old == session(s) {
		return
	}
	c.log.Warn("mqtt: the broker speaks only MQTT 3.1.1; connected with it. Signatures go in the payload envelope, answers to <prefix>/replies; set protocol = \"3.1.1\" to skip the MQTT 5 attempt")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := old.Disconnect(ctx); err != nil {
			c.log.Warn("mqtt: the MQTT 5 session did not stop", "err", err)
		}
	}()
}

// --- MQTT 3.1.1 ---

// session311 is a session over MQTT 3.1.1 with paho.mqtt.golang: a
// persistent session (clean session off, so the broker keeps the
// subscriptions and the QoS 1 jobs sent while the box is offline), manual
// acknowledgement (a job is acknowledged once queued), the same retained
// will, and a goroutine that publishes the connector's backlog (pubq),
// which autopaho does for MQTT 5.
type session311 struct {
	c   *Connector
	cli mqtt311.Client

	mu     sync.Mutex
	up     chan struct{} // closed while connected
	closed chan struct{} // closed by Disconnect
	once   sync.Once
	wg     sync.WaitGroup
}

// newSession311 makes a 3.1.1 session. With retry, its first connection
// is retried in the background like every later one; without, the caller
// makes it with connectOnce.
func (c *Connector) newSession311(retry bool) *session311 {
	s := &session311{c: c, up: make(chan struct{}), closed: make(chan struct{})}
	u := brokerURL(c.cfg.BrokerURL)
	tlsCfg, _ := TLSConfig(c.cfg) // checked by Start
	o := mqtt311.NewClientOptions().
		AddBroker(u.String()).
		SetClientID(c.cfg.ClientID).
		SetUsername(c.cfg.Username).
		SetPassword(c.cfg.Password).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetKeepAlive(c.cfg.KeepAlive).
		SetConnectTimeout(c.opts.ConnectTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(retry).
		SetConnectRetryInterval(c.opts.ReconnectMin).
		SetMaxReconnectInterval(c.opts.ReconnectMax).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetResumeSubs(false). // subscribed again on each connection
		SetMessageChannelDepth(uint(c.opts.InFlight)).
		SetOnConnectHandler(s.onConnect).
		SetConnectionLostHandler(func(_ mqtt311.Client, err error) { s.onLost(err) }).
		SetReconnectingHandler(func(_ mqtt311.Client, o *mqtt311.ClientOptions) {
			o.WillPayload = c.willPayload() // the will carries the time of the connection it belongs to
		}).
		SetConnectionNotificationHandler(func(_ mqtt311.Client, n mqtt311.ConnectionNotification) {
			if f, ok := n.(mqtt311.ConnectionNotificationFailed); ok {
				c.onConnectError(f.Reason)
			}
		}).
		SetDefaultPublishHandler(s.onMessage)
	if tlsCfg != nil {
		o.SetTLSConfig(tlsCfg)
	}
	o.SetBinaryWill(c.topics.Status, c.willPayload(), 1, true)
	s.cli = mqtt311.NewClient(o)
	s.wg.Add(1)
	go s.publishBacklog()
	return s
}

// willPayload is the retained offline status the broker publishes when the
// connection drops, in the envelope (3.1.1 has no user properties).
func (c *Connector) willPayload() []byte {
	body, err := json.Marshal(Status{Online: false, ClientID: c.cfg.ClientID, Reason: "connection lost", Time: time.Now().UTC()})
	if err != nil {
		return nil
	}
	payload, _ := c.encodeAs(body, nil, true)
	return payload
}

// connectOnce makes one connection attempt (later ones are automatic).
func (s *session311) connectOnce(ctx context.Context, timeout time.Duration) error {
	t := s.cli.Connect()
	select {
	case <-t.Done():
		return t.Error()
	case <-time.After(timeout + time.Second):
		return errors.New("timed out")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *session311) start() {
	s.cli.Connect() // with SetConnectRetry: retries in the background
}

func (s *session311) onConnect(cli mqtt311.Client) {
	s.mu.Lock()
	select {
	case <-s.up:
	default:
		close(s.up)
	}
	s.mu.Unlock()
	s.c.adopt(s)
	s.c.connectionUp()
	// Not in this callback: paho.mqtt.golang delivers the SUBACK on the
	// goroutine that called it.
	go s.c.subscribe(func(ctx context.Context) ([]byte, error) {
		t := cli.SubscribeMultiple(map[string]byte{s.c.topics.Jobs: 1, s.c.topics.Requests: 1}, nil)
		select {
		case <-t.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if err := t.Error(); err != nil {
			return nil, err
		}
		var refused []byte
		for _, qos := range t.(*mqtt311.SubscribeToken).Result() {
			if qos == 0x80 {
				refused = append(refused, 0x87) // as MQTT 5 says it: not authorized
			}
		}
		if len(refused) > 0 {
			return refused, errors.New("the broker refused the subscription (SUBACK 0x80)")
		}
		return nil, nil
	})
}

func (s *session311) onLost(err error) {
	s.mu.Lock()
	select {
	case <-s.up:
		s.up = make(chan struct{})
	default:
	}
	s.mu.Unlock()
	s.c.log.Debug("mqtt: MQTT 3.1.1 connection lost", "err", err)
	s.c.onDown()
}

// onMessage receives every message (the subscriptions have no handler of
// their own). A retained message is one the broker sends because it was
// retained on the topic, never a new one (MQTT 3.1.1 §3.3.1.3): it is
// acknowledged and dropped, as MQTT 5's retain handling 2 keeps it from
// being sent at all.
func (s *session311) onMessage(_ mqtt311.Client, msg mqtt311.Message) {
	if msg.Retained() {
		msg.Ack()
		s.c.log.Warn("mqtt: ignoring a retained message (jobs and requests must not be retained)", "topic", truncate(msg.Topic(), 200))
		return
	}
	p := &paho.Publish{Topic: msg.Topic(), Payload: msg.Payload(), QoS: msg.Qos(), PacketID: msg.MessageID()}
	s.c.route(inbound{p: p, ack: func() error { msg.Ack(); return nil }})
}

func (s *session311) AwaitConnection(ctx context.Context) error {
	s.mu.Lock()
	up := s.up
	s.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errors.New("mqtt: the session is closed")
	}
}

func (s *session311) Publish(ctx context.Context, p *paho.Publish) (*paho.PublishResponse, error) {
	if !s.cli.IsConnectionOpen() {
		return nil, errors.New("not connected")
	}
	t := s.cli.Publish(p.Topic, p.QoS, p.Retain, p.Payload)
	select {
	case <-t.Done():
		return nil, t.Error()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// publishBacklog publishes what the connector queued in pubq (replies,
// rejections), in order, each until the broker acknowledges it.
func (s *session311) publishBacklog() {
	defer s.wg.Done()
	q := s.c.pubq
	for {
		select {
		case <-q.Wait():
		case <-s.closed:
			return
		}
		if err := s.AwaitConnection(context.Background()); err != nil {
			return
		}
		e, err := q.Peek()
		if err != nil {
			continue // empty: Wait blocks again
		}
		p, err := queuedPublish(e)
		if err != nil {
			s.c.log.Error("mqtt: dropping a damaged message from the backlog", "err", err)
			_ = e.Quarantine()
			continue
		}
		if _, err := s.Publish(context.Background(), p); err != nil {
			_ = e.Leave()
			select { // the connection went down; try again once it is up
			case <-time.After(200 * time.Millisecond):
			case <-s.closed:
				return
			}
			continue
		}
		_ = e.Remove()
	}
}

// queuedPublish reads back a PUBLISH the connector queued in pubq.
func queuedPublish(e interface{ Reader() (io.Reader, error) }) (*paho.Publish, error) {
	r, err := e.Reader()
	if err != nil {
		return nil, err
	}
	cp, err := packets.ReadPacket(r)
	if err != nil {
		return nil, err
	}
	pp, ok := cp.Content.(*packets.Publish)
	if !ok {
		return nil, fmt.Errorf("packet type %d in the backlog", cp.Type)
	}
	return paho.PublishFromPacketPublish(pp), nil
}

func (s *session311) Disconnect(ctx context.Context) error {
	s.once.Do(func() {
		close(s.closed)
		if s.cli.IsConnectionOpen() {
			s.cli.Disconnect(250)
		} else {
			s.cli.Disconnect(0) // stops the reconnection loop
		}
	})
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
