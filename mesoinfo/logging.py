"""Structured logs: one JSON object a line, for log collectors."""

import json
import logging

# Extra fields our own log calls may attach; nothing else from the request is logged.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "error")


class JSONFormatter(logging.Formatter):
    def format(self, record):
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)
