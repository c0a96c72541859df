package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/plugins/pluginpb"
)

// PluginName is the name the quirks service is dispensed under.
const PluginName = "quirks"

// MaxMessageSize bounds one gRPC message either way (a document with its
// images, or the bytes a plugin returns), so a misbehaving plugin or a huge
// job cannot make either side allocate without limit.
const MaxMessageSize = 32 << 20

// Handshake is shared by the host and every plugin. The magic cookie is not
// security (the SHA-256 check is); it makes a plugin run by hand say what it
// is instead of waiting for a host.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  APIVersion,
	MagicCookieKey:   "COMANDERA_PLUGIN",
	MagicCookieValue: "quirks-7f3c1e9a",
}

// GRPCPlugin is the go-plugin glue for Quirks: GRPCServer serves Impl in the
// plugin process, GRPCClient gives the host a Quirks that calls it.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl   Quirks       // plugin side only
	Logger *slog.Logger // plugin side only: where recovered panics are logged
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the quirks service on s.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pluginpb.RegisterQuirksServer(s, &server{impl: p.Impl, log: log})
	return nil
}

// GRPCClient returns a Quirks that calls the plugin over c.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &client{c: pluginpb.NewQuirksClient(c)}, nil
}

// toStatus maps an implementation's error onto a gRPC status.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnsupported):
		return status.Error(codes.Unimplemented, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// fromStatus maps a gRPC error back onto the package's errors.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	switch st.Code() {
	case codes.Unimplemented:
		if msg == ErrUnsupported.Error() {
			return ErrUnsupported
		}
		return fmt.Errorf("%w: %s", ErrUnsupported, msg)
	case codes.Unavailable:
		return fmt.Errorf("%w: %s", ErrUnavailable, msg)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %w: %s", ErrTimeout, context.DeadlineExceeded, msg)
	case codes.Canceled:
		return fmt.Errorf("%w: %s", context.Canceled, msg)
	case codes.ResourceExhausted:
		return fmt.Errorf("plugin message too large: %s", msg)
	}
	return errors.New(msg)
}

// client is the host side of the quirks service.
type client struct{ c pluginpb.QuirksClient }

func (c *client) Info(ctx context.Context) (Info, error) {
	r, err := c.c.Info(ctx, &pluginpb.InfoRequest{})
	if err != nil {
		return Info{}, fromStatus(err)
	}
	return fromPBInfo(r), nil
}

func (c *client) Encode(ctx context.Context, doc core.Document, p *core.Profile) ([]byte, error) {
	r, err := c.c.Encode(ctx, &pluginpb.EncodeRequest{Document: toPBDocument(doc), Profile: toPBProfile(p)})
	if err != nil {
		return nil, fromStatus(err)
	}
	return r.GetData(), nil
}

func (c *client) Transform(ctx context.Context, data []byte, p *core.Profile) ([]byte, error) {
	r, err := c.c.Transform(ctx, &pluginpb.TransformRequest{Data: data, Profile: toPBProfile(p)})
	if err != nil {
		return nil, fromStatus(err)
	}
	return r.GetData(), nil
}

func (c *client) ParseStatus(ctx context.Context, reply []byte, p *core.Profile) (core.Status, error) {
	r, err := c.c.ParseStatus(ctx, &pluginpb.ParseStatusRequest{Reply: reply, Profile: toPBProfile(p)})
	if err != nil {
		return core.Status{}, fromStatus(err)
	}
	return fromPBStatus(r.GetStatus()), nil
}

// server is the plugin side: it checks what the host sent, calls Impl and
// turns a panic into an error, so one bad job does not take the plugin down.
type server struct {
	pluginpb.UnimplementedQuirksServer
	impl Quirks
	log  *slog.Logger
}

func (s *server) recover(method string, err *error) {
	if r := recover(); r != nil {
		s.log.Error("plugin panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "plugin panicked in %s: %v", method, r)
	}
}

func profileArg(pp *pluginpb.Profile) (*core.Profile, error) {
	p := fromPBProfile(pp)
	if p == nil {
		return nil, status.Error(codes.InvalidArgument, "no profile")
	}
	if err := p.Validate(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "profile %q: %v", p.Name, err)
	}
	return p, nil
}

func (s *server) Info(ctx context.Context, _ *pluginpb.InfoRequest) (_ *pluginpb.InfoResponse, err error) {
	defer s.recover("Info", &err)
	in, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return toPBInfo(in), nil
}

func (s *server) Encode(ctx context.Context, r *pluginpb.EncodeRequest) (_ *pluginpb.EncodeResponse, err error) {
	defer s.recover("Encode", &err)
	p, err := profileArg(r.GetProfile())
	if err != nil {
		return nil, err
	}
	doc := fromPBDocument(r.GetDocument())
	if err := doc.Validate(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	data, err := s.impl.Encode(ctx, doc, p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.EncodeResponse{Data: data}, nil
}

func (s *server) Transform(ctx context.Context, r *pluginpb.TransformRequest) (_ *pluginpb.TransformResponse, err error) {
	defer s.recover("Transform", &err)
	p, err := profileArg(r.GetProfile())
	if err != nil {
		return nil, err
	}
	data, err := s.impl.Transform(ctx, r.GetData(), p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.TransformResponse{Data: data}, nil
}

func (s *server) ParseStatus(ctx context.Context, r *pluginpb.ParseStatusRequest) (_ *pluginpb.ParseStatusResponse, err error) {
	defer s.recover("ParseStatus", &err)
	p, err := profileArg(r.GetProfile())
	if err != nil {
		return nil, err
	}
	st, err := s.impl.ParseStatus(ctx, r.GetReply(), p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.ParseStatusResponse{Status: toPBStatus(st)}, nil
}
