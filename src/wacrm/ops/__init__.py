"""Operations endpoints and middleware: health, readiness, metrics, request limits."""
