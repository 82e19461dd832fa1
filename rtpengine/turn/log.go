package turn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory routes pion's logs to slog. pion logs at Info and Warn
// about single packets and requests, so everything below Error goes to
// Debug; errors become warnings.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.log.With("scope", "pion/"+scope)}
}

type slogLogger struct{ log *slog.Logger }

func (l slogLogger) at(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg)
	}
}

func (l slogLogger) Trace(msg string) { l.at(slog.LevelDebug-4, msg) }
func (l slogLogger) Tracef(format string, args ...any) {
	l.at(slog.LevelDebug-4, fmt.Sprintf(format, args...))
}
func (l slogLogger) Debug(msg string) { l.at(slog.LevelDebug, msg) }
func (l slogLogger) Debugf(format string, args ...any) {
	l.at(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l slogLogger) Info(msg string) { l.at(slog.LevelDebug, msg) }
func (l slogLogger) Infof(format string, args ...any) {
	l.at(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l slogLogger) Warn(msg string) { l.at(slog.LevelDebug, msg) }
func (l slogLogger) Warnf(format string, args ...any) {
	l.at(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l slogLogger) Error(msg string) { l.at(slog.LevelWarn, msg) }
func (l slogLogger) Errorf(format string, args ...any) {
	l.at(slog.LevelWarn, fmt.Sprintf(format, args...))
}
