package model

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
)

// PredictionCSVHeader is the header of the predictions CSV: "path" then one column per
// label of the model.
func (m *Model) PredictionCSVHeader() string {
	return CSVLine(append([]string{"path"}, m.Labels()...))
}

// PredictionCSVRow is one image's line of the predictions CSV: its path, then the score
// of every label (shortest float32 form, so a line is the same on every run).
func PredictionCSVRow(p Prediction) string {
	f := make([]string, 0, len(p.Scores)+1)
	f = append(f, p.Path)
	for _, s := range p.Scores {
		f = append(f, strconv.FormatFloat(float64(s), 'g', -1, 32))
	}
	return CSVLine(f)
}

// CSVLine is fields as one CSV line (quoted where needed), without the line end.
func CSVLine(fields []string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(fields)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
