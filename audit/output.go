package audit

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/multilabel/multilabel/report"
)

// WriteCSV writes the suspects as CSV with the header image,label,kind,score,rank: the
// missing list then the wrong list, each in rank order, at most top entries of each
// (top <= 0: all).
func WriteCSV(w io.Writer, r *Result, top int) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"image", "label", "kind", "score", "rank"}); err != nil {
		return err
	}
	for _, list := range [][]Entry{r.Missing, r.Wrong} {
		if top > 0 && len(list) > top {
			list = list[:top]
		}
		for _, e := range list {
			if err := cw.Write([]string{e.Image, e.Label, e.Kind, strconv.FormatFloat(e.Score, 'g', 6, 64), strconv.Itoa(e.Rank)}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// Sections returns the report sections of the two lists: galleries of the top n
// suspects of each kind, paths[row] being the file of image row (a missing file shows
// as a note).
func Sections(r *Result, paths []string, n int) []report.Section {
	mk := func(title, note string, list []Entry) report.Section {
		if len(list) > n {
			list = list[:n]
		}
		if len(list) == 0 {
			return report.Section{Title: title, HTML: `<p class="note">No suspect.</p>`}
		}
		items := make([]report.GalleryItem, len(list))
		for k, e := range list {
			p := ""
			if e.Row < len(paths) {
				p = paths[e.Row]
			}
			items[k] = report.GalleryItem{Path: p, Caption: fmt.Sprintf("#%d %s", e.Rank, e.Image),
				Labels: []report.GalleryLabel{{Name: fmt.Sprintf("%s (%s)", e.Label, e.Kind), Score: e.Score,
					Predicted: e.Kind == Missing, Truth: truthOf(e)}}}
		}
		return report.Section{Title: title, HTML: `<p class="note">` + note + `</p>` + report.Gallery(items)}
	}
	return []report.Section{
		mk("Likely missing labels", "Label absent in the data, yet scored high by heads that never saw the image.", r.Missing),
		mk("Likely wrong labels", "Label present in the data, yet scored low by heads that never saw the image.", r.Wrong),
	}
}

func truthOf(e Entry) int8 {
	if e.Kind == Missing {
		return 0
	}
	return 1
}
