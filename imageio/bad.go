package imageio

// BadImage names an image that could not be used, and why. The packages that read many
// images report the unusable ones with it: dataset's image checks, featcache's feature
// extraction and model's evaluation.
type BadImage struct {
	// Index is the image's position in the caller's list (sample order).
	Index int `json:"index"`
	// Path is the image file.
	Path string `json:"path"`
	// Image is the image reference as the label file writes it ("" when there is none).
	Image string `json:"image,omitempty"`
	// Kind classifies the problem (dataset.BadMissing, ...; "" when not classified).
	Kind string `json:"kind,omitempty"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}
