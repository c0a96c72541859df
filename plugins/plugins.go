// Package plugins runs vendor quirks as hashicorp/go-plugin extensions over
// gRPC: encoding a document for a command set that is not ESC/POS (Star Line
// Mode), rewriting bytes a model mishandles (Kanji mode on clones, tall
// rasters) and decoding vendor status replies. Hardware I/O stays in the
// in-process drivers.
//
// The shape is go-plugin's grpc example and Nomad's device plugins: Quirks is
// the plain Go contract, pluginpb/quirks.proto its wire form, GRPCPlugin the
// client and server adapters, Serve what a plugin's main calls, Host the
// loader the server uses, and Mock a fake for tests.
//
// A plugin author writes:
//
//	func main() { plugins.Serve(myQuirks{}) }
//
// and the server:
//
//	h := plugins.NewHost(logger)
//	defer h.Close()
//	p, err := h.Load(ctx, plugins.Config{Name: "star", Path: path, SHA256: sum})
//	data, err := plugins.Encode(ctx, p, doc, profile, escpos.Encode)
package plugins

import (
	"context"
	"errors"
	"slices"

	"github.com/comandera/comandera/core"
)

// APIVersion is the version of the Quirks contract. It is go-plugin's
// protocol version: a host refuses to start a plugin built for another one.
const APIVersion = 1

// Capabilities a plugin reports in Info.
const (
	CapEncode    = "encode"    // Encode handles the command sets in Info.CommandSets
	CapTransform = "transform" // Transform rewrites bytes
	CapStatus    = "status"    // ParseStatus decodes replies
)

// Info describes a plugin.
type Info struct {
	Name       string // short name, e.g. "star"
	Version    string // the plugin's own version
	APIVersion int    // the contract version it was built for (APIVersion)
	// CommandSets lists the profile command sets Encode handles
	// ("starline", "stargraphic"); for others it answers ErrUnsupported.
	CommandSets  []string
	Capabilities []string // CapEncode, CapTransform, CapStatus
	// StatusRequest is what asks the printer for its status in its own
	// language (for Star: ESC ACK SOH, answered with an automatic status,
	// ASB). The host sends it on a bidirectional connection to printers
	// whose profile's command set is not escpos (their drivers ask those
	// with DLE EOT), reads the answer for a short while and decodes it with
	// ParseStatus; no answer, or one ParseStatus rejects, is an unknown
	// status. Empty: the plugin does not ask. At most MaxStatusRequest
	// bytes.
	StatusRequest []byte
}

// MaxStatusRequest bounds Info.StatusRequest: a status request is a short
// real-time command, and a longer one is ignored by the host.
const MaxStatusRequest = 64

// Quirks is what a plugin implements: a vendor's deviations from plain
// ESC/POS. Every method may answer ErrUnsupported; the host then falls back
// as each method says. Implementations must be safe for concurrent use.
type Quirks interface {
	// Info names the plugin and says what it can do.
	Info(ctx context.Context) (Info, error)
	// Encode turns a document into printer bytes for profile p. On
	// ErrUnsupported the host encodes with the built-in ESC/POS encoder and
	// passes the result through Transform.
	Encode(ctx context.Context, doc core.Document, p *core.Profile) ([]byte, error)
	// Transform rewrites bytes for profile p: the built-in encoder's output or
	// a raw job. On ErrUnsupported the bytes are sent as they are.
	Transform(ctx context.Context, data []byte, p *core.Profile) ([]byte, error)
	// ParseStatus decodes a status reply the printer sent. On ErrUnsupported
	// the host decodes it itself (DLE EOT).
	ParseStatus(ctx context.Context, reply []byte, p *core.Profile) (core.Status, error)
}

// Errors a Quirks call may return (wrapped).
var (
	// ErrUnsupported means the plugin does not handle this call for this
	// profile; the host falls back to its built-in behaviour. It crosses the
	// gRPC boundary as codes.Unimplemented.
	ErrUnsupported = errors.New("plugins: unsupported")
	// ErrUnavailable means the plugin process could not be reached: it
	// crashed, was killed or failed to start. The host restarts it on the
	// next call; the job in hand fails and is retried.
	ErrUnavailable = errors.New("plugins: plugin unavailable")
	// ErrTimeout means the plugin did not answer within the call timeout. The
	// host considers it wedged and restarts it on the next call.
	ErrTimeout = errors.New("plugins: plugin call timed out")
	// ErrChecksum means a plugin binary's SHA-256 is not the one the config
	// declares; see ChecksumError.
	ErrChecksum = errors.New("plugins: checksum mismatch")
)

// Encode encodes doc for p through q: with the plugin's own encoder, or,
// when it answers ErrUnsupported, with builtin (escpos.Encode) followed by
// the plugin's Transform. q may be nil (no quirks): then only builtin runs.
func Encode(ctx context.Context, q Quirks, doc core.Document, p *core.Profile,
	builtin func(core.Document, *core.Profile) ([]byte, error)) ([]byte, error) {
	if q == nil {
		return builtin(doc, p)
	}
	var data []byte
	err := ErrUnsupported
	if info, ok := loadedInfo(q); !ok || (slices.Contains(info.Capabilities, CapEncode) && slices.Contains(info.CommandSets, p.CommandSet)) {
		data, err = q.Encode(ctx, doc, p)
		if err == nil {
			return data, nil
		}
		if !errors.Is(err, ErrUnsupported) {
			return nil, err
		}
	}
	data, err = builtin(doc, p)
	if err != nil {
		return nil, err
	}
	return Transform(ctx, q, data, p)
}

// An InfoCache is a Quirks that knows the Info its plugin gave when it
// started (the host's *Plugin does), so Encode and Transform skip a round
// trip the plugin declared it does not handle. Fallback: every call is made.
type InfoCache interface {
	LoadedInfo() Info
}

func loadedInfo(q Quirks) (Info, bool) {
	c, ok := q.(InfoCache)
	if !ok {
		return Info{}, false
	}
	// A plugin that never started has no Info yet: make every call.
	info := c.LoadedInfo()
	return info, info.APIVersion != 0
}

// Transform passes data through q's Transform; ErrUnsupported (or a nil q)
// leaves data as it is.
func Transform(ctx context.Context, q Quirks, data []byte, p *core.Profile) ([]byte, error) {
	if q == nil {
		return data, nil
	}
	if info, ok := loadedInfo(q); ok && !slices.Contains(info.Capabilities, CapTransform) {
		return data, nil
	}
	out, err := q.Transform(ctx, data, p)
	if errors.Is(err, ErrUnsupported) {
		return data, nil
	}
	return out, err
}

// ParseStatus decodes reply with q, or with builtin when q is nil or answers
// ErrUnsupported.
func ParseStatus(ctx context.Context, q Quirks, reply []byte, p *core.Profile,
	builtin func([]byte) (core.Status, error)) (core.Status, error) {
	if q != nil {
		s, err := q.ParseStatus(ctx, reply, p)
		if !errors.Is(err, ErrUnsupported) {
			return s, err
		}
	}
	return builtin(reply)
}
