package cdr

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWriter50 measures durable writes from 50 concurrent callers:
// every Write returns only after its record is fsynced. It reports records
// per second and fsyncs per record (below 1 means group commit worked).
func BenchmarkWriter50(b *testing.B) {
	for _, formats := range [][]Format{{FormatCSV}, {FormatJSONL}, {FormatCSV, FormatJSONL}} {
		b.Run(fmt.Sprint(formats), func(b *testing.B) {
			w, err := NewWriter(FileConfig{Dir: b.TempDir(), Formats: formats, RotateInterval: -1, MaxSize: -1}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			const writers = 50
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range writers {
				wg.Go(func() {
					rec := sampleRecord("bench-000000")
					for next.Add(1) <= int64(b.N) {
						if err := w.Write(context.Background(), &rec); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			st := w.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(st.Syncs)/float64(b.N), "fsyncs/record")
			b.ReportMetric(float64(b.N)/float64(st.Batches), "records/batch")
		})
	}
}

func BenchmarkAppendCSV(b *testing.B) {
	r := sampleRecord("bench")
	buf := r.AppendCSV(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = r.AppendCSV(buf[:0])
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	r := sampleRecord("bench")
	buf := r.AppendJSON(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}

func benchRead(b *testing.B, format Format) {
	var file []byte
	if format == FormatCSV {
		file = []byte(csvHeader)
	}
	for i := range 1000 {
		r := sampleRecord(fmt.Sprintf("r%04d", i))
		if format == FormatCSV {
			file = r.AppendCSV(file)
		} else {
			file = r.AppendJSON(file)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		n := 0
		if _, err := Scan(bytes.NewReader(file), format, func(*Record) error { n++; return nil }); err != nil || n != 1000 {
			b.Fatal(err, n)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkReadCSV(b *testing.B)   { benchRead(b, FormatCSV) }
func BenchmarkReadJSONL(b *testing.B) { benchRead(b, FormatJSONL) }
