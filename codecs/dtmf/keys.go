package dtmf

import "fmt"

// Nominal frequencies of the two groups (ITU-T Q.23).
var (
	lowFreqs  = [4]float64{697, 770, 852, 941}
	highFreqs = [4]float64{1209, 1336, 1477, 1633}
)

// keypad maps (low row, high column) to the key.
var keypad = [4][4]byte{
	{'1', '2', '3', 'A'},
	{'4', '5', '6', 'B'},
	{'7', '8', '9', 'C'},
	{'*', '0', '#', 'D'},
}

// Keys lists the 16 DTMF keys.
const Keys = "0123456789*#ABCD"

// Frequencies returns the low-group and high-group frequencies of key
// ('0'-'9', '*', '#', 'A'-'D'; lower-case letters accepted).
func Frequencies(key byte) (low, high float64, err error) {
	if key >= 'a' && key <= 'd' {
		key -= 'a' - 'A'
	}
	for r := range keypad {
		for c := range keypad[r] {
			if keypad[r][c] == key {
				return lowFreqs[r], highFreqs[c], nil
			}
		}
	}
	return 0, 0, fmt.Errorf("%w: %q", ErrKey, key)
}
