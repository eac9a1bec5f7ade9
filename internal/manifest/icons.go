package manifest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
	"sync"

	"github.com/tamlink/tamlink/internal/desk"
)

// Icon sizes Teams requires.
const (
	ColorSize   = 192
	OutlineSize = 32
)

// generated caches the icons drawn so far (they depend on the accent
// colour only).
var generated sync.Map // key -> []byte

// ColorIcon draws the 192×192 colour icon: a white speech bubble on the
// accent colour.
func ColorIcon(accent string) []byte {
	if b, ok := generated.Load("color" + accent); ok {
		return bytes.Clone(b.([]byte))
	}
	b := drawColorIcon(accent)
	generated.Store("color"+accent, b)
	return bytes.Clone(b)
}

func drawColorIcon(accent string) []byte {
	bg := parseHex(accent)
	img := image.NewNRGBA(image.Rect(0, 0, ColorSize, ColorSize))
	for y := range ColorSize {
		for x := range ColorSize {
			img.SetNRGBA(x, y, bg)
		}
	}
	drawBubble(img, ColorSize, false, color.NRGBA{255, 255, 255, 255})
	return encodePNG(img)
}

// OutlineIcon draws the 32×32 outline icon: the bubble's outline in white on
// a transparent background, as Teams requires.
func OutlineIcon() []byte {
	if b, ok := generated.Load("outline"); ok {
		return bytes.Clone(b.([]byte))
	}
	img := image.NewNRGBA(image.Rect(0, 0, OutlineSize, OutlineSize))
	drawBubble(img, OutlineSize, true, color.NRGBA{255, 255, 255, 255})
	b := encodePNG(img)
	generated.Store("outline", b)
	return bytes.Clone(b)
}

// drawBubble paints a rounded speech bubble with a tail, filled or as a
// two-pixel outline, scaled to size. Coverage is computed per pixel without
// anti-aliasing, so outline pixels are exactly white or fully transparent.
func drawBubble(img *image.NRGBA, size int, outline bool, c color.NRGBA) {
	s := float64(size)
	x0, y0, x1, y1 := 0.18*s, 0.22*s, 0.82*s, 0.68*s
	r := 0.12 * s
	stroke := math.Max(2, 0.07*s)
	body := func(px, py, shrink float64) bool {
		ax0, ay0, ax1, ay1, ar := x0+shrink, y0+shrink, x1-shrink, y1-shrink, math.Max(r-shrink, 0)
		if px < ax0 || px > ax1 || py < ay0 || py > ay1 {
			return false
		}
		cx := math.Min(math.Max(px, ax0+ar), ax1-ar)
		cy := math.Min(math.Max(py, ay0+ar), ay1-ar)
		return (px-cx)*(px-cx)+(py-cy)*(py-cy) <= ar*ar
	}
	// the tail: a triangle below the body, towards the lower left
	tail := func(px, py float64) bool {
		ty := y1 - stroke
		h := 0.18 * s
		if py < ty || py > ty+h {
			return false
		}
		f := (py - ty) / h // 0 at the body, 1 at the tip
		left := x0 + 0.22*s - f*0.06*s
		right := x0 + 0.40*s - f*0.24*s
		return px >= left && px <= right
	}
	for y := range size {
		for x := range size {
			px, py := float64(x)+0.5, float64(y)+0.5
			on := body(px, py, 0) && !(outline && body(px, py, stroke))
			if tail(px, py) && !body(px, py, stroke) {
				on = true
			}
			if on {
				img.SetNRGBA(x, y, c)
			}
		}
	}
	if !outline {
		// three dots, in the background colour, so the bubble reads as chat
		bg := img.NRGBAAt(0, 0)
		for i := range 3 {
			cx, cy, rr := (0.36+0.14*float64(i))*s, 0.45*s, 0.035*s
			for y := int(cy - rr - 1); y <= int(cy+rr+1); y++ {
				for x := int(cx - rr - 1); x <= int(cx+rr+1); x++ {
					dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
					if dx*dx+dy*dy <= rr*rr {
						img.SetNRGBA(x, y, bg)
					}
				}
			}
		}
	}
}

func parseHex(h string) color.NRGBA {
	if len(h) != 7 || h[0] != '#' {
		return color.NRGBA{0x60, 0xA1, 0x8E, 255}
	}
	v, err := strconv.ParseUint(h[1:], 16, 32)
	if err != nil {
		return color.NRGBA{0x60, 0xA1, 0x8E, 255}
	}
	return color.NRGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}

func encodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	_ = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img)
	return buf.Bytes()
}

func decodePNG(field string, data []byte) (image.Image, error) {
	if len(data) == 0 {
		return nil, desk.Invalid(field, "is empty")
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		return nil, desk.Invalid(field, "is not a PNG file")
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, desk.Invalid(field, "is not a readable PNG: %v", err)
	}
	return img, nil
}

// CheckColorIcon checks the colour icon: a PNG of 192×192 pixels.
func CheckColorIcon(field string, data []byte) error {
	img, err := decodePNG(field, data)
	if err != nil {
		return err
	}
	if b := img.Bounds(); b.Dx() != ColorSize || b.Dy() != ColorSize {
		return desk.Invalid(field, "is %d×%d pixels; the colour icon must be %d×%d", b.Dx(), b.Dy(), ColorSize, ColorSize)
	}
	return nil
}

// CheckOutlineIcon checks the outline icon: a PNG of 32×32 pixels, white on
// a transparent background (every pixel is transparent or white; some of
// each).
func CheckOutlineIcon(field string, data []byte) error {
	img, err := decodePNG(field, data)
	if err != nil {
		return err
	}
	b := img.Bounds()
	if b.Dx() != OutlineSize || b.Dy() != OutlineSize {
		return desk.Invalid(field, "is %d×%d pixels; the outline icon must be %d×%d", b.Dx(), b.Dy(), OutlineSize, OutlineSize)
	}
	transparent, white := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			switch {
			case c.A == 0:
				transparent++
			case c.R >= 0xF0 && c.G >= 0xF0 && c.B >= 0xF0:
				white++
			default:
				return desk.Invalid(field, "pixel (%d,%d) is #%02X%02X%02X: the outline icon must be white on a transparent background", x, y, c.R, c.G, c.B)
			}
		}
	}
	if transparent == 0 {
		return desk.Invalid(field, "has no transparent pixel: the outline icon needs a transparent background")
	}
	if white == 0 {
		return desk.Invalid(field, "is fully transparent: draw the outline in white")
	}
	return nil
}
