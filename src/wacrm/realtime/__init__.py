"""LISTEN/NOTIFY fan-out to in-process subscribers and the SSE endpoint."""
