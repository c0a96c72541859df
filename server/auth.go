package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults of the authentication failure limiter.
const (
	// authFree is how many failures in a row an address may make before it
	// is locked out.
	authFree = 5
	// authLockBase is the first lockout; each further failure doubles it up
	// to authLockMax.
	authLockBase = time.Second
	authLockMax  = time.Minute
	// authForget is how long after its last failure an address is forgotten.
	authForget = 15 * time.Minute
	// authTable bounds how many addresses are remembered.
	authTable = 4096
)

// guard checks bearer tokens and slows addresses that keep failing: after
// authFree failures in a row, every request from the address (right token
// or not, so a guess cannot be confirmed faster) is refused with 429 and
// Retry-After until a lockout that doubles with each further failure has
// passed. The table of addresses is bounded; IPv6 addresses count by /64.
type guard struct {
	sum     [32]byte // SHA-256 of the token: equal length for the constant-time compare
	enabled bool
	public  map[string]bool

	free        int
	base, limit time.Duration
	forget      time.Duration
	size        int
	now         func() time.Time

	mu    sync.Mutex
	fails map[netip.Prefix]*failures
}

type failures struct {
	n     int
	last  time.Time
	until time.Time
}

func newGuard(token string, public []string) *guard {
	g := &guard{
		enabled: token != "",
		public:  map[string]bool{},
		free:    authFree, base: authLockBase, limit: authLockMax, forget: authForget, size: authTable,
		now:   time.Now,
		fails: map[netip.Prefix]*failures{},
	}
	g.sum = sha256.Sum256([]byte(token))
	for _, p := range public {
		g.public[p] = true
	}
	return g
}

// authResult says what to do with a request.
type authResult int

const (
	authOK authResult = iota
	authMissing
	authBad
	authLocked
)

// check decides on r; for authLocked it also returns how long to wait.
func (g *guard) check(r *http.Request) (authResult, time.Duration) {
	if !g.enabled || g.public[r.URL.Path] {
		return authOK, 0
	}
	key := clientKey(r.RemoteAddr)
	if wait := g.locked(key); wait > 0 {
		return authLocked, wait
	}
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if h == "" || !found || !strings.EqualFold(scheme, "Bearer") {
		g.fail(key)
		return authMissing, 0
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(sum[:], g.sum[:]) != 1 {
		g.fail(key)
		return authBad, 0
	}
	g.succeed(key)
	return authOK, 0
}

func (g *guard) locked(key netip.Prefix) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.fails[key]
	if f == nil {
		return 0
	}
	if d := f.until.Sub(g.now()); d > 0 {
		return d
	}
	return 0
}

func (g *guard) fail(key netip.Prefix) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	f := g.fails[key]
	if f != nil && now.Sub(f.last) > g.forget {
		f.n = 0
	}
	if f == nil {
		if len(g.fails) >= g.size {
			g.evictLocked(now)
		}
		f = &failures{}
		g.fails[key] = f
	}
	f.n++
	f.last = now
	if f.n >= g.free {
		d := g.base
		for i := g.free; i < f.n && d < g.limit; i++ {
			d *= 2
		}
		f.until = now.Add(min(d, g.limit))
	}
}

func (g *guard) succeed(key netip.Prefix) {
	g.mu.Lock()
	if len(g.fails) > 0 {
		delete(g.fails, key)
	}
	g.mu.Unlock()
}

// evictLocked makes room: forgotten entries go, and if none, the one whose
// last failure is oldest.
func (g *guard) evictLocked(now time.Time) {
	var oldest netip.Prefix
	var oldestAt time.Time
	for k, f := range g.fails {
		if now.Sub(f.last) > g.forget {
			delete(g.fails, k)
			continue
		}
		if oldestAt.IsZero() || f.last.Before(oldestAt) {
			oldest, oldestAt = k, f.last
		}
	}
	if len(g.fails) >= g.size {
		delete(g.fails, oldest)
	}
}

// clientKey is the address a request comes from: the IPv4 address, or the
// /64 of an IPv6 one (a host usually has a whole /64).
func clientKey(remote string) netip.Prefix {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

func (g *guard) refuse(w http.ResponseWriter, res authResult, wait time.Duration) {
	switch res {
	case authLocked:
		writeError(w, &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyAttempts, RetryAfter: wait,
			Message: fmt.Sprintf("too many failed authentication attempts from this address; retry in %s", wait.Round(time.Second).String())})
	case authMissing:
		w.Header().Set("WWW-Authenticate", `Bearer realm="comandera"`)
		writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, "missing token: send the header \"Authorization: Bearer <token>\" (the server's token, PRINTER_SECRET)"))
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="comandera", error="invalid_token"`)
		writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, "invalid token"))
	}
}
