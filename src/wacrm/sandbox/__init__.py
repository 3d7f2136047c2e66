"""A local stand-in for Meta's WhatsApp Cloud (Graph) API, for tests, benchmarks and demos."""
