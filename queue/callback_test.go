package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	bolt "go.etcd.io/bbolt"
)

func TestSignVerify(t *testing.T) {
	// RFC 4231 test case 2.
	sig := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if sig != "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("Sign = %s", sig)
	}
	body := []byte(`{"event_id":"x","timestamp":1}`)
	good := Sign([]byte("k"), body)
	for _, c := range []struct {
		name, secret, sig string
		body              []byte
		ok                bool
	}{
		{"good", "k", good, body, true},
		{"wrong secret", "j", good, body, false},
		{"tampered body", "k", good, []byte(`{"event_id":"x","timestamp":2}`), false},
		{"no prefix", "k", strings.TrimPrefix(good, "sha256="), body, false},
		{"bad hex", "k", "sha256=zz", body, false},
		{"short", "k", good[:20], body, false},
		{"empty", "k", "", body, false},
	} {
		err := Verify([]byte(c.secret), c.body, c.sig)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("k"), []byte("{}"), "sha256=00")
	f.Add([]byte(""), []byte(""), Sign(nil, nil))
	f.Fuzz(func(t *testing.T, secret, body []byte, sig string) {
		err := Verify(secret, body, sig)
		if err == nil && sig != Sign(secret, body) && !strings.EqualFold(sig, Sign(secret, body)) {
			t.Fatalf("accepted a signature that is not Sign's: %q", sig)
		}
		if Verify(secret, body, Sign(secret, body)) != nil {
			t.Fatal("rejected its own signature")
		}
	})
}

// backend is a test callback receiver on 127.0.0.1.
type backend struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server
	fail   atomic.Int32 // answer 503 to this many more requests
	down   atomic.Bool  // answer 500 to everything
	mu     sync.Mutex
	got    []*Callback // verified and accepted
	hits   atomic.Int32
}

func newBackend(t *testing.T, secret string) *backend {
	b := &backend{t: t, secret: []byte(secret)}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		b.t.Errorf("callback %s with %q", r.Method, r.Header.Get("Content-Type"))
	}
	if b.down.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	if b.fail.Add(-1) >= 0 {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	cb, err := VerifyRequest(r, b.secret, 5*time.Minute, time.Now())
	if err != nil {
		b.t.Errorf("callback does not verify: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	b.mu.Lock()
	b.got = append(b.got, cb)
	b.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (b *backend) received() []*Callback {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

func (b *backend) states(id string) []string {
	var out []string
	for _, cb := range b.received() {
		if cb.Job.ID == id {
			out = append(out, string(cb.Previous)+">"+string(cb.State))
		}
	}
	return out
}

func fastCallbacks(secret string) CallbackOptions {
	return CallbackOptions{Secret: []byte(secret), Backoff: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, Timeout: 2 * time.Second}
}

func TestCallbacksRetriedAndSigned(t *testing.T) {
	be := newBackend(t, "s3cret")
	be.fail.Store(2)
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", newFake())}, Callback: fastCallbacks("s3cret")})
	j := submit(t, q, Request{Printer: "p", CallbackURL: be.srv.URL + "/hooks/print", Metadata: json.RawMessage(`{"order":8812}`)})
	wait(t, q, j.ID)
	want := []string{">queued", "queued>printing", "printing>printed"}
	eventually(t, "three callbacks", func() bool { return len(be.states(j.ID)) >= 3 })
	if got := be.states(j.ID); !slices.Equal(got, want) {
		t.Fatalf("callbacks %q, want %q", got, want)
	}
	got := be.received()
	if got[0].Attempt != 3 {
		t.Errorf("first event accepted on attempt %d, want 3", got[0].Attempt)
	}
	if got[2].Job.State != core.JobPrinted || string(got[2].Job.Metadata) != `{"order":8812}` || got[2].Job.Content != "" {
		t.Errorf("job in callback: %+v", got[2].Job)
	}
	ids := map[string]bool{}
	for _, cb := range got {
		if ids[cb.ID] {
			t.Errorf("event %s delivered twice", cb.ID)
		}
		ids[cb.ID] = true
	}
	eventually(t, "outbox empty", func() bool { return q.CallbackStats().Pending == 0 })
	st := q.CallbackStats()
	if st.Delivered != 3 || st.Failed != 2 || st.Abandoned != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCallbackOutboxSurvivesRestart(t *testing.T) {
	be := newBackend(t, "k")
	be.down.Store(true)
	path := t.TempDir() + "/" + FileName
	q1, err := Open(path, Options{Logger: testLogger(t), Printers: []PrinterConfig{fast("p", newFake())}, Callback: fastCallbacks("k")})
	if err != nil {
		t.Fatal(err)
	}
	j := submit(t, q1, Request{Printer: "p", CallbackURL: be.srv.URL + "/cb"})
	wait(t, q1, j.ID)
	eventually(t, "failed deliveries", func() bool { return q1.CallbackStats().Failed >= 3 })
	if err := q1.Close(); err != nil {
		t.Fatal(err)
	}
	// The entries are on disk, each with its job.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bOutbox).ForEach(func(k, v []byte) error {
			if string(v[8:outboxHead]) == j.ID {
				n++
			}
			return nil
		})
	})
	db.Close()
	if n != 3 {
		t.Fatalf("%d outbox entries after close, want 3", n)
	}
	be.down.Store(false)
	q2 := openAt(t, path, Options{Callback: fastCallbacks("k")})
	eventually(t, "delivery after restart", func() bool { return len(be.states(j.ID)) == 3 })
	if got := be.states(j.ID); !slices.Equal(got, []string{">queued", "queued>printing", "printing>printed"}) {
		t.Fatalf("after restart: %q", got)
	}
	eventually(t, "outbox empty", func() bool { return q2.CallbackStats().Pending == 0 })
}

func TestCallbackOutboxInSameTransaction(t *testing.T) {
	be := newBackend(t, "k")
	be.down.Store(true)
	f := newFake()
	f.hold = make(chan struct{})
	defer close(f.hold)
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", f)}, Callback: fastCallbacks("k")})
	for range 20 {
		j := submit(t, q, Request{Printer: "p", CallbackURL: be.srv.URL})
		// When Submit returns, the job's creation event is already in the outbox.
		found := false
		_ = q.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bOutbox).ForEach(func(k, v []byte) error {
				found = found || string(v[8:outboxHead]) == j.ID
				return nil
			})
		})
		if !found {
			t.Fatalf("job %s has no outbox entry after Submit", j.ID)
		}
	}
}

func TestCallbackRedirects(t *testing.T) {
	be := newBackend(t, "k")
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer other.Close()
	var redirects atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case "/same":
			http.Redirect(w, r, "/final", http.StatusPermanentRedirect)
		case "/get":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			be.serve(w, r)
		}
	}))
	defer front.Close()
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", newFake())}, Callback: fastCallbacks("k")})
	away := submit(t, q, Request{Printer: "p", CallbackURL: front.URL + "/away"})
	get := submit(t, q, Request{Printer: "p", CallbackURL: front.URL + "/get"})
	same := submit(t, q, Request{Printer: "p", CallbackURL: front.URL + "/same"})
	eventually(t, "same-host redirect delivered", func() bool { return len(be.states(same.ID)) == 3 })
	eventually(t, "refused redirects retried", func() bool { return redirects.Load() > 10 })
	if elsewhere.Load() != 0 {
		t.Fatalf("a callback followed a redirect to another host")
	}
	if len(be.states(away.ID)) != 0 || len(be.states(get.ID)) != 0 {
		t.Fatalf("refused redirects delivered")
	}
}

func TestCallbackGiveUp(t *testing.T) {
	be := newBackend(t, "k")
	be.down.Store(true)
	cb := fastCallbacks("k")
	cb.MaxAge = 30 * time.Millisecond
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", newFake())}, Callback: cb})
	j := submit(t, q, Request{Printer: "p", CallbackURL: be.srv.URL})
	wait(t, q, j.ID)
	eventually(t, "given up", func() bool {
		s := q.CallbackStats()
		return s.Abandoned == 3 && s.Pending == 0
	})
}

func TestVerifyRequest(t *testing.T) {
	secret := []byte("k")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"event_id":"E1","timestamp":1800000000,"state":"printed","job":{"job_id":"J"}}`)
	req := func(mod func(h http.Header), b []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/cb", bytes.NewReader(b))
		r.Header.Set(HeaderSignature, Sign(secret, b))
		r.Header.Set(HeaderTimestamp, "1800000000")
		r.Header.Set(HeaderEvent, "E1")
		if mod != nil {
			mod(r.Header)
		}
		return r
	}
	if cb, err := VerifyRequest(req(nil, body), secret, time.Minute, now); err != nil || cb.ID != "E1" || cb.Job.ID != "J" {
		t.Fatalf("good request: %v %+v", err, cb)
	}
	for name, r := range map[string]*http.Request{
		"stale":             req(nil, body),
		"header ts differs": req(func(h http.Header) { h.Set(HeaderTimestamp, "1800000001") }, body),
		"event differs":     req(func(h http.Header) { h.Set(HeaderEvent, "E2") }, body),
		"unsigned":          req(func(h http.Header) { h.Del(HeaderSignature) }, body),
	} {
		at := now
		if name == "stale" {
			at = now.Add(time.Hour)
		}
		if _, err := VerifyRequest(r, secret, time.Minute, at); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := bytes.Repeat([]byte("x"), MaxCallbackBody+1)
	if _, err := VerifyRequest(req(nil, big), secret, time.Minute, now); err == nil {
		t.Error("oversized body accepted")
	}
}

func TestCallbackAllowList(t *testing.T) {
	be := newBackend(t, "k")
	cb := fastCallbacks("k")
	cb.Allow = func(u string) error {
		if strings.HasSuffix(u, "/old") {
			return errors.New("not under a configured backend")
		}
		return nil
	}
	q, _ := openQueue(t, Options{Printers: []PrinterConfig{fast("p", newFake())}, Callback: cb})
	old := submit(t, q, Request{Printer: "p", CallbackURL: be.srv.URL + "/old"})
	ok := submit(t, q, Request{Printer: "p", CallbackURL: be.srv.URL + "/new"})
	eventually(t, "allowed delivered", func() bool { return len(be.states(ok.ID)) == 3 })
	eventually(t, "refused dropped", func() bool { return q.CallbackStats().Abandoned == 3 })
	if len(be.states(old.ID)) != 0 {
		t.Fatal("refused URL called")
	}
}
