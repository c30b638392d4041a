// Package synth is a procedural, seeded multi-label image world for the demo and for
// tests: small RGB images holding several objects (shapes × colors × textures) on scenes
// (background, lighting), with long-tailed label frequencies, rule-based label
// co-occurrence and variation in size, position, rotation, occlusion and noise.
//
// It offers two tasks over the same world:
//
//   - a source task (Source): a large single-label set, one dominant object per image,
//     classes = shape × color; a small CNN pretrained on it stands in for ImageNet;
//   - a target task (Target): a small multi-label set whose labels (shapes, colors,
//     textures, scene attributes, composite objects, counts) differ partly from the
//     source classes.
//
// The target task ties labels together by rules a correlation-aware head can use and an
// activation map can show (see [TargetRules]): co-occurrence (a boat only ever sails on
// the sea, a tree only stands on grass, the moon only shows at night) and position (the
// sun and the moon are circles in the top band of the image, the boat sits on the
// waterline, the sea fills the lower part).
//
// Every image is a pure function of (seed, index), so sets are reproducible and can be
// generated in parallel.
package synth

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Shapes and colors of the world's objects, most frequent first (the long tail comes
// from sampling them with Zipf-like weights).
var (
	Shapes = []string{"circle", "square", "triangle", "bar", "cross", "ring"}
	Colors = []string{"red", "blue", "green", "yellow", "white", "purple"}
)

var palette = [][3]float64{
	{0.90, 0.15, 0.12}, // red
	{0.15, 0.30, 0.95}, // blue
	{0.10, 0.75, 0.20}, // green
	{0.95, 0.85, 0.10}, // yellow
	{0.97, 0.97, 0.97}, // white
	{0.65, 0.20, 0.80}, // purple
}

// Scene backgrounds.
const (
	bgPlain = iota // flat grey-blue with a random tint
	bgSky          // vertical gradient
	bgGrass        // green lower half, light sky above
	bgNight        // dark, low light
	bgSea          // light sky above, blue water with wave bands below the horizon
)

// horizon is the sea scene's waterline, as a fraction of the image height from the top.
const horizon = 0.55

// Target labels: the multi-label vocabulary of the target task.
var targetLabels = func() []string {
	l := append([]string{}, Shapes...)
	l = append(l, Colors...)
	return append(l, "striped", "grass", "night", "tree", "crowd", "sea", "boat", "sun", "moon")
}()

// TargetRules describes, one line a label, the rules that tie the target task's
// composite and scene labels to each other and to a place in the image.
func TargetRules() []string {
	return []string{
		"grass: green ground below 60% of the height (15% of images); tree only on grass (55% of grass scenes)",
		"night: dark scene (10%); moon only at night (60% of nights), a white circle in the top quarter",
		"sun: a yellow circle in the top fifth of sky scenes (30% of them); yellow circles elsewhere are not suns",
		"sea: blue water below the horizon at 55% of the height (a third of the plain scenes become sea scenes)",
		"boat: only on the sea (60% of sea scenes), a dark hull with a white sail on the waterline",
		"crowd: four or more visible objects; shape, colour and striped labels: any visible object (not the parts of a tree or a boat)",
	}
}

// TargetLabels returns the target task's label vocabulary (a fresh copy).
func TargetLabels() []string { return append([]string{}, targetLabels...) }

// SourceClasses returns the source task's class names, "<color>_<shape>", indexed as
// class = shape*len(Colors) + color.
func SourceClasses() []string {
	var c []string
	for _, s := range Shapes {
		for _, col := range Colors {
			c = append(c, col+"_"+s)
		}
	}
	return c
}

// Weights of shapes and colors for the long tail (index order of Shapes / Colors).
var (
	shapeWeights = []float64{1, 0.55, 0.32, 0.17, 0.07, 0.035}
	colorWeights = []float64{1, 0.6, 0.38, 0.2, 0.09, 0.04}
)

// object is one drawn object.
type object struct {
	shape, color int
	striped      bool
	cx, cy, r    float64 // center and radius in pixels
	angle        float64
	tree         bool // part of a tree (trunk or crown)
	boat         bool // part of a boat (hull or sail)
	kind         int  // kindSun or kindMoon for those circles, else 0
}

// Special objects that carry a label of their own.
const (
	kindSun = 1 + iota
	kindMoon
)

// scene is one image's description before rendering.
type scene struct {
	bg      int
	tint    [3]float64
	light   float64
	noise   float64
	objects []object
}

// Sample is one generated image with its truth.
type Sample struct {
	Image *image.RGBA
	// Class is the source-task class (Source sets), -1 in target sets.
	Class int
	// Truth is the target-task truth, one entry per TargetLabels() (1 positive, 0
	// negative); nil in source sets.
	Truth []int8
}

// Config sets the world's image size.
type Config struct {
	// Size is the square image side in pixels (default 24).
	Size int
}

func (c Config) size() int {
	if c.Size <= 0 {
		return 24
	}
	return c.Size
}

func pick(rng *rand.Rand, w []float64) int {
	t := 0.0
	for _, x := range w {
		t += x
	}
	u := rng.Float64() * t
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

func newRNG(seed uint64, index int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15*stream, uint64(index)*0x2545f4914f6cdd1d+stream))
}

func randomScene(rng *rand.Rand) scene {
	var s scene
	u := rng.Float64()
	switch {
	case u < 0.45:
		s.bg = bgPlain
	case u < 0.75:
		s.bg = bgSky
	case u < 0.9:
		s.bg = bgGrass
	default:
		s.bg = bgNight
	}
	for i := range s.tint {
		s.tint[i] = 0.35 + 0.25*rng.Float64()
	}
	s.light = 0.8 + 0.35*rng.Float64()
	if s.bg == bgNight {
		s.light = 0.45 + 0.15*rng.Float64()
	}
	s.noise = 0.02 + 0.06*rng.Float64()
	return s
}

func randomObject(rng *rand.Rand, size float64, rmin, rmax float64) object {
	o := object{shape: pick(rng, shapeWeights), color: pick(rng, colorWeights)}
	// Rule-based correlations between shape and color.
	if o.shape == 4 && rng.Float64() < 0.6 { // crosses are mostly red
		o.color = 0
	}
	o.r = rmin + (rmax-rmin)*rng.Float64()
	m := o.r * 0.7
	o.cx = m + (size-2*m)*rng.Float64()
	o.cy = m + (size-2*m)*rng.Float64()
	o.angle = rng.Float64() * 2 * math.Pi
	o.striped = rng.Float64() < 0.12
	return o
}

// Target generates n target-task images (multi-label) from seed.
func Target(cfg Config, n int, seed uint64) []Sample {
	return generate(n, func(i int) Sample {
		rng := newRNG(seed, i, 2)
		size := float64(cfg.size())
		s := randomScene(rng)
		k := 1 + pick(rng, []float64{0.35, 0.35, 0.2, 0.1})
		for j := 0; j < k; j++ {
			s.objects = append(s.objects, randomObject(rng, size, size*0.12, size*0.26))
		}
		// Co-occurrence rules.
		// The sea rules draw from their own stream, so that every scene that does not
		// become a sea scene is the same image, with the same truth, as before they were
		// added.
		seaRNG := newRNG(seed, i, 3)
		boat := false
		if s.bg == bgPlain && seaRNG.Float64() < 1.0/3 {
			s.bg = bgSea
			if seaRNG.Float64() < 0.6 { // a boat on the waterline: hull, then sail
				x := size * (0.2 + 0.6*seaRNG.Float64())
				r := size * (0.13 + 0.05*seaRNG.Float64())
				y := size * horizon
				s.objects = append(s.objects,
					object{shape: 3, color: 4, r: r, cx: x, cy: y + r*0.15, boat: true},
					object{shape: 2, color: 4, r: r * 0.8, cx: x, cy: y - r*0.75, boat: true})
				boat = true
			}
		}
		if s.bg == bgNight && rng.Float64() < 0.6 { // a moon
			s.objects = append(s.objects, object{shape: 0, color: 4, r: size * 0.13,
				cx: size * (0.2 + 0.6*rng.Float64()), cy: size * (0.15 + 0.1*rng.Float64()), kind: kindMoon})
		}
		if s.bg == bgGrass && rng.Float64() < 0.55 { // a tree: green triangle over a bar
			x := size * (0.25 + 0.5*rng.Float64())
			r := size * (0.16 + 0.06*rng.Float64())
			s.objects = append(s.objects,
				object{shape: 3, color: 3, r: r * 0.75, cx: x, cy: size*0.62 + r*0.3, angle: math.Pi / 2, tree: true},
				object{shape: 2, color: 2, r: r, cx: x, cy: size*0.62 - r*0.55, tree: true})
		}
		if s.bg == bgSky && rng.Float64() < 0.3 { // a sun
			s.objects = append(s.objects, object{shape: 0, color: 3, r: size * 0.12,
				cx: size * (0.15 + 0.7*rng.Float64()), cy: size * 0.15, kind: kindSun})
		}
		img, vis := render(cfg.size(), s, rng)
		truth := make([]int8, len(targetLabels))
		visible := 0
		tree, boatSeen, sun, moon := false, false, false, false
		for j, o := range s.objects {
			if vis[j] < 0.35 {
				continue
			}
			if o.boat { // the boat counts as one object, below
				boatSeen = true
				continue
			}
			visible++
			if o.tree {
				tree = true
				continue
			}
			sun = sun || o.kind == kindSun
			moon = moon || o.kind == kindMoon
			truth[o.shape] = 1
			truth[len(Shapes)+o.color] = 1
			if o.striped {
				truth[len(Shapes)+len(Colors)] = 1
			}
		}
		base := len(Shapes) + len(Colors)
		if s.bg == bgGrass {
			truth[base+1] = 1
		}
		if s.bg == bgNight {
			truth[base+2] = 1
		}
		if tree {
			truth[base+3] = 1
		}
		if boatSeen {
			visible++
		}
		if visible >= 4 {
			truth[base+4] = 1
		}
		if s.bg == bgSea {
			truth[base+5] = 1
		}
		if boat && boatSeen {
			truth[base+6] = 1
		}
		if sun {
			truth[base+7] = 1
		}
		if moon {
			truth[base+8] = 1
		}
		return Sample{Image: img, Class: -1, Truth: truth}
	})
}

// Source generates n source-task images (single-label: the dominant object's class).
func Source(cfg Config, n int, seed uint64) []Sample {
	return generate(n, func(i int) Sample {
		rng := newRNG(seed, i, 1)
		size := float64(cfg.size())
		s := randomScene(rng)
		// Source classes are balanced: the pretraining set is the "large, curated" one.
		main := object{shape: rng.IntN(len(Shapes)), color: rng.IntN(len(Colors))}
		main.r = size * (0.22 + 0.14*rng.Float64())
		m := main.r * 0.8
		main.cx = m + (size-2*m)*rng.Float64()
		main.cy = m + (size-2*m)*rng.Float64()
		main.angle = rng.Float64() * 2 * math.Pi
		main.striped = rng.Float64() < 0.15
		k := rng.IntN(3)
		for j := 0; j < k; j++ {
			s.objects = append(s.objects, randomObject(rng, size, size*0.07, size*0.13))
		}
		s.objects = append(s.objects, main) // drawn last: on top
		img, _ := render(cfg.size(), s, rng)
		return Sample{Image: img, Class: main.shape*len(Colors) + main.color}
	})
}

func generate(n int, one func(i int) Sample) []Sample {
	out := make([]Sample, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	next := make(chan int, 64)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = one(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// inside reports whether the point (x, y), in the object's local frame scaled by its
// radius, lies on the shape.
func inside(shape int, x, y float64) bool {
	switch shape {
	case 0: // circle
		return x*x+y*y <= 1
	case 1: // square
		return math.Abs(x) <= 0.8 && math.Abs(y) <= 0.8
	case 2: // triangle (apex up in the local frame)
		return y >= -0.75 && y <= 1 && math.Abs(x) <= (1-y)*0.62
	case 3: // bar
		return math.Abs(x) <= 1 && math.Abs(y) <= 0.28
	case 4: // cross
		return (math.Abs(x) <= 1 && math.Abs(y) <= 0.3) || (math.Abs(y) <= 1 && math.Abs(x) <= 0.3)
	case 5: // ring
		d := x*x + y*y
		return d <= 1 && d >= 0.35
	}
	return false
}

const ss = 3 // supersampling per axis

// render draws the scene and returns the image and, per object, the fraction of its
// area left visible after occlusion by later objects.
func render(size int, s scene, rng *rand.Rand) (*image.RGBA, []float64) {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	area := make([]float64, len(s.objects))
	vis := make([]float64, len(s.objects))
	cosA := make([]float64, len(s.objects))
	sinA := make([]float64, len(s.objects))
	for j, o := range s.objects {
		cosA[j], sinA[j] = math.Cos(o.angle), math.Sin(o.angle)
	}
	fs := float64(size)
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var acc [3]float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := float64(px) + (float64(sx)+0.5)/ss
					y := float64(py) + (float64(sy)+0.5)/ss
					c := background(s, x/fs, y/fs)
					top := -1
					for j := len(s.objects) - 1; j >= 0; j-- {
						o := s.objects[j]
						dx, dy := (x-o.cx)/o.r, (y-o.cy)/o.r
						lx := dx*cosA[j] + dy*sinA[j]
						ly := -dx*sinA[j] + dy*cosA[j]
						if inside(o.shape, lx, -ly) {
							area[j]++
							if top < 0 {
								top = j
							}
						}
					}
					if top >= 0 {
						o := s.objects[top]
						vis[top]++
						c = palette[o.color]
						if o.tree && o.shape == 3 {
							c = [3]float64{0.45, 0.28, 0.12} // trunk
						}
						if o.boat && o.shape == 3 {
							c = [3]float64{0.30, 0.12, 0.08} // hull
						}
						if o.striped {
							dx, dy := (x-o.cx)/o.r, (y-o.cy)/o.r
							if int(math.Floor((dx*cosA[top]+dy*sinA[top])*3+10))%2 == 0 {
								c = [3]float64{c[0] * 0.35, c[1] * 0.35, c[2] * 0.35}
							}
						}
					}
					for k := range acc {
						acc[k] += c[k]
					}
				}
			}
			var rgb [3]uint8
			for k := range acc {
				v := acc[k]/(ss*ss)*s.light + s.noise*rng.NormFloat64()
				rgb[k] = uint8(math.Round(255 * math.Min(1, math.Max(0, v))))
			}
			img.SetRGBA(px, py, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
		}
	}
	for j := range vis {
		if area[j] > 0 {
			vis[j] /= area[j]
		}
	}
	return img, vis
}

func background(s scene, x, y float64) [3]float64 {
	switch s.bg {
	case bgSky:
		return [3]float64{s.tint[0] * (0.6 + 0.4*y), s.tint[1]*(0.7+0.3*y) + 0.1, 0.75 - 0.2*y}
	case bgGrass:
		if y > 0.6 {
			return [3]float64{0.25 * s.tint[0], 0.5 + 0.2*s.tint[1], 0.15}
		}
		return [3]float64{0.6, 0.75, 0.9}
	case bgNight:
		return [3]float64{0.05, 0.05, 0.15 + 0.1*s.tint[2]}
	case bgSea:
		if y > horizon {
			wave := 0.06 * math.Sin(y*60)
			return [3]float64{0.05, 0.25 + 0.1*s.tint[1] + wave, 0.55 + 0.2*s.tint[2] + wave}
		}
		return [3]float64{0.7, 0.82, 0.95}
	}
	return s.tint
}

// Stats summarises a target set: per-label positive counts and the imbalance ratio
// (most frequent / least frequent label, over labels with at least one positive).
func Stats(samples []Sample) (counts []int, ratio float64) {
	counts = make([]int, len(targetLabels))
	for _, s := range samples {
		for j, v := range s.Truth {
			if v == 1 {
				counts[j]++
			}
		}
	}
	lo, hi := math.MaxInt, 0
	for _, c := range counts {
		if c > 0 && c < lo {
			lo = c
		}
		if c > hi {
			hi = c
		}
	}
	if hi == 0 {
		return counts, 0
	}
	return counts, float64(hi) / float64(lo)
}

// String describes a label count table, for logs.
func describe(counts []int) string {
	s := ""
	for j, c := range counts {
		s += fmt.Sprintf("%s=%d ", targetLabels[j], c)
	}
	return s
}

// Normalization of the demo backbones' inputs: RGB in 0..1, minus Mean, divided by Std.
const (
	Mean = 0.5
	Std  = 0.25
)

// Tensor writes img as a normalized [3,H,W] float32 tensor into dst (len 3*H*W); the
// image must be Size×Size.
func Tensor(img *image.RGBA, dst []float32) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := img.PixOffset(b.Min.X+x, b.Min.Y+y)
			for c := 0; c < 3; c++ {
				dst[c*w*h+y*w+x] = (float32(img.Pix[o+c])/255 - Mean) / Std
			}
		}
	}
}

// Tensors stacks the images of samples into one [N,3,H,W] slice.
func Tensors(samples []Sample) []float32 {
	if len(samples) == 0 {
		return nil
	}
	b := samples[0].Image.Bounds()
	n := 3 * b.Dx() * b.Dy()
	out := make([]float32, len(samples)*n)
	for i, s := range samples {
		Tensor(s.Image, out[i*n:(i+1)*n])
	}
	return out
}
