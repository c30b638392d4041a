package imageio

import (
	"image"
	"math"
	"math/rand/v2"
)

// Augment describes training-time augmentation. The zero value does nothing beyond the
// spec's own resize. Every random choice is drawn from a generator seeded by (seed,
// epoch, index) alone, so an image gets the same augmentation whichever worker fills
// it and in whatever order.
type Augment struct {
	// Scale is the range of the area fraction of a random resized crop (torchvision's
	// RandomResizedCrop), e.g. {0.08, 1}. Zero: no random crop, the spec's resize is used.
	Scale [2]float64 `json:"scale"`
	// Ratio is the range of the crop's aspect ratio w/h, sampled log-uniformly; zero:
	// {3/4, 4/3}.
	Ratio [2]float64 `json:"ratio"`
	// HFlip is the probability of a horizontal flip (0.5 is usual).
	HFlip float64 `json:"hflip"`
	// Brightness, Contrast and Saturation jitter: each factor is drawn uniformly from
	// [max(0, 1−x), 1+x] and applied in a random order, as torchvision's ColorJitter
	// does (values clamped to 0..255 after each). Zero: off.
	Brightness float64 `json:"brightness"`
	Contrast   float64 `json:"contrast"`
	Saturation float64 `json:"saturation"`
	// Cutout is the side of one square erased at a random center (clipped at the
	// borders), as a fraction of the shorter output side; the square gets the value 0
	// after normalization (the mean color). Zero: off.
	Cutout float64 `json:"cutout"`
}

// DefaultAugment is a common recipe for fine-tuning on photos: random resized crop
// (0.5..1 of the area, ratio 3/4..4/3), flip with probability 1/2, mild color jitter
// (0.2) and no cutout.
func DefaultAugment() Augment {
	return Augment{Scale: [2]float64{0.5, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, HFlip: 0.5,
		Brightness: 0.2, Contrast: 0.2, Saturation: 0.2}
}

// splitmix64 scrambles a 64-bit value (Steele et al.'s SplitMix finalizer).
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// augmentRNG is the generator for one (seed, epoch, index).
func augmentRNG(seed uint64, epoch, index int) *rand.Rand {
	s1 := splitmix64(seed)
	s2 := splitmix64(splitmix64(uint64(int64(epoch))^0x5851F42D4C957F2D) ^ uint64(int64(index)))
	return rand.New(rand.NewPCG(s1, s2))
}

// cropBox draws a random resized crop of a w×h image (torchvision's
// RandomResizedCrop.get_params): up to 10 tries, then a center crop with the ratio
// clamped into range.
func (a Augment) cropBox(rng *rand.Rand, w, h int) (x0, y0, cw, ch int) {
	lo, hi := a.Ratio[0], a.Ratio[1]
	if lo <= 0 || hi <= 0 {
		lo, hi = 3.0/4, 4.0/3
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	s0, s1 := a.Scale[0], a.Scale[1]
	if s0 > s1 {
		s0, s1 = s1, s0
	}
	area := float64(w * h)
	for range 10 {
		target := area * (s0 + (s1-s0)*rng.Float64())
		ar := math.Exp(math.Log(lo) + (math.Log(hi)-math.Log(lo))*rng.Float64())
		cw := int(math.Round(math.Sqrt(target * ar)))
		ch := int(math.Round(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			y0 := rng.IntN(h - ch + 1)
			x0 := rng.IntN(w - cw + 1)
			return x0, y0, cw, ch
		}
	}
	in := float64(w) / float64(h)
	cw, ch = w, h
	switch {
	case in < lo:
		ch = max(int(math.Round(float64(cw)/lo)), 1)
	case in > hi:
		cw = max(int(math.Round(float64(ch)*hi)), 1)
	}
	return (w - cw) / 2, (h - ch) / 2, cw, ch
}

// Fill is Spec.Fill with augmentation for sample index of the given epoch. The random
// draws come only from (seed, epoch, index) and the image size.
func (a Augment) Fill(img image.Image, s Spec, seed uint64, epoch, index int, dst []float32) {
	if err := s.Validate(); err != nil {
		panic("imageio: Augment.Fill: " + err.Error())
	}
	if len(dst) < s.TensorLen() {
		panic("imageio: Augment.Fill: dst too short")
	}
	rng := augmentRNG(seed, epoch, index)
	sc := getScratch()
	defer putScratch(sc)
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var hwc []float32
	switch {
	case w <= 0 || h <= 0:
		hwc = sc.fill(img, s, nil)
	case a.Scale[1] > 0:
		x0, y0, cw, ch := a.cropBox(rng, w, h)
		hwc = sc.resample(img, float64(x0), float64(y0), float64(x0+cw), float64(y0+ch),
			s.Width, s.Height, 0, 0, s.Width, s.Height, nil)
	default:
		hwc = sc.fill(img, s, nil)
	}
	flip := a.HFlip > 0 && rng.Float64() < a.HFlip
	if a.Brightness > 0 || a.Contrast > 0 || a.Saturation > 0 {
		a.jitter(rng, hwc)
	}
	s.emit(hwc, dst, flip)
	if a.Cutout > 0 {
		side := int(math.Round(a.Cutout * float64(min(s.Width, s.Height))))
		cx, cy := rng.IntN(s.Width), rng.IntN(s.Height)
		x0, x1 := max(cx-side/2, 0), min(cx-side/2+side, s.Width)
		y0, y1 := max(cy-side/2, 0), min(cy-side/2+side, s.Height)
		W, H := s.Width, s.Height
		for y := y0; y < y1; y++ {
			if s.Layout == "NHWC" {
				clear(dst[(y*W+x0)*3 : (y*W+x1)*3])
				continue
			}
			for c := 0; c < 3; c++ {
				clear(dst[c*W*H+y*W+x0 : c*W*H+y*W+x1])
			}
		}
	}
}

// factor draws a jitter factor in [max(0, 1−x), 1+x].
func factor(rng *rand.Rand, x float64) float32 {
	lo := max(0, 1-x)
	return float32(lo + (1+x-lo)*rng.Float64())
}

// jitter applies brightness, contrast and saturation changes in a random order to an
// RGB 0..255 buffer.
func (a Augment) jitter(rng *rand.Rand, hwc []float32) {
	order := [3]int{0, 1, 2}
	for i := 2; i > 0; i-- { // Fisher–Yates without allocating
		j := rng.IntN(i + 1)
		order[i], order[j] = order[j], order[i]
	}
	for _, op := range order {
		switch op {
		case 0:
			if a.Brightness <= 0 {
				continue
			}
			f := factor(rng, a.Brightness)
			for i, v := range hwc {
				hwc[i] = clamp255(v * f)
			}
		case 1:
			if a.Contrast <= 0 {
				continue
			}
			f := factor(rng, a.Contrast)
			var sum float64
			for i := 0; i+2 < len(hwc); i += 3 {
				sum += float64(0.299*hwc[i] + 0.587*hwc[i+1] + 0.114*hwc[i+2])
			}
			m := float32(sum / float64(len(hwc)/3))
			for i, v := range hwc {
				hwc[i] = clamp255(f*v + (1-f)*m)
			}
		case 2:
			if a.Saturation <= 0 {
				continue
			}
			f := factor(rng, a.Saturation)
			for i := 0; i+2 < len(hwc); i += 3 {
				g := (1 - f) * (0.299*hwc[i] + 0.587*hwc[i+1] + 0.114*hwc[i+2])
				hwc[i] = clamp255(f*hwc[i] + g)
				hwc[i+1] = clamp255(f*hwc[i+1] + g)
				hwc[i+2] = clamp255(f*hwc[i+2] + g)
			}
		}
	}
}
