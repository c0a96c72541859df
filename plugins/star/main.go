// Command comandera-star is the quirks plugin for Star Micronics printers.
// It encodes documents in Star Line Mode (profiles with command set
// "starline", such as star-tsp650) and as Star raster graphics for the
// raster-only models (command set "stargraphic", such as star-tsp100), and
// asks Star-mode printers for their status with ESC ACK SOH and decodes
// the automatic status (ASB) they answer. Star printers in ESC/POS
// emulation (command set "escpos") are left to Comandera's built-in encoder.
// The encoders live in packages starline and stargraphic.
package main

import (
	"context"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/plugins"
	"github.com/comandera/comandera/plugins/star/stargraphic"
	"github.com/comandera/comandera/plugins/star/starline"
)

type star struct{}

func (star) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name:         "star",
		Version:      core.Version(),
		APIVersion:   plugins.APIVersion,
		CommandSets:  []string{core.CommandSetStarLine, core.CommandSetStarGraphic},
		Capabilities: []string{plugins.CapEncode, plugins.CapStatus},
		// ESC ACK SOH: the printer answers with an ASB, which ParseStatus
		// decodes.
		StatusRequest: starline.StatusRequest(),
	}, nil
}

func (star) Encode(_ context.Context, doc core.Document, p *core.Profile) ([]byte, error) {
	switch p.CommandSet {
	case core.CommandSetStarLine:
		return starline.Encode(doc, p)
	case core.CommandSetStarGraphic:
		return stargraphic.Encode(doc, p)
	}
	return nil, plugins.ErrUnsupported
}

// Transform leaves bytes alone: raw jobs for a Star printer are already in
// its language.
func (star) Transform(context.Context, []byte, *core.Profile) ([]byte, error) {
	return nil, plugins.ErrUnsupported
}

// ParseStatus decodes the ASB replies of Star-mode printers; a Star printer
// in ESC/POS emulation answers DLE EOT, which Comandera decodes itself.
func (star) ParseStatus(_ context.Context, reply []byte, p *core.Profile) (core.Status, error) {
	switch p.CommandSet {
	case core.CommandSetStarLine, core.CommandSetStarGraphic:
		return starline.ParseASB(reply)
	}
	return core.Status{}, plugins.ErrUnsupported
}

func main() {
	plugins.Serve(star{})
}
