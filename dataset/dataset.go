// Package dataset reads multi-label datasets (CSV in list or one-hot layout, COCO
// instances JSON, Pascal VOC), holds them as samples over a label vocabulary, splits them
// by iterative stratification and computes their statistics. It never decodes pixels.
package dataset

// Truth values of one (sample, label) entry.
const (
	Unknown  int8 = -1 // unknown or ignored: left out of losses and metrics
	Negative int8 = 0
	Positive int8 = 1
)

// Dataset is a list of samples over a label vocabulary.
type Dataset struct {
	// Labels is the vocabulary; Sample.Truth is indexed like it.
	Labels []string
	// Samples in file order.
	Samples []Sample
	// Format names the reader that produced the dataset: "csv-list", "csv-onehot",
	// "coco", "voc".
	Format string
	// Source is the label file or directory the dataset was read from.
	Source string
	// Unannotated lists images that the source declares but gives no label information
	// for (COCO images without annotations), in source order, followed by the image
	// files of the images directory that a COCO file does not list at all (sorted by
	// name); they are not in Samples unless the reader was asked to keep them as
	// all-negative (Options.KeepUnannotated).
	Unannotated []string
	// Skipped lists the samples a reader left out as unusable (a WebDataset sample
	// without its image or JSON member, or with an unreadable JSON), each "where: why".
	Skipped []string
}

// Sample is one image with its labels.
type Sample struct {
	// Image is the image reference as written in the label file (relative name).
	Image string
	// Path is the image's path on disk (Image resolved against the images directory).
	Path string
	// Truth has one entry per label: Positive, Negative or Unknown.
	Truth []int8
}

// Known reports whether label j of the sample is known.
func (s Sample) Known(j int) bool { return s.Truth[j] != Unknown }

// Has reports whether label j is positive for the sample.
func (s Sample) Has(j int) bool { return s.Truth[j] == Positive }

// LabelIndex returns the index of label name in the vocabulary, or -1.
func (d *Dataset) LabelIndex(name string) int {
	for i, l := range d.Labels {
		if l == name {
			return i
		}
	}
	return -1
}
