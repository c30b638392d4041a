package report

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// DataURI returns data as a data: URI, its media type sniffed from the bytes.
func DataURI(data []byte) string {
	return "data:" + http.DetectContentType(data) + ";base64," + base64.StdEncoding.EncodeToString(data)
}

// GalleryLabel is one label shown under a gallery image.
type GalleryLabel struct {
	Name      string
	Score     float64
	Predicted bool
	// Truth is 1, 0 or -1 (unknown); with Predicted it colours the label: true
	// positives green, false positives red, missed positives grey and struck through,
	// anything else (truth unknown, or neither) plain. The gallery's legend says so.
	Truth int8
}

// GalleryItem is one image of a Gallery: Data (encoded image bytes) or, when Data is
// nil, the file at Path.
type GalleryItem struct {
	Path    string
	Data    []byte
	Caption string
	Labels  []GalleryLabel
}

// MaxGalleryImageBytes caps the size of one embedded image file; bigger ones are shown
// as a note instead, to keep the page light.
const MaxGalleryImageBytes = 2 << 20

// GalleryLegend is the line above a gallery that explains its label colours.
const GalleryLegend = `<p class="note gallery-legend" data-legend="gallery">Under each image, its labels with their scores (0 to 1): ` +
	`<span class="tp">green: predicted and present (true positive)</span>; ` +
	`<span class="fp">red: predicted but absent (false positive)</span>; ` +
	`<span class="fn">grey, struck through: present but missed (false negative)</span>; ` +
	`<span class="unk">black: truth unknown, or not predicted and absent</span>.</p>`

// Gallery returns the HTML of a grid of images, embedded as data: URIs, each with its
// caption and labels, after GalleryLegend when any image has labels. An image that
// cannot be read is shown as a note naming the error.
func Gallery(items []GalleryItem) string {
	var b strings.Builder
	for _, it := range items {
		if len(it.Labels) > 0 {
			b.WriteString(GalleryLegend)
			break
		}
	}
	b.WriteString(`<div class="gallery">`)
	for _, it := range items {
		b.WriteString("<figure>")
		data := it.Data
		var err error
		if data == nil && it.Path != "" {
			data, err = os.ReadFile(it.Path)
		}
		switch {
		case err != nil:
			fmt.Fprintf(&b, `<p class="note">%s</p>`, esc(err.Error()))
		case len(data) > MaxGalleryImageBytes:
			fmt.Fprintf(&b, `<p class="note">image of %d bytes not embedded</p>`, len(data))
		case len(data) > 0:
			ct := http.DetectContentType(data)
			if !strings.HasPrefix(ct, "image/") {
				fmt.Fprintf(&b, `<p class="note">not an image (%s)</p>`, esc(ct))
			} else {
				fmt.Fprintf(&b, `<img src="%s" alt="%s">`, DataURI(data), esc(it.Caption))
			}
		}
		fmt.Fprintf(&b, "<figcaption><b>%s</b><br>", esc(it.Caption))
		for _, l := range it.Labels {
			cls := "unk"
			switch {
			case l.Predicted && l.Truth == 1:
				cls = "tp"
			case l.Predicted && l.Truth == 0:
				cls = "fp"
			case !l.Predicted && l.Truth == 1:
				cls = "fn"
			}
			fmt.Fprintf(&b, `<span class="%s">%s %.2f</span> `, cls, esc(l.Name), l.Score)
		}
		b.WriteString("</figcaption></figure>")
	}
	b.WriteString("</div>")
	return b.String()
}
