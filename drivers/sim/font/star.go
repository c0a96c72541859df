package font

// StarB is Font B of Star printers in Star Line Mode: a 9×24 dot cell (64
// characters on 80 mm paper), where ESC/POS's Font B is 9×17. Its glyphs
// are as wide as B's and taller (capitals 13 dots on a baseline at row 19),
// leaving room for accents above and descenders below.
var StarB = &Face{name: "B", w: 9, h: 24,
	sx: 8.0 / advance, sy: 13.0 / capHeight, ox: 0.5, base: 19,
	threshold: 0.5}
