package gateway

import "log/slog"

func routeAttr(rt *route) slog.Attr {
	if rt == nil {
		return slog.String("route", "")
	}
	return slog.String("route", rt.cfg.Name)
}

func errAttr(err error) slog.Attr { return slog.String("error", err.Error()) }
func statusAttr(s int) slog.Attr  { return slog.Int("status", s) }
