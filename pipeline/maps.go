package pipeline

import (
	"context"
	"errors"
	"fmt"
	"html"
	"path/filepath"
	"slices"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/report"
)

// Report gallery of activation maps: how many images of each kind it shows.
const (
	mapsFalsePositives = 3 // test images with a false positive
	mapsMisses         = 3 // test images with a missed label
	mapsCorrect        = 2 // test images predicted exactly right
	mapsPerImage       = 3 // maps drawn per image (predicted and true labels, best score first)
)

// mapsSection returns the report section showing where the model sees its labels on a
// few test images (MapsSection with the run's bundle, test scores and engine).
func (r *TrainResult) mapsSection(ctx context.Context) (report.Section, bool) {
	if r.Bundle == nil {
		return report.Section{}, false
	}
	return MapsSection(ctx, MapsInput{Bundle: r.Bundle, Options: r.mapsOpt, Scores: r.Scores, Truth: r.Truth, Paths: r.TestPaths})
}

// MapsInput is what MapsSection draws from.
type MapsInput struct {
	Bundle  *bundle.Bundle
	Options model.Options // engine, library and threads of the model that draws the maps
	// Scores, Truth and Paths are the test images' scores (probabilities), labels and
	// files, in the same order.
	Scores [][]float32
	Truth  [][]int8
	Paths  []string
	// Focus lists labels whose images are looked at first and whose maps come first on
	// each image (nil: none; the best-scoring labels are drawn).
	Focus []string
	// Note is an extra paragraph under the section's introduction (plain text).
	Note string
}

// MapsSection returns the report section showing where the model sees its labels on a
// few test images — some with false positives, some with misses, some right — as
// activation-map overlays of their predicted and true labels (model.Options.Explain).
// A bundle that cannot draw maps (a cut without spatial map) gets no section; any
// other failure is shown as a note, so the maps never cost the report.
func MapsSection(ctx context.Context, in MapsInput) (report.Section, bool) {
	if in.Bundle == nil || len(in.Scores) == 0 || len(in.Paths) != len(in.Scores) || len(in.Truth) != len(in.Scores) {
		return report.Section{}, false
	}
	title := "Where the labels are: activation maps of a few test images"
	opt := in.Options
	opt.Explain, opt.BatchSize = true, 8
	m, err := model.New(in.Bundle, opt)
	if errors.Is(err, model.ErrCannotExplain) {
		return report.Section{}, false
	}
	if err != nil {
		return report.Section{Title: title, HTML: `<p class="note">` + html.EscapeString(err.Error()) + "</p>"}, true
	}
	defer m.Close()
	focus := map[int]bool{}
	for _, l := range in.Focus {
		if j := slices.Index(in.Bundle.Labels, l); j >= 0 {
			focus[j] = true
		}
	}
	// Images with a focus label (true or predicted) are considered first.
	order := make([]int, len(in.Scores))
	for i := range order {
		order[i] = i
	}
	hasFocus := func(i int) bool {
		for j := range focus {
			if in.Truth[i][j] == 1 || float64(in.Scores[i][j]) >= in.Bundle.Thresholds[j] {
				return true
			}
		}
		return false
	}
	if len(focus) > 0 && len(in.Bundle.Thresholds) == len(in.Bundle.Labels) {
		slices.SortStableFunc(order, func(a, b int) int {
			fa, fb := hasFocus(a), hasFocus(b)
			switch {
			case fa && !fb:
				return -1
			case fb && !fa:
				return 1
			}
			return 0
		})
	}
	th := m.Thresholds()
	var picked []int
	var fp, fn, ok int
	for _, i := range order {
		var hasFP, hasFN bool
		for j, v := range in.Scores[i] {
			pred := float64(v) >= th[j]
			hasFP = hasFP || pred && in.Truth[i][j] == 0
			hasFN = hasFN || !pred && in.Truth[i][j] == 1
		}
		switch {
		case hasFP && fp < mapsFalsePositives:
			fp++
		case hasFN && !hasFP && fn < mapsMisses:
			fn++
		case !hasFP && !hasFN && ok < mapsCorrect:
			ok++
		default:
			continue
		}
		picked = append(picked, i)
		if fp+fn+ok == mapsFalsePositives+mapsMisses+mapsCorrect {
			break
		}
	}
	paths := make([]string, len(picked))
	for k, i := range picked {
		paths[k] = in.Paths[i]
	}
	// Predicted and true labels, focus labels first, then best score first.
	pick := func(k int, p *model.Prediction) []int {
		i := picked[k]
		var js []int
		for j, v := range p.Scores {
			if float64(v) >= th[j] || in.Truth[i][j] == 1 {
				js = append(js, j)
			}
		}
		slices.SortStableFunc(js, func(a, b int) int {
			if focus[a] != focus[b] {
				if focus[a] {
					return -1
				}
				return 1
			}
			if p.Scores[a] > p.Scores[b] {
				return -1
			}
			if p.Scores[a] < p.Scores[b] {
				return 1
			}
			return 0
		})
		return js[:min(len(js), mapsPerImage)]
	}
	preds, err := m.ExplainFiles(ctx, paths, pick)
	if err != nil {
		return report.Section{Title: title, HTML: `<p class="note">` + html.EscapeString(err.Error()) + "</p>"}, true
	}
	var items []report.GalleryItem
	for k, p := range preds {
		if p.Err != nil {
			continue
		}
		i := picked[k]
		for _, lm := range p.Maps {
			j := slices.Index(in.Bundle.Labels, lm.Label)
			kind := "true positive"
			switch pred := float64(p.Scores[j]) >= th[j]; {
			case pred && in.Truth[i][j] == 0:
				kind = "false positive"
			case !pred && in.Truth[i][j] == 1:
				kind = "missed"
			case !pred:
				kind = "not predicted"
			}
			it := report.GalleryItem{Data: lm.PNG, Caption: fmt.Sprintf("%s: map of %s (%s)", filepath.Base(p.Path), lm.Label, kind)}
			for jj, l := range in.Bundle.Labels {
				it.Labels = append(it.Labels, report.GalleryLabel{Name: l, Score: float64(p.Scores[jj]), Predicted: float64(p.Scores[jj]) >= th[jj], Truth: in.Truth[i][jj]})
			}
			items = append(items, it)
		}
	}
	intro := fmt.Sprintf(`<p>Each picture is the image as the model saw it (resized and cropped), coloured by one label's map: the head applied at each of the backbone's %s locations, blue where it sees the label least, red where most. %s Below each picture: every label's score, green a true positive, red a false positive, struck through a missed label. Shown: %d images with a false positive, %d with a miss, %d right.</p>`,
		html.EscapeString(gridOf(preds)), html.EscapeString(mapsNote(in.Bundle.Head.Kind, in.Bundle.BackboneInfo.Pool)), fp, fn, ok)
	if in.Note != "" {
		intro += `<p class="note">` + html.EscapeString(in.Note) + "</p>"
	}
	return report.Section{Title: title, HTML: intro + report.Gallery(items)}, true
}

func gridOf(preds []model.Prediction) string {
	for _, p := range preds {
		if len(p.Maps) > 0 {
			return fmt.Sprintf("%d×%d", p.Maps[0].W, p.Maps[0].H)
		}
	}
	return "spatial"
}

// mapsNote says what the maps are for this head and pooling.
func mapsNote(kind, pool string) string {
	switch {
	case kind == "linear" && (pool == "" || pool == "avg"):
		return "For this linear head on average-pooled features the map is the exact class activation map: its mean is the label's logit."
	case kind == "linear":
		return "For this linear head the map is the head applied per location; with max pooling it shows where the evidence lies, not a split of the logit."
	case kind == "mlp" && (pool == "" || pool == "avg"):
		return "For this MLP head the map is the head linearised at the image's features (its hidden units' on/off pattern kept) applied per location: its mean is the label's logit."
	}
	return "For this MLP head the map is the head linearised at the image's features (its hidden units' on/off pattern kept) applied per location; with max pooling it shows where the evidence lies, not a split of the logit."
}
