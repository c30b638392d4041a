package synth

import (
	"bytes"
	"fmt"
	"testing"
)

func TestDeterministic(t *testing.T) {
	t.Parallel()
	a := Target(Config{}, 12, 3)
	b := Target(Config{}, 12, 3)
	c := Target(Config{}, 12, 4)
	same := true
	for i := range a {
		if !bytes.Equal(a[i].Image.Pix, b[i].Image.Pix) || fmt.Sprint(a[i].Truth) != fmt.Sprint(b[i].Truth) {
			t.Fatalf("image %d differs between two runs with the same seed", i)
		}
		same = same && bytes.Equal(a[i].Image.Pix, c[i].Image.Pix)
	}
	if same {
		t.Fatal("different seeds gave the same images")
	}
	s1, s2 := Source(Config{Size: 16}, 5, 1), Source(Config{Size: 16}, 5, 1)
	for i := range s1 {
		if s1[i].Class != s2[i].Class || !bytes.Equal(s1[i].Image.Pix, s2[i].Image.Pix) {
			t.Fatalf("source image %d differs", i)
		}
		if s1[i].Image.Bounds().Dx() != 16 {
			t.Fatalf("size %v, want 16", s1[i].Image.Bounds())
		}
	}
}

func TestLongTailAndCoOccurrence(t *testing.T) {
	t.Parallel()
	set := Target(Config{}, 1500, 11)
	counts, ratio := Stats(set)
	t.Logf("counts %v imbalance %.1f", counts, ratio)
	if ratio < 20 {
		t.Errorf("imbalance ratio %.1f, want >= 20", ratio)
	}
	for j, c := range counts {
		if c == 0 {
			t.Errorf("label %s never occurs", targetLabels[j])
		}
	}
	idx := func(name string) int {
		for j, l := range targetLabels {
			if l == name {
				return j
			}
		}
		t.Fatalf("no label %s", name)
		return -1
	}
	tree, grass, night, white := idx("tree"), idx("grass"), idx("night"), idx("white")
	nightWhite, nights := 0, 0
	for i, s := range set {
		if s.Truth[tree] == 1 && s.Truth[grass] != 1 {
			t.Fatalf("image %d has a tree but no grass", i)
		}
		if s.Truth[night] == 1 {
			nights++
			if s.Truth[white] == 1 {
				nightWhite++
			}
		}
	}
	pWhite := float64(counts[white]) / float64(len(set))
	pWhiteNight := float64(nightWhite) / float64(nights)
	if pWhiteNight < 2*pWhite {
		t.Errorf("P(white|night)=%.2f is not well above P(white)=%.2f: the moon rule is lost", pWhiteNight, pWhite)
	}
}

func TestSourceClassesCovered(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for _, s := range Source(Config{Size: 16}, 400, 2) {
		if s.Class < 0 || s.Class >= len(SourceClasses()) || s.Truth != nil {
			t.Fatalf("bad source sample: class %d truth %v", s.Class, s.Truth)
		}
		seen[s.Class] = true
	}
	if len(seen) != len(SourceClasses()) {
		t.Fatalf("%d of %d classes seen", len(seen), len(SourceClasses()))
	}
}

func TestTensor(t *testing.T) {
	t.Parallel()
	s := Target(Config{Size: 8}, 2, 1)
	x := Tensors(s)
	if len(x) != 2*3*8*8 {
		t.Fatalf("len %d", len(x))
	}
	p := s[1].Image.Pix
	want := (float32(p[1])/255 - Mean) / Std // green of pixel (0,0)
	if got := x[3*64+64]; got != want {
		t.Fatalf("tensor value %v, want %v", got, want)
	}
}

func ExampleTarget() {
	set := Target(Config{Size: 24}, 3, 1)
	labels := TargetLabels()
	for _, s := range set {
		var on []string
		for j, v := range s.Truth {
			if v == 1 {
				on = append(on, labels[j])
			}
		}
		fmt.Println(s.Image.Bounds().Dx(), on)
	}
	// Output:
	// 24 [circle yellow]
	// 24 [circle triangle bar red green striped]
	// 24 [circle square red striped sea boat]
}

// The co-occurrence and position rules of TargetRules hold in the truth: a boat only
// with the sea, the moon only at night, the sun only in sky scenes (never with sea,
// grass or night), and all four new labels occur.
func TestTargetRules(t *testing.T) {
	t.Parallel()
	set := Target(Config{Size: 24}, 1500, 9)
	idx := map[string]int{}
	for j, l := range TargetLabels() {
		idx[l] = j
	}
	count := map[string]int{}
	for i, s := range set {
		on := func(l string) bool { return s.Truth[idx[l]] == 1 }
		for _, l := range []string{"sea", "boat", "sun", "moon"} {
			if on(l) {
				count[l]++
			}
		}
		switch {
		case on("boat") && !on("sea"):
			t.Fatalf("image %d: a boat without the sea", i)
		case on("moon") && !on("night"):
			t.Fatalf("image %d: the moon outside a night scene", i)
		case on("sun") && (on("sea") || on("night") || on("grass")):
			t.Fatalf("image %d: the sun in a sea, night or grass scene", i)
		case on("sea") && (on("night") || on("grass")):
			t.Fatalf("image %d: two scenes", i)
		}
		if on("sun") && !(on("circle") && on("yellow")) {
			t.Fatalf("image %d: a sun that is not a yellow circle", i)
		}
	}
	for _, l := range []string{"sea", "boat", "sun", "moon"} {
		if count[l] < 40 {
			t.Errorf("label %s on %d of %d images, want at least 40", l, count[l], len(set))
		}
	}
	if len(TargetRules()) == 0 {
		t.Error("no rules described")
	}
}
