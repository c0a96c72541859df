# Built-in printer profiles. Each block is data about one model; a `profile`
# block in printers.hcl with the same schema adds a model or overrides one
# (use `base = "NAME"` to start from an existing profile).
#
# code_pages maps a code page to the number that selects it on that model:
# ESC t n on ESC/POS, ESC GS t n on Star. Every profile has PC858 or WPC1252,
# so Spanish ñ á é í ó ú ü ¿ ¡ and € always print.

profile "generic-80mm" {
  description       = "Generic 80 mm ESC/POS printer (576 dots at 203 dpi)"
  vendor            = "Generic"
  models            = ["POS-80", "POS80", "80mm"]
  command_set       = "escpos"
  dots_per_line     = 576
  dpi               = 203
  font_a_columns    = 48
  font_b_columns    = 64
  code_pages        = { PC437 = 0, PC850 = 2, PC860 = 3, PC863 = 4, PC865 = 5, WPC1252 = 16, PC866 = 17, PC852 = 18, PC858 = 19 }
  default_code_page = "PC858"
  cuts              = ["full", "partial"]
  qr                = true
  barcodes          = ["upca", "upce", "ean13", "ean8", "code39", "itf", "codabar", "code93", "code128"]
  raster            = "gs_v_0"
  max_band_height   = 256
  drawer            = true
  beep              = false
}

profile "generic-58mm" {
  description       = "Generic 58 mm ESC/POS printer (384 dots at 203 dpi), no native QR"
  vendor            = "Generic"
  models            = ["POS-58", "POS58", "58mm"]
  command_set       = "escpos"
  dots_per_line     = 384
  dpi               = 203
  font_a_columns    = 32
  font_b_columns    = 42
  code_pages        = { PC437 = 0, PC850 = 2, PC860 = 3, PC863 = 4, PC865 = 5, WPC1252 = 16, PC866 = 17, PC852 = 18, PC858 = 19 }
  default_code_page = "PC437"
  cuts              = []
  qr                = false
  barcodes          = ["upca", "upce", "ean13", "ean8", "code39", "itf", "codabar", "code93", "code128"]
  raster            = "gs_v_0"
  max_band_height   = 128
  drawer            = false
  beep              = false
}

profile "epson-tm-t20iii" {
  description       = "Epson TM-T20III (80 mm, 203 dpi)"
  vendor            = "Epson"
  models            = ["TM-T20III", "TM-T20"]
  usb_ids           = ["04b8:0e28"]
  command_set       = "escpos"
  dots_per_line     = 576
  dpi               = 203
  font_a_columns    = 48
  font_b_columns    = 64
  code_pages        = { PC437 = 0, PC850 = 2, PC860 = 3, PC863 = 4, PC865 = 5, "ISO8859-7" = 15, WPC1252 = 16, PC866 = 17, PC852 = 18, PC858 = 19, PC855 = 34, PC862 = 36, "ISO8859-2" = 39, "ISO8859-15" = 40, WPC1250 = 45, WPC1251 = 46, WPC1253 = 47, WPC1254 = 48, WPC1255 = 49, WPC1256 = 50, WPC1257 = 51, WPC1258 = 52 }
  default_code_page = "PC437"
  cuts              = ["partial"]
  qr                = true
  barcodes          = ["upca", "upce", "ean13", "ean8", "code39", "itf", "codabar", "code93", "code128"]
  raster            = "gs_v_0"
  max_band_height   = 2303
  drawer            = true
  beep              = false
}

profile "epson-tm-t88v" {
  description       = "Epson TM-T88V (80 mm, 512 dots at 180 dpi)"
  vendor            = "Epson"
  models            = ["TM-T88V"]
  usb_ids           = ["04b8:0202"]
  command_set       = "escpos"
  dots_per_line     = 512
  dpi               = 180
  font_a_columns    = 42
  font_b_columns    = 56
  code_pages        = { PC437 = 0, PC850 = 2, PC860 = 3, PC863 = 4, PC865 = 5, "ISO8859-7" = 15, WPC1252 = 16, PC866 = 17, PC852 = 18, PC858 = 19, PC855 = 34, PC862 = 36, "ISO8859-2" = 39, "ISO8859-15" = 40, WPC1250 = 45, WPC1251 = 46, WPC1253 = 47, WPC1254 = 48, WPC1255 = 49, WPC1256 = 50, WPC1257 = 51, WPC1258 = 52 }
  default_code_page = "PC437"
  cuts              = ["full", "partial"]
  qr                = true
  barcodes          = ["upca", "upce", "ean13", "ean8", "code39", "itf", "codabar", "code93", "code128"]
  raster            = "gs_v_0"
  max_band_height   = 1662
  drawer            = true
  beep              = false
}

profile "epson-tm-t88vi" {
  base        = "epson-tm-t88v"
  description = "Epson TM-T88VI (80 mm, 512 dots at 180 dpi)"
  models      = ["TM-T88VI"]
  usb_ids     = ["04b8:0e27"]
  beep        = true
}

profile "epson-tm-m30" {
  base        = "epson-tm-t20iii"
  description = "Epson TM-m30 (80 mm, 203 dpi)"
  models      = ["TM-m30"]
  usb_ids     = ["04b8:0e15"]
  cuts        = ["full", "partial"]
  beep        = true
}

profile "star-tsp650" {
  description       = "Star TSP650II in Star Line Mode (80 mm, 203 dpi)"
  vendor            = "Star"
  models            = ["TSP650", "TSP654", "TSP600"]
  usb_ids           = ["0519:0003"]
  command_set       = "starline"
  dots_per_line     = 576
  dpi               = 203
  font_a_columns    = 48
  font_b_columns    = 64
  code_pages        = { PC437 = 1, PC858 = 4, PC852 = 5, PC860 = 6, PC863 = 8, PC865 = 9, PC866 = 10, PC855 = 11, PC862 = 13, WPC1252 = 32, WPC1250 = 33, WPC1251 = 34 }
  default_code_page = "PC437"
  cuts              = ["full", "partial"]
  qr                = true
  barcodes          = ["upca", "upce", "ean13", "ean8", "code39", "itf", "codabar", "code93", "code128"]
  raster            = "star_raster"
  max_band_height   = 24
  drawer            = true
  beep              = false
  quirks            = "star"
}

profile "star-tsp100" {
  description       = "Star TSP100 futurePRNT (TSP143): raster only, Star Graphic Mode (80 mm, 203 dpi)"
  vendor            = "Star"
  models            = ["TSP100", "TSP143"]
  usb_ids           = ["0519:0047"]
  command_set       = "stargraphic"
  dots_per_line     = 576
  dpi               = 203
  font_a_columns    = 48
  font_b_columns    = 64
  code_pages        = { PC437 = 1, PC858 = 4, PC852 = 5, PC860 = 6, PC863 = 8, PC865 = 9, PC866 = 10, WPC1252 = 32 }
  default_code_page = "PC858"
  cuts              = ["full", "partial"]
  qr                = false
  barcodes          = []
  raster            = "star_raster"
  max_band_height   = 24
  drawer            = true
  beep              = false
  quirks            = "star"
}

# Clone printers (Xprinter and the POS-58/POS-80 class share one firmware
# family). Their ESC t table agrees with Epson's for 0-5 and 16-19 (PC858 is
# 19, WPC1252 16) but numbers the other pages differently: WPC1250 is 72, not
# Epson's 45; WPC1251 73, not 46; PC855 60, not 34; PC862 62, not 36;
# WPC1257 25, not 51; WPC1255 32, not 49. The same firmware also offers PC858
# at 53 and WPC1252 at 71. Sources: the POS-5890 profile of
# receipt-print-hq/escpos-printer-db (data/profile/POS-5890.yml) and the
# Xprinter code page constants of VitalyKravtsov2016/OposWebkassa
# (src/Shared/EscPrinterXPrinter.pas), which agree on every number used here.
# The "clone" quirks plugin sends FS . (cancel Kanji mode) after ESC @, maps
# Epson's ESC t numbers in raw jobs to these, and splits tall GS v 0 rasters.

profile "xprinter-xp80" {
  description       = "Xprinter XP-80 class clone (80 mm, 576 dots at 203 dpi), Kanji mode on by default"
  vendor            = "Xprinter"
  models            = ["XP-80", "XP-N160", "XP-Q80", "XP-Q800", "XP-C230"]
  command_set       = "escpos"
  dots_per_line     = 576
  dpi               = 203
  font_a_columns    = 48
  font_b_columns    = 64
  code_pages        = { PC437 = 0, PC850 = 2, PC860 = 3, PC863 = 4, PC865 = 5, WPC1252 = 16, PC866 = 17, PC852 = 18, PC858 = 19, WPC1257 = 25, WPC1255 = 32, PC855 = 60, PC862 = 62, WPC1250 = 72, WPC1251 = 73 }
  default_code_page = "PC858"
  cuts              = ["full", "partial"]
  qr                = true
  barcodes          = ["upca", "upce", "ean13", "ean8", "code39", "itf", "codabar", "code93", "code128"]
  raster            = "gs_v_0"
  max_band_height   = 256
  drawer            = true
  beep              = false
  quirks            = "clone"
}

profile "xprinter-xp58" {
  base            = "xprinter-xp80"
  description     = "Xprinter XP-58 class clone (58 mm, 384 dots at 203 dpi, no cutter), Kanji mode on by default"
  models          = ["XP-58", "XP-58IIH", "XP-58IIL", "XP-58IIB"]
  dots_per_line   = 384
  font_a_columns  = 32
  font_b_columns  = 42
  cuts            = []
  qr              = false
  max_band_height = 128
  drawer          = false
}
