package policy

import "time"

// Defaults of snmp.overload.
const (
	DefaultOverloadInterval   = 5 * time.Second
	DefaultOverloadRaise      = 20.0
	DefaultOverloadClear      = 2.0
	DefaultOverloadClearAfter = 60 * time.Second
)

// OverloadConfig sets the thresholds of overload episodes: sbcd sheds load
// when admission control refuses calls or rate limits drop messages. An
// episode starts when the refusals of one interval reach Raise per second
// and ends when they stayed below Clear per second for ClearAfter.
type OverloadConfig struct {
	// Interval is the sampling period. Default 5s; at least 1s.
	Interval time.Duration `yaml:"interval"`
	// Raise is the refusals per second that start an episode. Default 20.
	Raise float64 `yaml:"raise"`
	// Clear is the rate an episode must stay below to end. Default 2 (or
	// half of raise when raise is below 4); below raise.
	Clear float64 `yaml:"clear"`
	// ClearAfter is how long the rate must stay below clear. Default 60s
	// (at least interval).
	ClearAfter time.Duration `yaml:"clear_after"`
}

func (o *OverloadConfig) applyDefaults() {
	setDur(&o.Interval, DefaultOverloadInterval)
	if o.Raise == 0 {
		o.Raise = DefaultOverloadRaise
	}
	if o.Clear == 0 && o.Raise > 0 {
		o.Clear = min(DefaultOverloadClear, o.Raise/2)
	}
	if o.ClearAfter == 0 {
		o.ClearAfter = max(DefaultOverloadClearAfter, o.Interval)
	}
}

func (v *validator) overload() {
	o := v.cfg.SNMP.Overload
	if o.Interval < time.Second {
		v.errAt("snmp.overload.interval", "%s is shorter than 1s", o.Interval)
	}
	if o.Raise <= 0 {
		v.errAt("snmp.overload.raise", "%g refusals per second is not positive", o.Raise)
	}
	if o.Clear < 0 || (o.Raise > 0 && o.Clear >= o.Raise) {
		v.errAt("snmp.overload.clear", "%g must be at least 0 and below raise (%g) so that an episode can end", o.Clear, o.Raise)
	}
	if o.ClearAfter < o.Interval {
		v.errAt("snmp.overload.clear_after", "%s is shorter than the interval %s", o.ClearAfter, o.Interval)
	}
}
