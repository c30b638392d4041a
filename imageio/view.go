package imageio

import (
	"fmt"
	"image"
	"strings"
)

// View is a fixed, deterministic variant of an image, made after decoding and before
// normalisation: the feature cache stores the features of each view under its own key,
// so a head can be trained on several views of every training image (feature-cache
// augmentation) and its outputs averaged over the views at test time.
type View string

const (
	// ViewOriginal is the image as the spec makes it.
	ViewOriginal View = ""
	// ViewFlip is the spec's window mirrored left to right.
	ViewFlip View = "flip"
)

// Views lists the views ParseViews accepts, besides the original.
func Views() []View { return []View{ViewFlip} }

// ParseViews parses a comma-separated list of view names ("flip"); "" and "none" give
// no views. Unknown and repeated names are errors naming them.
func ParseViews(s string) ([]View, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []View
	for _, f := range strings.Split(s, ",") {
		v := View(strings.TrimSpace(f))
		if v != ViewFlip {
			return nil, fmt.Errorf("view %q: want one of %s (comma-separated) or none", v, viewNames())
		}
		for _, w := range out {
			if w == v {
				return nil, fmt.Errorf("view %q given twice", v)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func viewNames() string {
	var n []string
	for _, v := range Views() {
		n = append(n, string(v))
	}
	return strings.Join(n, ", ")
}

// Validate reports an unknown view.
func (v View) Validate() error {
	if v == ViewOriginal || v == ViewFlip {
		return nil
	}
	return fmt.Errorf("view %q: want one of %s, or the original (empty)", string(v), viewNames())
}

// FillView is Fill for one view of img: the same resize and normalisation, then the view's
// change (ViewFlip: the window mirrored left to right). FillView panics where Fill does,
// and on an unknown view.
func (s Spec) FillView(img image.Image, v View, dst []float32) {
	if err := v.Validate(); err != nil {
		panic("imageio: Spec.FillView: " + err.Error())
	}
	s.fillInto("FillView", img, v == ViewFlip, dst)
}
