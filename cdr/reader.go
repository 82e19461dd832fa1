package cdr

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Format is a CDR file format.
type Format string

// File formats.
const (
	FormatCSV   Format = "csv"   // comma-separated values with a header line, extension .csv
	FormatJSONL Format = "jsonl" // one JSON object per line, extension .jsonl
)

// MaxLineBytes is the longest line the reader accepts.
const MaxLineBytes = 256 << 10

// ReadResult is what a reader found in a file.
type ReadResult struct {
	// Records are the complete records, in file order.
	Records []Record
	// Torn is the length in bytes of an unterminated final line, 0 if the
	// file ends with a line feed. A torn line is left by a crash during a
	// write; the writer never acknowledged that record, so it is not an
	// error. The writer removes such a tail when it opens the file again.
	Torn int
}

// FormatOf returns the format of a CDR file from its extension: ".csv" or
// ".jsonl" (rotated files keep the extension).
func FormatOf(path string) (Format, error) {
	switch filepath.Ext(path) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("%w: %q (want .csv or .jsonl)", ErrUnknownFormat, filepath.Base(path))
}

// ReadFile parses a CDR file written by [Writer], choosing the format by the
// file's extension.
func ReadFile(path string) (ReadResult, error) {
	format, err := FormatOf(path)
	if err != nil {
		return ReadResult{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return ReadResult{}, fmt.Errorf("cdr: read: %w", err)
	}
	defer f.Close()
	if format == FormatCSV {
		return ReadCSV(f)
	}
	return ReadJSONL(f)
}

// ReadCSV parses a CSV CDR file: the header line of [Columns], then one
// record per line.
func ReadCSV(r io.Reader) (ReadResult, error) {
	var res ReadResult
	torn, err := Scan(r, FormatCSV, func(rec *Record) error {
		res.Records = append(res.Records, *rec)
		return nil
	})
	res.Torn = torn
	return res, err
}

// ReadJSONL parses a JSON lines CDR file: one object per line with the keys
// of [Columns]. Keys may be missing (the field stays zero); unknown keys are
// an error.
func ReadJSONL(r io.Reader) (ReadResult, error) {
	var res ReadResult
	torn, err := Scan(r, FormatJSONL, func(rec *Record) error {
		res.Records = append(res.Records, *rec)
		return nil
	})
	res.Torn = torn
	return res, err
}

// Scan parses a CDR file of the given format and calls fn with each
// complete record, in order; the record is reused between calls. It returns
// the length of a torn final line (see [ReadResult.Torn]), and the first
// error: a parse error (wrapping [ErrParse], with the line number), a read
// error, or an error returned by fn.
func Scan(r io.Reader, format Format, fn func(*Record) error) (torn int, err error) {
	if format != FormatCSV && format != FormatJSONL {
		return 0, fmt.Errorf("%w: %q", ErrUnknownFormat, format)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		rec    Record
		fields []string
		line   []byte
	)
	for n := 1; ; n++ {
		line, err = readLine(br, line[:0])
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				return len(line), nil // torn final line
			}
			if n == 1 && format == FormatCSV {
				return 0, fmt.Errorf("%w: empty file: %w", ErrParse, ErrHeader)
			}
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("%w: line %d: %w", ErrParse, n, err)
		}
		text := strings.TrimSuffix(string(line[:len(line)-1]), "\r")
		if format == FormatCSV && n == 1 {
			if text+"\n" != csvHeader {
				return 0, fmt.Errorf("%w: line 1: %w", ErrParse, ErrHeader)
			}
			continue
		}
		rec = Record{}
		if format == FormatCSV {
			fields, err = splitCSV(text, fields[:0])
			if err == nil {
				err = rec.setCSV(fields)
			}
		} else {
			err = rec.setJSON([]byte(text))
		}
		if err != nil {
			return 0, fmt.Errorf("%w: line %d: %w", ErrParse, n, err)
		}
		if err := fn(&rec); err != nil {
			return 0, err
		}
	}
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineBytes)

// readLine appends the next line, including its "\n", to buf. At the end of
// the input it returns io.EOF with any unterminated rest in buf.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxLineBytes {
			return buf, errLineTooLong
		}
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}

// splitCSV splits one CSV line into fields: fields are separated by commas;
// a field that starts with a double quote runs to the matching closing quote,
// with "" standing for one quote inside.
func splitCSV(line string, fields []string) ([]string, error) {
	for {
		if strings.HasPrefix(line, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(line[i:], '"')
				if j < 0 {
					return nil, errors.New("unterminated quoted field")
				}
				b.WriteString(line[i : i+j])
				i += j + 1
				if i < len(line) && line[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			fields = append(fields, b.String())
			line = line[i:]
			if line == "" {
				return fields, nil
			}
			if line[0] != ',' {
				return nil, errors.New("text after closing quote")
			}
			line = line[1:]
			continue
		}
		j := strings.IndexByte(line, ',')
		f := line
		if j >= 0 {
			f = line[:j]
		}
		if strings.IndexByte(f, '"') >= 0 {
			return nil, errors.New("quote inside an unquoted field")
		}
		fields = append(fields, f)
		if j < 0 {
			return fields, nil
		}
		line = line[j+1:]
	}
}

func (r *Record) setCSV(fields []string) error {
	if len(fields) != len(columns) {
		return fmt.Errorf("%d fields, want %d", len(fields), len(columns))
	}
	for i, f := range fields {
		if err := setValue(columns[i].field(r), f); err != nil {
			return fmt.Errorf("%s: %w", columns[i].name, err)
		}
	}
	return nil
}

func (r *Record) setJSON(line []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return err
	}
	if obj == nil {
		return errors.New("not a JSON object")
	}
	for k, raw := range obj {
		i, ok := columnIndex[k]
		if !ok {
			return fmt.Errorf("unknown key %q", k)
		}
		p := columns[i].field(r)
		var s string
		if quoted(p) {
			if err := json.Unmarshal(raw, &s); err != nil || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) {
				return fmt.Errorf("%s: want a string", k)
			}
		} else {
			s = string(bytes.TrimSpace(raw))
		}
		if err := setValue(p, s); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}
