package finetune

// emaDecay is the effective decay of the weights' exponential moving average after
// step (1-based) steps: the configured decay, ramped up as min(decay, (1+t)/(10+t)) so
// that the first steps are not dominated by the starting weights (as in train).
func emaDecay(decay float64, step int) float64 {
	return min(decay, float64(1+step)/float64(10+step))
}

// updateEMA folds params into ema with the decay of step (1-based):
// ema ← d·ema + (1−d)·params.
func updateEMA(ema, params [][]float32, decay float64, step int) {
	d := emaDecay(decay, step)
	for j, p := range params {
		e := ema[j]
		for i, v := range p {
			e[i] = float32(d*float64(e[i]) + (1-d)*float64(v))
		}
	}
}

// emaView returns the state to evaluate and keep: st itself without EMA, else st with
// the averaged weights in place of the raw ones (moments, statistics and step shared).
func emaView(st *State, ema [][]float32) *State {
	if ema == nil {
		return st
	}
	return &State{Params: ema, Stats: st.Stats, Mom: st.Mom, Vel: st.Vel, Step: st.Step}
}
