package server

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

func TestGuard(t *testing.T) {
	g := newGuard("s3cret", []string{"/health"})
	now := time.Unix(1_700_000_000, 0)
	g.now = func() time.Time { return now }
	req := func(remote, auth, path string) (authResult, time.Duration) {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = remote
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return g.check(r)
	}
	if res, _ := req("10.0.0.1:5000", "Bearer s3cret", "/status"); res != authOK {
		t.Fatalf("right token: %v", res)
	}
	if res, _ := req("10.0.0.1:5000", "bearer s3cret", "/status"); res != authOK {
		t.Fatalf("scheme is case-insensitive: %v", res)
	}
	if res, _ := req("10.0.0.1:5000", "", "/health"); res != authOK {
		t.Fatalf("public path: %v", res)
	}
	if res, _ := req("10.0.0.1:5000", "", "/status"); res != authMissing {
		t.Fatalf("no header: %v", res)
	}
	if res, _ := req("10.0.0.1:5000", "Basic czNjcmV0", "/status"); res != authMissing {
		t.Fatalf("basic: %v", res)
	}
	if res, _ := req("10.0.0.1:5000", "Bearer s3cre", "/status"); res != authBad {
		t.Fatalf("prefix of the token: %v", res)
	}
	// Three failures so far; two more lock the address for 1s.
	req("10.0.0.1:5000", "Bearer x", "/status")
	req("10.0.0.1:5001", "Bearer y", "/status")
	res, wait := req("10.0.0.1:5002", "Bearer s3cret", "/status")
	if res != authLocked || wait != time.Second {
		t.Fatalf("after 5 failures: %v %s, want locked for 1s even with the right token", res, wait)
	}
	if res, _ := req("10.0.0.2:5000", "Bearer s3cret", "/status"); res != authOK {
		t.Fatalf("another address: %v", res)
	}
	if res, _ := req("10.0.0.1:5000", "", "/health"); res != authOK {
		t.Fatalf("public path while locked: %v", res)
	}
	// Each further failure doubles the lockout, up to a minute.
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		now = now.Add(61 * time.Second) // past the lockout, within the forget window
		if res, _ := req("10.0.0.1:5000", "Bearer nope", "/status"); res != authBad {
			t.Fatalf("step %d: %v", i, res)
		}
		if res, wait := req("10.0.0.1:5000", "Bearer s3cret", "/status"); res != authLocked || wait != w {
			t.Fatalf("step %d: %v %s, want locked %s", i, res, wait, w)
		}
	}
	// Success after the lockout forgets the failures.
	now = now.Add(2 * time.Minute)
	if res, _ := req("10.0.0.1:5000", "Bearer s3cret", "/status"); res != authOK {
		t.Fatalf("after the lockout: %v", res)
	}
	if len(g.fails) != 0 {
		t.Errorf("%d entries after success", len(g.fails))
	}
	// IPv6 addresses count by /64.
	for i := 0; i < 5; i++ {
		req(fmt.Sprintf("[2001:db8::%x]:443", i+1), "Bearer bad", "/status")
	}
	if res, _ := req("[2001:db8::ffff]:443", "Bearer s3cret", "/status"); res != authLocked {
		t.Errorf("same /64: %v", res)
	}
	if res, _ := req("[2001:db8:0:1::1]:443", "Bearer s3cret", "/status"); res != authOK {
		t.Errorf("another /64: %v", res)
	}
}

func TestGuardTableBounded(t *testing.T) {
	g := newGuard("s3cret", nil)
	g.size = 100
	now := time.Unix(1_700_000_000, 0)
	g.now = func() time.Time { return now }
	for i := 0; i < 10000; i++ {
		r := httptest.NewRequest("GET", "/status", nil)
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)
		r.Header.Set("Authorization", "Bearer wrong")
		g.check(r)
		now = now.Add(time.Millisecond)
	}
	if n := len(g.fails); n > 100 {
		t.Errorf("%d entries, want at most 100", n)
	}
}

func TestGuardDisabled(t *testing.T) {
	g := newGuard("", nil)
	r := httptest.NewRequest("GET", "/status", nil)
	if res, _ := g.check(r); res != authOK {
		t.Errorf("no token configured: %v", res)
	}
}
