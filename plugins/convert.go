package plugins

import (
	"math"
	"slices"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/plugins/pluginpb"
)

// i32 converts an int for the wire, saturating instead of wrapping.
func i32(v int) int32 {
	return int32(max(math.MinInt32, min(math.MaxInt32, v)))
}

func toPBDocument(doc core.Document) *pluginpb.Document {
	blocks := make([]*pluginpb.Block, len(doc))
	for i := range doc {
		b := &doc[i]
		blocks[i] = &pluginpb.Block{
			Kind: string(b.Kind), Text: b.Text, Columns: b.Columns, Image: b.Image,
			N: i32(b.N), Cut: b.Cut, Align: b.Align, Bold: b.Bold, Underline: b.Underline,
			Invert: b.Invert, Width: i32(b.Width), Height: i32(b.Height), Font: b.Font,
			Size: i32(b.Size), Level: b.Level, Symbology: b.Symbology, Hri: b.HRI,
			BarHeight: i32(b.BarHeight), ModuleWidth: i32(b.ModuleWidth),
		}
	}
	return &pluginpb.Document{Blocks: blocks}
}

func fromPBDocument(d *pluginpb.Document) core.Document {
	doc := make(core.Document, len(d.GetBlocks()))
	for i, b := range d.GetBlocks() {
		doc[i] = core.Block{
			Kind: core.Kind(b.GetKind()), Text: b.GetText(), Columns: b.GetColumns(), Image: b.GetImage(),
			N: int(b.GetN()), Cut: b.GetCut(), Align: b.GetAlign(), Bold: b.GetBold(),
			Underline: b.GetUnderline(), Invert: b.GetInvert(), Width: int(b.GetWidth()),
			Height: int(b.GetHeight()), Font: b.GetFont(), Size: int(b.GetSize()), Level: b.GetLevel(),
			Symbology: b.GetSymbology(), HRI: b.GetHri(), BarHeight: int(b.GetBarHeight()),
			ModuleWidth: int(b.GetModuleWidth()),
		}
	}
	return doc
}

func toPBProfile(p *core.Profile) *pluginpb.Profile {
	if p == nil {
		return nil
	}
	pages := make(map[string]int32, len(p.CodePages))
	for k, v := range p.CodePages {
		pages[k] = i32(v)
	}
	return &pluginpb.Profile{
		Name: p.Name, Base: p.Base, Description: p.Description, Vendor: p.Vendor,
		Models: p.Models, UsbIds: p.USBIDs, CommandSet: p.CommandSet,
		DotsPerLine: i32(p.DotsPerLine), Dpi: i32(p.DPI),
		FontAColumns: i32(p.FontAColumns), FontBColumns: i32(p.FontBColumns),
		CodePages: pages, DefaultCodePage: p.DefaultCodePage, Cuts: p.Cuts,
		CutFeed: i32(p.CutFeed), Qr: p.QR, Barcodes: p.Barcodes, Raster: p.Raster,
		MaxBandHeight: i32(p.MaxBandHeight), Drawer: p.Drawer, Beep: p.Beep, Quirks: p.Quirks,
	}
}

func fromPBProfile(p *pluginpb.Profile) *core.Profile {
	if p == nil {
		return nil
	}
	pages := make(map[string]int, len(p.GetCodePages()))
	for k, v := range p.GetCodePages() {
		pages[k] = int(v)
	}
	return &core.Profile{
		Name: p.GetName(), Base: p.GetBase(), Description: p.GetDescription(), Vendor: p.GetVendor(),
		Models: slices.Clone(p.GetModels()), USBIDs: slices.Clone(p.GetUsbIds()),
		CommandSet: p.GetCommandSet(), DotsPerLine: int(p.GetDotsPerLine()), DPI: int(p.GetDpi()),
		FontAColumns: int(p.GetFontAColumns()), FontBColumns: int(p.GetFontBColumns()),
		CodePages: pages, DefaultCodePage: p.GetDefaultCodePage(), Cuts: slices.Clone(p.GetCuts()),
		CutFeed: int(p.GetCutFeed()), QR: p.GetQr(), Barcodes: slices.Clone(p.GetBarcodes()),
		Raster: p.GetRaster(), MaxBandHeight: int(p.GetMaxBandHeight()), Drawer: p.GetDrawer(),
		Beep: p.GetBeep(), Quirks: p.GetQuirks(),
	}
}

func toPBStatus(s core.Status) *pluginpb.Status {
	return &pluginpb.Status{Known: s.Known, Online: s.Online, PaperOut: s.PaperOut,
		PaperLow: s.PaperLow, CoverOpen: s.CoverOpen, Error: s.Error, Detail: s.Detail}
}

func fromPBStatus(s *pluginpb.Status) core.Status {
	return core.Status{Known: s.GetKnown(), Online: s.GetOnline(), PaperOut: s.GetPaperOut(),
		PaperLow: s.GetPaperLow(), CoverOpen: s.GetCoverOpen(), Error: s.GetError(), Detail: s.GetDetail()}
}

func toPBInfo(in Info) *pluginpb.InfoResponse {
	return &pluginpb.InfoResponse{Name: in.Name, Version: in.Version, ApiVersion: i32(in.APIVersion),
		CommandSets: in.CommandSets, Capabilities: in.Capabilities, StatusRequest: in.StatusRequest}
}

func fromPBInfo(in *pluginpb.InfoResponse) Info {
	return Info{Name: in.GetName(), Version: in.GetVersion(), APIVersion: int(in.GetApiVersion()),
		CommandSets: in.GetCommandSets(), Capabilities: in.GetCapabilities(), StatusRequest: in.GetStatusRequest()}
}
