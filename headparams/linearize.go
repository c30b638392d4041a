package headparams

import "fmt"

// LinearizeAt returns the affine map that the head is at the feature vector x (one row
// of In values, as the head takes them, before standardisation): logits(y) ≈ w·y + b,
// w row-major [Out][In], b [Out]. For the linear head it is the head itself. For the MLP
// the hidden units' on/off pattern at x is kept, which makes the head affine; the map is
// exact at x (w·x + b are the logits of x) and wherever y switches the same units on.
// Activation maps use it: the map of label j at a location with vector v is w[j]·v +
// b[j], whose mean over the locations is the logit when the features are their average.
// Heads that pool or attend inside themselves are an error.
func (p *Params) LinearizeAt(x []float32) (w, b []float32, err error) {
	if p.Kind != Linear && p.Kind != MLP {
		return nil, nil, fmt.Errorf("head: LinearizeAt: head kind %q is not a dense head", p.Kind)
	}
	if p.Pool != "" {
		return nil, nil, fmt.Errorf("head: LinearizeAt: the head pools inside itself (%s)", p.Pool)
	}
	if len(x) != p.In {
		return nil, nil, fmt.Errorf("head: LinearizeAt: %d feature values, want %d", len(x), p.In)
	}
	in, out := p.In, p.Out
	// inScale[k] turns a raw feature into the standardised one the first layer reads.
	inScale := make([]float32, in)
	for k := range inScale {
		inScale[k] = 1
		if len(p.Std) > 0 {
			inScale[k] = 1 / p.Std[k]
		}
	}
	w = make([]float32, out*in)
	if p.Kind == Linear {
		for k := 0; k < in; k++ {
			row := p.W1[k*out : (k+1)*out]
			for j, v := range row {
				w[j*in+k] = v * inScale[k]
			}
		}
	} else {
		hid := p.Hidden
		z := p.Standardize(x, 1)
		pre := dense(z, 1, in, p.W1, p.B1, hid)
		// Active units only: w[j][k] = Σ_o on W1[k][o]·W2[o][j] / σ[k].
		var on []int
		for o, v := range pre {
			if v > 0 {
				on = append(on, o)
			}
		}
		acc := make([]float32, out)
		for k := 0; k < in; k++ {
			clear(acc)
			row := p.W1[k*hid : (k+1)*hid]
			for _, o := range on {
				v := row[o]
				w2 := p.W2[o*out : (o+1)*out]
				for j := range acc {
					acc[j] += v * w2[j]
				}
			}
			for j, v := range acc {
				w[j*in+k] = v * inScale[k]
			}
		}
	}
	// b makes the map exact at x: b = logits(x) − w·x.
	b = p.Logits(x, 1)
	for j := range b {
		s := float32(0)
		for k, v := range w[j*in : (j+1)*in] {
			s += v * x[k]
		}
		b[j] -= s
	}
	return w, b, nil
}
